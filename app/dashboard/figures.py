"""The dashboard's figure registry: each figure is one grouped SQL query per unit (street/community/grid).

A figure computes ``{unit code: value}`` for a period over the child areas of the area a
leader looks at. Figures over people are *personal*: a unit's value is suppressed below 5.
A figure whose table or columns are missing is not shown, so entries for visits, wishes,
volunteer hours and patrol kilometres can be registered here before those features land; each
is a line with :func:`count_figure` or :func:`sum_figure`::

    register_figure(count_figure("visits_done", _l("走访完成"), "visits", "visited_at", personal=True))

Statements are written once: the area, the unit length and the period are named parameters
(``:prefix``, ``:n``, ``:t0``/``:t1``, see :meth:`Context.params`), and each statement is built and
compiled on its first use and then run as SQL text (:func:`run`). Building and compiling the
dashboard's ~40 Core statements took longer than running them.
"""
import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.sqltext import StatementCache, param


@dataclass
class Context:
    """What a figure is computed for: the child units (codes of one length) of ``area``, and a period."""
    area: str
    units: list[str]
    length: int
    start: dt.datetime
    end: dt.datetime
    memo: dict = field(default_factory=dict)     # shared by one dashboard's figures (households…)

    def params(self) -> dict:
        """Values of the named parameters every figure statement may use."""
        return {"prefix": _like_prefix(self.area), "n": self.length, "t0": self.start, "t1": self.end,
                "d0": self.start.date(), "d1": self.end.date(), "back": self.end - dt.timedelta(days=366)}


def _like_prefix(code: str) -> str:
    return code.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# Named parameters (values from Context.params).
_PARAMS = ("prefix", "n", "t0", "t1", "d0", "d1", "back")
PREFIX, N, T0, T1, D0, D1, BACK = (param(n) for n in _PARAMS)
_STATEMENTS = StatementCache(lambda name: name in _PARAMS)
run = _STATEMENTS.run     # run(key, build, ctx.params()): rows of a figure statement built once per key


@dataclass(frozen=True)
class Figure:
    name: str
    title: object
    unit: object
    compute: Callable[[Context], dict[str, float]]
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)   # table → columns needed
    personal: bool = False
    timed: bool = True          # False: a stock (households, chargers), the same for both periods
    better: str = "lower"       # which way is good, for the change colour: lower / higher / none
    digits: int = 0
    order: int = 50
    additive: bool = True       # the area's total is the sum of its units (else: queried for the area)


FIGURES: dict[str, Figure] = {}
_available: dict[str, bool] = {}


def register_figure(figure: Figure) -> Figure:
    FIGURES[figure.name] = figure
    _available.pop(figure.name, None)
    return figure


