"""``/api/v1/me`` and ``/api/v1/grids/<id>/workers`` (织密“微网格”: who walks a grid)."""

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.auth import grid_workers, policy
from app.web.api import ApiBlueprint, endpoint, json_response
from app.web.params import Body

bp = ApiBlueprint("accounts_api", __name__, tag="accounts")

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")
]


class AreaRef(BaseModel):
    code: str
    name: str
    level: str


class Me(BaseModel):
    """The logged-in user."""

    username: str
    display_name: str | None
    role: str
    area: AreaRef | None


class GridRef(BaseModel):
    id: int
    code: str
    name: str


class Worker(BaseModel):
    username: str
    display_name: str | None


class GridWorkers(BaseModel):
    """A grid and the grid workers who walk it."""

    grid: GridRef
    workers: list[Worker]


class GridWorkersIn(Body):
    """The new list of grid workers (usernames of users with the grid_worker role)."""

    usernames: Annotated[list[Username], Field(max_length=grid_workers.MAX_GRID_WORKERS)]


@bp.get("/me")
@endpoint(response=Me)
def me():
    """The current user, role and area (for clients and the map page)."""
    u = policy.require_login()
    area = {"code": u.area.code, "name": u.area.name, "level": u.area.level} if u.area else None
    return json_response({"username": u.username, "display_name": u.display_name, "role": u.role, "area": area})


@bp.get("/grids/<int:grid_id>/workers")
@endpoint(response=GridWorkers, errors=(404,))
def workers(grid_id: int):
    """The grid workers of a grid the user may see."""
    return json_response(grid_workers.grid_workers_of(policy.current_scope(), grid_id))


@bp.put("/grids/<int:grid_id>/workers")
@endpoint(body=GridWorkersIn, response=GridWorkers, permission="grids.assign_workers", errors=(404,))
def put_workers(grid_id: int, body: GridWorkersIn):
    """Replace the grid workers of a grid (admins; planners and staff of an enclosing area)."""
    return json_response(grid_workers.assign_grid_workers(policy.current_scope(), grid_id, body.usernames))
