"""The dashboard's incident figures from daily pre-aggregates (app/incidents/daily.py): the same as the
live count (medians within their bucket), stored days dropped by writes, today read live."""

import datetime as dt

import pytest
from sqlalchemy import text

from app.auth.policy import scope_of
from app.auth.services import find_user
from app.core.extensions import db
from app.core.time import TZ
from app.dashboard.services import build_dashboard
from app.incidents import daily
from tests.test_heatmaps import add_incident

NW = (103.7820, 36.0500)  # Hualinshan grid 001
GRID = "620103002001001"
COMMUNITY = "620103002001"

LIVE = text("""
    SELECT left(a.code, :n) AS unit,
           count(*) FILTER (WHERE i.reported_at >= :t0 AND i.reported_at < :t1) AS reported,
           count(*) FILTER (WHERE i.closed_at >= :t0 AND i.closed_at < :t1) AS closed,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.closed_at - i.reported_at) / 3600.0)
               FILTER (WHERE i.closed_at >= :t0 AND i.closed_at < :t1) AS median
    FROM incidents i JOIN areas a ON a.id = i.grid_id
    WHERE a.code LIKE :prefix AND length(a.code) >= :n
    GROUP BY 1
""")


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=TZ)


def _live(area: str, n: int, d0: dt.date, d1: dt.date) -> dict:
    rows = db.session.execute(LIVE, {"n": n, "prefix": area + "%", "t0": _at(d0), "t1": _at(d1)})
    return {r.unit: r for r in rows}


def _stored_days() -> set[dt.date]:
    return set(db.session.scalars(text("SELECT day FROM incident_daily_days")))


def _period():
    today = dt.datetime.now(TZ).date()
    t1 = today + dt.timedelta(days=1)
    t0 = t1 - dt.timedelta(days=400)
    return t0 - dt.timedelta(days=400), t0, t1


@pytest.mark.parametrize(("area", "n"), [("6201", 9), ("620103", 9), (COMMUNITY, 15)])
def test_stored_facts_equal_the_live_count_on_the_demo_data(app, demo, monkeypatch, area, n):
    monkeypatch.setattr(daily, "FILL_AT_ONCE", 10_000)
    p0, t0, t1 = _period()
    s = daily.summary(area, n, p0, t0, t1)
    assert len(_stored_days()) >= 700  # the older days were stored; today and yesterday were read live
    live = _live(area, n, t0, t1)
    assert sum(r.reported for r in live.values()) > 0 and sum(r.closed for r in live.values()) > 0
    for unit, r in live.items():
        cell = s.cur.get(unit, daily.Cell())
        assert (cell.reported, cell.closed) == (r.reported, r.closed), unit
        if r.median is None:
            assert daily.median(cell.hours) is None
        else:  # exact to the bucket
            assert abs(daily.median(cell.hours) - r.median) <= daily.bucket_width(r.median), unit
    # Read again from the stored days alone, and wholly live: the same facts.
    again = daily.summary(area, n, p0, t0, t1)
    wholly_live = daily.summary(area, n, p0, t0, t1, today=p0)
    assert again == s == wholly_live


def test_a_request_stores_a_few_days_and_reads_the_others_live(app, demo):
    p0, t0, t1 = _period()
    first = daily.summary(COMMUNITY, 15, p0, t0, t1)
    stored = _stored_days()
    assert len(stored) == daily.FILL_AT_ONCE and max(stored) == t1 - dt.timedelta(days=daily.RECENT_DAYS + 1)
    second = daily.summary(COMMUNITY, 15, p0, t0, t1)
    assert len(_stored_days()) == 2 * daily.FILL_AT_ONCE and first == second


