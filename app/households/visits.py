"""Door-to-door visits (走访): to a household, a building or a place (the phone's position)."""
import datetime as dt

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select

from app.audit.services import record
from app.auth import policy
from app.auth.models import User
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import TZ, day_start, now
from app.households.common import building_in_reach, personal_or_404, require_personal
from app.households.models import Household, Visit
from app.households.schemas import VisitIn, VisitPatch


def _check_visit(body: VisitIn) -> dt.datetime:
    """Rules across fields (422): a place, both coordinates or neither, not in the future. The visit's time."""
    errors = {}
    if (body.lon is None) != (body.lat is None):
        errors["lon" if body.lon is None else "lat"] = "give both lon and lat, or neither"
    if not (body.household_id or body.building_id or body.lon is not None):
        errors["household_id"] = "a visit needs a household, a building or a position"
    when = body.visited_at or now()
    if when > now() + dt.timedelta(minutes=10):
        errors["visited_at"] = "in the future"
    if errors:
        raise ApiError(422, "invalid visit", errors)
    return when


def _visitors(ids: list[int] | None) -> list[User]:
    if not ids:
        return []
    visitors = list(db.session.scalars(select(User).where(User.id.in_(ids))))
    if len(visitors) != len(set(ids)):
        raise ApiError(422, "unknown visitor id(s)", {"visitor_ids": "unknown user"})
    return visitors


def _place(user, values: dict) -> int | None:
    """The visit's grid from its household or building (and the household's building); None: by position.

    A building named must lie in the grids whose files the user keeps, and be the household's own when
    both are given (422 otherwise, as for a household that isn't theirs).
    """
    building = None
    if values.get("building_id"):
        building = building_in_reach(user, values["building_id"])
        if building is None:
            raise ApiError(422, f"no building {values['building_id']} in the grids whose files you keep",
                           {"building_id": "unknown or not yours"})
    if values.get("household_id"):
        h = db.session.scalar(select(Household).where(Household.id == values["household_id"],
                                                      policy.personal_clause(user, Household.grid_id)))
        if h is None:
            raise ApiError(422, f"no household {values['household_id']} among the files you keep",
                           {"household_id": "unknown or not yours"})
        if building is not None and building.id != h.building_id:
            raise ApiError(422, "the household lives in another building", {"building_id": "not the household's"})
        values["building_id"] = h.building_id
        return h.grid_id
    return building.grid_id if building is not None else None


def log_visit(user, body: VisitIn) -> Visit:
    """Record a visit to a household or a place; the phone's position is optional."""
    require_personal(user)
    when = _check_visit(body)
    visitors = _visitors(body.visitor_ids)
    values = body.model_dump(exclude={"lon", "lat", "visitor_ids"}, exclude_none=True)
    values["visited_at"] = when
    grid_id = _place(user, values)
    v = Visit(**values, grid_id=grid_id, created_by=user.id)
    if body.lon is not None:
        v.geom = func.ST_SetSRID(func.ST_MakePoint(body.lon, body.lat), 4326)
    v.visitors = visitors or ([user] if policy.can(user, "visits.visitor") else [])
    db.session.add(v)
    db.session.flush()
    db.session.refresh(v)
    if v.grid_id is None or not db.session.scalar(select(func.count()).select_from(Visit).where(
            Visit.id == v.id, policy.personal_clause(user, Visit.grid_id))):
        raise ApiError(403, "that place is outside the grids you work in", {"lon": "outside your grids"})
    record("insert", "visits", v.id, after=visit_dict(v))
    db.session.commit()
    return v


def list_visits(user, household_id: int | None = None, start: dt.date | None = None,
                end: dt.date | None = None, limit: int = 200, offset: int = 0) -> tuple[list[Visit], int]:
    """Visits the user may read, newest first (the ids returned are audited)."""
    require_personal(user)
    cond = [policy.personal_clause(user, Visit.grid_id)]
    if household_id:
        cond.append(Visit.household_id == household_id)
    if start:
        cond.append(Visit.visited_at >= day_start(start))
    if end:
        cond.append(Visit.visited_at < day_start(end + dt.timedelta(days=1)))
    total = db.session.scalar(select(func.count()).select_from(Visit).where(*cond))
    order = (Visit.visited_at.desc(), Visit.id.desc())
    ids = list(db.session.scalars(select(Visit.id).where(*cond).order_by(*order).limit(limit).offset(offset)))
    if not ids:
        return [], total
    record("list", "visits", None, after={"ids": ids})
    db.session.commit()
    return list(db.session.scalars(select(Visit).where(Visit.id.in_(ids)).order_by(*order)).unique()), total


def get_visit(user, visit_id: int) -> Visit:
    """One visit the user may read (audited)."""
    require_personal(user)
    v = personal_or_404(user, Visit, visit_id, "visit")
    record("read", "visits", v.id)
    db.session.commit()
    return v


def update_visit(user, visit_id: int, body: VisitPatch) -> Visit:
    """Change a visit's notes and follow-up (e.g. mark the follow-up done)."""
    require_personal(user)
    v = personal_or_404(user, Visit, visit_id, "visit")
    before = visit_dict(v)
    for k, val in body.model_dump(exclude_unset=True).items():
        setattr(v, k, False if k == "follow_up_done" and val is None else val)
    db.session.flush()
    record("update", "visits", v.id, before, visit_dict(v))
    db.session.commit()
    return v


def visit_dict(v: Visit) -> dict:
    """A visit as JSON (personal)."""
    pos = None
    if v.geom is not None:
        p = to_shape(v.geom)
        pos = {"lon": p.x, "lat": p.y}
    return {"id": v.id, "household_id": v.household_id,
            "household": f"{v.household.head_name} {v.household.flat_no}" if v.household else None,
            "building_id": v.building_id, "building": v.building.name if v.building else None,
            "place": v.place, "visited_at": v.visited_at.astimezone(TZ).isoformat() if v.visited_at else None,
            "purpose": v.purpose, "visitor_names": v.visitor_names,
            "visitors": [u.display_name for u in v.visitors], "notes": v.notes, "follow_up": v.follow_up,
            "follow_up_due": v.follow_up_due.isoformat() if v.follow_up_due else None,
            "follow_up_done": v.follow_up_done, "position": pos}
