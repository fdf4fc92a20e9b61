"""A period's sums of the stored incident days, made once per area and span (issue 18).

:mod:`app.incidents.daily` stores each local day's facts per area and category; a dashboard still read
and added up every stored day of its two periods per request: for the whole city ~2,500 rows holding
~130,000 histogram buckets, ≈ 60 ms of reading and adding of a ≈ 230 ms page. Here those sums are made
once per area, unit length and span of days, and kept in ``incident_daily_spans`` (migration 0024):
the next dashboard of the same area and period reads one row.

* **Only stored days**: a span covers the days before :func:`app.incidents.daily.cut_day` (today and
  yesterday are always read live, :func:`app.incidents.daily.add_live`), and is kept only when every
  one of its days is stored. Its figures are therefore exactly those of the stored days it sums.
* **Invalidation**: dropping a stored day (a write of ``incidents`` touched it, an area code changed:
  migration 0021's triggers) drops every span covering it, in the same transaction (a statement
  trigger on ``incident_daily_days``, migration 0024). A span is made while holding the advisory lock
  every writer of ``incidents`` holds shared to its commit (as a refill of a day does), and its days
  are read after the lock is taken, so no write can slip between the read and the span.
* Not on the read replica (it cannot write), and not while a write is open: then the request adds up
  the days itself, as before. Spans made more than :data:`KEEP_DAYS` days ago are deleted when a new
  one is made (a rolling period makes a new span every day).
"""

import datetime as dt
import json

from sqlalchemy import text

from app.core.extensions import db
from app.incidents import daily
from app.incidents.daily import Cell, Summary

KEEP_DAYS = 7
READ = text(
    "SELECT facts FROM incident_daily_spans WHERE area = :area AND n = :n AND d0 = :d0 AND t0 = :t0 AND d1 = :d1"
)
SAVE = text(
    "INSERT INTO incident_daily_spans (area, n, d0, t0, d1, facts) "
    "VALUES (:area, :n, :d0, :t0, :d1, CAST(:facts AS jsonb)) ON CONFLICT DO NOTHING"
)
PRUNE = text("DELETE FROM incident_daily_spans WHERE made_at < now() - make_interval(days => :keep)")


def summary(area: str, n: int, p0: dt.date, t0: dt.date, t1: dt.date, today: dt.date | None = None) -> Summary:
    """:func:`app.incidents.daily.summary`, the stored days' sums read from their span (made when missing)."""
    cut = daily.cut_day(p0, t1, today)
    if p0 >= cut:
        return daily.summary(area, n, p0, t0, t1, today)
    key = {"area": area, "n": n, "d0": p0, "t0": t0, "d1": cut}
    facts = db.session.scalar(READ, key)
    if facts is not None:
        out, stored = decode(facts), daily.days(p0, cut)
    else:
        out, stored = _make(key)
    return daily.add_live(out, area, n, sorted(set(daily.days(p0, t1)) - set(stored)), t0)


def _make(key: dict) -> tuple[Summary, list[dt.date]]:
    """The stored days' sums of ``key``'s span, and those days; kept as a span when every day is stored."""
    p0, cut = key["d0"], key["d1"]
    stored = daily.fill(p0, cut)  # may store missing days (and commit)
    whole = len(stored) == (cut - p0).days
    # The writers' lock (shared by every open write of incidents): taken, no write is open, and the
    # days read below are the ones a later write's trigger will drop the span for.
    locked = (
        whole
        and not db.session.info.get("replica")
        and bool(db.session.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext('incident_daily'))")))
    )
    if locked:
        stored = daily.stored_days(p0, cut)  # again, under the lock: a day dropped meanwhile
        whole = len(stored) == (cut - p0).days
    out = daily.read_stored(key["area"], key["n"], p0, key["t0"], cut) if stored else Summary({}, {}, {}, {})
    if locked and whole:
        db.session.execute(SAVE, {**key, "facts": json.dumps(encode(out))})
        db.session.execute(PRUNE, {"keep": KEEP_DAYS})
    if locked:
        db.session.commit()
    return out, stored


def _cell(c: Cell) -> list:
    return [c.reported, c.closed, sorted(c.hours.items())]


def _uncell(v: list) -> Cell:
    return Cell(v[0], v[1], {int(b): int(k) for b, k in v[2]})


def encode(s: Summary) -> dict:
    """``s`` as JSON (``facts``)."""
    return {
        "cur": {code: _cell(c) for code, c in s.cur.items()},
        "prev": {code: _cell(c) for code, c in s.prev.items()},
        "daily": {d.isoformat(): v for d, v in s.daily.items()},
        "categories": {str(k): _cell(c) for k, c in s.categories.items()},
    }


def decode(facts: dict) -> Summary:
    """The :class:`~app.incidents.daily.Summary` of a span's ``facts`` (fresh objects: live days are added to them)."""
    return Summary(
        {code: _uncell(v) for code, v in facts["cur"].items()},
        {code: _uncell(v) for code, v in facts["prev"].items()},
        {dt.date.fromisoformat(d): v for d, v in facts["daily"].items()},
        {int(k): _uncell(v) for k, v in facts["categories"].items()},
    )
