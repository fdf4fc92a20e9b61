"""More time for a stage (申请延期): the holder asks with a reason, community staff grant or refuse.

A granted request adds its hours to the current stage's deadline (``incidents.extension_hours``, cleared
when the stage changes); one request may be pending per incident (409 for a second).
"""

from sqlalchemy import func, select

from app.audit.services import record
from app.auth import policy
from app.auth.policy import Scope
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents.models import ExtensionRequest, Incident
from app.incidents.services.organisations import DESK, holds, load_for_desk, target_name
from app.incidents.services.records import load
from app.incidents.services.tell import extension_asked, extension_decided
from app.incidents.workflow import HOLDER_STAGES, TRIAGE

MAX_HOURS = 24 * 30


def pending(incident_id: int) -> ExtensionRequest | None:
    """The incident's undecided request."""
    return db.session.scalar(
        select(ExtensionRequest).where(
            ExtensionRequest.incident_id == incident_id, ExtensionRequest.decided_at.is_(None)
        )
    )


def requests_of(incident_id: int) -> list[ExtensionRequest]:
    """Every request of an incident, oldest first."""
    return list(
        db.session.scalars(
            select(ExtensionRequest).where(ExtensionRequest.incident_id == incident_id).order_by(ExtensionRequest.id)
        )
    )


def _load(incident_id: int, user, scope: Scope) -> Incident:
    if policy.can(user, DESK):
        return load_for_desk(incident_id, user, lock=True)
    return load(incident_id, scope, lock=True)


def request_extension(incident_id: int, hours: float, reason: str, user, scope: Scope) -> ExtensionRequest:
    """The holder asks for ``hours`` more in the current stage (dispatched or in progress)."""
    incident = _load(incident_id, user, scope)
    if incident.state not in HOLDER_STAGES:
        raise ApiError(409, "more time is asked for while the incident is dispatched or in progress", code="conflict")
    if not policy.can(user, "incidents.handle") or not holds(incident, user):
        raise ApiError(403, f"only {target_name(incident) or 'the holder'} asks for more time")
    if pending(incident.id) is not None:
        raise ApiError(409, "a request for more time is already waiting for a decision", code="conflict")
    row = ExtensionRequest(
        incident_id=incident.id, stage=incident.state, hours=float(hours), reason=reason.strip(), requested_by=user.id
    )
    db.session.add(row)
    db.session.flush()
    record(
        "insert",
        "incident_extensions",
        row.id,
        after={"incident_id": incident.id, "hours": row.hours, "reason": row.reason},
    )
    extension_asked(incident, row.id, target_name(incident) or user.display_name, row.hours, row.reason, user)
    db.session.commit()
    return row


def decide_extension(
    incident_id: int, request_id: int, granted: bool, note: str | None, user, scope: Scope, hours: float | None = None
) -> ExtensionRequest:
    """Staff grant (``hours``, default what was asked) or refuse a waiting request."""
    if not policy.can(user, TRIAGE):
        raise ApiError(403, f"role {user.role!r} may not decide requests for more time")
    incident = load(incident_id, scope, lock=True)
    row = db.session.get(ExtensionRequest, request_id) if 0 < request_id < 2**62 else None
    if row is None or row.incident_id != incident.id:
        raise ApiError(404, f"no request {request_id} for incident {incident_id}")
    if row.decided_at is not None:
        raise ApiError(409, "this request was decided already", code="conflict")
    row.granted, row.decided_by, row.decided_at = granted, user.id, func.now()
    row.decision_note = (note or "").strip() or None
    if granted and incident.state == row.stage:
        row.hours = float(hours or row.hours)
        incident.extension_hours = (incident.extension_hours or 0) + row.hours
        incident.deadline_notified = 0
    db.session.flush()
    record(
        "update",
        "incident_extensions",
        row.id,
        after={"granted": granted, "hours": row.hours, "note": row.decision_note},
    )
    extension_decided(incident, row.id, granted, row.decision_note)
    db.session.commit()
    return row
