"""``/api/v1/councils``, ``/api/v1/meetings``, ``/api/v1/decisions``, ``/api/v1/consultation-ledger``."""

from flask_login import current_user
from sqlalchemy import select

from app.areas.models import Area
from app.auth import policy
from app.consultations import models, services
from app.consultations.schemas import (
    Council,
    CouncilDetail,
    CouncilIn,
    CouncilMember,
    CouncilMemberIn,
    Councils,
    Decision,
    DecisionIn,
    DecisionPatch,
    Ledger,
    LedgerQuery,
    Meeting,
    MeetingIn,
)
from app.web.api import ApiBlueprint, endpoint, json_response
from app.web.etags import Versioned, child_rows

bp = ApiBlueprint("consultations_api", __name__, tag="consultations")
READ, WRITE = "consultations.read", "consultations.write"
CONTACTS = WRITE  # members' phones: for those who keep the councils (community staff, admins)


def _councils_seen():
    communities = select(Area.id).where(policy.area_clause(policy.current_scope(), Area.code))
    return select(models.Council.id).where(models.Council.community_id.in_(communities))


# Versioned records (app.web.etags): ETag on their answers, If-Match → 412 on their writes. A council's
# members are part of its version (adding one is a write to the council).
COUNCIL = Versioned(
    "councils",
    models.Council.__table__,
    key="council_id",
    visible=lambda: models.Council.id.in_(_councils_seen()),
    parts=(child_rows("council_members", "council_id", "councils"),),
)
DECISION = Versioned(
    "decisions",
    models.Decision.__table__,
    key="decision_id",
    visible=lambda: models.Decision.meeting_id.in_(
        select(models.Meeting.id).where(models.Meeting.council_id.in_(_councils_seen()))
    ),
)


def member_json(m, phone: bool) -> dict:
    return {
        "id": m.id,
        "name": m.name,
        "role": m.role,
        "organisation": m.organisation,
        **({"phone": m.phone} if phone else {}),
    }


def council_json(c: models.Council, members: bool = True) -> dict:
    """A council, with members (phones only for those who keep the councils)."""
    out = {
        "id": c.id,
        "name": c.name,
        "community": {"code": c.community.code, "name": c.community.name},
        "description": c.description,
    }
    if members:
        phone = policy.can(current_user, CONTACTS)
        out["members"] = [member_json(m, phone) for m in c.members]
    return out


def decision_json(d: models.Decision) -> dict:
    return {
        "id": d.id,
        "meeting_id": d.meeting_id,
        "incident_id": d.incident_id,
        "text": d.text,
        "owner": d.owner,
        "due_on": d.due_on.isoformat() if d.due_on else None,
        "status": d.status,
        "done_at": d.done_at.isoformat() if d.done_at else None,
        "done_note": d.done_note,
        "agenda_item_id": d.agenda_item_id,
    }


def meeting_json(m: models.Meeting) -> dict:
    return {
        "id": m.id,
        "council_id": m.council_id,
        "held_at": m.held_at.isoformat(),
        "place": m.place,
        "topic": m.topic,
        "minutes": m.minutes,
        "participants": [member_json(p, phone=False) for p in m.participants],
        "incident_ids": [i.id for i in m.incidents],
        "agenda": [
            {"id": a.id, "position": a.position, "title": a.title, "note": a.note, "incident_id": a.incident_id}
            for a in m.agenda
        ],
        "decisions": [decision_json(d) for d in m.decisions],
    }


def meeting_values(body: MeetingIn) -> dict:
    """The service's keyword arguments from a checked meeting."""
    return {
        **body.model_dump(exclude={"decisions", "agenda"}),
        "agenda": [a.model_dump() for a in body.agenda],
        "decisions": [d.model_dump() for d in body.decisions],
    }


@bp.get("/councils")
@endpoint(response=Councils, permission=READ)
def councils():
    """Councils (议事会) of the communities in your area."""
    return json_response({"councils": [council_json(c) for c in services.councils(policy.current_scope())]})


