"""The area a planning run covers: one of the hierarchy's areas inside the user's reach."""

from sqlalchemy import select

from app.areas.models import Area
from app.auth.policy import Scope, grid_clause, in_scope_code
from app.core.errors import ApiError
from app.core.extensions import db

# Levels solved while the planner waits; larger areas (a street, a district) run as a background job.
SMALL_LEVELS = ("community", "grid", "micro_grid")


def area_in_reach(scope: Scope, code: str) -> Area:
    """The area ``code`` if it lies in the user's subtree; 404 for an unknown code and for another's area."""
    area = db.session.scalar(select(Area).where(Area.code == code)) if in_scope_code(scope, code) else None
    if area is None:
        raise ApiError(404, f"no area {code} in your reach", {"area": "unknown area or outside your area"})
    return area


def inside(area: Area, grid_col, geom_col):
    """SQL condition: a row (by its grid, or its geometry when it has none) lies in ``area``."""
    return grid_clause(Scope(False, area.id, area.code, area.level), grid_col, geom_col)


def plannable_areas(scope: Scope) -> list[Area]:
    """Streets and communities in the user's reach (the areas a plan is made for), by code."""
    stmt = select(Area).where(Area.level.in_(("street", "community"))).order_by(Area.code)
    if not scope.everything:
        stmt = stmt.where(Area.code.startswith(scope.area_code, autoescape=True))
    return list(db.session.scalars(stmt))
