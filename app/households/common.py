"""What every household service shares: who may read files, rows the user may read (or 404), the
building of a new file or visit.

Reads of personal data are limited by :func:`app.auth.policy.personal_clause`; rows the user may not
read are reported as 404 (so that ids do not leak); roles that may never read files get 403.
"""
from sqlalchemy import func, select

from app.auth import policy
from app.basemap.models import Building
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import one_or_404


def require_personal(user) -> None:
    """403 for users who never read household files (counts-only roles, street-level staff)."""
    if not policy.reads_personal(user):
        raise ApiError(403, f"role {user.role!r} sees counts only; household files are for the grid's "
                            "workers, community staff and admins")


def require(user, permission: str, message: str) -> None:
    """403 with ``message`` unless ``user`` holds ``permission``."""
    if not policy.can(user, permission):
        raise ApiError(403, message)


def personal_or_404(user, model, row_id: int, what: str):
    """The row of ``model`` (with a ``grid_id``) if the user may read it, else 404."""
    return one_or_404(select(model).where(model.id == row_id, policy.personal_clause(user, model.grid_id)),
                      f"no {what} {row_id} among the files you may read")


def building_for(user, building_id: int) -> Building:
    """A building in the grids whose files the user keeps: 422 unknown, 403 not theirs."""
    b = db.session.get(Building, building_id)
    if b is None:
        raise ApiError(422, f"no building {building_id}", {"building_id": "unknown building"})
    ok = db.session.scalar(select(func.count()).select_from(Building).where(
        Building.id == b.id, policy.personal_clause(user, Building.grid_id)))
    if not ok:
        raise ApiError(403, "that building is outside the grids whose files you keep", {"building_id": "not yours"})
    return b


def building_in_reach(user, building_id: int) -> Building | None:
    """The building if it lies in the grids whose files the user keeps, else ``None``."""
    return db.session.scalar(select(Building).where(Building.id == building_id,
                                                    policy.personal_clause(user, Building.grid_id)))

