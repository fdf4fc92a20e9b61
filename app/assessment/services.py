"""The assessment's rows: the grid workers of an area and, for a period, every registered worker measure
(:data:`app.core.workload.MEASURES`) per worker.

Measures over residents' records (``personal``) are shown as they are to readers of the household files
and under the small-count rule to the others (:func:`app.auth.policy.suppress`: 1–4 becomes "<5").
"""

import datetime as dt

from sqlalchemy import func, select

from app.areas.models import Area, grid_workers
from app.auth import policy
from app.auth.models import User
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.workload import MEASURES


def area_for(scope: policy.Scope, code: str | None) -> Area | None:
    """The area asked for (inside the user's scope, else 404), or the user's own (None: everything)."""
    if code:
        area = db.session.scalar(select(Area).where(Area.code == code))
        if area is None or not policy.in_scope_code(scope, area.code):
            raise ApiError(404, f"no area {code} in your reach", {"area": "unknown"})
        return area
    return None if scope.everything else db.session.get(Area, scope.area_id)


def workers(scope: policy.Scope, area: Area | None) -> list[dict]:
    """The active grid workers who walk a grid in the area (or whose own area lies in it), with their grids."""
    prefix = area.code if area else ""
    grids = (
        select(grid_workers.c.user_id, func.array_agg(func.distinct(Area.code)).label("codes"))
        .join(Area, Area.id == grid_workers.c.area_id)
        .where(Area.code.startswith(prefix, autoescape=True), policy.area_clause(scope, Area.code))
        .group_by(grid_workers.c.user_id)
        .subquery()
    )
    own = select(Area.id).where(Area.code.startswith(prefix, autoescape=True), policy.area_clause(scope, Area.code))
    stmt = (
        select(User, grids.c.codes)
        .outerjoin(grids, grids.c.user_id == User.id)
        .where(User.role == "grid_worker", User.active)
        .where((grids.c.user_id.is_not(None)) | User.area_id.in_(own))
        .order_by(User.display_name, User.id)
    )
    return [
        {"id": u.id, "name": u.display_name or u.username, "username": u.username, "grids": sorted(codes or [])}
        for u, codes in db.session.execute(stmt)
    ]


def measures() -> list:
    return list(MEASURES)


def values(user_ids: list[int], start: dt.datetime, end: dt.datetime, reader) -> dict[str, dict[int, object]]:
    """{measure name: {user id: value}} with the small-count rule where it applies to ``reader``."""
    exact = policy.reads_personal(reader)
    out = {}
    for m in MEASURES:
        got = m.compute(user_ids, start, end) if user_ids else {}
        row = {u: round(float(got.get(u, 0)), m.digits) if m.digits else int(got.get(u, 0)) for u in user_ids}
        if m.personal and not exact:
            row = {u: policy.suppress(v) for u, v in row.items()}
        out[m.name] = row
    return out


def assessment(scope, reader, area_code: str | None, start: dt.datetime, end: dt.datetime) -> dict:
    """Everything the page and the exports show."""
    area = area_for(scope, area_code)
    people = workers(scope, area)
    vals = values([p["id"] for p in people], start, end, reader)
    for p in people:
        p["values"] = {name: row[p["id"]] for name, row in vals.items()}
    return {"area": area, "workers": people, "measures": measures(), "start": start, "end": end}


def worker(scope, reader, user_id: int, start: dt.datetime, end: dt.datetime) -> dict:
    """One worker in the user's reach: the period and the one before it (of the same length)."""
    found = next((w for w in workers(scope, None) if w["id"] == user_id), None)
    if found is None:
        raise ApiError(404, f"no grid worker {user_id} in your area")
    before = start - (end - start)
    now_vals = values([user_id], start, end, reader)
    prev_vals = values([user_id], before, start, reader)
    rows = [{"measure": m, "cur": now_vals[m.name][user_id], "prev": prev_vals[m.name][user_id]} for m in measures()]
    return {"worker": found, "rows": rows, "start": start, "end": end, "before": before}