def is_available(figure: Figure) -> bool:
    if figure.name not in _available:
        ok = True
        for table, cols in figure.tables.items():
            have = set(db.session.scalars(sa.text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = :t"), {"t": table}))
            ok = ok and bool(have) and set(cols) <= have
        _available[figure.name] = ok
    return _available[figure.name]


def available_figures() -> list[Figure]:
    return sorted((f for f in FIGURES.values() if is_available(f)), key=lambda f: (f.order, f.name))


GRIDS = sa.table("areas", sa.column("id"), sa.column("code"))


def _unit():
    """The unit a grid belongs to: its code's first ``:n`` characters."""
    return func.substr(GRIDS.c.code, 1, N)


def in_area():
    """Grids under the area by code prefix (``:prefix``): the planner estimates a LIKE prefix well
    (``substr(…) IN`` was estimated at 0.5 % of the grids and sent 1M incidents through a nested loop:
    6.5 s → 0.1 s)."""
    return GRIDS.c.code.like(PREFIX, escape="\\")


def grouped(ctx: Context, key: tuple, build, grid_col: str = "grid_id") -> dict[str, float]:
    """A value aggregated per unit over the rows of a table whose grid lies in the area.

    ``build()`` returns ``(table, value, conditions)`` written with the named parameters; it runs
    once per ``key``.
    """
    def statement():
        t, value, conds = build()
        unit = _unit()
        return select(unit.label("unit"), value.label("v")) \
            .select_from(t.join(GRIDS, GRIDS.c.id == t.c[grid_col])) \
            .where(in_area(), *conds).group_by(unit)
    return {r.unit: (r.v if r.v is None or isinstance(r.v, int) else float(r.v))
            for r in run(("grouped", grid_col) + key, statement, ctx.params())}


def count_figure(name, title, table, time_col, personal=False, where=None, unit=_l("条"), better="higher",
                 order=50) -> Figure:
    """Rows of ``table`` whose ``time_col`` falls in the period, per unit."""
    where = {c: tuple(v) for c, v in (where or {}).items()}

    def build():
        t = sa.table(table, sa.column("grid_id"), sa.column(time_col), *(sa.column(c) for c in where))
        conds = [t.c[time_col] >= T0, t.c[time_col] < T1] + [t.c[c].in_(v) for c, v in where.items()]
        return t, func.count(), conds

    def compute(ctx):
        return grouped(ctx, ("count", table, time_col, tuple(sorted(where.items()))), build)
    return Figure(name, title, unit, compute, {table: ("grid_id", time_col, *where)}, personal,
                  better=better, order=order, additive=not personal)


def sum_figure(name, title, table, time_col, value_col, personal=False, unit="", better="higher", digits=1,
               order=50) -> Figure:
    """The sum of ``value_col`` over rows in the period, per unit (volunteer hours, patrol km)."""
    def build():
        t = sa.table(table, sa.column("grid_id"), sa.column(time_col), sa.column(value_col))
        return t, func.sum(t.c[value_col]), [t.c[time_col] >= T0, t.c[time_col] < T1]

    def compute(ctx):
        return grouped(ctx, ("sum", table, time_col, value_col), build)
    return Figure(name, title, unit, compute, {table: ("grid_id", time_col, value_col)}, personal,
                  better=better, digits=digits, order=order, additive=not personal)


# ---- incidents -----------------------------------------------------------------------------------
INC = sa.table("incidents", sa.column("grid_id"), sa.column("reported_at"), sa.column("closed_at"),
               sa.column("state"), sa.column("category_id"))
CATS = sa.table("incident_categories", sa.column("id"), sa.column("code"), sa.column("name"),
                sa.column("deadlines"))
NOT_COUNTED = ("rejected", "duplicate")
DEFAULT_DEADLINE_HOURS = 126   # the sum of the usual stage deadlines, when a category has none


def deadlines():
    """Per category, the total hours allowed: the sum of its stage deadlines (subquery ``id``, ``hours``)."""
    total = select(func.sum(sa.cast(sa.column("value"), sa.Float))) \
        .select_from(func.jsonb_each_text(CATS.c.deadlines)).scalar_subquery()
    return select(CATS.c.id, func.coalesce(total, DEFAULT_DEADLINE_HOURS).label("hours")).subquery("dl")


def _reported(ctx):
    return grouped(ctx, ("reported",), lambda: (INC, func.count(), [INC.c.reported_at >= T0, INC.c.reported_at < T1]))


def _closed(ctx):
    return grouped(ctx, ("closed",), lambda: (INC, func.count(), [INC.c.closed_at >= T0, INC.c.closed_at < T1]))


def _overdue(ctx):
    """Incidents overdue at the end of the period (computed, never typed in).

    For a period that ends now or later, the incidents feature's own rule decides (an open incident
    longer in its current stage than its category allows: ``app.incidents.services.overdue_sql``), so
    the dashboard and the incident lists agree. For a past period the stage history is not replayed:
    an incident counts when it was still open at the period's end and older than the sum of its
    category's stage deadlines (126 h when it has none).
    """
    now = dt.datetime.now(ctx.end.tzinfo)
    if ctx.end >= now:
        try:
            from app.incidents.models import Incident, IncidentCategory
            from app.incidents.services import overdue_sql
        except ImportError:
            pass
        else:
            def current():
                unit = _unit()
                return select(unit.label("unit"), func.count().label("v")) \
                    .select_from(Incident.__table__.join(GRIDS, GRIDS.c.id == Incident.grid_id)
                                 .join(IncidentCategory.__table__, IncidentCategory.id == Incident.category_id)) \
                    .where(in_area(), overdue_sql(Incident, IncidentCategory)).group_by(unit)
            return {r.unit: r.v for r in run(("overdue_now",), current, ctx.params())}

    def past():
        unit = _unit()
        dl = deadlines()
        return select(unit.label("unit"), func.count().label("v")) \
            .select_from(INC.join(GRIDS, GRIDS.c.id == INC.c.grid_id).join(dl, dl.c.id == INC.c.category_id)) \
            .where(in_area(), INC.c.reported_at < T1, INC.c.reported_at >= BACK,
                   sa.or_(INC.c.closed_at.is_(None), INC.c.closed_at >= T1),
                   INC.c.state.notin_(NOT_COUNTED),
                   INC.c.reported_at + func.make_interval(0, 0, 0, 0, 0, 0, dl.c.hours * 3600) < T1) \
            .group_by(unit)
    return {r.unit: r.v for r in run(("overdue_past",), past, ctx.params())}


def _hours_to_close():
    return func.extract("epoch", INC.c.closed_at - INC.c.reported_at) / 3600.0


def _median_close(ctx):
    return grouped(ctx, ("median_close",), lambda: (
        INC, func.percentile_cont(0.5).within_group(_hours_to_close()), [INC.c.closed_at >= T0, INC.c.closed_at < T1]))


def _area_params(area: str, start, end) -> dict:
    return Context(area, [area], len(area), start, end).params()


def median_close_by_category(area: str, start, end) -> list[dict]:
    """Median hours to close per category, for incidents closed in the period within ``area``."""
    def build():
        return select(CATS.c.code, CATS.c.name, func.count().label("n"),
                      func.percentile_cont(0.5).within_group(_hours_to_close()).label("median")) \
            .select_from(INC.join(GRIDS, GRIDS.c.id == INC.c.grid_id).join(CATS, CATS.c.id == INC.c.category_id)) \
            .where(in_area(), INC.c.closed_at >= T0, INC.c.closed_at < T1) \
            .group_by(CATS.c.code, CATS.c.name).order_by(CATS.c.code)
    return [{"code": r.code, "name": r.name, "n": r.n, "median": round(r.median, 1)}
            for r in run(("median_by_category",), build, _area_params(area, start, end))]


def daily_reported(area: str, start, end) -> dict[dt.date, int]:
    """Incidents reported per day (Shanghai dates) within ``area``."""
    def build():
        day = func.date(func.timezone("Asia/Shanghai", INC.c.reported_at))
        return select(day.label("d"), func.count().label("n")) \
            .select_from(INC.join(GRIDS, GRIDS.c.id == INC.c.grid_id)) \
            .where(in_area(), INC.c.reported_at >= T0, INC.c.reported_at < T1).group_by(day)
    return {r.d: r.n for r in run(("daily_reported",), build, _area_params(area, start, end))}


# ---- the base map: stocks per 1,000 households ----------------------------------------------------
BLD = sa.table("buildings", sa.column("grid_id"), sa.column("households"))
CHG = sa.table("chargers", sa.column("grid_id"), sa.column("status"))
BZ = sa.table("bike_zones", sa.column("grid_id"), sa.column("status"))


def households(ctx):
    key = ("households", ctx.area, ctx.length)
    if key not in ctx.memo:
        ctx.memo[key] = grouped(ctx, ("households",), lambda: (BLD, func.coalesce(func.sum(BLD.c.households), 0), []))
    return ctx.memo[key]


def _per_thousand(counts: dict, hh: dict) -> dict:
    return {u: round(counts.get(u, 0) * 1000.0 / h, 2) for u, h in hh.items() if h}


def _chargers(ctx):
    return _per_thousand(grouped(ctx, ("chargers",), lambda: (CHG, func.count(), [CHG.c.status == "installed"])),
                         households(ctx))


def _bike_zones(ctx):
    return _per_thousand(grouped(ctx, ("bike_zones",), lambda: (BZ, func.count(), [BZ.c.status == "active"])),
                         households(ctx))


register_figure(Figure("incidents_reported", _l("上报事件数"), _l("件"), _reported,
                       {"incidents": ("grid_id", "reported_at")}, order=10))
register_figure(Figure("incidents_closed", _l("结案事件"), _l("件"), _closed,
                       {"incidents": ("grid_id", "closed_at")}, better="higher", order=11))
register_figure(Figure("incidents_overdue", _l("超期未结"), _l("件"), _overdue,
                       {"incidents": ("grid_id", "reported_at", "closed_at", "state")}, order=12))
register_figure(Figure("median_close_hours", _l("结案用时中位数"), _l("小时"), _median_close,
                       {"incidents": ("grid_id", "reported_at", "closed_at")}, digits=1, order=13,
                       additive=False))
register_figure(Figure("households", _l("户数"), _l("户"), households, {"buildings": ("grid_id", "households")},
                       timed=False, better="none", order=60))
register_figure(Figure("chargers_per_1000", _l("每千户充电桩"), _l("个"), _chargers,
                       {"chargers": ("grid_id", "status")}, timed=False, better="higher", digits=2, order=61,
                       additive=False))
register_figure(Figure("bike_zones_per_1000", _l("每千户停放区"), _l("处"), _bike_zones,
                       {"bike_zones": ("grid_id", "status")}, timed=False, better="higher", digits=2, order=62,
                       additive=False))

# Other features' tables: shown as soon as they exist with these columns.
register_figure(count_figure("visits_done", _l("入户走访"), "visits", "visited_at", personal=True,
                             unit=_l("次"), order=30))
register_figure(count_figure("wishes_fulfilled", _l("微心愿实现"), "wishes", "fulfilled_at", personal=True,
                             unit=_l("个"), order=31))
SIGNUPS = sa.table("signups", sa.column("activity_id"), sa.column("occurs_on"), sa.column("hours"),
                   sa.column("attended"))
ACTIVITIES = sa.table("activities", sa.column("id"), sa.column("area_id"))
AREAS = sa.table("areas", sa.column("id"), sa.column("code"))


def _volunteer_hours(ctx):
    """Hours of attended sign-ups, per unit of the activity's area (an activity of a whole community
    counts for the community and above, not for one of its grids)."""
    def build():
        unit = func.substr(AREAS.c.code, 1, N)
        return select(unit.label("unit"), func.sum(SIGNUPS.c.hours).label("v")) \
            .select_from(SIGNUPS.join(ACTIVITIES, ACTIVITIES.c.id == SIGNUPS.c.activity_id)
                         .join(AREAS, AREAS.c.id == ACTIVITIES.c.area_id)) \
            .where(AREAS.c.code.like(PREFIX, escape="\\"), func.length(AREAS.c.code) >= N,
                   SIGNUPS.c.attended.is_(True), SIGNUPS.c.occurs_on >= D0, SIGNUPS.c.occurs_on < D1) \
            .group_by(unit)
    return {r.unit: float(r.v) for r in run(("volunteer_hours",), build, ctx.params()) if r.v is not None}


register_figure(Figure("volunteer_hours", _l("志愿服务时长"), _l("小时"), _volunteer_hours,
                       {"signups": ("activity_id", "occurs_on", "hours", "attended"), "activities": ("id", "area_id")},
                       better="higher", digits=1, order=32, additive=False))
PATROLS = sa.table("patrols", sa.column("area_id"), sa.column("started_at"), sa.column("distance_m"))


def _patrol_km(ctx):
    """Kilometres walked by patrols that started in the period, per unit of the patrol's area."""
    def build():
        unit = func.substr(AREAS.c.code, 1, N)
        return select(unit.label("unit"), (func.sum(PATROLS.c.distance_m) / 1000.0).label("v")) \
            .select_from(PATROLS.join(AREAS, AREAS.c.id == PATROLS.c.area_id)) \
            .where(AREAS.c.code.like(PREFIX, escape="\\"), func.length(AREAS.c.code) >= N,
                   PATROLS.c.started_at >= T0, PATROLS.c.started_at < T1) \
            .group_by(unit)
    return {r.unit: round(float(r.v), 1) for r in run(("patrol_km",), build, ctx.params()) if r.v is not None}


register_figure(Figure("patrol_km", _l("巡查里程"), _l("公里"), _patrol_km,
                       {"patrols": ("area_id", "started_at", "distance_m")}, better="higher", digits=1, order=33,
                       additive=False))
