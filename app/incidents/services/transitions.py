"""The workflow applied: a step allowed by :mod:`app.incidents.workflow`, taken by the stage's holder where
it is theirs (:mod:`.organisations`), its extra data checked by its handler
(:data:`app.incidents.hooks.STEP_HANDLERS`), the timeline and the audit log written, the people it hands
the incident to told (:mod:`.tell`).

The handlers of incidents' own steps are here: dispatch (a department, a person or a property
company), duplicate (the original), the holder's return (a reason), and the resident's rating
(``evaluated``, or back to ``responded`` when unsatisfied). Other features register theirs
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
from app.incidents.models import SATISFACTION, STATES, Department, Incident, Photo, Transition
from app.incidents.services.organisations import DESK, holds, load_for_desk, organisation_of, target_name, target_of
from app.incidents.services.records import load, public_snapshot
from app.incidents.services.reporting import MAX_DESCRIPTION
from app.incidents.services.tell import step_taken
from app.incidents.workflow import (
    CLOSED_STATES,
    HOLDER_STEPS,
    SATISFACTION_RATING,
    TRANSITIONS,
    TRIAGE,
    permission_for,
    permissions_for,
)

ASSIGNEE = "incidents.assignee"
ENDS = ("closed", "rejected", "duplicate")  # steps that stop the clock (closed_at)


def assignable_users() -> list[User]:
    """Active users an incident may be dispatched to (permission ``incidents.assignee``)."""
    return list(
        db.session.scalars(
            select(User).where(User.role.in_(roles_with(ASSIGNEE)), User.active.is_(True)).order_by(User.username)
        )
    )


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
    original = db.session.scalar(
        select(Incident).where(Incident.id == original_id, grid_clause(step.scope, Incident.grid_id, Incident.geom))
    )
    if original is None or original.id == step.incident.id:
        step.fail("duplicate_of", "no such other incident in your area")
    elif original.state == "duplicate":
        step.fail("duplicate_of", "link to the original, not to another duplicate")
    else:
        step.incident.duplicate_of_id = original.id
        return {"duplicate_of": original.id}
    return {}


def _satisfaction(step: Step) -> str | None:
    """The rating of a step from ``closed``: ``satisfaction``, or the older 1–5 ``rating`` (4–5 satisfied,
    3 basically satisfied, 1–2 unsatisfied)."""
    value, rating = step.data.get("satisfaction"), step.data.get("rating")
    if value is None and isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= 5:
        value = "satisfied" if rating >= 4 else "basically_satisfied" if rating == 3 else "unsatisfied"
    if value not in SATISFACTION:
        step.fail("satisfaction", "required: satisfied, basically_satisfied or unsatisfied (the resident's words)")
        return None
    return value


def _rated(step: Step, unsatisfied: bool) -> dict:
    value = _satisfaction(step)
    if value is None:
        return {}
    if (value == "unsatisfied") != unsatisfied:
        step.fail(
            "satisfaction",
            "unsatisfied sends the case back to verification: to=responded; (basically) satisfied: to=evaluated",
        )
        return {}
    step.incident.satisfaction, step.incident.rating = value, SATISFACTION_RATING[value]
    return {"satisfaction": value, "rating": SATISFACTION_RATING[value], "via": step.data.get("via", "callback")}


def _evaluate(step: Step) -> dict:
    return _rated(step, unsatisfied=False)


def _responded(step: Step) -> dict:
    return _rated(step, unsatisfied=True) if step.incident.state == "closed" else {}


def _filed(step: Step) -> dict:
    """Back to filed from dispatched: the holder returns it and must say why (a staff recall need not)."""
    if step.incident.state != "dispatched" or step.data.get("recall"):
        return {}
    name = target_name(step.incident)
    if not (step.data.get("note") or "").strip():
        step.fail("note", "required: why the incident is returned")
    return {"returned": name}


register_step_handler("dispatched", _dispatch)
register_step_handler("duplicate", _duplicate)
register_step_handler("evaluated", _evaluate)
register_step_handler("responded", _responded)
register_step_handler("filed", _filed)


def _check_step(incident: Incident, to_state: str, user) -> bool:
    """409 when the workflow has no such step, 403 when the user lacks its permission or does not hold a
    holder's step; True when staff recall a dispatched incident (not the holder returning it)."""
    permissions = permissions_for(incident.state, to_state)
    if not permissions:
        allowed = ", ".join(TRANSITIONS.get(incident.state, {})) or "none (final state)"
        raise ApiError(
            409,
            f"an incident in state {incident.state!r} cannot go to {to_state!r}; next states: {allowed}",
            {"to": "transition not allowed"},
            code="conflict",
        )
    if not any(policy.can(user, p) for p in permissions):
        raise ApiError(
            403,
            f"role {user.role!r} may not move an incident from {incident.state} to {to_state} "
            f"(needs permission {' or '.join(repr(p) for p in permissions)})",
        )
    if (incident.state, to_state) not in HOLDER_STEPS:
        return False
    if TRIAGE in permissions and policy.can(user, TRIAGE) and not holds_by_membership(incident, user):
        return True  # staff recall
    if not holds(incident, user):
        raise ApiError(
            403,
            f"this step belongs to {target_name(incident) or 'the holder'}: "
            f"it accepts, returns and reports its incidents itself",
        )
    return False


def holds_by_membership(incident: Incident, user) -> bool:
    """Whether ``user`` is the person or a member of the organisation the incident is dispatched to."""
    org = organisation_of(user)
    return incident.assignee_id == user.id or (
        org is not None and target_of(incident) is not None and target_of(incident).id == org.id
    )


