"""A patrol's life: planned, started, stopped (its track built), results entered, tracks imported.

Every change is audited; values come checked by the API's models (:mod:`app.patrols.schemas`),
the rules that need the database (area, team, people, state) are checked here.
"""

import datetime as dt

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiLineString
from sqlalchemy import select, update

from app.areas.services import get_area_by_code
from app.audit.services import record, snapshot
from app.auth.models import User
from app.auth.policy import can, in_scope_code, scope_of
from app.core.errors import ApiError
from app.core.extensions import db
from app.patrols.access import editable, get_patrol
from app.patrols.devices import device_by_identifier, web_device
from app.patrols.ingest import store_fixes
from app.patrols.models import Patrol, PatrolTeam, Position, patrol_participants
from app.patrols.tracks import refresh_track
from gis.geometry import GeometryError, parse_geometry
from gis.tracks import Fix


def _route(route):
    """A planned route (GeoJSON LineString or MultiLineString) as a MultiLineString, or 422."""
    if route is None:
        return None
    try:
        g = parse_geometry(route, allowed=("LineString", "MultiLineString"))
    except GeometryError as e:
        raise ApiError(422, f"planned_route: {e}", {"planned_route": str(e)}) from None
    if g.geom_type == "LineString":
        g = MultiLineString([g])
    return from_shape(g, 4326)


def _area(user, area_code: str | None, errors: dict):
    """The patrol's area: the one named (inside the user's area) or the user's own."""
    area = get_area_by_code(area_code) if area_code else user.area
    if area is None:
        errors["area"] = f"no area with code {area_code}" if area_code else "required"
    elif not in_scope_code(scope_of(user), area.code) and not (
        # A grid worker may organise a patrol of the whole community (a cleanup, a rectification round).
        user.area is not None and len(user.area.code) > 12 and area.code == user.area.code[:12]
    ):
        raise ApiError(403, f"area {area.code} is outside your area", {"area": "outside your area"})
    return area


def _people(user, usernames: list[str], errors: dict) -> list[User]:
    people = []
    for name in usernames:
        u = db.session.scalar(select(User).where(User.username == name))
        if u is None:
            errors["participants"] = f"no user {name!r}"
        else:
            people.append(u)
    if user not in people:
        people.insert(0, user)
    return people


def create_patrol(
    user,
    kind: str,
    title: str,
    area_code: str | None = None,
    team_id: int | None = None,
    participants: list[str] | None = None,
    planned_start: dt.datetime | None = None,
    planned_route=None,
    start: bool = False,
    cleanup_width_m: float | None = None,
    commit: bool = True,
) -> Patrol:
    """Plan a patrol (or start it at once) inside the user's area."""
    if not can(user, "patrols.run"):
        raise ApiError(403, f"role {user.role!r} does not run patrols")
    errors = {}
    area = _area(user, area_code, errors)
    if team_id is not None and db.session.get(PatrolTeam, team_id) is None:
        errors["team_id"] = f"no team {team_id}"
    people = _people(user, participants or [], errors)
    route = _route(planned_route)
    if errors:
        raise ApiError(422, "invalid patrol", errors)
    p = Patrol(
        kind=kind,
        title=title.strip(),
        area_id=area.id,
        team_id=team_id,
        created_by=user.id,
        planned_start=planned_start,
        planned_route=route,
        state="planned",
        cleanup_width_m=cleanup_width_m or 10,
    )
    p.participants = people
    db.session.add(p)
    db.session.flush()
    record("insert", "patrols", p.id, after=snapshot(p))
    if start:
        _start(p)
    if commit:
        db.session.commit()
    return p


def _start(p: Patrol, at: dt.datetime | None = None) -> None:
    before = snapshot(p)
    p.state = "active"
    p.started_at = at or dt.datetime.now(dt.UTC)
    record("update", "patrols", p.id, before=before, after=snapshot(p))


def start_patrol(user, patrol_id: int) -> Patrol:
    """Start a planned patrol now."""
    p = editable(user, patrol_id)
    if p.state != "planned":
        raise ApiError(409, f"patrol {p.id} is {p.state}, only a planned patrol can start")
    _start(p)
    db.session.commit()
    return p


