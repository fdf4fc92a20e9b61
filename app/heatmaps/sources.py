"""The heat source registry: which tables can be binned, by which columns, and how private they are.

A source names a table with a point geometry, an optional time column, a grid column and the
filters a user may set. Sources over people (visits, wishes) are *personal*: their cells and
area figures are suppressed below 5 records, and only roles that may read personal data drill
into them. A source whose table (or columns) does not exist yet is simply not offered, so the
entries for other features' tables can sit here before those features land.

Adding a source is a few lines::

    register_source(HeatSource(
        name="visits", title=_l("入户走访"), table="visits", time="visited_at",
        filters=(Filter("purpose", "purpose", _l("目的"), VISIT_PURPOSES),), personal=True))
"""
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.extensions import db

HEAT_ROLES = ("admin", "leader", "planner", "staff")
PERSONAL_ROLES = ("admin", "staff", "grid_worker")
STAFF_ROLES = ("admin", "leader", "planner", "staff", "grid_worker")

# Incident categories that make the e-bike hazard and bad-parking sources (code prefix: the demo's ``ebike``/``ebike.*`` and ``bikes``/``bikes.*``).
EBIKE_HAZARD_PREFIX = "ebike"
BAD_PARKING_PREFIX = "bikes"


@dataclass(frozen=True)
class Filter:
    """A query parameter narrowing a source: ``?state=filed,closed``."""
    name: str
    column: str
    label: object
    choices: Callable[[], list[tuple[str, object]]]   # (value, label) offered on the page
    # Turns the requested values into column values (e.g. category codes → ids); None: as given.
    resolve: Callable[[list[str]], list] | None = None


@dataclass(frozen=True)
class HeatSource:
    """A binnable table. Column names are trusted constants of the registry, never user input."""
    name: str
    title: object
    table: str
    geom: str | None = "geom"                 # None: no location of its own, shown per area only
    time: str | None = "reported_at"          # None: a stock (chargers), not events in time
    grid: str | None = "grid_id"              # None: no grid column (positions): scoped by geometry, bins only
    filters: tuple[Filter, ...] = ()
    personal: bool = False
    # Extra fixed condition on the table (Core), e.g. "incidents of the e-bike categories".
    where: Callable[[sa.TableClause], sa.ColumnElement] | None = None
    # What a drill-down lists: (label, column or Core expression on the table); nothing personal.
    drill: tuple[tuple[str, str], ...] = (("id", "id"),)
    drill_order: str = "id"
    unit: object = _l("条")
    order: int = 50
    extra_columns: tuple[str, ...] = ()

    @property
    def drill_roles(self) -> tuple[str, ...]:
        return PERSONAL_ROLES if self.personal else STAFF_ROLES

    def columns(self) -> set[str]:
        cols = {*(f.column for f in self.filters), *self.extra_columns, *(c for _, c in self.drill),
                self.drill_order}
        cols |= {c for c in (self.geom, self.grid) if c}
        if self.time:
            cols.add(self.time)
        return cols

    def table_clause(self) -> sa.TableClause:
        return sa.table(self.table, *(sa.column(c) for c in sorted(self.columns())))


SOURCES: dict[str, HeatSource] = {}
_available: dict[str, bool] = {}


def register_source(source: HeatSource) -> HeatSource:
    """Offer ``source`` on the heat map (when its table exists)."""
    SOURCES[source.name] = source
    _available.pop(source.name, None)
    return source


