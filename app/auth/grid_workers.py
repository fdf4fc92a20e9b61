"""网格员: who walks each grid. A grid's workers are users with the ``grid_worker`` role.

Admins, and planners or community staff whose area encloses the grid, replace the list in one
request; the change is audited (:func:`app.areas.services.set_grid_workers`).
"""

from sqlalchemy import select

from app.areas.models import Area
from app.areas.services import set_grid_workers
from app.auth.models import User
from app.auth.policy import Scope, in_scope_code
from app.core.errors import ApiError
from app.core.extensions import db

MAX_GRID_WORKERS = 50


def _workers_view(area: Area) -> dict:
    return {
        "grid": {"id": area.id, "code": area.code, "name": area.name},
        "workers": [
            {"username": u.username, "display_name": u.display_name}
            for u in sorted(area.workers, key=lambda u: u.username)
        ],
    }


def _grid_or_404(grid_id: int) -> Area:
    area = db.session.get(Area, grid_id) if 0 < grid_id < 2**31 else None
    if area is None or area.level not in ("grid", "micro_grid"):
        raise ApiError(404, f"no grid {grid_id}")
    return area


def grid_workers_of(scope: Scope, grid_id: int) -> dict:
    """The workers of a grid visible to ``scope`` (inside the user's area, or enclosing it); 404 otherwise."""
    area = _grid_or_404(grid_id)
    if not (in_scope_code(scope, area.code) or (scope.area_code and scope.area_code.startswith(area.code))):
        raise ApiError(404, f"no grid {grid_id}")
    return _workers_view(area)


def assign_grid_workers(scope: Scope, grid_id: int, usernames: list[str]) -> dict:
    """Replace a grid's workers by usernames; they must exist and have the grid_worker role."""
    area = _grid_or_404(grid_id)
    if not in_scope_code(scope, area.code):
        raise ApiError(403, f"grid {area.code} lies outside your area")
    names = list(dict.fromkeys(n.strip() for n in usernames))
    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(names)))}
    missing = [n for n in names if n not in users]
    if missing:
        raise ApiError(422, f"no such user(s): {', '.join(missing)}", {"usernames": "unknown user"})
    wrong = [n for n in names if users[n].role != "grid_worker"]
    if wrong:
        raise ApiError(
            422, f"not grid workers (role grid_worker): {', '.join(wrong)}", {"usernames": "not a grid worker"}
        )
    set_grid_workers(area, [users[n] for n in names])
    db.session.commit()
    return _workers_view(area)
