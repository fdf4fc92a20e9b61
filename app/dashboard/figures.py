"""The dashboard's figure registry: each figure is one grouped SQL query over the area's units.

A figure computes, for one :class:`Frame` (the child units of the area a leader looks at, a period
and the period before it), the value per unit and for the area as a whole in both periods
(:class:`Values`). Figures over people are *personal*: a value is suppressed below 5. A figure
whose table or columns are missing is not shown, so entries for visits, wishes, volunteer hours
and patrol kilometres can be registered here before those features land; each is a line with
:func:`count_figure` or :func:`sum_figure`::

    register_figure(count_figure("visits_done", _l("走访完成"), "visits", "visited_at", personal=True))

One statement per figure: rows of both periods are read once and split with ``FILTER``, and the
units and the area's total come from one ``GROUPING SETS ((unit), ())`` (see :func:`grouped`).
Statements are written once: the area, the unit length and the periods are named parameters
(:meth:`Frame.params`); each statement is built and compiled on its first use and then run as SQL
text (:func:`run`). Building and compiling Core statements took longer than running them.
"""
import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.core.sql import like_escape
from app.core.extensions import db
from app.core.sql import StatementCache, param
from gis.heat import SUPPRESS_BELOW


@dataclass
class Frame:
    """What figures are computed for: the units (child codes of ``length``) of ``area``, the period
    ``start``–``end`` and the previous one ``pstart``–``start`` (of the same length, just before)."""
    area: str
    length: int
    start: dt.datetime
    end: dt.datetime
    pstart: dt.datetime
    memo: dict = field(default_factory=dict)     # one dashboard's figure values, by statement
    pending: dict | None = None                  # statements noted by prefetch()

    def params(self) -> dict:
        """Values of the named parameters every figure statement may use."""
        return {"prefix": like_escape(self.area) + "%", "n": self.length,
                "p0": self.pstart, "t0": self.start, "t1": self.end,
                "pd0": self.pstart.date(), "d0": self.start.date(), "d1": self.end.date(),
                "back": self.end - dt.timedelta(days=366)}


@dataclass
class Values:
    """A figure's values: per unit code now and before, and the area's total now and before
    (``summed``: no total of its own, the area's is the sum of its units)."""
    cur: dict[str, float | None]
    prev: dict[str, float | None]
    total: float | None = None
    total_prev: float | None = None
    summed: bool = False


# Named parameters (values from Frame.params).
_PARAMS = ("prefix", "n", "p0", "t0", "t1", "pd0", "d0", "d1", "back")
PREFIX, N, P0, T0, T1, PD0, D0, D1, BACK = (param(n) for n in _PARAMS)
_STATEMENTS = StatementCache(lambda name: name in _PARAMS)
run = _STATEMENTS.run     # run(key, build, frame.params()): rows of a figure statement built once per key


@dataclass(frozen=True)
class Figure:
    name: str
    title: object
    unit: object
    compute: Callable[[Frame], Values]
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)   # table → columns needed
    personal: bool = False
    timed: bool = True          # False: a stock (households, chargers), the same for both periods
    better: str = "lower"       # which way is good, for the change colour: lower / higher / none
    digits: int = 0
    order: int = 50
    missing: float | None = 0   # a unit with nothing to count: 0, or None ("–") for a median or a share


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


def _unit(code_col=GRIDS.c.code):
    """The unit an area belongs to: its code's first ``:n`` characters."""
    return func.substr(code_col, 1, N)


def in_area(code_col=GRIDS.c.code):
    """Areas under the area by code prefix (``:prefix``): the planner estimates a LIKE prefix well
    (``substr(…) IN`` was estimated at 0.5 % of the grids and sent 1M incidents through a nested loop:
    6.5 s → 0.1 s)."""
    return code_col.like(PREFIX, escape="\\")


@dataclass
class Source:
    """What :func:`grouped` aggregates: rows of ``source`` (joined to the areas whose ``code`` places
    them), ``value`` an aggregate, optional ``conditions``, and the ``time`` column the period applies
    to (None for a stock). ``dates``: the time column is a date, compared with dates. A value that is
    a function of the period itself (visits a care plan calls for) gives ``value`` for the period and
    ``prev_value`` for the one before, and no time column."""
    source: sa.FromClause
    code: sa.ColumnElement
    value: sa.ColumnElement
    conditions: tuple = ()
    time: sa.ColumnElement | None = None
    dates: bool = False
    prev_value: sa.ColumnElement | None = None    # a value that depends on the period by itself


