"""The dashboard's incident figures from daily pre-aggregates (issue 18).

Counting a city's two periods of a million-row table per dashboard (reported, closed, the median hours
to close per street, the daily series, the median per category) cost ~0.9 s of SQL per request. Here
each local day is aggregated once, the first time a dashboard needs it (:func:`fill`), into
``incident_daily`` (migration 0021): per day, area (every code level an incident's grid lies in: city,
district, street, community, grid, micro-grid) and category (0: all), the incidents reported, the
incidents closed, and a histogram of the closed ones' hours to close in the fixed buckets of
:data:`EDGES`. A dashboard then sums the rows of its units and its area (:func:`summary`).

* **Medians are exact to the bucket**: the median of summed histograms is placed by linear interpolation
  inside its bucket (1 h wide up to 3 days, 4 h up to a week, a day up to 30 days, a week up to 90
  days; beyond that the figure is "90 days" at least). The live ``percentile_cont`` lies in the same
  bucket.
* **Invalidation**: a statement trigger on ``incidents`` drops the stored days a write touched (the
  reported and closed days of the old and new rows; any writer counts: the API, imports, ``COPY``,
  psql), and a change of area codes drops every day. A refill takes an advisory lock every writer holds
  shared until it commits, so it never misses a write; while a write is still open, or on the read
  replica (which cannot write), the missing days are computed live instead.
* **Today and yesterday are read live** (:data:`RECENT_DAYS`: where writes land), from the same
  statement, so a new or closed incident changes the figures at once.

Overdue figures are not here: they are counts at an instant, read from covering indexes
(:mod:`app.incidents.figures`). The small-count rule concerns figures over people; incidents are not.
"""

import datetime as dt
import itertools
from dataclasses import dataclass, field

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, INTEGER, TEXT

from app.core.extensions import db
from app.core.streets import streets_under
from app.core.time import TZ, TZ_NAME

RECENT_DAYS = 2  # today and yesterday: read live
# Days one request stores at most (the latest missing ones; ~0.5 s a day of a million-incident year on
# 2 cores): a fresh deployment's first dashboards fill a little each, never a minute-long request.
FILL_AT_ONCE = 5
LEVELS = (4, 6, 9, 12, 15, 18)  # code lengths of city, district, street, community, grid, micro-grid
ALL = 0  # category_id of the rows over every category (written as 0 in the SQL below)
# Bucket edges in hours: bucket k (1 ≤ k < len(EDGES)) holds [EDGES[k-1], EDGES[k]); the last, ≥ 2160 h.
EDGES = tuple(range(72)) + tuple(range(72, 168, 4)) + tuple(range(168, 720, 24)) + tuple(range(720, 2160 + 1, 168))

