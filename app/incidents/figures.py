"""The incidents' dashboard figures: reported, closed, overdue, median hours to close; the daily series and
the median per category."""

import datetime as dt

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.areas.models import Area
from app.core.extensions import db
from app.core.figures import (
    BACK,
    BREAKDOWNS,
    SERIES,
    T1,
    Breakdown,
    Figure,
    Frame,
    Series,
    Values,
    in_area,
    in_streets,
    register_figure,
    run,
    unit_of,
)
from app.core.time import now
from app.incidents import daily, spans
from app.incidents.models import Incident, IncidentCategory
from app.incidents.services.deadlines import overdue_sql

INC = Incident.__table__
CATS = IncidentCategory.__table__
GRIDS = Area.__table__
NOT_COUNTED = ("rejected", "duplicate")
DEFAULT_DEADLINE_HOURS = 126  # the sum of the usual stage deadlines, when a category has none


def _facts(frame: Frame) -> daily.Summary:
    """This dashboard's incident facts from the daily pre-aggregates (:mod:`app.incidents.daily`), the
    stored days' sums made once per period (:mod:`app.incidents.spans`); once per dashboard."""
    key = ("incident_daily",)
    if key not in frame.memo:
        d = frame.params()
        frame.memo[key] = spans.summary(frame.area, frame.length, d["pd0"], d["d0"], d["d1"])
    return frame.memo[key]


def _from_cells(frame: Frame, value) -> Values:
    s = _facts(frame)
    out = Values({}, {})
    for period, values in ((s.cur, out.cur), (s.prev, out.prev)):
        for code, cell in period.items():
            if len(code) == frame.length:
                values[code] = value(cell)
    total, total_prev = s.cur.get(frame.area), s.prev.get(frame.area)
    out.total = value(total) if total else None
    out.total_prev = value(total_prev) if total_prev else None
    return out


def _reported(frame: Frame) -> Values:
    return _from_cells(frame, lambda c: c.reported)


def _closed(frame: Frame) -> Values:
    return _from_cells(frame, lambda c: c.closed)


def deadlines():
    """Per category, the total hours allowed: the sum of its stage deadlines (``WITH dl (id, hours)``).

    Materialized: inlined, the sum over the category's JSON was computed again for every incident
    joined to it (30,000 times for a city's month: 200 of 390 ms)."""
    total = (
        select(func.sum(sa.cast(sa.column("value"), sa.Float)))
        .select_from(func.jsonb_each_text(CATS.c.deadlines))
        .scalar_subquery()
    )
    return (
        select(CATS.c.id, func.coalesce(total, DEFAULT_DEADLINE_HOURS).label("hours"))
        .cte("dl")
        .prefix_with("MATERIALIZED")
    )


def _overdue_past():
    """Open at the period's end ``:t1`` and older than the sum of the category's stage deadlines.

    Two parts, each read from a covering partial index alone (migration 0021): still unclosed, and
    closed at ``:t1`` or later (an OR of both was a bitmap scan of the table: 190 ms for a city)."""
    dl = deadlines()
    counted = INC.c.state.notin_(NOT_COUNTED)
    window = (INC.c.reported_at < T1, INC.c.reported_at >= BACK, in_streets(INC.c.street_code))
    parts = [
        select(INC.c.grid_id, INC.c.category_id, INC.c.reported_at).where(INC.c.closed_at.is_(None), counted, *window),
        select(INC.c.grid_id, INC.c.category_id, INC.c.reported_at).where(INC.c.closed_at >= T1, counted, *window),
    ]
    rows = sa.union_all(*parts).subquery("o")
    unit = unit_of(GRIDS.c.code)
    return (
        select(unit.label("unit"), func.count().label("v"))
        .select_from(rows.join(GRIDS, GRIDS.c.id == rows.c.grid_id).join(dl, dl.c.id == rows.c.category_id))
        .where(
            in_area(GRIDS.c.code),
            rows.c.reported_at + func.make_interval(0, 0, 0, 0, 0, 0, dl.c.hours * 3600) < T1,
        )
        .group_by(unit)
    )


def _overdue_now():
    """Overdue now, by the incidents' own rule (:func:`app.incidents.services.deadlines.overdue_sql`)."""
    unit = unit_of(GRIDS.c.code)
    return (
        select(unit.label("unit"), func.count().label("v"))
        .select_from(INC.join(GRIDS, GRIDS.c.id == INC.c.grid_id).join(CATS, CATS.c.id == INC.c.category_id))
        .where(in_area(GRIDS.c.code), in_streets(INC.c.street_code), overdue_sql(Incident, IncidentCategory))
        .group_by(unit)
    )


def _overdue(frame: Frame) -> Values:
    """Incidents overdue at the end of each period (computed, never typed in); the total is the units' sum.

    For a period that ends now or later, the incidents' own rule decides (an open incident longer in its
    current stage than its category allows), so the dashboard and the incident lists agree. For a past
    period the stage history is not replayed: an incident counts when it was still open at the period's
    end and older than the sum of its category's stage deadlines (126 h when it has none).
    """
    if frame.pending is not None:  # prefetch: statements of its own, run when asked for real
        return Values({}, {}, summed=True)

    def at_end(end):
        params = {**frame.params(), "t1": end, "back": end - dt.timedelta(days=366)}
        if end >= now():
            return {r.unit: r.v for r in run(("overdue_now",), _overdue_now, params)}
        return {r.unit: r.v for r in run(("overdue_past",), _overdue_past, params)}

    return Values(at_end(frame.end), at_end(frame.start), summed=True)


def _median_close(frame: Frame) -> Values:
    """Median hours to close, exact to the bucket (:func:`app.incidents.daily.median`)."""
    return _from_cells(frame, lambda c: daily.median(c.hours))


def median_close_by_category(frame: Frame) -> list[dict]:
    """Median hours to close per category (exact to the bucket), for incidents closed in the period
    within the area."""
    cells = {k: c for k, c in _facts(frame).categories.items() if c.closed}
    if not cells:
        return []
    names = db.session.execute(select(CATS.c.id, CATS.c.code, CATS.c.name).where(CATS.c.id.in_(cells))).all()
    return [
        {"code": code, "name": name, "n": cells[i].closed, "median": round(daily.median(cells[i].hours), 1)}
        for i, code, name in sorted(names, key=lambda r: r.code)
    ]


def daily_reported(frame: Frame) -> dict[dt.date, int]:
    """Incidents reported per day (local dates) within the area, over both periods."""
    return dict(_facts(frame).daily)


register_figure(Figure("incidents_reported", _l("上报事件数"), _l("件"), _reported, order=10))
register_figure(Figure("incidents_closed", _l("结案事件"), _l("件"), _closed, better="higher", order=11))
register_figure(Figure("incidents_overdue", _l("超期未结"), _l("件"), _overdue, order=12))
register_figure(
    Figure("median_close_hours", _l("结案用时中位数"), _l("小时"), _median_close, digits=1, order=13, missing=None)
)
SERIES.register(Series("incidents_daily", _l("每日上报事件"), daily_reported, order=10))
BREAKDOWNS.register(
    Breakdown(
        "median_by_category",
        _l("各类别结案用时中位数"),
        compute=median_close_by_category,
        empty=_l("本期无结案事件"),
        columns=(
            ("code", "code", None),
            ("name", "name", _l("类别")),
            ("n", "closed", _l("结案数")),
            ("median", "median_hours", _l("中位数（小时）")),
        ),
        order=10,
    )
)
