"""Who may do what, and where: the one access policy of Wuwei.

Views and services ask this module; nothing else spells a role list.

* **Permissions.** Each role holds named permissions (:data:`PERMISSIONS`); code asks
  :func:`can` / :func:`require` with a name (``"layers.edit"``), never with roles.
* **Area scope.** A user's area is a node of the area hierarchy (DB11/T 2157 codes nest); they read
  and write rows whose grid lies under that node or, for rows outside every grid, whose geometry
  meets the area's polygon (:class:`Scope`, :func:`grid_clause`). An admin without an area sees all.
* **Personal data** (households, members, visits, wish details, single tracks) is read only by the
  grid's own grid workers, community staff of that community and admins (:func:`reads_personal`,
  :func:`personal_clause`). Everyone else gets counts, and every count over people shown to them goes
  through :func:`suppress`: fewer than :data:`SMALL_COUNT` is hidden.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import ColumnElement, and_, false, func, literal, or_, select, true

from app.areas.models import Area, grid_workers
from app.core.errors import ApiError

ROLES = ("admin", "leader", "planner", "staff", "grid_worker", "patrol", "department")
ROLE_LABELS = {
    "admin": _l("管理员"),
    "leader": _l("领导"),
    "planner": _l("规划"),
    "staff": _l("社区工作人员"),
    "grid_worker": _l("网格员"),
    "patrol": _l("巡查队员"),
    "department": _l("处置单位"),
}

# Aggregates over people (households, visits, wishes, volunteers, positions) below this are hidden.
SMALL_COUNT = 5

_ALL = frozenset(ROLES)
_FIELD = frozenset({"admin", "staff", "grid_worker", "patrol"})  # people who walk the streets
_PERSONAL = frozenset({"admin", "staff", "grid_worker"})  # may hold household files
_OVERSIGHT = frozenset({"admin", "leader", "planner", "staff"})  # figures and heat maps
# People of a department (排水所, 城管, 房管) or a property company: they see what is dispatched to their
# organisation (app.incidents.services.organisations), not an area.
_ORG = frozenset({"department"})

PERMISSIONS: dict[str, frozenset[str]] = {
    # the base map and the area hierarchy
    "layers.read": _ALL,
    "layers.edit": frozenset({"admin", "planner"}),
    "layers.import": frozenset({"admin", "planner"}),
    "grids.assign_workers": frozenset({"admin", "planner", "staff"}),
    # personal data: the role may hold files; which files is personal_clause's business
    "personal.read": _PERSONAL,
    # incidents (the 数字城管 workflow: who may take each step is named in app.incidents.workflow)
    "incidents.report": _ALL - _ORG,
    "incidents.triage": frozenset({"admin", "staff"}),  # file, dispatch, reject, close, verify
    "incidents.handle": _FIELD | _ORG,  # accept, return, respond (the stage's holder)
    "incidents.review": frozenset({"admin", "staff"}),  # record a resident's rating from a call-back
    "incidents.respond": _ORG,  # the organisation's desk (处置台)
    "incidents.assignee": frozenset({"staff", "grid_worker", "patrol"}),  # may be dispatched to
    "incidents.categories": frozenset({"admin"}),  # the category tree and deadlines
    "open311.keys": frozenset({"admin"}),
    # consultations (议事)
    "consultations.read": frozenset({"admin", "staff", "leader", "planner", "grid_worker"}),
    "consultations.write": frozenset({"admin", "staff"}),
    # households, visits, care plans
    "households.view": frozenset({"admin", "staff", "grid_worker", "leader", "planner"}),
    "households.manage": frozenset({"admin", "staff"}),  # delete files, plans for others
    "households.tags": frozenset({"admin"}),
    "visits.round": frozenset({"grid_worker"}),  # the due-visits round
    "visits.visitor": frozenset({"staff", "grid_worker"}),  # counted as visitor of visits they log
    "care_plans.community_worker": frozenset({"staff"}),  # may keep plans in any grid of their community
    # volunteers and wishes
    "volunteers.read": _PERSONAL,
    "volunteers.manage": frozenset({"admin", "staff"}),
    "volunteers.hours": frozenset({"admin", "staff", "grid_worker", "leader"}),
    "wishes.board": _PERSONAL,
    "wishes.manage": frozenset({"admin", "staff"}),
    # patrols and tracking
    "patrols.run": _FIELD,  # start, log, stop; single tracks
    "patrols.figures": _ALL,  # per-grid figures and coverage
    "patrols.oversee": frozenset({"admin", "staff"}),  # every patrol of their area
    "devices.manage": frozenset({"admin"}),  # devices of other users
    # planning: the e-bike survey, charger siting, bike-zone gaps (app.planning)
    "planning.read": _OVERSIGHT | {"grid_worker"},
    "planning.survey": frozenset({"admin", "planner", "staff", "grid_worker"}),
    "planning.plan": frozenset({"admin", "planner"}),
    # leaders' views
    "heat.view": _OVERSIGHT,
    "heat.drill": _OVERSIGHT | {"grid_worker"},  # list the records of a cell
    "dashboard.view": _OVERSIGHT,
    "workers.assess": frozenset({"admin", "leader", "staff"}),  # 网格员考核: each grid worker's work
    # notifications: everyone has an inbox; area subscriptions need an area
    "notices.read": _ALL,
    "notices.subscribe": _ALL - _ORG,
    # administration
    "users.manage": frozenset({"admin"}),
    "ops.metrics": frozenset({"admin"}),  # GET /metrics from afar (app.health)
}


def can(user, permission: str) -> bool:
    """Whether ``user`` (logged in) holds ``permission``; unknown names are a programming error."""
    try:
        roles = PERMISSIONS[permission]
    except KeyError:
        raise KeyError(f"no permission {permission!r} in app.auth.policy.PERMISSIONS") from None
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.role in roles)


def roles_with(permission: str) -> tuple[str, ...]:
    """The roles holding ``permission``, in :data:`ROLES` order (for queries such as "who may be dispatched")."""
    return tuple(r for r in ROLES if r in PERMISSIONS[permission])


def require_login():
    """The request's user, or 401."""
    if not current_user.is_authenticated:
        raise ApiError(401, "authentication required: log in or send 'Authorization: Bearer <token>'")
    return current_user._get_current_object()