def on_grids(table, value, conditions=(), time=None, grid_col="grid_id") -> Source:
    """A :class:`Source` over a table with a grid column."""
    return Source(table.join(GRIDS, GRIDS.c.id == table.c[grid_col]), GRIDS.c.code, value, tuple(conditions), time)


def _statement(build: Callable[[], Source]) -> sa.Select:
    """The grouped statement of a :class:`Source`: columns ``unit``, ``g`` (1: the area's total), ``v``, ``pv``."""
    s = build()
    unit = _unit(s.code)
    cols = [unit.label("unit"), func.grouping(unit).label("g")]
    conds = [in_area(s.code), *s.conditions]
    if s.prev_value is not None:
        cols += [s.value.label("v"), s.prev_value.label("pv")]
    elif s.time is None:
        cols += [s.value.label("v"), s.value.label("pv")]
    else:
        lo, mid, hi = (PD0, D0, D1) if s.dates else (P0, T0, T1)
        conds += [s.time >= lo, s.time < hi]
        cols += [s.value.filter(s.time >= mid).label("v"), s.value.filter(s.time < mid).label("pv")]
    return select(*cols).select_from(s.source).where(*conds).group_by(func.grouping_sets(unit, sa.tuple_()))


_INTEGER: dict[tuple, bool] = {}     # statement key → its value is a whole number (counts, household sums)


def _is_integer(key: tuple, build) -> bool:
    if key not in _INTEGER:
        _INTEGER[key] = isinstance(build().value.type, sa.Integer)
    return _INTEGER[key]


def _fill(frame: Frame, key: tuple, rows, integer: bool) -> Values:
    def number(v):
        return None if v is None else int(v) if integer else float(v)
    out = frame.memo[key] = Values({}, {})
    for r in rows:
        v, pv = number(r.v), number(r.pv)
        if r.g:
            out.total, out.total_prev = v, pv
        elif len(r.unit) == frame.length:       # shorter: an area above the units (total only)
            out.cur[r.unit], out.prev[r.unit] = v, pv
    return out


def grouped(frame: Frame, key: tuple, build: Callable[[], Source]) -> Values:
    """A value aggregated per unit and for the whole area, in the period and the one before: one statement.

    ``build()`` (run once per ``key``) returns a :class:`Source` written with the named parameters.
    Rows of both periods are read in one pass and split by ``FILTER``; ``GROUPING SETS ((unit), ())``
    gives the units and the area's total (areas above the units, e.g. an activity of a whole street,
    count for the total only). Within :func:`prefetch`, the statement is only noted, to be sent with
    the others in one round trip.
    """
    key = ("grouped",) + key
    if key in frame.memo:        # fetched already (by prefetch, or households for the rates)
        return frame.memo[key]
    if frame.pending is not None:
        frame.pending[key] = build
        return Values({}, {})
    return _fill(frame, key, run(key, lambda: _statement(build), frame.params()), _is_integer(key, build))


def prefetch(frame: Frame, figures) -> None:
    """Send the grouped statements of ``figures`` as one ``UNION ALL``: one round trip, one execution
    through SQLAlchemy, instead of one per figure (a street's dashboard spent more on those than on
    its SQL). Figures then read their values from ``frame.memo``; figures with statements of their
    own (overdue, by category) run them afterwards."""
    frame.pending = {}
    try:
        for f in figures:
            f.compute(frame)
        pending, keys = frame.pending, tuple(frame.pending)
    finally:
        frame.pending = None
    if not keys:
        return

    def union():
        parts = []
        for i, key in enumerate(keys):
            q = _statement(pending[key]).subquery(f"f{i}")
            parts.append(select(sa.literal(i).label("k"), q.c.unit, q.c.g, sa.cast(q.c.v, sa.Float).label("v"),
                                sa.cast(q.c.pv, sa.Float).label("pv")))
        return sa.union_all(*parts)
    rows: dict[int, list] = {i: [] for i in range(len(keys))}
    for r in run(("prefetch",) + keys, union, frame.params()):
        rows[r.k].append(r)
    for i, key in enumerate(keys):
        _fill(frame, key, rows[i], _is_integer(key, pending[key]))


def count_figure(name, title, table, time_col, personal=False, where=None, unit=_l("条"), better="higher",
                 order=50) -> Figure:
    """Rows of ``table`` whose ``time_col`` falls in the period, per unit."""
    where = {c: tuple(v) for c, v in (where or {}).items()}

    def build():
        t = sa.table(table, sa.column("grid_id"), sa.column(time_col), *(sa.column(c) for c in where))
        return on_grids(t, func.count(), [t.c[c].in_(v) for c, v in where.items()], t.c[time_col])

    def compute(frame):
        return grouped(frame, ("count", table, time_col, tuple(sorted(where.items()))), build)
    return Figure(name, title, unit, compute, {table: ("grid_id", time_col, *where)}, personal,
                  better=better, order=order)