def test_a_new_or_closed_incident_changes_the_figures_at_once(app, auth, monkeypatch):
    monkeypatch.setattr(daily, "FILL_AT_ONCE", 10_000)
    p0, t0, t1 = _period()
    old = t1 - dt.timedelta(days=20)
    before = daily.summary(COMMUNITY, 15, p0, t0, t1)
    assert old in _stored_days()
    n0 = before.cur.get(GRID, daily.Cell()).reported
    closed0 = before.cur.get(GRID, daily.Cell()).closed

    new = add_incident(*NW, _at(old) + dt.timedelta(hours=9))
    assert old not in _stored_days()  # the write dropped the day it touched, and only that day
    after = daily.summary(COMMUNITY, 15, p0, t0, t1)
    assert after.cur[GRID].reported == n0 + 1 and old in _stored_days()

    closed_day = old + dt.timedelta(days=2)
    db.session.execute(
        text("UPDATE incidents SET state = 'closed', closed_at = :t WHERE id = :id"),
        {"t": _at(closed_day) + dt.timedelta(hours=9), "id": new},
    )
    assert closed_day not in _stored_days()
    closed = daily.summary(COMMUNITY, 15, p0, t0, t1)
    assert closed.cur[GRID].closed == closed0 + 1

    db.session.execute(text("DELETE FROM incidents WHERE id = :id"), {"id": new})
    gone = daily.summary(COMMUNITY, 15, p0, t0, t1)
    assert (gone.cur[GRID].reported, gone.cur[GRID].closed) == (n0, closed0)


def test_a_state_change_keeps_the_stored_days_a_move_drops_them(app, auth, monkeypatch):
    monkeypatch.setattr(daily, "FILL_AT_ONCE", 10_000)
    p0, t0, t1 = _period()
    old = t1 - dt.timedelta(days=30)
    new = add_incident(*NW, _at(old) + dt.timedelta(hours=9))
    daily.summary(COMMUNITY, 15, p0, t0, t1)
    stored = _stored_days()
    db.session.execute(text("UPDATE incidents SET state = 'dispatched' WHERE id = :id"), {"id": new})
    assert _stored_days() == stored
    db.session.execute(text("UPDATE incidents SET grid_id = NULL WHERE id = :id"), {"id": new})
    assert _stored_days() == stored - {old}


def test_today_is_read_live_and_the_dashboard_shows_it(app, auth):
    today = dt.datetime.now(TZ).date()
    p0, t0, t1 = _period()
    before = daily.summary(COMMUNITY, 15, p0, t0, t1)
    add_incident(*NW, dt.datetime.now(TZ) - dt.timedelta(minutes=1))
    assert today not in _stored_days()
    after = daily.summary(COMMUNITY, 15, p0, t0, t1)
    assert after.cur[GRID].reported == before.cur.get(GRID, daily.Cell()).reported + 1
    assert after.daily[today] == before.daily.get(today, 0) + 1
    with app.test_request_context():
        data = build_dashboard(scope_of(find_user("leader")), COMMUNITY, _at(t1) - dt.timedelta(days=1), _at(t1))
    row = next(u for u in data["units"] if u["code"] == GRID)
    assert row["values"]["incidents_reported"]["cur"] >= 1


def test_an_open_write_makes_the_dashboard_read_live_instead_of_waiting(app, auth):
    """A write still open elsewhere holds the writers' lock: the missing days are counted live, not stored."""
    p0, t0, t1 = _period()
    other = db.engine.connect()
    try:
        other.execute(text("SELECT pg_advisory_xact_lock_shared(hashtext('incident_daily'))"))
        s = daily.summary(COMMUNITY, 15, p0, t0, t1)
        assert _stored_days() == set()
        assert s == daily.summary(COMMUNITY, 15, p0, t0, t1, today=p0)
    finally:
        other.rollback()
        other.close()


def test_median_of_a_histogram_is_placed_inside_its_bucket():
    assert daily.median({}) is None
    one = daily.EDGES.index(30) + 1  # the bucket [30, 31)
    assert daily.median({one: 1}) == 30.5
    assert daily.median({one: 1, one + 2: 1}) == 31.5  # 30.5 and 32.5: percentile_cont interpolates
    assert daily.median({len(daily.EDGES): 3}) == daily.EDGES[-1]  # beyond the last edge: at least that
    assert daily.bucket_width(30.2) == 1 and daily.bucket_width(100) == 4 and daily.bucket_width(300) == 24


def test_a_renamed_area_keeps_the_stored_days_a_new_code_drops_them(app, demo):
    p0, t0, t1 = _period()
    daily.summary(COMMUNITY, 15, p0, t0, t1)
    stored = _stored_days()
    assert stored
    db.session.execute(text("UPDATE areas SET name = name || '（新）' WHERE code = :c"), {"c": GRID})
    assert _stored_days() == stored
    db.session.execute(text("UPDATE areas SET code = '620103002001099' WHERE code = :c"), {"c": GRID})
    assert _stored_days() == set()