def require(permission: str):
    """The request's user if they hold ``permission``; 401 without a login, 403 without the permission."""
    user = require_login()
    if not can(user, permission):
        raise ApiError(403, f"role {user.role!r} may not do this (needs permission {permission!r})")
    return user


def role_label(role: str):
    """Localised role name."""
    return ROLE_LABELS.get(role, role)


# --------------------------------------------------------------------------- area scope


@dataclass(frozen=True)
class Scope:
    """The part of the map a user may see: everything, or one area's subtree."""

    everything: bool
    area_id: int | None = None
    area_code: str | None = None
    area_level: str | None = None


def scope_of(user) -> Scope:
    """The scope of ``user``: an admin without an area sees everything; anyone else their area's subtree."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise ApiError(401, "authentication required")
    if user.role == "admin" and user.area_id is None:
        return Scope(everything=True)
    if user.area is None or user.role in _ORG:
        # No area: a code no area has (codes are digits), so every area condition is false.
        return Scope(everything=False, area_id=-1, area_code="-", area_level=None)
    return Scope(everything=False, area_id=user.area.id, area_code=user.area.code, area_level=user.area.level)


def current_scope() -> Scope:
    """Scope of the request's user."""
    return scope_of(current_user)


SMALL_AREAS = ("community", "grid")  # a few dozen grids at most: an array the planner probes an index with
STREET_LEVELS = ("street", "community", "grid", "micro_grid")  # a scope inside one street
STREET_CODE = "street_code"  # the distribution column of the tables that would shard (docs/scaling.md)


def street_column(grid_col):
    """The ``street_code`` column of the table (or alias) ``grid_col`` belongs to, if it has one."""
    col = grid_col.__clause_element__() if hasattr(grid_col, "__clause_element__") else grid_col
    table = getattr(col, "table", None)
    return None if table is None else table.c.get(STREET_CODE)


def street_clause(scope: Scope, street_col) -> ColumnElement[bool]:
    """SQL condition on a row's street code: the street of a street's (or narrower) scope, the streets of
    a district's. A whole-city scope sends no condition: its reads fan out to every shard, as planned."""
    if scope.everything:
        return true()
    if scope.area_level in STREET_LEVELS:
        return street_col == scope.area_code[:9]
    streets = select(Area.code).where(Area.level == "street", Area.code.startswith(scope.area_code, autoescape=True))
    return street_col.in_(streets)


def routing_clause(street_col) -> ColumnElement[bool] | None:
    """For a request whose user's scope lies inside one street: ``street_col = <that street>`` (a statement
    on a distributed table then goes to one shard); None otherwise. For reads the user's scope allows
    anyway (a record's version after the view checked it), never to decide access."""
    if not getattr(current_user, "is_authenticated", False):
        return None
    scope = scope_of(current_user)
    return street_clause(scope, street_col) if scope.area_level in STREET_LEVELS else None