def sum_figure(name, title, table, time_col, value_col, personal=False, unit="", better="higher", digits=1,
               order=50) -> Figure:
    """The sum of ``value_col`` over rows in the period, per unit (volunteer hours, patrol km)."""
    def build():
        t = sa.table(table, sa.column("grid_id"), sa.column(time_col), sa.column(value_col))
        return on_grids(t, func.sum(t.c[value_col]), time=t.c[time_col])

    def compute(frame):
        return grouped(frame, ("sum", table, time_col, value_col), build)
    return Figure(name, title, unit, compute, {table: ("grid_id", time_col, value_col)}, personal,
                  better=better, digits=digits, order=order)


# ---- incidents -----------------------------------------------------------------------------------
INC = sa.table("incidents", sa.column("grid_id"), sa.column("reported_at"), sa.column("closed_at"),
               sa.column("state"), sa.column("category_id"))
CATS = sa.table("incident_categories", sa.column("id"), sa.column("code"), sa.column("name"),
                sa.column("deadlines"))
NOT_COUNTED = ("rejected", "duplicate")
DEFAULT_DEADLINE_HOURS = 126   # the sum of the usual stage deadlines, when a category has none


def deadlines():
    """Per category, the total hours allowed: the sum of its stage deadlines (``WITH dl (id, hours)``).

    Materialized: inlined, the sum over the category's JSON was computed again for every incident
    joined to it (30,000 times for a city's month: 200 of 390 ms)."""
    total = select(func.sum(sa.cast(sa.column("value"), sa.Float))) \
        .select_from(func.jsonb_each_text(CATS.c.deadlines)).scalar_subquery()
    return select(CATS.c.id, func.coalesce(total, DEFAULT_DEADLINE_HOURS).label("hours")) \
        .cte("dl").prefix_with("MATERIALIZED")


def _reported(frame):
    return grouped(frame, ("reported",), lambda: on_grids(INC, func.count(), time=INC.c.reported_at))


def _closed(frame):
    return grouped(frame, ("closed",), lambda: on_grids(INC, func.count(), time=INC.c.closed_at))


def _overdue(frame):
    """Incidents overdue at the end of each period (computed, never typed in); the total is the units' sum.

    For a period that ends now or later, the incidents feature's own rule decides (an open incident
    longer in its current stage than its category allows: ``app.incidents.services.overdue_sql``), so
    the dashboard and the incident lists agree. For a past period the stage history is not replayed:
    an incident counts when it was still open at the period's end and older than the sum of its
    category's stage deadlines (126 h when it has none).
    """
    if frame.pending is not None:       # prefetch: statements of its own, run when asked for real
        return Values({}, {}, summed=True)
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

    def at_end(end):
        params = {**frame.params(), "t1": end, "back": end - dt.timedelta(days=366)}
        if end >= dt.datetime.now(end.tzinfo):
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
                return {r.unit: r.v for r in run(("overdue_now",), current, params)}
        return {r.unit: r.v for r in run(("overdue_past",), past, params)}
    return Values(at_end(frame.end), at_end(frame.start), summed=True)


def _hours_to_close():
    return func.extract("epoch", INC.c.closed_at - INC.c.reported_at) / 3600.0


def _median_close(frame):
    return grouped(frame, ("median_close",), lambda: on_grids(
        INC, func.percentile_cont(0.5).within_group(_hours_to_close()), time=INC.c.closed_at))


def median_close_by_category(frame: Frame) -> list[dict]:
    """Median hours to close per category, for incidents closed in the period within the area."""
    def build():
        return select(CATS.c.code, CATS.c.name, func.count().label("n"),
                      func.percentile_cont(0.5).within_group(_hours_to_close()).label("median")) \
            .select_from(INC.join(GRIDS, GRIDS.c.id == INC.c.grid_id).join(CATS, CATS.c.id == INC.c.category_id)) \
            .where(in_area(), INC.c.closed_at >= T0, INC.c.closed_at < T1) \
            .group_by(CATS.c.code, CATS.c.name).order_by(CATS.c.code)
    return [{"code": r.code, "name": r.name, "n": r.n, "median": round(r.median, 1)}
            for r in run(("median_by_category",), build, frame.params())]


def daily_reported(frame: Frame) -> dict[dt.date, int]:
    """Incidents reported per day (Shanghai dates) within the area, over both periods."""
    def build():
        day = func.date(func.timezone("Asia/Shanghai", INC.c.reported_at))
        return select(day.label("d"), func.count().label("n")) \
            .select_from(INC.join(GRIDS, GRIDS.c.id == INC.c.grid_id)) \
            .where(in_area(), INC.c.reported_at >= P0, INC.c.reported_at < T1).group_by(day)
    return {r.d: r.n for r in run(("daily_reported",), build, frame.params())}