# The facts of the days from :lo to :hi (local midnights), for areas of code lengths :lens under :prefix
# (per category too for the lengths :catlens).
_FACTS = """
WITH ev AS (
    SELECT timezone(:tz, i.reported_at)::date AS day, i.grid_id, i.category_id,
           1 AS r, 0 AS c, NULL::int AS b
    FROM incidents i WHERE i.reported_at >= :lo AND i.reported_at < :hi {streets}
    UNION ALL
    SELECT timezone(:tz, i.closed_at)::date, i.grid_id, i.category_id, 0, 1,
           width_bucket(extract(epoch FROM i.closed_at - i.reported_at) / 3600.0, CAST(:edges AS float8[]))
    FROM incidents i WHERE i.closed_at >= :lo AND i.closed_at < :hi {streets}
), per AS (
    SELECT e.day, left(a.code, :maxlen) AS code, e.category_id, e.b, sum(e.r) AS r, sum(e.c) AS c
    FROM ev e JOIN areas a ON a.id = e.grid_id
    WHERE a.code LIKE :prefix ESCAPE '\\'
    GROUP BY 1, 2, 3, 4
), up AS (
    SELECT p.day, l AS code_len, left(p.code, l) AS area, cat, p.b, sum(p.r) AS r, sum(p.c) AS c
    FROM per p CROSS JOIN unnest(CAST(:lens AS int[])) AS l
         CROSS JOIN LATERAL unnest(CASE WHEN l = ANY(:catlens) THEN ARRAY[p.category_id, 0] ELSE ARRAY[0] END) AS k(cat)
    WHERE length(p.code) >= l
    GROUP BY 1, 2, 3, 4, 5
)
SELECT day, code_len, area, cat AS category_id, sum(r)::int AS reported, sum(c)::int AS closed,
       coalesce(array_agg(b ORDER BY b) FILTER (WHERE b IS NOT NULL AND c > 0), '{{}}')::smallint[] AS hours,
       coalesce(array_agg(c ORDER BY b) FILTER (WHERE b IS NOT NULL AND c > 0), '{{}}')::int[] AS hours_n
FROM up GROUP BY 1, 2, 3, 4
"""
_ARGS = (bindparam("lens", type_=ARRAY(INTEGER)), bindparam("catlens", type_=ARRAY(INTEGER)))
# One area's live days name its streets (the shards that hold them, docs/scaling.md); a fill makes the
# stored days of every area at once, so it reads every street.
FACTS = text(_FACTS.format(streets="AND i.street_code = ANY(:streets)")).bindparams(
    *_ARGS, bindparam("streets", type_=ARRAY(TEXT))
)
INSERT = text(
    "INSERT INTO incident_daily (day, code_len, area, category_id, reported, closed, hours, hours_n) "
    + _FACTS.format(streets="")
).bindparams(*_ARGS)
NEW_DAYS = text(
    "INSERT INTO incident_daily_days (day) SELECT d FROM unnest(CAST(:days AS date[])) AS d "
    "ON CONFLICT DO NOTHING RETURNING day"
)
# The units' rows over every category, and the area's own: over every category (the daily series, its total)
# and, in this period only (the breakdown per category), per category. The histograms are most of what a
# dashboard reads (~140,000 buckets for a city's 60 days): the previous period's per-category rows are
# not read at all.
STORED = text(
    "SELECT day, code_len, area, category_id, reported, closed, hours, hours_n FROM incident_daily "
    "WHERE day >= :d0 AND day < :d1 AND ((code_len = :n AND category_id = 0 AND area LIKE :prefix ESCAPE '\\') "
    "OR (code_len = :alen AND area = :area AND (category_id = 0 OR day >= :t0)))"
)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=TZ)


def days(d0: dt.date, d1: dt.date) -> list[dt.date]:
    """The days ``d0``–``d1`` (exclusive)."""
    return [d0 + dt.timedelta(days=k) for k in range((d1 - d0).days)]


def _like(code: str) -> str:
    return code.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


def fill(d0: dt.date, d1: dt.date) -> list[dt.date]:
    """Store the days ``d0``–``d1`` (exclusive) that are not stored yet (the latest :data:`FILL_AT_ONCE`
    of them), for every area; the days that are stored when it returns (the others are read live)."""
    wanted = days(d0, d1)
    have = set(stored_days(d0, d1))
    missing = [d for d in wanted if d not in have][-FILL_AT_ONCE:]
    if not missing or db.session.info.get("replica"):
        return sorted(have)
    # Not waiting: an open write (a bulk load) holds the writers' shared lock to its commit.
    if not db.session.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext('incident_daily'))")):
        return sorted(have)
    fresh = [r[0] for r in db.session.execute(NEW_DAYS, {"days": missing})]
    for run in _runs(fresh):
        db.session.execute(INSERT, _facts_params(run, LEVELS, "", LEVELS))
    db.session.commit()
    return sorted(have | set(fresh))


def _runs(days: list[dt.date]) -> list[list[dt.date]]:
    """``days`` as runs of consecutive days (a statement per run: a range the planner estimates well)."""
    runs: list[list[dt.date]] = []
    for d in sorted(days):
        if runs and d - runs[-1][-1] == dt.timedelta(days=1):
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def _facts_params(days: list[dt.date], lens, area: str, catlens) -> dict:
    return {
        "tz": TZ_NAME,
        "catlens": list(catlens),
        "lo": _at(min(days)),
        "hi": _at(max(days) + dt.timedelta(days=1)),
        "lens": list(lens),
        "maxlen": max(lens),  # codes cut to the longest length asked for first: fewer groups (live: 42 → 29 ms)
        "prefix": _like(area),
        "edges": [float(e) for e in EDGES],
    }


@dataclass
class Cell:
    """What one area holds over some days: reported, closed, and the closed ones' hours (bucket → n)."""

    reported: int = 0
    closed: int = 0
    hours: dict[int, int] = field(default_factory=dict)

    def add(self, row) -> None:
        self.reported += row.reported
        if not row.closed:
            return
        self.closed += row.closed
        hours = self.hours
        get = hours.get
        for b, n in zip(row.hours, row.hours_n, strict=True):
            hours[b] = get(b, 0) + n


