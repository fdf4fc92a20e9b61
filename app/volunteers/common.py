"""What the volunteer services share: which community a record belongs to, which rows a user sees,
and who may do what (:mod:`app.auth.policy`: ``volunteers.read``, ``volunteers.manage``).

Teams, activities and hours per team are visible to every user whose area contains or lies in the
team's community; volunteers' names are read by community staff, grid workers and admins, phones by
staff and admins only. Counts of volunteers shown to others go through :func:`app.auth.policy.suppress`.
"""
from sqlalchemy import select

from app.areas.models import Area
from app.auth import policy
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import one_or_404


def community(user, code: str | None, field: str = "community") -> Area:
    """The community a new record belongs to: given, or the user's own."""
    if code is None and user.area is not None:
        code = user.area.code[:12]
    if not isinstance(code, str) or len(code) != 12 or not code.isdigit():
        raise ApiError(422, "a 12-digit community code is needed", {field: "required"})
    area = db.session.scalar(select(Area).where(Area.code == code, Area.level == "community"))
    if area is None:
        raise ApiError(422, f"no community {code}", {field: "unknown community"})
    if not policy.in_scope_code(policy.scope_of(user), code):
        raise ApiError(403, "that community is outside your area", {field: "not yours"})
    return area


def require_manage(user) -> None:
    """403 unless the user manages volunteers and activities (community staff, admins)."""
    if not policy.can(user, "volunteers.manage"):
        raise ApiError(403, "community staff and admins manage volunteers and activities")


def knows_volunteers(user) -> bool:
    """Whether the user may read volunteers' names (staff, grid workers, admins)."""
    return policy.can(user, "volunteers.read")


def require_know(user, message: str = "volunteers' names are for community staff, grid workers and admins") -> None:
    """403 unless the user may read volunteers' names."""
    if not knows_volunteers(user):
        raise ApiError(403, message)


def visible(user, model):
    """Rows of ``model`` (with ``area_id``) in communities the user's area touches."""
    return model.area_id.in_(select(Area.id).where(policy.area_clause(policy.scope_of(user), Area.code)))


def visible_or_404(user, model, row_id: int, what: str):
    """The row of ``model`` (with ``area_id``) if the user sees it, else 404."""
    return one_or_404(select(model).where(model.id == row_id, visible(user, model)), f"no {what} {row_id} in your area")