# ---- the base map: stocks per 1,000 households ----------------------------------------------------
BLD = sa.table("buildings", sa.column("grid_id"), sa.column("households", sa.Integer))
CHG = sa.table("chargers", sa.column("grid_id"), sa.column("status"))
BZ = sa.table("bike_zones", sa.column("grid_id"), sa.column("status"))


def households(frame):
    return grouped(frame, ("households",), lambda: on_grids(BLD, func.coalesce(func.sum(BLD.c.households), 0)))


def _per_thousand(counts: Values, hh: Values) -> Values:
    def rate(n, h):
        return round((n or 0) * 1000.0 / h, 2) if h else None
    cur = {u: rate(counts.cur.get(u, 0), h) for u, h in hh.cur.items() if h}
    return Values(cur, cur, rate(counts.total, hh.total), rate(counts.total, hh.total))


def _chargers(frame):
    return _per_thousand(grouped(frame, ("chargers",), lambda: on_grids(CHG, func.count(), [CHG.c.status == "installed"])),
                         households(frame))


def _bike_zones(frame):
    return _per_thousand(grouped(frame, ("bike_zones",), lambda: on_grids(BZ, func.count(), [BZ.c.status == "active"])),
                         households(frame))


register_figure(Figure("incidents_reported", _l("上报事件数"), _l("件"), _reported,
                       {"incidents": ("grid_id", "reported_at")}, order=10))
register_figure(Figure("incidents_closed", _l("结案事件"), _l("件"), _closed,
                       {"incidents": ("grid_id", "closed_at")}, better="higher", order=11))
register_figure(Figure("incidents_overdue", _l("超期未结"), _l("件"), _overdue,
                       {"incidents": ("grid_id", "reported_at", "closed_at", "state")}, order=12))
register_figure(Figure("median_close_hours", _l("结案用时中位数"), _l("小时"), _median_close,
                       {"incidents": ("grid_id", "reported_at", "closed_at")}, digits=1, order=13, missing=None))
register_figure(Figure("households", _l("户数"), _l("户"), households, {"buildings": ("grid_id", "households")},
                       timed=False, better="none", order=60))
register_figure(Figure("chargers_per_1000", _l("每千户充电桩"), _l("个"), _chargers,
                       {"chargers": ("grid_id", "status")}, timed=False, better="higher", digits=2, order=61))
register_figure(Figure("bike_zones_per_1000", _l("每千户停放区"), _l("处"), _bike_zones,
                       {"bike_zones": ("grid_id", "status")}, timed=False, better="higher", digits=2, order=62))

# Other features' tables: shown as soon as they exist with these columns.
register_figure(count_figure("visits_done", _l("入户走访"), "visits", "visited_at", personal=True,
                             unit=_l("次"), order=30))
register_figure(count_figure("wishes_fulfilled", _l("微心愿实现"), "wishes", "fulfilled_at", personal=True,
                             unit=_l("个"), order=31))
CARE_PLANS = sa.table("care_plans", sa.column("household_id"), sa.column("frequency_days"), sa.column("start_date"),
                      sa.column("active"))
HOUSEHOLDS = sa.table("households", sa.column("id"), sa.column("grid_id"))


def _visits_due(frame):
    """Visits the active care plans call for in the period: per plan, the days of the period since the
    plan started divided by its frequency (a weekly plan over 30 days: 4.3 visits), summed per unit.

    Plans are taken as they are now (one stopped since is not counted for the past), the way the
    households feature decides who is due.
    """
    def calls_for(d0, d1):
        days = func.greatest(0, d1 - func.greatest(d0, CARE_PLANS.c.start_date))
        return func.sum(sa.cast(days, sa.Float) / CARE_PLANS.c.frequency_days)
    return grouped(frame, ("visits_due",), lambda: Source(
        CARE_PLANS.join(HOUSEHOLDS, HOUSEHOLDS.c.id == CARE_PLANS.c.household_id)
        .join(GRIDS, GRIDS.c.id == HOUSEHOLDS.c.grid_id), GRIDS.c.code, calls_for(D0, D1),
        (CARE_PLANS.c.active.is_(True),), prev_value=calls_for(PD0, D0)))