def is_available(source: HeatSource) -> bool:
    """Whether the source's table and columns exist in this database (cached per process)."""
    if source.name not in _available:
        have = set(db.session.scalars(sa.text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = :t"), {"t": source.table}))
        _available[source.name] = source.columns() <= have
    return _available[source.name]


def available_sources() -> list[HeatSource]:
    """Registered sources whose tables exist, in menu order."""
    return sorted((s for s in SOURCES.values() if is_available(s)), key=lambda s: (s.order, s.name))


def get_source(name: str) -> HeatSource | None:
    """A registered, available source by name."""
    s = SOURCES.get(name)
    return s if s is not None and is_available(s) else None


# ---- incidents and what is made of them ------------------------------------------------------

def _category_rows() -> list[tuple[int, str, str, int | None]]:
    return db.session.execute(sa.text(
        "SELECT id, code, name, parent_id FROM incident_categories WHERE active ORDER BY code")).all()


def _category_choices(prefix: str | None = None):
    def choices():
        return [(code, name) for _, code, name, _ in _category_rows()
                if prefix is None or code.startswith(prefix)]
    return choices


def resolve_categories(codes: list[str]) -> list[int]:
    """Category codes → ids, each with its whole subtree; unknown codes raise ``ValueError``."""
    rows = _category_rows()
    by_code = {code: cid for cid, code, _, _ in rows}
    unknown = [c for c in codes if c not in by_code]
    if unknown:
        raise ValueError(f"unknown category {', '.join(unknown)}")
    children: dict[int | None, list[int]] = {}
    for cid, _, _, parent in rows:
        children.setdefault(parent, []).append(cid)
    ids, stack = set(), [by_code[c] for c in codes]
    while stack:
        cid = stack.pop()
        if cid not in ids:
            ids.add(cid)
            stack.extend(children.get(cid, ()))
    return sorted(ids)


def _categories_with_prefix(prefix: str):
    def where(t):
        return t.c.category_id.in_(select(sa.column("id")).select_from(sa.table("incident_categories"))
                                   .where(sa.column("code").startswith(prefix)))
    return where


def _state_choices():
    from app.incidents.models import STATES
    labels = {"reported": _l("上报"), "filed": _l("立案"), "dispatched": _l("派遣"), "in_progress": _l("处置中"),
              "responded": _l("已反馈"), "closed": _l("已结案"), "evaluated": _l("已评价"), "rejected": _l("不予立案"),
              "duplicate": _l("重复"), "consultation": _l("议事协商")}
    return [(s, labels.get(s, s)) for s in STATES]


def _source_choices():
    from app.incidents.models import SOURCES as INCIDENT_SOURCES
    labels = {"hotline": _l("热线"), "walk_in": _l("来访"), "grid_worker": _l("网格员"), "patrol": _l("巡查"),
              "web": _l("网页"), "open311": _l("Open311"), "other_system": _l("其他系统")}
    return [(s, labels.get(s, s)) for s in INCIDENT_SOURCES]


INCIDENT_FILTERS = (
    Filter("category", "category_id", _l("类别"), _category_choices(), resolve_categories),
    Filter("state", "state", _l("状态"), _state_choices),
    Filter("channel", "source", _l("来源"), _source_choices),
)
INCIDENT_DRILL = (("id", "id"), ("category_id", "category_id"), ("state", "state"), ("source", "source"),
                  ("reported_at", "reported_at"), ("closed_at", "closed_at"), ("address", "address"))

register_source(HeatSource(
    name="incidents", title=_l("事件"), table="incidents", filters=INCIDENT_FILTERS,
    drill=INCIDENT_DRILL, drill_order="reported_at", order=10))
register_source(HeatSource(
    name="ebike_hazards", title=_l("电动车隐患"), table="incidents",
    filters=(Filter("category", "category_id", _l("类别"), _category_choices(EBIKE_HAZARD_PREFIX),
                    resolve_categories),) + INCIDENT_FILTERS[1:],
    where=_categories_with_prefix(EBIKE_HAZARD_PREFIX), drill=INCIDENT_DRILL, drill_order="reported_at",
    order=20))
register_source(HeatSource(
    name="bad_parking", title=_l("车辆乱停放"), table="incidents",
    filters=INCIDENT_FILTERS[1:], where=_categories_with_prefix(BAD_PARKING_PREFIX),
    drill=INCIDENT_DRILL, drill_order="reported_at", order=30))
register_source(HeatSource(
    name="chargers", title=_l("充电桩"), table="chargers", time=None,
    filters=(Filter("status", "status", _l("状态"), lambda: [
        ("installed", _l("已安装")), ("planned", _l("规划")), ("faulty", _l("故障")), ("removed", _l("已拆除"))]),),
    drill=(("id", "id"), ("name", "name"), ("ports", "ports"), ("status", "status")), unit=_l("个"), order=60))
register_source(HeatSource(
    name="bike_zones", title=_l("非机动车停放区"), table="bike_zones", time=None,
    filters=(Filter("status", "status", _l("状态"), lambda: [
        ("active", _l("启用")), ("planned", _l("规划")), ("closed", _l("关闭"))]),),
    drill=(("id", "id"), ("name", "name"), ("capacity", "capacity"), ("status", "status")), unit=_l("处"),
    order=70))

# ---- other features' tables: offered as soon as they exist with these columns ------------------
def _visit_purposes():
    try:
        from app.households.models import VISIT_PURPOSES
    except ImportError:
        return []
    return [(p, p) for p in VISIT_PURPOSES]


def _wish_states():
    try:
        from app.wishes.models import STATUSES
    except ImportError:
        return []
    return [(p, p) for p in STATUSES]


register_source(HeatSource(
    name="visits", title=_l("入户走访"), table="visits", time="visited_at", personal=True,
    filters=(Filter("purpose", "purpose", _l("目的"), _visit_purposes),),
    drill=(("id", "id"), ("visited_at", "visited_at"), ("purpose", "purpose")), drill_order="visited_at",
    unit=_l("次"), order=40))
# Wishes have no location of their own (a household's wish): coloured per grid/community/street only.
register_source(HeatSource(
    name="wishes", title=_l("微心愿"), table="wishes", geom=None, time="posted_at", personal=True,
    filters=(Filter("status", "status", _l("状态"), _wish_states),),
    drill=(("id", "id"), ("posted_at", "posted_at"), ("status", "status")), drill_order="posted_at",
    unit=_l("个"), order=45))
register_source(HeatSource(
    name="positions", title=_l("巡查覆盖"), table="positions", time="fixed_at", grid=None, unit=_l("个定位点"),
    personal=True,  # where a named patrol member was, minute by minute
    drill=(("fixed_at", "fixed_at"), ("patrol_id", "patrol_id")), drill_order="fixed_at", order=50))
register_source(HeatSource(
    name="bad_parking_spots", title=_l("巡查发现乱停放"), table="bad_parking_spots", time="found_at",
    drill=(("id", "id"), ("found_at", "found_at"), ("bikes", "bikes"), ("reparked", "reparked")),
    drill_order="found_at", unit=_l("处"), order=35))
