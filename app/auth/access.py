"""Who may do what, and where: role checks and the area scope of a user.

A user's area is a node of the area hierarchy; they read and write rows whose
grid lies under that node (by code prefix, DB11/T 2157 codes nest), or, for
rows outside every grid, whose geometry meets the area's polygon.
"""
from dataclasses import dataclass
from functools import wraps

from flask import request
from flask_login import current_user
from sqlalchemy import ColumnElement, and_, func, literal, or_, select, true

from app.errors import ApiError

EDIT_BASEMAP = ("admin", "planner")
READ_ALL = ("admin",)


@dataclass(frozen=True)
class Scope:
    """The part of the map a user may see: everything, or one area's subtree."""
    everything: bool
    area_id: int | None = None
    area_code: str | None = None
    area_level: str | None = None


def scope_of(user) -> Scope:
    """The scope of ``user`` (admins and users without an area see everything only if admin)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise ApiError(401, "authentication required")
    if user.role in READ_ALL and user.area_id is None:
        return Scope(everything=True)
    if user.area is None:
        # No area: a code no area has (codes are digits), so every area condition is false.
        return Scope(everything=False, area_id=-1, area_code="-", area_level=None)
    return Scope(everything=False, area_id=user.area.id, area_code=user.area.code,
                 area_level=user.area.level)


def current_scope() -> Scope:
    """Scope of the request's user."""
    return scope_of(current_user)


def grid_clause(scope: Scope, grid_col, geom_col=None) -> ColumnElement[bool]:
    """SQL condition: the row's grid (or, without a grid, its geometry) lies in ``scope``."""
    from app.areas.models import Area
    if scope.everything:
        return true()
    grids = select(Area.id).where(Area.code.startswith(scope.area_code, autoescape=True))
    if scope.area_level == "micro_grid" and geom_col is not None:
        area_geom = select(Area.geom).where(Area.id == scope.area_id).scalar_subquery()
        return func.ST_Intersects(geom_col, area_geom)
    clause = grid_col.in_(grids)
    if geom_col is not None:
        area_geom = select(Area.geom).where(Area.id == scope.area_id).scalar_subquery()
        clause = or_(clause, and_(grid_col.is_(None), func.ST_Intersects(geom_col, area_geom)))
    return clause


def area_clause(scope: Scope, code_col) -> ColumnElement[bool]:
    """SQL condition on an area code: inside the user's subtree, or one of its ancestors."""
    if scope.everything:
        return true()
    return or_(code_col.startswith(scope.area_code, autoescape=True),
               literal(scope.area_code).startswith(code_col))


def in_scope_code(scope: Scope, code: str | None) -> bool:
    """Whether an area code lies in the user's subtree (Python side, for single rows)."""
    return scope.everything or (code is not None and code.startswith(scope.area_code or "-"))


def require_login():
    """Raise 401 unless a user is logged in (session or bearer token)."""
    if not current_user.is_authenticated:
        raise ApiError(401, "authentication required: log in or send 'Authorization: Bearer <token>'")


def require_role(*roles: str):
    """Raise 401/403 unless the user has one of ``roles``."""
    require_login()
    if current_user.role not in roles:
        raise ApiError(403, f"role {current_user.role!r} may not do this; needs one of {', '.join(roles)}")


def roles_required(*roles: str):
    """Decorator form of :func:`require_role`; with no roles, any logged-in user."""
    def deco(fn):
        @wraps(fn)
        def wrapper(*a, **kw):
            if roles:
                require_role(*roles)
            else:
                require_login()
            return fn(*a, **kw)
        return wrapper
    return deco


def is_safe_method() -> bool:
    """GET/HEAD/OPTIONS change nothing."""
    return request.method in ("GET", "HEAD", "OPTIONS")