@dataclass
class Summary:
    """The dashboard's incident facts: per period (``cur``/``prev``) and area code (units and the area
    itself) a :class:`Cell`; the area's reported count per day; its closed incidents per category now."""

    cur: dict[str, Cell]
    prev: dict[str, Cell]
    daily: dict[dt.date, int]
    categories: dict[int, Cell]


def cut_day(p0: dt.date, t1: dt.date, today: dt.date | None = None) -> dt.date:
    """The first day of ``p0``–``t1`` read live (:data:`RECENT_DAYS`): the days before it may be stored."""
    today = today or dt.datetime.now(TZ).date()
    return min(t1, max(p0, today - dt.timedelta(days=RECENT_DAYS - 1)))


def stored_days(d0: dt.date, d1: dt.date) -> list[dt.date]:
    """The days of ``d0``–``d1`` (exclusive) stored now."""
    return sorted(
        db.session.scalars(
            text("SELECT day FROM incident_daily_days WHERE day >= :d0 AND day < :d1"), {"d0": d0, "d1": d1}
        )
    )


def read_stored(area: str, n: int, p0: dt.date, t0: dt.date, cut: dt.date) -> Summary:
    """The facts of the stored days of ``p0``–``cut`` (the missing ones are left out)."""
    out = Summary({}, {}, {}, {})
    params = {"d0": p0, "d1": cut, "t0": t0, "n": n, "prefix": _like(area), "alen": len(area), "area": area}
    _collect(out, area, n, t0, db.session.execute(STORED, params))
    return out


def add_live(out: Summary, area: str, n: int, days: list[dt.date], t0: dt.date) -> Summary:
    """``out`` with the facts of ``days`` (those not stored) counted live."""
    streets = streets_under(area) if days else []
    for run in _runs(days):
        params = {**_facts_params(run, {n, len(area)}, area, [len(area)]), "streets": streets}
        _collect(out, area, n, t0, db.session.execute(FACTS, params))
    return out


def summary(area: str, n: int, p0: dt.date, t0: dt.date, t1: dt.date, today: dt.date | None = None) -> Summary:
    """The facts of ``area`` and its units (code length ``n``) for the days ``p0``–``t0`` (the period
    before) and ``t0``–``t1`` (this one): stored days where they are, the others live."""
    cut = cut_day(p0, t1, today)
    stored = fill(p0, cut) if p0 < cut else []
    out = read_stored(area, n, p0, t0, cut) if stored else Summary({}, {}, {}, {})
    return add_live(out, area, n, sorted(set(days(p0, t1)) - set(stored)), t0)


def _collect(out: Summary, area: str, n: int, t0: dt.date, rows) -> None:
    for r in rows:
        if r.area == area and r.code_len == len(area):
            if r.category_id == ALL:
                out.daily[r.day] = out.daily.get(r.day, 0) + r.reported
            elif r.day >= t0:
                out.categories.setdefault(r.category_id, Cell()).add(r)
        if r.category_id != ALL:
            continue
        if (r.code_len == n and r.area.startswith(area)) or (r.area == area and r.code_len == len(area)):
            period = out.cur if r.day >= t0 else out.prev
            period.setdefault(r.area, Cell()).add(r)


def median(hours: dict[int, int]) -> float | None:
    """The median of a histogram of :data:`EDGES` buckets, as ``percentile_cont(0.5)`` would place it:
    values spread evenly inside their bucket; None when empty. Exact to the bucket."""
    total = sum(hours.values())
    if total == 0:
        return None
    pos = 0.5 * (total - 1)
    lo_rank, hi_rank = int(pos), min(int(pos) + 1, total - 1)
    a, b = _value_at(hours, lo_rank), _value_at(hours, hi_rank)
    return a + (b - a) * (pos - lo_rank)


def _value_at(hours: dict[int, int], rank: int) -> float:
    seen = 0
    for b in sorted(hours):
        c = hours[b]
        if rank < seen + c:
            if b <= 0:
                return 0.0
            if b >= len(EDGES):
                return float(EDGES[-1])
            lo, hi = EDGES[b - 1], EDGES[b]
            return lo + (rank - seen + 0.5) / c * (hi - lo)
        seen += c
    raise ValueError("rank beyond the histogram")


def bucket_width(hours: float) -> float:
    """The width of the bucket ``hours`` falls in (the median's precision there)."""
    for lo, hi in itertools.pairwise(EDGES):
        if lo <= hours < hi:
            return float(hi - lo)
    return float("inf")
