"""Councils, meetings and decisions, and the consultation ledger (协商台账) built from them.

Every read and write is limited to councils of communities in the user's area. Values come checked
(:mod:`app.consultations.schemas`); the rules that need the database are here. Recording a meeting with
agenda incidents moves each of them to ``consultation`` through the incidents' own workflow
(:func:`app.incidents.services.transition`) when the user may take that step, else only links it.
"""
import datetime as dt

from sqlalchemy import func, select

from app.areas.models import Area
from app.audit.services import record, snapshot
from app.auth.policy import Scope, area_clause, in_scope_code
from app.consultations.models import (
    Council,
    CouncilMember,
    Decision,
    Meeting,
    meeting_incidents,
)
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import day_start, now, today
from app.incidents import services as incidents
from app.incidents.workflow import may_move

MAX_ID = 2**31


def _raise(errors: dict):
    if errors:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)


# --------------------------------------------------------------------------- councils

def councils(scope: Scope) -> list[Council]:
    """Councils of communities in the scope (and of the communities above a user's grid)."""
    stmt = (select(Council).join(Area, Area.id == Council.community_id).where(area_clause(scope, Area.code))
            .order_by(Area.code, Council.name))
    return list(db.session.scalars(stmt))


def get_council(council_id: int, scope: Scope) -> Council:
    """A council the scope may see, or 404."""
    council = db.session.get(Council, council_id) if 0 < council_id < MAX_ID else None
    if council is None or not (in_scope_code(scope, council.community.code)
                               or (scope.area_code and scope.area_code.startswith(council.community.code))):
        raise ApiError(404, f"no council {council_id} in your area")
    return council


def _writable_council(council_id: int, scope: Scope) -> Council:
    council = get_council(council_id, scope)
    if not in_scope_code(scope, council.community.code):
        raise ApiError(403, "this council belongs to another community")
    return council


def _add_member(council: Council, m: dict) -> CouncilMember:
    member = CouncilMember(council_id=council.id, name=m["name"], role=m["role"], organisation=m.get("organisation"),
                           phone=m.get("phone"), user_id=m.get("user_id"))
    db.session.add(member)
    db.session.flush()
    return member


def create_council(scope: Scope, name: str, community_code: str, description: str | None = None,
                   members: list[dict] = ()) -> Council:
    """A new council of a community in the scope, with its members (``{name, role, organisation, phone}``)."""
    community = db.session.scalar(select(Area).where(Area.code == community_code, Area.level == "community"))
    if community is None:
        _raise({"community": "unknown community code"})
    if not in_scope_code(scope, community.code):
        raise ApiError(403, "that community lies outside your area")
    council = Council(name=name, community_id=community.id, description=description)
    db.session.add(council)
    db.session.flush()
    for m in members:
        _add_member(council, m)
    record("insert", "councils", council.id, after=snapshot(council))
    db.session.commit()
    return council


def add_member(council_id: int, scope: Scope, member: dict) -> CouncilMember:
    """Add one member to a council."""
    council = _writable_council(council_id, scope)
    row = _add_member(council, member)
    record("insert", "council_members", row.id, after={"council_id": council.id, "role": row.role})
    db.session.commit()
    return row


# --------------------------------------------------------------------------- meetings and decisions

def _agenda(incident_ids: list[int], scope: Scope, errors: dict) -> list:
    """The agenda's incidents, each in the user's area."""
    found = []
    for iid in incident_ids:
        try:
            found.append(incidents.get_incident(iid, scope))
        except ApiError:
            errors["incident_ids"] = f"no incident {iid} in your area"
    return found


def _to_consultation(meeting: Meeting, user, scope: Scope) -> None:
    """Each agenda incident goes to ``consultation`` when the user may take that step, else is linked."""
    for inc in meeting.incidents:
        if inc.state != "consultation" and may_move(user, inc.state, "consultation"):
            at = meeting.held_at if inc.state_changed_at <= meeting.held_at < now() else None
            incidents.transition(inc.id, "consultation", user, scope, note=f"提交议事：{meeting.topic}",
                                 data={"meeting_id": meeting.id}, at=at, commit=False)
        else:
            incidents.link_meeting(inc, meeting.id)


def hold_meeting(council_id: int, scope: Scope, user, *, held_at: dt.datetime, topic: str, place=None,
                 minutes=None, participant_ids=(), incident_ids=(), decisions=()) -> Meeting:
    """Record a meeting: participants (member ids), agenda incidents, minutes and decisions."""
    council = _writable_council(council_id, scope)
    errors: dict = {}
    members = {m.id: m for m in council.members}
    if any(i not in members for i in participant_ids):
        errors["participant_ids"] = "ids of this council's members"
    agenda = _agenda(incident_ids, scope, errors)
    _raise(errors)
    meeting = Meeting(council_id=council.id, held_at=held_at, topic=topic, place=place, minutes=minutes,
                      created_by=getattr(user, "id", None))
    meeting.participants = [members[i] for i in participant_ids]
    meeting.incidents = agenda
    db.session.add(meeting)
    db.session.flush()
    for i, d in enumerate(decisions):
        _add_decision(meeting, d, f"decisions.{i}")
    _to_consultation(meeting, user, scope)
    record("insert", "meetings", meeting.id, after=snapshot(meeting))
    db.session.commit()
    return meeting


