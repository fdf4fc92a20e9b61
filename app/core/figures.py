"""Dashboard figures: what the dashboard (``app.dashboard``) shows, declared by the features that own the tables.

A figure computes, for one :class:`Frame` (the child units of the area a leader looks at, a period and
the period before it), the value per unit and for the area as a whole in both periods (:class:`Values`).
A feature registers its figures with its own tables, so a renamed column fails at import or in the test
that runs every registered figure, never by hiding a figure. Most figures are one line::

    register_figure(count_figure("visits_done", _l("入户走访"), Visit.__table__.c.visited_at,
                                 areas=Area.__table__, personal=True, unit=_l("次"), order=30))

Figures over people are *personal*: their :class:`Source` names the ``person`` a row is about, and the
statement counts per area the rows are attached to (a grid) whether it holds at least ``:k`` people; a
unit and the area's total are sums of the grids that do (:func:`people_statement`), so no total less the
units shown tells a hidden grid.

One statement per figure: rows of both periods are read once and split with ``FILTER``, and the units
and the area's total come from one ``GROUPING SETS ((unit), ())`` (:func:`grouped`). The area, the unit
length and the periods are named parameters (:meth:`Frame.params`); each statement is built and compiled
on its first use and then run as SQL text (:func:`run`, an :class:`app.core.sql.StatementCache`):
building and compiling Core statements took longer than running them. :func:`prefetch` sends the
grouped statements of a whole dashboard in one round trip.

Beside the figures, a feature may register a daily :class:`Series` (a line chart) and a
:class:`Breakdown` (a table of the period by something else than area).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.core.registry import Registry
from app.core.sql import StatementCache, like_escape, param
from app.core.streets import streets_under


@dataclass
class Frame:
    """What figures are computed for: the units (child codes of ``length``) of ``area``, the period
    ``start``–``end`` and the previous one ``pstart``–``start`` (of the same length, just before)."""

    area: str
    length: int
    start: dt.datetime
    end: dt.datetime
    pstart: dt.datetime
    k: int  # the small count: personal values count grids with ≥ k people
    memo: dict = field(default_factory=dict)  # one dashboard's figure values, by statement
    pending: dict | None = None  # statements noted by prefetch()
    streets: list[str] | None = None  # the area's street codes (asked once, by params())

    def params(self) -> dict:
        """Values of the named parameters every figure statement may use."""
        if self.streets is None:
            self.streets = streets_under(self.area)
        return {
            "prefix": like_escape(self.area) + "%",
            "streets": self.streets,
            "n": self.length,
            "p0": self.pstart,
            "t0": self.start,
            "t1": self.end,
            "pd0": self.pstart.date(),
            "d0": self.start.date(),
            "d1": self.end.date(),
            "back": self.end - dt.timedelta(days=366),
            "k": self.k,
        }


@dataclass
class Values:
    """A figure's values: per unit code now and before, and the area's total now and before
    (``summed``: no total of its own, the area's is the sum of its units)."""

    cur: dict[str, float | None]
    prev: dict[str, float | None]
    total: float | None = None
    total_prev: float | None = None
    summed: bool = False
    people: bool = False  # counted in people (grids with fewer than k left out): fit for a personal figure


@dataclass(frozen=True)
class Figure:
    """A column of the dashboard."""

    name: str
    title: object
    unit: object
    compute: Callable[[Frame], Values]
    personal: bool = False
    timed: bool = True  # False: a stock (households, chargers), the same for both periods
    better: str = "lower"  # which way is good, for the change colour: lower / higher / none
    digits: int = 0
    order: int = 50
    missing: float | None = 0  # a unit with nothing to count: 0, or None ("–") for a median or a share


@dataclass(frozen=True)
class Series:
    """A daily count over both periods ({day: n} from ``pstart`` to ``end``), drawn as a line chart."""

    name: str
    title: object
    compute: Callable[[Frame], dict[dt.date, int]]
    order: int = 50


@dataclass(frozen=True)
class Breakdown:
    """A table of the period by something else than area (e.g. median hours to close per category).

    ``columns``: (key of a row, header in the exports, label on the page or None to leave it off the page).
    ``name`` is also the export's sheet name.
    """

    name: str
    title: object
    columns: tuple[tuple[str, str, object], ...]
    compute: Callable[[Frame], list[dict]]
    empty: object = "–"
    order: int = 50


FIGURES: Registry[Figure] = Registry("dashboard figure")
SERIES: Registry[Series] = Registry("dashboard series")
BREAKDOWNS: Registry[Breakdown] = Registry("dashboard breakdown")


def register_figure(figure: Figure) -> Figure:
    """Show ``figure`` on the dashboard."""
    return FIGURES.register(figure)


# --------------------------------------------------------------------------- statements

# Named parameters (values from Frame.params): every one changes per request, none is compiled in.
_PARAMS = ("prefix", "n", "p0", "t0", "t1", "pd0", "d0", "d1", "back", "k", "streets")
PREFIX, N, P0, T0, T1, PD0, D0, D1, BACK, K, STREETS = (param(n) for n in _PARAMS)
STATEMENTS = StatementCache(lambda name: name in _PARAMS)
run = STATEMENTS.run  # run(key, build, frame.params()): rows of a figure statement built once per key


def unit_of(code_col: sa.ColumnElement) -> sa.ColumnElement:
    """The unit an area belongs to: its code's first ``:n`` characters."""
    return func.substr(code_col, 1, N)


def in_area(code_col: sa.ColumnElement) -> sa.ColumnElement:
    """Areas under the area by code prefix (``:prefix``): the planner estimates a LIKE prefix well
    (``substr(…) IN`` was estimated at 0.5 % of the grids and sent 1M incidents through a nested loop:
    6.5 s → 0.1 s)."""
    return code_col.like(PREFIX, escape="\\")


def in_streets(street_col: sa.ColumnElement) -> sa.ColumnElement:
    """Rows of the area's streets (``:streets``) on a table that would be distributed by street code: the
    statement names the shards that can hold its rows (docs/scaling.md)."""
    return street_col == sa.any_(STREETS)


@dataclass
class Source:
    """What :func:`grouped` aggregates: rows of ``source`` placed by the area ``code`` they join,
    ``value`` an aggregate, optional ``conditions``, and the ``time`` column the period applies to (None
    for a stock). ``dates``: the time column is a date, compared with dates. A value that is a function
    of the period itself (visits a care plan calls for) gives ``value`` for the period and ``prev_value``
    for the one before, and no time column.

    Over people (a personal figure): ``person`` is whom a row is about (never NULL), the ``value`` an
    additive aggregate (a count or a sum), and without a time column ``person_in`` says which rows count
    in each period (current, previous)."""

    source: sa.FromClause
    code: sa.ColumnElement
    value: sa.ColumnElement
    conditions: tuple = ()
    time: sa.ColumnElement | None = None
    dates: bool = False
    prev_value: sa.ColumnElement | None = None
    person: sa.ColumnElement | None = None
    person_in: tuple[sa.ColumnElement, sa.ColumnElement] | None = None


def on_grids(areas: sa.Table, table: sa.Table, value, conditions=(), time=None, grid=None, person=None) -> Source:
    """A :class:`Source` over a table with a grid column (``grid_id`` unless given), joined to ``areas``
    (``app.areas.models.Area.__table__``, passed by the feature: core may not import the area package)."""
    grid = table.c.grid_id if grid is None else grid
    return Source(table.join(areas, areas.c.id == grid), areas.c.code, value, tuple(conditions), time, person=person)


def _periods(s: Source) -> tuple[list, sa.ColumnElement, sa.ColumnElement]:
    """The conditions of both periods together, and of the current and the previous one."""
    lo, mid, hi = (PD0, D0, D1) if s.dates else (P0, T0, T1)
    return [s.time >= lo, s.time < hi], s.time >= mid, s.time < mid


def people_statement(s: Source) -> sa.Select:
    """The grouped statement of a :class:`Source` over people: per area the rows are attached to (its
    grid: the *base*), the value and the distinct people of each period; a base counts only with at
    least ``:k`` people, and the units and the area's total (``g`` = 1) are sums of the bases that count.

    Every number shown is then a sum of published grids, whatever the page (a community's row on its
    street's dashboard is the sum of the grids its own dashboard shows), and no difference of two
    shows a grid below ``:k``.
    """
    conds = [in_area(s.code), *s.conditions]
    if s.time is not None:
        both, cur, prev = _periods(s)
        conds += both
        cols = [s.value.filter(cur), s.value.filter(prev)]
    else:
        cur, prev = s.person_in if s.person_in is not None else (sa.true(), sa.true())
        cols = [s.value, s.value if s.prev_value is None else s.prev_value]
    people = [func.count(sa.distinct(s.person)).filter(c) for c in (cur, prev)]
    base = (
        select(
            s.code.label("base"), cols[0].label("v"), cols[1].label("pv"), people[0].label("np"), people[1].label("pnp")
        )
        .select_from(s.source)
        .where(*conds)
        .group_by(s.code)
        .subquery("base")
    )
    unit = unit_of(base.c.base)
    return select(
        unit.label("unit"),
        func.grouping(unit).label("g"),
        func.sum(base.c.v).filter(base.c.np >= K).label("v"),
        func.sum(base.c.pv).filter(base.c.pnp >= K).label("pv"),
    ).group_by(func.grouping_sets(unit, sa.tuple_()))


def statement(s: Source) -> sa.Select:
    """The grouped statement of a :class:`Source`: columns ``unit``, ``g`` (1: the area's total), ``v``, ``pv``."""
    if s.person is not None:
        return people_statement(s)
    unit = unit_of(s.code)
    cols = [unit.label("unit"), func.grouping(unit).label("g")]
    conds = [in_area(s.code), *s.conditions]
    if s.prev_value is not None:
        cols += [s.value.label("v"), s.prev_value.label("pv")]
    elif s.time is None:
        cols += [s.value.label("v"), s.value.label("pv")]
    else:
        both, cur, prev = _periods(s)
        conds += both
        cols += [s.value.filter(cur).label("v"), s.value.filter(prev).label("pv")]
    return select(*cols).select_from(s.source).where(*conds).group_by(func.grouping_sets(unit, sa.tuple_()))


_KIND: dict[tuple, tuple[bool, bool]] = {}  # statement key → (a whole number, counted in people)


def _kind(key: tuple, build: Callable[[], Source]) -> tuple[bool, bool]:
    if key not in _KIND:
        s = build()
        _KIND[key] = (isinstance(s.value.type, sa.Integer), s.person is not None)
    return _KIND[key]


def _fill(frame: Frame, key: tuple, rows, kind: tuple[bool, bool]) -> Values:
    integer, people = kind

    def number(v):
        return None if v is None else int(v) if integer else float(v)

    out = frame.memo[key] = Values({}, {}, people=people)
    for r in rows:
        v, pv = number(r.v), number(r.pv)
        if r.g:
            out.total, out.total_prev = v, pv
        elif len(r.unit) == frame.length:  # shorter: an area above the units (total only)
            out.cur[r.unit], out.prev[r.unit] = v, pv
    return out


def grouped(frame: Frame, key: tuple, build: Callable[[], Source]) -> Values:
    """A value aggregated per unit and for the whole area, in the period and the one before: one statement.

    ``build()`` (run once per ``key``: the key names everything the statement depends on) returns a
    :class:`Source` written with the named parameters. Rows of both periods are read in one pass and split
    by ``FILTER``; ``GROUPING SETS ((unit), ())`` gives the units and the area's total (areas above the
    units, e.g. an activity of a whole street, count for the total only). Within :func:`prefetch`, the
    statement is only noted, to be sent with the others in one round trip.
    """
    key = ("grouped",) + key
    if key in frame.memo:  # fetched already (by prefetch, or households for the rates)
        return frame.memo[key]
    if frame.pending is not None:
        frame.pending[key] = build
        return Values({}, {})
    return _fill(frame, key, run(key, lambda: statement(build()), frame.params()), _kind(key, build))


def prefetch(frame: Frame, figures) -> None:
    """Send the grouped statements of ``figures`` as one ``UNION ALL``: one round trip, one execution
    through SQLAlchemy, instead of one per figure (a street's dashboard spent more on those than on
    its SQL). Figures then read their values from ``frame.memo``; figures with statements of their
    own (overdue) run them afterwards."""
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
            q = statement(pending[key]()).subquery(f"f{i}")
            parts.append(
                select(
                    sa.literal(i).label("k"),
                    q.c.unit,
                    q.c.g,
                    sa.cast(q.c.v, sa.Float).label("v"),
                    sa.cast(q.c.pv, sa.Float).label("pv"),
                )
            )
        return sa.union_all(*parts)

    rows: dict[int, list] = {i: [] for i in range(len(keys))}
    for r in run(("prefetch",) + keys, union, frame.params()):
        rows[r.k].append(r)
    for i, key in enumerate(keys):
        _fill(frame, key, rows[i], _kind(key, pending[key]))


# --------------------------------------------------------------------------- one-line figures


def _text(clause) -> str:
    return str(clause.compile(compile_kwargs={"literal_binds": True}))


COUNT_UNIT = _l("条")


def _person(name: str, personal: bool, person) -> None:
    if personal and person is None:
        raise ValueError(f"personal figure {name!r} must name its person (whom a row is about)")


def count_figure(
    name,
    title,
    time: sa.Column,
    *,
    areas: sa.Table,
    where=(),
    personal=False,
    person=None,
    unit=COUNT_UNIT,
    better="higher",
    order=50,
) -> Figure:
    """Rows of ``time``'s table whose ``time`` falls in the period, per unit (the table has ``grid_id``).
    A personal figure names ``person`` (whom a row is about) and is counted over people."""
    _person(name, personal, person)
    table, where = time.table, tuple(where)
    key = ("count", table.name, time.name, tuple(_text(c) for c in where), None if person is None else _text(person))

    def compute(frame):
        return grouped(frame, key, lambda: on_grids(areas, table, func.count(), where, time, person=person))

    return Figure(name, title, unit, compute, personal, better=better, order=order)


def sum_figure(
    name,
    title,
    time: sa.Column,
    value: sa.Column,
    *,
    areas: sa.Table,
    personal=False,
    person=None,
    unit="",
    better="higher",
    digits=1,
    order=50,
) -> Figure:
    """The sum of ``value`` over rows in the period, per unit (the table has ``grid_id``)."""
    _person(name, personal, person)
    table = time.table
    key = ("sum", table.name, time.name, value.name, None if person is None else _text(person))

    def compute(frame):
        return grouped(frame, key, lambda: on_grids(areas, table, func.sum(value), time=time, person=person))

    return Figure(name, title, unit, compute, personal, better=better, digits=digits, order=order)