def _visits_done_share(frame):
    """Visits done as a share of the visits due, in percent (either below 5: not shown)."""
    done, due = FIGURES["visits_done"].compute(frame), _visits_due(frame)

    def share(n, d):
        if n is None or d is None or n < SUPPRESS_BELOW or d < SUPPRESS_BELOW:
            return None
        return round(n * 100.0 / d, 1)
    return Values({u: share(done.cur.get(u), d) for u, d in due.cur.items()},
                  {u: share(done.prev.get(u), d) for u, d in due.prev.items()},
                  share(done.total, due.total), share(done.total_prev, due.total_prev))


register_figure(Figure("visits_due", _l("应走访"), _l("次"), _visits_due,
                       {"care_plans": ("household_id", "frequency_days", "start_date", "active"),
                        "households": ("id", "grid_id")}, personal=True, better="none", order=29))
register_figure(Figure("visits_done_pct", _l("走访完成率"), "%", _visits_done_share,
                       {"care_plans": ("household_id", "frequency_days", "start_date", "active"),
                        "visits": ("grid_id", "visited_at")}, better="higher", digits=1, order=30,
                       missing=None))
SIGNUPS = sa.table("signups", sa.column("activity_id"), sa.column("occurs_on"), sa.column("hours"),
                   sa.column("attended"))
ACTIVITIES = sa.table("activities", sa.column("id"), sa.column("area_id"))
AREAS = sa.table("areas", sa.column("id"), sa.column("code"))


def _volunteer_hours(frame):
    """Hours of attended sign-ups, per unit of the activity's area (an activity of a whole community
    counts for the community and above, not for one of its grids)."""
    return grouped(frame, ("volunteer_hours",), lambda: Source(
        SIGNUPS.join(ACTIVITIES, ACTIVITIES.c.id == SIGNUPS.c.activity_id)
        .join(AREAS, AREAS.c.id == ACTIVITIES.c.area_id),
        AREAS.c.code, func.sum(SIGNUPS.c.hours), (SIGNUPS.c.attended.is_(True),), SIGNUPS.c.occurs_on, dates=True))


register_figure(Figure("volunteer_hours", _l("志愿服务时长"), _l("小时"), _volunteer_hours,
                       {"signups": ("activity_id", "occurs_on", "hours", "attended"), "activities": ("id", "area_id")},
                       better="higher", digits=1, order=32))
PATROLS = sa.table("patrols", sa.column("area_id"), sa.column("started_at"), sa.column("distance_m"))


def _patrol_km(frame):
    """Kilometres walked by patrols that started in the period, per unit of the patrol's area."""
    return grouped(frame, ("patrol_km",), lambda: Source(
        PATROLS.join(AREAS, AREAS.c.id == PATROLS.c.area_id), AREAS.c.code,
        func.sum(PATROLS.c.distance_m / 1000.0), time=PATROLS.c.started_at))


register_figure(Figure("patrol_km", _l("巡查里程"), _l("公里"), _patrol_km,
                       {"patrols": ("area_id", "started_at", "distance_m")}, better="higher", digits=1, order=33))
POSITIONS = sa.table("positions", sa.column("fixed_at"), sa.column("geom"), sa.column("accuracy"))
GRID_SHAPES = sa.table("areas", sa.column("id"), sa.column("code"), sa.column("level"), sa.column("geom"))


def _grids_not_walked(frame):
    """Grids without one usable fix (accuracy within ``MAX_ACCURACY_M``) inside them in the period: the
    patrol coverage page's rule (``app.patrols.services.coverage``), from the phones' positions, so
    a grid worker's walk counts whether or not it was logged as a patrol."""
    from gis.tracks import MAX_ACCURACY_M

    def build():
        g = GRID_SHAPES.alias("g")

        def walked(t0, t1):
            return sa.exists().where(POSITIONS.c.fixed_at >= t0, POSITIONS.c.fixed_at < t1,
                                     POSITIONS.c.geom.op("&&")(g.c.geom), func.ST_Intersects(POSITIONS.c.geom, g.c.geom),
                                     sa.or_(POSITIONS.c.accuracy.is_(None), POSITIONS.c.accuracy <= MAX_ACCURACY_M))
        grids = select(g.c.code, walked(T0, T1).label("walked"), walked(P0, T0).label("walked_before")) \
            .where(g.c.level == "grid", in_area(g.c.code)).subquery("gw")
        return Source(grids, grids.c.code, func.count().filter(sa.not_(grids.c.walked)), (),
                      prev_value=func.count().filter(sa.not_(grids.c.walked_before)))
    return grouped(frame, ("grids_not_walked",), build)


register_figure(Figure("grids_not_walked", _l("未巡查网格"), _l("个"), _grids_not_walked,
                       {"positions": ("fixed_at", "geom", "accuracy")}, order=34))