@bp.post("/councils")
@endpoint(body=CouncilIn, response=Council, status=201, permission=WRITE)
def create_council(body: CouncilIn):
    """Create a council of a community in your area, with its members."""
    c = services.create_council(
        policy.current_scope(), body.name, body.community, body.description, [m.model_dump() for m in body.members]
    )
    return json_response(council_json(c), 201)


@bp.get("/councils/<int:council_id>")
@endpoint(response=CouncilDetail, permission=READ, errors=(404,), versioned=COUNCIL)
def council(council_id: int):
    """A council with its members and meetings."""
    c = services.get_council(council_id, policy.current_scope())
    return json_response({**council_json(c), "meetings": [meeting_json(m) for m in services.meetings_of(c)]})


@bp.post("/councils/<int:council_id>/members")
@endpoint(
    body=CouncilMemberIn,
    response=CouncilMember,
    status=201,
    permission=WRITE,
    errors=(404,),
    versioned=COUNCIL,
    answers_version=False,
)
def add_member(council_id: int, body: CouncilMemberIn):
    """Add a member to a council."""
    m = services.add_member(council_id, policy.current_scope(), body.model_dump())
    return json_response(member_json(m, phone=False), 201)


@bp.post("/councils/<int:council_id>/meetings")
@endpoint(body=MeetingIn, response=Meeting, status=201, permission=WRITE, errors=(404,))
def hold_meeting(council_id: int, body: MeetingIn):
    """Record a meeting: participants, agenda incidents (they go to state ``consultation``), minutes, decisions."""
    m = services.hold_meeting(council_id, policy.current_scope(), current_user, **meeting_values(body))
    return json_response(meeting_json(m), 201)


@bp.get("/meetings/<int:meeting_id>")
@endpoint(response=Meeting, permission=READ, errors=(404,))
def meeting(meeting_id: int):
    """A meeting of a council in your area."""
    return json_response(meeting_json(services.get_meeting(meeting_id, policy.current_scope())))


@bp.post("/meetings/<int:meeting_id>/decisions")
@endpoint(body=DecisionIn, response=Decision, status=201, permission=WRITE, errors=(404,))
def add_decision(meeting_id: int, body: DecisionIn):
    """Add a decision to a recorded meeting."""
    return json_response(decision_json(services.add_decision(meeting_id, policy.current_scope(), body.values())), 201)


@bp.get("/decisions/<int:decision_id>")
@endpoint(response=Decision, permission=READ, errors=(404,), versioned=DECISION)
def decision(decision_id: int):
    """A decision of a meeting of a council in your area."""
    return json_response(decision_json(services.get_decision(decision_id, policy.current_scope())))


@bp.patch("/decisions/<int:decision_id>")
@endpoint(body=DecisionPatch, response=Decision, permission=WRITE, errors=(404,), versioned=DECISION)
def update_decision(decision_id: int, body: DecisionPatch):
    """Follow a decision: done (with a note), dropped, or open again.

    Closing the meeting's last open decision, with one of them done, moves its incidents still in 议事
    (``consultation``) on to ``closed`` (核查结案), on the incidents' timelines, in the same transaction.
    """
    d = services.update_decision(decision_id, policy.current_scope(), body.status, body.note, current_user)
    return json_response(decision_json(d))


def ledger_args(query: LedgerQuery) -> dict:
    """The service's filters from the ledger's query string."""
    return {"community_code": query.community, "date_from": query.from_, "date_to": query.to}


@bp.get("/consultation-ledger")
@endpoint(query=LedgerQuery, response=Ledger, permission=READ)
def ledger(query: LedgerQuery):
    """The ledger (协商台账) per community and period; ``/consultations/ledger?format=csv`` for the spreadsheet."""
    rows = services.ledger(policy.current_scope(), **ledger_args(query))
    for r in rows:
        for k in ("held_at", "due_on", "done_at"):
            r[k] = r[k].isoformat() if r[k] else None
    return json_response({"rows": rows})