def stop_patrol(user, patrol_id: int, at: dt.datetime | None = None) -> Patrol:
    """End an active patrol, attach its members' fixes of the period, and build its track."""
    p = editable(user, patrol_id)
    if p.state != "active":
        raise ApiError(409, f"patrol {p.id} is {p.state}, only an active patrol can stop")
    before = snapshot(p)
    p.state = "finished"
    p.ended_at = at or dt.datetime.now(dt.UTC)
    db.session.flush()
    # Fixes of the period stored outside the patrol (taken offline and sent late, or by a member
    # whose latest active patrol was another one) join it now.
    members = select(patrol_participants.c.user_id).where(patrol_participants.c.patrol_id == p.id)
    db.session.execute(
        update(Position)
        .where(
            Position.patrol_id.is_(None),
            Position.fixed_at >= p.started_at,
            Position.fixed_at <= p.ended_at,
            Position.user_id.in_(members),
        )
        .values(patrol_id=p.id)
        .execution_options(synchronize_session=False)
    )
    refresh_track(p)
    record("update", "patrols", p.id, before=before, after=snapshot(p))
    db.session.commit()
    return p


def update_results(user, patrol_id: int, values: dict) -> Patrol:
    """Change a patrol's title or results (bags, weight, volunteers, bikes re-parked …); ``values`` are checked."""
    p = editable(user, patrol_id)
    before = snapshot(p)
    for k, v in values.items():
        setattr(p, k, v)
    db.session.flush()
    if "cleanup_width_m" in values:
        refresh_track(p)
    record("update", "patrols", p.id, before=before, after=snapshot(p))
    db.session.commit()
    return p


def add_participants(user, patrol_id: int, usernames: list[str]) -> Patrol:
    """Add people to a patrol that is planned or under way (each must be a user who runs patrols)."""
    p = editable(user, patrol_id)
    if p.state not in ("planned", "active"):
        raise ApiError(409, f"patrol {p.id} is {p.state}")
    errors = {}
    people = [u for u in _people(user, usernames, errors) if u is not user or user.username in usernames]
    for u in people:
        if not can(u, "patrols.run"):
            errors["usernames"] = f"{u.username!r} does not run patrols"
    if errors:
        raise ApiError(422, "invalid participants", {"usernames": errors.get("usernames") or errors["participants"]})
    before = [u.username for u in p.participants]
    p.participants = list(p.participants) + [u for u in people if u not in p.participants]
    db.session.flush()
    record(
        "update",
        "patrols",
        p.id,
        before={"participants": before},
        after={"participants": [u.username for u in p.participants]},
    )
    db.session.commit()
    return p


def _import_device(user, identifier: str | None):
    if not identifier:
        return web_device(user)
    dev = device_by_identifier(identifier)
    if dev is None or (dev.user_id != user.id and not can(user, "devices.manage")):
        raise ApiError(422, f"no device {identifier!r} of yours", {"device": "unknown"})
    return dev


def import_track(user, patrol_id: int, fixes: list[Fix], source: str, device_identifier: str | None = None) -> int:
    """Add a GPX/CSV track to a patrol (a finished one too); returns fixes added."""
    p = editable(user, patrol_id)
    dev = _import_device(user, device_identifier)
    added = store_fixes(dev, fixes, source, p.id)
    if dev.user not in p.participants:
        p.participants.append(dev.user)
    times = [f.fixed_at for f in fixes]
    before = snapshot(p)
    if p.state == "planned":
        p.state = "finished"
    p.started_at = min([p.started_at or times[0]] + times)
    if p.state == "finished":
        p.ended_at = max([p.ended_at or times[-1]] + times)
    db.session.flush()
    refresh_track(p)
    record("import", "patrols", p.id, before=before, after={**snapshot(p), "fixes_added": added, "source": source})
    db.session.commit()
    return added


def upload_batch(user, patrol_id: int, fixes: list[Fix]) -> int:
    """The phone page's queued fixes for the user's own patrol; resends are skipped."""
    p = get_patrol(user, patrol_id)
    if user not in p.participants:
        raise ApiError(403, "only the patrol's members upload positions to it")
    if p.state == "cancelled":
        raise ApiError(409, f"patrol {p.id} was cancelled")
    added = store_fixes(web_device(user), fixes, "web", p.id)
    db.session.commit()
    return added