def _add_decision(meeting: Meeting, d: dict, where: str = "decision") -> Decision:
    if d.get("incident_id") is not None and d["incident_id"] not in {i.id for i in meeting.incidents}:
        _raise({f"{where}.incident_id": "must be one of the meeting's agenda incidents"})
    row = Decision(meeting_id=meeting.id, incident_id=d.get("incident_id"), text=d["text"], owner=d["owner"],
                   due_on=d.get("due_on"), status="open")
    db.session.add(row)
    db.session.flush()
    return row


def get_meeting(meeting_id: int, scope: Scope) -> Meeting:
    """A meeting of a council the scope may see, or 404."""
    meeting = db.session.get(Meeting, meeting_id) if 0 < meeting_id < MAX_ID else None
    if meeting is None:
        raise ApiError(404, f"no meeting {meeting_id}")
    get_council(meeting.council_id, scope)
    return meeting


def meetings_of(council: Council) -> list[Meeting]:
    """A council's meetings, oldest first."""
    return list(db.session.scalars(select(Meeting).where(Meeting.council_id == council.id)
                                   .order_by(Meeting.held_at, Meeting.id)))


def meeting_exists(meeting_id: int) -> bool:
    """Whether a meeting with this id was recorded."""
    return 0 < meeting_id < MAX_ID and db.session.get(Meeting, meeting_id) is not None


def meetings_for_incident(incident_id: int) -> list[Meeting]:
    """Meetings that had the incident on their agenda."""
    return list(db.session.scalars(select(Meeting).join(meeting_incidents, meeting_incidents.c.meeting_id == Meeting.id)
                                   .where(meeting_incidents.c.incident_id == incident_id).order_by(Meeting.held_at)))


def add_decision(meeting_id: int, scope: Scope, d: dict) -> Decision:
    """Add a decision (``{text, owner, due_on, incident_id}``) to a recorded meeting."""
    meeting = get_meeting(meeting_id, scope)
    _writable_council(meeting.council_id, scope)
    row = _add_decision(meeting, d)
    record("insert", "decisions", row.id, after=snapshot(row))
    db.session.commit()
    return row


def get_decision(decision_id: int, scope: Scope) -> Decision:
    """A decision of a council the scope may see, or 404."""
    row = db.session.get(Decision, decision_id) if 0 < decision_id < MAX_ID else None
    if row is None:
        raise ApiError(404, f"no decision {decision_id}")
    get_council(row.meeting.council_id, scope)
    return row


def update_decision(decision_id: int, scope: Scope, status: str, note: str | None = None) -> Decision:
    """Follow a decision: mark it done (with a note) or dropped, or open again."""
    row = get_decision(decision_id, scope)
    _writable_council(row.meeting.council_id, scope)
    before = snapshot(row)
    row.status = status
    row.done_at = func.now() if status == "done" else None
    row.done_note = note
    db.session.flush()
    record("update", "decisions", row.id, before=before, after=snapshot(row))
    db.session.commit()
    return row


# --------------------------------------------------------------------------- the ledger

def _ledger_row(meeting: Meeting, decision: Decision | None, day: dt.date) -> dict:
    d = decision
    return {
        "meeting_id": meeting.id, "council": meeting.council.name, "community": meeting.council.community.name,
        "held_at": meeting.held_at, "place": meeting.place, "topic": meeting.topic,
        "participants": "、".join(f"{m.name}（{m.organisation or ''}）" if m.organisation else m.name
                                 for m in meeting.participants),
        "incidents": ", ".join(f"#{i.id}" for i in meeting.incidents),
        "decision_id": d.id if d else None, "decision": d.text if d else "", "owner": d.owner if d else "",
        "due_on": d.due_on if d else None, "status": d.status if d else "",
        "done_at": d.done_at if d else None, "done_note": d.done_note if d else "",
        "late": bool(d and d.status == "open" and d.due_on and d.due_on < day),
    }


def ledger(scope: Scope, community_code: str | None = None, date_from: dt.date | None = None,
           date_to: dt.date | None = None) -> list[dict]:
    """The consultation ledger (协商台账): one row per decision (or per meeting without decisions)."""
    stmt = (select(Meeting, Decision).join(Council, Council.id == Meeting.council_id)
            .join(Area, Area.id == Council.community_id)
            .outerjoin(Decision, Decision.meeting_id == Meeting.id)
            .where(area_clause(scope, Area.code))
            .order_by(Meeting.held_at, Meeting.id, Decision.id))
    if community_code:
        stmt = stmt.where(Area.code.startswith(community_code, autoescape=True))
    if date_from:
        stmt = stmt.where(Meeting.held_at >= day_start(date_from))
    if date_to:
        stmt = stmt.where(Meeting.held_at < day_start(date_to + dt.timedelta(days=1)))
    day = today()
    return [_ledger_row(meeting, decision, day) for meeting, decision in db.session.execute(stmt)]
