"""The workflow applied: a step allowed by :mod:`app.incidents.workflow`, its extra data checked by
its handler (:data:`app.incidents.hooks.STEP_HANDLERS`), the timeline and the audit log written.

The handlers of incidents' own steps are here: dispatch (a department, a person or a property
company), duplicate (the original) and evaluation (a rating). Other features register theirs
(consultations: the meeting of a step to ``consultation``).
"""
import datetime as dt

from sqlalchemy import func, select

from app.audit.services import record
from app.auth import policy
from app.auth.models import User
from app.auth.policy import Scope, grid_clause, roles_with
from app.basemap.models import PropertyCompany
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents.hooks import STEP_HANDLERS, Step, register_step_handler
from app.incidents.models import STATES, Department, Incident, Photo, Transition
from app.incidents.services.records import load, public_snapshot
from app.incidents.services.reporting import MAX_DESCRIPTION
from app.incidents.workflow import CLOSED_STATES, TRANSITIONS, permission_for

ASSIGNEE = "incidents.assignee"
ENDS = ("closed", "rejected", "duplicate")       # steps that stop the clock (closed_at)


def assignable_users() -> list[User]:
    """Active users an incident may be dispatched to (permission ``incidents.assignee``)."""
    return list(db.session.scalars(select(User).where(User.role.in_(roles_with(ASSIGNEE)), User.active.is_(True))
                                   .order_by(User.username)))


def dispatch_companies() -> list[PropertyCompany]:
    """Property companies an incident may be dispatched to, by name."""
    return list(db.session.scalars(select(PropertyCompany).order_by(PropertyCompany.name)))


def _id(step: Step, name: str) -> int | None:
    value = step.data.get(name)
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    step.fail(name, "must be an id")
    return None


def _dispatch(step: Step) -> dict:
    dep, assignee, company = (_id(step, n) for n in ("department_id", "assignee_id", "property_company_id"))
    if not step.errors and not (dep or assignee or company):
        step.fail("target", "dispatch to a department_id, an assignee_id (grid worker) or a property_company_id")
    if dep and db.session.get(Department, dep) is None:
        step.fail("department_id", "unknown department")
    if assignee:
        target = db.session.get(User, assignee)
        if target is None or not target.active or not policy.can(target, ASSIGNEE):
            step.fail("assignee_id", "unknown user, or not one incidents are dispatched to")
    if company and db.session.get(PropertyCompany, company) is None:
        step.fail("property_company_id", "unknown property company")
    inc = step.incident
    inc.department_id, inc.assignee_id, inc.property_company_id = dep, assignee, company
    return {"department_id": dep, "assignee_id": assignee, "property_company_id": company}


def _duplicate(step: Step) -> dict:
    original_id = _id(step, "duplicate_of")
    if original_id is None:
        if "duplicate_of" not in step.errors:
            step.fail("duplicate_of", "required: the id of the original incident")
        return {}
    original = db.session.scalar(select(Incident).where(
        Incident.id == original_id, grid_clause(step.scope, Incident.grid_id, Incident.geom)))
    if original is None or original.id == step.incident.id:
        step.fail("duplicate_of", "no such other incident in your area")
    elif original.state == "duplicate":
        step.fail("duplicate_of", "link to the original, not to another duplicate")
    else:
        step.incident.duplicate_of_id = original.id
        return {"duplicate_of": original.id}
    return {}


def _evaluate(step: Step) -> dict:
    rating = step.data.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        step.fail("rating", "required: 1 (poor) to 5 (very satisfied)")
        return {}
    step.incident.rating = rating
    return {"rating": rating}


register_step_handler("dispatched", _dispatch)
register_step_handler("duplicate", _duplicate)
register_step_handler("evaluated", _evaluate)


