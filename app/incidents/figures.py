"""The incidents' dashboard figures: reported, closed, overdue, median hours to close; the daily series and
the median per category."""

import datetime as dt

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.areas.models import Area
from app.core.figures import (
    BACK,
    BREAKDOWNS,
    P0,
    SERIES,
    T0,
    T1,
    Breakdown,
    Figure,
    Frame,
    Series,
    Values,
    grouped,
    in_area,
    on_grids,
    register_figure,
    run,
    unit_of,
)
from app.core.time import TZ_NAME, now
from app.incidents.models import Incident, IncidentCategory
from app.incidents.services.deadlines import overdue_sql

INC = Incident.__table__
CATS = IncidentCategory.__table__
GRIDS = Area.__table__
NOT_COUNTED = ("rejected", "duplicate")
DEFAULT_DEADLINE_HOURS = 126  # the sum of the usual stage deadlines, when a category has none


def _reported(frame: Frame) -> Values:
    return grouped(frame, ("reported",), lambda: on_grids(GRIDS, INC, func.count(), time=INC.c.reported_at))


def _closed(frame: Frame) -> Values:
    return grouped(frame, ("closed",), lambda: on_grids(GRIDS, INC, func.count(), time=INC.c.closed_at))


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
    """Open at the period's end ``:t1`` and older than the sum of the category's stage deadlines."""
    unit = unit_of(GRIDS.c.code)
    dl = deadlines()
    return (
        select(unit.label("unit"), func.count().label("v"))
        .select_from(INC.join(GRIDS, GRIDS.c.id == INC.c.grid_id).join(dl, dl.c.id == INC.c.category_id))
        .where(
            in_area(GRIDS.c.code),
            INC.c.reported_at < T1,
            INC.c.reported_at >= BACK,
            sa.or_(INC.c.closed_at.is_(None), INC.c.closed_at >= T1),
            INC.c.state.notin_(NOT_COUNTED),
            INC.c.reported_at + func.make_interval(0, 0, 0, 0, 0, 0, dl.c.hours * 3600) < T1,
        )
        .group_by(unit)
    )


def _overdue_now():
    """Overdue now, by the incidents' own rule (:func:`app.incidents.services.deadlines.overdue_sql`)."""
    unit = unit_of(GRIDS.c.code)
    return (
        select(unit.label("unit"), func.count().label("v"))
        .select_from(INC.join(GRIDS, GRIDS.c.id == INC.c.grid_id).join(CATS, CATS.c.id == INC.c.category_id))
        .where(in_area(GRIDS.c.code), overdue_sql(Incident, IncidentCategory))
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


def _hours_to_close():
    return func.extract("epoch", INC.c.closed_at - INC.c.reported_at) / 3600.0


def _median_close(frame: Frame) -> Values:
    return grouped(
        frame,
        ("median_close",),
        lambda: on_grids(GRIDS, INC, func.percentile_cont(0.5).within_group(_hours_to_close()), time=INC.c.closed_at),
    )


def median_close_by_category(frame: Frame) -> list[dict]:
    """Median hours to close per category, for incidents closed in the period within the area."""

    def build():
        return (
            select(
                CATS.c.code,
                CATS.c.name,
                func.count().label("n"),
                func.percentile_cont(0.5).within_group(_hours_to_close()).label("median"),
            )
            .select_from(INC.join(GRIDS, GRIDS.c.id == INC.c.grid_id).join(CATS, CATS.c.id == INC.c.category_id))
            .where(in_area(GRIDS.c.code), INC.c.closed_at >= T0, INC.c.closed_at < T1)
            .group_by(CATS.c.code, CATS.c.name)
            .order_by(CATS.c.code)
        )

    return [
        {"code": r.code, "name": r.name, "n": r.n, "median": round(r.median, 1)}
        for r in run(("median_by_category",), build, frame.params())
    ]


def daily_reported(frame: Frame) -> dict[dt.date, int]:
    """Incidents reported per day (local dates) within the area, over both periods."""

    def build():
        day = func.date(func.timezone(TZ_NAME, INC.c.reported_at))
        return (
            select(day.label("d"), func.count().label("n"))
            .select_from(INC.join(GRIDS, GRIDS.c.id == INC.c.grid_id))
            .where(in_area(GRIDS.c.code), INC.c.reported_at >= P0, INC.c.reported_at < T1)
            .group_by(day)
        )

    return {r.d: r.n for r in run(("daily_reported",), build, frame.params())}


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
