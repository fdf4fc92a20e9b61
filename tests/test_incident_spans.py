"""A period's sums of the stored incident days, made once (app/incidents/spans.py): the same facts as adding
up the days, one row read the next time, and dropped with any day it covers (migration 0024's trigger)."""

import datetime as dt

import pytest
from sqlalchemy import event, text

from app.core.extensions import db
from app.incidents import daily, spans
from tests.test_heatmaps import add_incident
from tests.test_incident_daily import COMMUNITY, GRID, NW, _at, _period


def _spans() -> list:
    return db.session.execute(text("SELECT area, n, d0, t0, d1 FROM incident_daily_spans ORDER BY 1, 2, 3")).all()


class _Statements:
    """The statements sent inside the block."""

    def __enter__(self):
        self.sql = []
        event.listen(db.engine, "before_cursor_execute", self._on)
        return self

    def _on(self, conn, cursor, statement, *args):
        self.sql.append(statement)

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._on)


@pytest.fixture
def all_days(monkeypatch):
    monkeypatch.setattr(daily, "FILL_AT_ONCE", 10_000)


@pytest.mark.parametrize(("area", "n"), [("6201", 9), (COMMUNITY, 15)])
def test_a_span_gives_the_facts_of_its_days_and_is_read_the_next_time(app, demo, all_days, area, n):
    p0, t0, t1 = _period()
    made = spans.summary(area, n, p0, t0, t1)
    cut = daily.cut_day(p0, t1)
    assert _spans() == [(area, n, p0, t0, cut)]
    assert made == daily.summary(area, n, p0, t0, t1)  # the same as adding up the days
    with _Statements() as sent:
        again = spans.summary(area, n, p0, t0, t1)
    assert again == made
    assert not any("FROM incident_daily " in s for s in sent.sql)  # the stored days were not read again
    assert spans.decode(spans.encode(made)) == made


def test_a_write_drops_the_spans_of_the_days_it_touched(app, demo, all_days):
    p0, t0, t1 = _period()
    before = spans.summary(COMMUNITY, 15, p0, t0, t1)
    old = t1 - dt.timedelta(days=20)
    other = spans.summary(COMMUNITY, 15, p0, p0 + dt.timedelta(days=10), p0 + dt.timedelta(days=20))
    assert len(_spans()) == 2 and other is not None
    new = add_incident(*NW, _at(old) + dt.timedelta(hours=9))
    # the span covering that day is gone; the one of a period long before stays
    assert [s.d1 for s in _spans()] == [p0 + dt.timedelta(days=20)]
    after = spans.summary(COMMUNITY, 15, p0, t0, t1)
    assert after.cur[GRID].reported == before.cur.get(GRID, daily.Cell()).reported + 1
    assert after == daily.summary(COMMUNITY, 15, p0, t0, t1)
    db.session.execute(
        text("UPDATE incidents SET state = 'closed', closed_at = :t WHERE id = :id"),
        {"t": _at(old) + dt.timedelta(days=1, hours=9), "id": new},
    )
    closed = spans.summary(COMMUNITY, 15, p0, t0, t1)
    assert closed.cur[GRID].closed == after.cur[GRID].closed + 1


def test_a_new_area_code_drops_every_span(app, demo, all_days):
    p0, t0, t1 = _period()
    spans.summary(COMMUNITY, 15, p0, t0, t1)
    assert _spans()
    db.session.execute(text("UPDATE areas SET code = '620103002001099' WHERE code = :c"), {"c": GRID})
    assert _spans() == []


def test_no_span_while_days_are_missing(app, demo):
    p0, t0, t1 = _period()
    s = spans.summary(COMMUNITY, 15, p0, t0, t1)  # stores FILL_AT_ONCE days only: the rest read live
    assert _spans() == [] and s == daily.summary(COMMUNITY, 15, p0, t0, t1, today=p0)


def test_no_span_while_a_write_is_open(app, demo, all_days):
    """A write still open elsewhere holds the writers' lock: nothing is stored, no span made, the same facts."""
    p0, t0, t1 = _period()
    other = db.engine.connect()
    try:
        other.execute(text("SELECT pg_advisory_xact_lock_shared(hashtext('incident_daily'))"))
        s = spans.summary(COMMUNITY, 15, p0, t0, t1)
        assert _spans() == []
        assert s == daily.summary(COMMUNITY, 15, p0, t0, t1, today=p0)
    finally:
        other.rollback()
        other.close()


def test_today_is_added_live_to_a_span(app, demo, all_days):
    p0, t0, t1 = _period()
    spans.summary(COMMUNITY, 15, p0, t0, t1)
    before = spans.summary(COMMUNITY, 15, p0, t0, t1)
    add_incident(*NW, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    assert _spans()  # today is not in a span: nothing to drop
    after = spans.summary(COMMUNITY, 15, p0, t0, t1)
    assert after.cur[GRID].reported == before.cur.get(GRID, daily.Cell()).reported + 1