def _check_step(incident: Incident, to_state: str, user) -> None:
    """409 when the workflow has no such step, 403 when the user lacks its permission."""
    permission = permission_for(incident.state, to_state)
    if permission is None:
        allowed = ", ".join(TRANSITIONS.get(incident.state, {})) or "none (final state)"
        raise ApiError(409, f"an incident in state {incident.state!r} cannot go to {to_state!r}; "
                            f"next states: {allowed}", {"to": "transition not allowed"}, code="conflict")
    if not policy.can(user, permission):
        raise ApiError(403, f"role {user.role!r} may not move an incident from {incident.state} to {to_state} "
                            f"(needs permission {permission!r})")


def _write_step(incident: Incident, to_state: str, user, note, extra: dict, at) -> Transition:
    now = at or db.session.scalar(select(func.now()))
    from_state = incident.state
    incident.state = to_state
    incident.state_changed_at = now
    if to_state in ENDS:
        incident.closed_at = now
    elif to_state not in CLOSED_STATES:
        incident.closed_at = None
    step = Transition(incident_id=incident.id, from_state=from_state, to_state=to_state,
                      user_id=getattr(user, "id", None),
                      note=(note or "").strip() or None, data=extra, created_at=now)
    db.session.add(step)
    db.session.flush()
    return step


def transition(incident_id: int, to_state: str, user, scope: Scope, note: str | None = None,
               data: dict | None = None, photo_ids: list[int] | None = None,
               at: dt.datetime | None = None, commit: bool = True) -> Incident:
    """Move an incident to ``to_state`` if the workflow and the user's permissions allow it (409/403 otherwise).

    ``data`` holds the step's extra values (``department_id`` …), checked by the step's handler (422).
    """
    if not isinstance(to_state, str) or to_state not in STATES:
        raise ApiError(422, f"to must be one of: {', '.join(STATES)}", {"to": "unknown state"})
    if note is not None and (not isinstance(note, str) or len(note) > MAX_DESCRIPTION):
        raise ApiError(422, "note: a text of at most 4000 characters", {"note": "too long or not text"})
    incident = load(incident_id, scope, lock=True)
    _check_step(incident, to_state, user)
    before = public_snapshot(incident)
    step = Step(incident, to_state, dict(data or {}), scope)
    handler = STEP_HANDLERS.get(to_state)
    extra = handler.handle(step) if handler is not None else {}
    if step.errors:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in step.errors.items()), step.errors)
    row = _write_step(incident, to_state, user, note, extra, at)
    if photo_ids:
        for photo in db.session.scalars(select(Photo).where(Photo.id.in_(photo_ids), Photo.incident_id == incident.id)):
            photo.transition_id = row.id
    record("transition", "incidents", incident.id, before=before, after=public_snapshot(incident))
    if commit:
        db.session.commit()
    return incident


def external_step(incident_id: int, to_state: str | None, note: str | None, data: dict,
                  commit: bool = True) -> tuple[Transition, bool]:
    """A step reported by another system through a protocol (an Open311 client's update), not by a user.

    The incident moves to ``to_state`` when the workflow has that step from its current state and the
    step takes no extra data (no step handler: not dispatch, duplicate, consultation, evaluation);
    otherwise, or without ``to_state``, the note joins the timeline and the state stays.
    Returns the timeline row and whether the state moved.
    """
    incident = load(incident_id, None, lock=True)
    moves = (to_state in STATES and permission_for(incident.state, to_state) is not None
             and STEP_HANDLERS.get(to_state) is None)
    before = public_snapshot(incident)
    if moves:
        row = _write_step(incident, to_state, None, note, data, None)
    else:
        row = Transition(incident_id=incident.id, from_state=incident.state, to_state=incident.state,
                         note=(note or "").strip() or None, data=data)
        db.session.add(row)
        db.session.flush()
    record("transition" if moves else "external_note", "incidents", incident.id, before=before,
           after=public_snapshot(incident) if moves else {"note": row.note, **data})
    if commit:
        db.session.commit()
    return row, moves