def may_take(incident: Incident, to_state: str, user) -> bool:
    """Whether ``user`` may take the step now (pages offer only these)."""
    try:
        _check_step(incident, to_state, user)
    except ApiError:
        return False
    return True


def _write_step(incident: Incident, to_state: str, user, note, extra: dict, at, public_note=None) -> Transition:
    now = at or db.session.scalar(select(func.now()))
    from_state = incident.state
    incident.state = to_state
    incident.state_changed_at = now
    incident.extension_hours, incident.deadline_notified = 0, 0  # a new stage, a new clock
    if to_state in ENDS:
        incident.closed_at = now
    elif to_state not in CLOSED_STATES:
        incident.closed_at = None
    step = Transition(
        incident_id=incident.id,
        from_state=from_state,
        to_state=to_state,
        user_id=getattr(user, "id", None),
        note=(note or "").strip() or None,
        public_note=(public_note or "").strip() or None,
        data=extra,
        created_at=now,
    )
    db.session.add(step)
    db.session.flush()
    return step


def _on_behalf(incident: Incident, user, from_state: str, to_state: str) -> dict:
    """A holder's step recorded for an organisation none of whose people work in Wuwei says so."""
    if (from_state, to_state) in HOLDER_STEPS and incident.assignee_id is None and not policy.can(user, DESK):
        org_name = target_name(incident)
        return {"on_behalf_of": org_name} if org_name else {}
    return {}


def _load(incident_id: int, user, scope: Scope) -> Incident:
    """The incident under its row lock: through the organisation's desk for its people, else the area."""
    if policy.can(user, DESK):
        return load_for_desk(incident_id, user, lock=True)
    return load(incident_id, scope, lock=True)


def apply_step(
    incident: Incident,
    to_state: str,
    user,
    note=None,
    extra: dict | None = None,
    at: dt.datetime | None = None,
    public_note: str | None = None,
) -> Transition:
    """Write a checked step (the timeline, the audit log) and tell whom it concerns (not for past times)."""
    before = public_snapshot(incident)
    row = _write_step(incident, to_state, user, note, extra or {}, at, public_note)
    record("transition", "incidents", incident.id, before=before, after=public_snapshot(incident))
    if at is None:
        step_taken(incident, row, user)
    return row


def _check_texts(to_state, note, public_note) -> None:
    if not isinstance(to_state, str) or to_state not in STATES:
        raise ApiError(422, f"to must be one of: {', '.join(STATES)}", {"to": "unknown state"})
    for name, value in (("note", note), ("public_note", public_note)):
        if value is not None and (not isinstance(value, str) or len(value) > MAX_DESCRIPTION):
            raise ApiError(422, f"{name}: a text of at most 4000 characters", {name: "too long or not text"})


def transition(
    incident_id: int,
    to_state: str,
    user,
    scope: Scope,
    note: str | None = None,
    data: dict | None = None,
    photo_ids: list[int] | None = None,
    at: dt.datetime | None = None,
    commit: bool = True,
    public_note: str | None = None,
) -> Incident:
    """Move an incident to ``to_state`` if the workflow, the user's permissions and the stage's holder allow
    it (409/403 otherwise).

    ``data`` holds the step's extra values (``department_id`` …), checked by the step's handler (422);
    ``public_note`` (or ``data["public_note"]``) is the reply the resident reads on the status page.
    """
    data = dict(data or {})
    public_note = data.pop("public_note", public_note)
    _check_texts(to_state, note, public_note)
    incident = _load(incident_id, user, scope)
    recall = _check_step(incident, to_state, user)
    step = Step(incident, to_state, {**(data or {}), "note": note, "recall": recall}, scope)
    handler = STEP_HANDLERS.get(to_state)
    extra = handler.handle(step) if handler is not None else {}
    if step.errors:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in step.errors.items()), step.errors)
    extra = {**extra, **_on_behalf(incident, user, incident.state, to_state)}
    row = apply_step(incident, to_state, user, note, extra, at, public_note)
    if photo_ids:
        for photo in db.session.scalars(select(Photo).where(Photo.id.in_(photo_ids), Photo.incident_id == incident.id)):
            photo.transition_id = row.id
    if commit:
        db.session.commit()
    return incident


def external_step(
    incident_id: int, to_state: str | None, note: str | None, data: dict, commit: bool = True
) -> tuple[Transition, bool]:
    """A step reported by another system through a protocol (an Open311 client's update), not by a user.

    The incident moves to ``to_state`` when the workflow has that step from its current state, the step
    takes no extra data (no step handler: not dispatch, duplicate, consultation, evaluation, a return)
    and is not a holder's own; otherwise, or without ``to_state``, the note joins the timeline and the
    state stays. Returns the timeline row and whether the state moved.
    """
    incident = load(incident_id, None, lock=True)
    state = incident.state
    moves = (
        to_state in STATES
        and permission_for(state, to_state) is not None
        and STEP_HANDLERS.get(to_state) is None
        and (state, to_state) not in HOLDER_STEPS
    )
    if moves:
        row = apply_step(incident, to_state, None, note, data)
    else:
        row = Transition(
            incident_id=incident.id, from_state=state, to_state=state, note=(note or "").strip() or None, data=data
        )
        db.session.add(row)
        db.session.flush()
        record("external_note", "incidents", incident.id, after={"note": row.note, **data})
    if commit:
        db.session.commit()
    return row, moves