def grid_clause(scope: Scope, grid_col, geom_col=None) -> ColumnElement[bool]:
    """SQL condition: the row's grid (or, without a grid, its geometry) lies in ``scope``.

    On a table that carries ``street_code`` the condition also names the scope's street(s), so that the
    statement says which shards can hold its rows (docs/scaling.md): for a street's scope or narrower the
    street code is a constant.
    """
    if scope.everything:
        return true()
    street_col = street_column(grid_col)
    if street_col is not None:
        return and_(street_clause(scope, street_col), _grid_clause(scope, grid_col, geom_col))
    return _grid_clause(scope, grid_col, geom_col)


def _grid_clause(scope: Scope, grid_col, geom_col=None) -> ColumnElement[bool]:
    grids = select(Area.id).where(Area.code.startswith(scope.area_code, autoescape=True))
    if scope.area_level == "micro_grid" and geom_col is not None:
        area_geom = select(Area.geom).where(Area.id == scope.area_id).scalar_subquery()
        return func.ST_Intersects(geom_col, area_geom)
    if scope.area_level in SMALL_AREAS:
        # A community's few grids as an array: with the geometry arm below, the planner ORs two index
        # scans (the grid column, the geometry) instead of walking a whole state's or bbox's rows
        # through a hashed subquery (a community's incident list: 5,114 rows read for 3, 14 → 6 ms).
        clause = grid_col == func.any(func.array(grids.scalar_subquery()))
    else:
        clause = grid_col.in_(grids)
    if geom_col is not None:
        area_geom = select(Area.geom).where(Area.id == scope.area_id).scalar_subquery()
        clause = or_(clause, and_(grid_col.is_(None), func.ST_Intersects(geom_col, area_geom)))
    return clause


def area_clause(scope: Scope, code_col) -> ColumnElement[bool]:
    """SQL condition on an area code: inside the user's subtree, or one of its ancestors."""
    if scope.everything:
        return true()
    return or_(code_col.startswith(scope.area_code, autoescape=True), literal(scope.area_code).startswith(code_col))


def in_scope_code(scope: Scope, code: str | None) -> bool:
    """Whether an area code lies in the user's subtree (Python side, for single rows)."""
    return scope.everything or (code is not None and code.startswith(scope.area_code or "-"))


# --------------------------------------------------------------------------- personal data


def reads_personal(user) -> bool:
    """Whether ``user``'s role may ever read household files (within their area).

    Staff read personal data only when their area is a community or below: a street's staff
    see counts, as leaders do.
    """
    if not can(user, "personal.read"):
        return False
    if user.role == "staff":
        return user.area is not None and user.area.level in ("community", "grid", "micro_grid")
    return True


def personal_clause(user, grid_col) -> ColumnElement[bool]:
    """SQL condition: ``user`` may read personal rows whose grid is ``grid_col``.

    Admins: their scope (everything without an area). Staff: grids of their community.
    Grid workers: the grids they are assigned to (``grid_workers``) and the grid of their area.
    """
    if not reads_personal(user):
        return false()
    if user.role in ("admin", "staff"):
        return grid_clause(scope_of(user), grid_col)
    assigned = select(grid_workers.c.area_id).where(grid_workers.c.user_id == user.id)
    clauses = [grid_col.in_(assigned)]
    if user.area is not None and user.area.level in ("grid", "micro_grid"):
        own = select(Area.id).where(Area.code == user.area.code[:15])
        clauses.append(grid_col.in_(own))
    street_col = street_column(grid_col)
    if street_col is None:
        return or_(*clauses)
    # The streets of the grids named above (a grid worker may be assigned grids of several streets).
    grids = select(Area.id).where(Area.id.in_(assigned))
    if len(clauses) > 1:
        grids = grids.union(select(Area.id).where(Area.code == user.area.code[:15]))
    streets = select(func.left(Area.code, 9)).where(Area.id.in_(grids))
    return and_(street_col.in_(streets), or_(*clauses))


def counts_clause(user, grid_col) -> ColumnElement[bool]:
    """SQL condition for aggregate (count-only) reads: the user's whole area."""
    return grid_clause(scope_of(user), grid_col)


def suppress(count: int | None, k: int = SMALL_COUNT) -> int | None:
    """A count fit to publish: ``None`` when 0 < count < k, else the count itself.

    Zero is shown (it identifies nobody); 1..k-1 would single people out, so the cell is blanked
    and shown as "<k" (see :func:`suppressed_label`). Every aggregate over people that reaches a
    reader without access to the files goes through this: per building, grid, heat cell, team.
    """
    if count is None:
        return None
    count = int(count)
    return None if 0 < count < k else count


def suppressed_label(count: int | None, k: int = SMALL_COUNT) -> str:
    """The text for a suppressed count: the number, or "<5"."""
    value = suppress(count, k)
    return f"<{k}" if value is None else str(value)
