"""One incident and what hangs on it: loading it within the user's area, its timeline, offers, photos."""

from sqlalchemy import or_, select

from app.audit.services import snapshot
from app.auth.models import User
from app.auth.policy import Scope, grid_clause
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents.models import (
    OPEN_STATES,
    Department,
    Incident,
    Offer,
    Photo,
    Transition,
)

MAX_ID = 2**62


def load(incident_id, scope: Scope | None, lock: bool = False) -> Incident:
    """The incident if ``scope`` may see it (404 otherwise); ``lock`` takes the row lock for a write."""
    if not isinstance(incident_id, int) or isinstance(incident_id, bool) or not 0 < incident_id < MAX_ID:
        raise ApiError(404, "no such incident")
    stmt = select(Incident).where(Incident.id == incident_id)
    if scope is not None:
        stmt = stmt.where(grid_clause(scope, Incident.grid_id, Incident.geom))
    if lock:
        # Fresh values under the row lock: another request may have just moved the incident.
        stmt = stmt.with_for_update(of=Incident).execution_options(populate_existing=True)
    incident = db.session.scalar(stmt)
    if incident is None:
        raise ApiError(404, f"no incident {incident_id} in your area")
    return incident


def get_incident(incident_id: int, scope: Scope | None) -> Incident:
    """An incident the scope may see, or 404."""
    return load(incident_id, scope)


def public_snapshot(incident: Incident) -> dict:
    """The incident's columns for the audit log, reporter contact masked."""
    snap = snapshot(incident)
    snap.pop("public_token", None)  # the resident's key is not the audit log's business
    for key in ("reporter_name", "reporter_phone"):
        if snap.get(key):
            snap[key] = "***"
    return snap


def link_meeting(incident: Incident, meeting_id: int) -> None:
    """Record the meeting that discussed the incident (without a workflow step)."""
    incident.meeting_id = meeting_id


def timeline(incident_id: int) -> list[Transition]:
    """The incident's steps, oldest first."""
    return list(
        db.session.scalars(
            select(Transition)
            .where(Transition.incident_id == incident_id)
            .order_by(Transition.created_at, Transition.id)
        )
    )


def offers(incident_id: int) -> list[dict]:
    """To whom the incident was offered when it came in."""
    rows = db.session.execute(
        select(Offer.user_id, User.display_name, Department.name)
        .select_from(Offer)
        .outerjoin(User, User.id == Offer.user_id)
        .outerjoin(Department, Department.id == Offer.department_id)
        .where(Offer.incident_id == incident_id)
        .order_by(Offer.id)
    )
    return [{"user_id": r[0], "user": r[1], "department": r[2]} for r in rows]


def offered_to(user_id: int, scope: Scope, limit: int = 50) -> list[Incident]:
    """Open incidents offered to or dispatched to a user (their to-do list)."""
    stmt = (
        select(Incident)
        .where(
            Incident.state.in_(OPEN_STATES),
            grid_clause(scope, Incident.grid_id, Incident.geom),
            or_(
                Incident.assignee_id == user_id,
                Incident.id.in_(select(Offer.incident_id).where(Offer.user_id == user_id)),
            ),
        )
        .order_by(Incident.reported_at.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def photos_of(incident_id: int) -> list[Photo]:
    """Photos of an incident, oldest first."""
    return list(db.session.scalars(select(Photo).where(Photo.incident_id == incident_id).order_by(Photo.id)))


def last_step_id(incident_id: int) -> int | None:
    """The id of the incident's latest timeline step (a photo sent with a step is attached to it)."""
    return db.session.scalar(
        select(Transition.id).where(Transition.incident_id == incident_id).order_by(Transition.id.desc()).limit(1)
    )


def state_changes(start, end, limit: int, offset: int = 0) -> list:
    """Workflow steps that changed an incident's state in ``[start, end]``, oldest first: rows of
    ``id, incident_id, from_state, to_state, created_at, public_note`` (the report itself and notes
    excluded; ``public_note`` is the reply written for the resident, the internal note is not read)."""
    return list(
        db.session.execute(
            select(
                Transition.id,
                Transition.incident_id,
                Transition.from_state,
                Transition.to_state,
                Transition.created_at,
                Transition.public_note,
            )
            .where(
                Transition.created_at >= start,
                Transition.created_at <= end,
                Transition.from_state.is_not(None),
                Transition.from_state != Transition.to_state,
            )
            .order_by(Transition.created_at, Transition.id)
            .limit(limit)
            .offset(offset)
        )
    )
