"""The resident follows their report: a public status page at an unguessable link (``public_token``), a case
number to read out on the phone, and the rating of the result (满意 / 基本满意 / 不满意).

What the page shows is chosen here, field by field: the case number, the category, the address, the
stage, the dates of each change of stage, the public replies staff wrote for the resident, the rating.
Never the description (residents write names and phone numbers into it), the reporter's contact,
internal notes, who took a step, photos or the exact place.
"""

import re

from sqlalchemy import select

from app.auth.policy import Scope
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents.models import SATISFACTION, STATES, Incident, Transition, case_id_of
from app.incidents.services.organisations import target_name
from app.incidents.services.records import load
from app.incidents.services.transitions import apply_step
from app.incidents.workflow import SATISFACTION_RATING

TOKEN = re.compile(r"[0-9a-f]{32}")
MAX_COMMENT = 1000
# The stages a resident reads: every state of the workflow, by its public name (notes are never shown).
PUBLIC_STEPS = STATES


def by_token(token: str, lock: bool = False) -> Incident:
    """The incident whose status page ``token`` opens (404 for anything else)."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise ApiError(404, "no such case")
    stmt = select(Incident).where(Incident.public_token == token)
    if lock:
        stmt = stmt.with_for_update(of=Incident).execution_options(populate_existing=True)
    incident = db.session.scalar(stmt)
    if incident is None:
        raise ApiError(404, "no such case")
    return incident


def by_case_number(number: str, scope: Scope) -> Incident | None:
    """The incident of a case number as read out (dashes, spaces and case ignored), if ``scope`` may see it
    — for staff only. One scoped read: for a street's staff it names the street (docs/scaling.md)."""
    incident_id = case_id_of(re.sub(r"[\s-]", "", number or "").upper())
    try:
        return load(incident_id, scope)
    except ApiError:
        return None


def public_view(incident: Incident) -> dict:
    """What the status page shows (see the module's docstring)."""
    steps = db.session.execute(
        select(
            Transition.to_state,
            Transition.created_at,
            Transition.public_note,
            Transition.data["satisfaction"].astext.label("satisfaction"),
        )
        .where(
            Transition.incident_id == incident.id,
            Transition.to_state.in_(PUBLIC_STEPS),
            (Transition.from_state.is_(None)) | (Transition.from_state != Transition.to_state),
        )
        .order_by(Transition.created_at, Transition.id)
    ).all()
    return {
        "case_number": incident.case_number,
        "category": incident.category.name,
        "address": incident.address,
        "state": incident.state,
        "reported_at": incident.reported_at,
        "closed_at": incident.closed_at,
        "handled_by": target_name(incident) if incident.assignee_id is None else None,
        "steps": [
            {"state": s.to_state, "at": s.created_at, "reply": s.public_note, "rated": s.satisfaction} for s in steps
        ],
        "satisfaction": incident.satisfaction,
        "can_rate": incident.state == "closed",
    }


def rate(token: str, satisfaction: str, comment: str | None = None) -> Incident:
    """The resident's rating of a closed case: (basically) satisfied ends it (综合评价); unsatisfied sends it
    back to verification (反馈), and staff are told. 409 when the case is not waiting for a rating."""
    if satisfaction not in SATISFACTION:
        raise ApiError(422, "satisfaction: satisfied, basically_satisfied or unsatisfied", {"satisfaction": "unknown"})
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ApiError(422, f"comment: at most {MAX_COMMENT} characters", {"comment": "too long"})
    incident = by_token(token, lock=True)
    if incident.state != "closed":
        raise ApiError(409, "this case is not waiting for a rating", code="conflict")
    incident.satisfaction, incident.rating = satisfaction, SATISFACTION_RATING[satisfaction]
    to_state = "responded" if satisfaction == "unsatisfied" else "evaluated"
    apply_step(
        incident, to_state, None, comment, {"satisfaction": satisfaction, "rating": incident.rating, "via": "resident"}
    )
    db.session.commit()
    return incident
