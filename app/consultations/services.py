"""Councils, meetings and decisions, and the consultation ledger (协商台账) built from them.

Every read and write is limited to councils of communities in the user's area.
Recording a meeting with agenda incidents moves each of them to ``consultation``
(linked to the meeting) when the workflow allows it.
"""
import datetime as dt

from sqlalchemy import and_, func, select

from app.areas.models import Area
from app.audit.services import record, snapshot
from app.auth.access import Scope, in_scope_code
from app.consultations.models import (DECISION_STATUSES, MEMBER_ROLES, Council, CouncilMember, Decision, Meeting,
                                      meeting_incidents)
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents.models import Incident

WRITE_ROLES = ("admin", "staff")
READ_ROLES = ("admin", "staff", "leader", "planner", "grid_worker")


def _text(value, name: str, errors: dict, limit: int, required: bool = False):
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = "required"
        return None
    if not isinstance(value, str):
        errors[name] = "must be text"
        return None
    if len(value) > limit:
        errors[name] = f"at most {limit} characters"
        return None
    return value.strip()


def _raise(errors: dict):
    if errors:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)


def councils(scope: Scope) -> list[Council]:
    """Councils of communities in the scope."""
    stmt = select(Council).join(Area, Area.id == Council.community_id).order_by(Area.code, Council.name)
    if not scope.everything:
        stmt = stmt.where(Area.code.startswith(scope.area_code, autoescape=True)
                          | func.starts_with(scope.area_code, Area.code))
    return list(db.session.scalars(stmt))


def get_council(council_id: int, scope: Scope) -> Council:
    """A council the scope may see, or 404."""
    council = db.session.get(Council, council_id) if isinstance(council_id, int) and 0 < council_id < 2**31 else None
    if council is None or not (in_scope_code(scope, council.community.code)
                               or (scope.area_code and scope.area_code.startswith(council.community.code))):
        raise ApiError(404, f"no council {council_id} in your area")
    return council


def _writable_council(council_id: int, scope: Scope) -> Council:
    council = get_council(council_id, scope)
    if not in_scope_code(scope, council.community.code):
        raise ApiError(403, "this council belongs to another community")
    return council


def create_council(scope: Scope, name, community_code, description=None, members=None) -> Council:
    """A new council of a community in the scope, with its members."""
    errors: dict = {}
    name = _text(name, "name", errors, 128, required=True)
    description = _text(description, "description", errors, 4000)
    community = db.session.scalar(select(Area).where(Area.code == community_code, Area.level == "community")) \
        if isinstance(community_code, str) else None
    if community is None:
        errors["community"] = "unknown community code"
    elif not in_scope_code(scope, community.code):
        raise ApiError(403, "that community lies outside your area")
    _raise(errors)
    council = Council(name=name, community_id=community.id, description=description)
    db.session.add(council)
    db.session.flush()
    for m in members or []:
        _add_member(council, m)
    record("insert", "councils", council.id, after=snapshot(council))
    db.session.commit()
    return council


def _add_member(council: Council, m) -> CouncilMember:
    errors: dict = {}
    if not isinstance(m, dict):
        raise ApiError(422, "each member is an object {name, role, organisation, phone}", {"members": "not an object"})
    name = _text(m.get("name"), "member.name", errors, 64, required=True)
    role = m.get("role")
    if role not in MEMBER_ROLES:
        errors["member.role"] = f"must be one of: {', '.join(MEMBER_ROLES)}"
    org = _text(m.get("organisation"), "member.organisation", errors, 128)
    phone = _text(m.get("phone"), "member.phone", errors, 32)
    _raise(errors)
    member = CouncilMember(council_id=council.id, name=name, role=role, organisation=org, phone=phone,
                           user_id=m.get("user_id") if isinstance(m.get("user_id"), int) else None)
    db.session.add(member)
    db.session.flush()
    return member


def add_member(council_id: int, scope: Scope, member: dict) -> CouncilMember:
    """Add one member to a council."""
    council = _writable_council(council_id, scope)
    row = _add_member(council, member)
    record("insert", "council_members", row.id, after={"council_id": council.id, "role": row.role})
    db.session.commit()
    return row


def _parse_datetime(value, name: str, errors: dict):
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        errors[name] = "required: ISO 8601 date-time"
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors[name] = "must be an ISO 8601 date-time"
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _parse_date(value, name: str, errors: dict):
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        errors[name] = "must be a date YYYY-MM-DD"
        return None


def hold_meeting(council_id: int, scope: Scope, user, *, held_at, topic, place=None, minutes=None,
                 participant_ids=None, incident_ids=None, decisions=None) -> Meeting:
    """Record a meeting: participants (member ids), agenda incidents, minutes and decisions."""
    council = _writable_council(council_id, scope)
    errors: dict = {}
    held = _parse_datetime(held_at, "held_at", errors)
    topic = _text(topic, "topic", errors, 256, required=True)
    place = _text(place, "place", errors, 256)
    minutes = _text(minutes, "minutes", errors, 20000)
    members = {m.id: m for m in council.members}
    participant_ids = participant_ids or []
    if not isinstance(participant_ids, list) or any(i not in members for i in participant_ids):
        errors["participant_ids"] = "ids of this council's members"
    incidents = []
    from app.auth.access import grid_clause
    for iid in incident_ids or []:
        inc = db.session.scalar(select(Incident).where(Incident.id == iid, grid_clause(scope, Incident.grid_id,
                                                                                       Incident.geom))) \
            if isinstance(iid, int) and not isinstance(iid, bool) and 0 < iid < 2**62 else None
        if inc is None:
            errors["incident_ids"] = f"no incident {iid} in your area"
        else:
            incidents.append(inc)
    if decisions is not None and not isinstance(decisions, list):
        errors["decisions"] = "a list"
    _raise(errors)
    meeting = Meeting(council_id=council.id, held_at=held, topic=topic, place=place, minutes=minutes,
                      created_by=getattr(user, "id", None))
    meeting.participants = [members[i] for i in participant_ids]
    meeting.incidents = incidents
    db.session.add(meeting)
    db.session.flush()
    for d in decisions or []:
        _add_decision(meeting, d)
    from app.incidents.services import transition
    from app.incidents.workflow import allowed_roles
    for inc in incidents:
        if inc.state != "consultation" and allowed_roles(inc.state, "consultation") \
                and user.role in allowed_roles(inc.state, "consultation"):
            transition(inc.id, "consultation", user, scope, note=f"提交议事：{topic}",
                       data={"meeting_id": meeting.id},
                       at=held if inc.state_changed_at <= held < dt.datetime.now(dt.timezone.utc) else None,
                       commit=False)
        else:
            inc.meeting_id = meeting.id
    record("insert", "meetings", meeting.id, after=snapshot(meeting))
    db.session.commit()
    return meeting


def _add_decision(meeting: Meeting, d) -> Decision:
    errors: dict = {}
    if not isinstance(d, dict):
        raise ApiError(422, "each decision is an object {text, owner, due_on, incident_id}", {"decisions": "not an object"})
    text = _text(d.get("text"), "decision.text", errors, 4000, required=True)
    owner = _text(d.get("owner"), "decision.owner", errors, 128, required=True)
    due = _parse_date(d.get("due_on"), "decision.due_on", errors)
    incident_id = d.get("incident_id")
    if incident_id is not None and incident_id not in {i.id for i in meeting.incidents}:
        errors["decision.incident_id"] = "must be one of the meeting's agenda incidents"
    _raise(errors)
    row = Decision(meeting_id=meeting.id, incident_id=incident_id, text=text, owner=owner, due_on=due, status="open")
    db.session.add(row)
    db.session.flush()
    return row


def get_meeting(meeting_id: int, scope: Scope) -> Meeting:
    """A meeting of a council the scope may see, or 404."""
    meeting = db.session.get(Meeting, meeting_id) if isinstance(meeting_id, int) and 0 < meeting_id < 2**31 else None
    if meeting is None:
        raise ApiError(404, f"no meeting {meeting_id}")
    get_council(meeting.council_id, scope)
    return meeting


def add_decision(meeting_id: int, scope: Scope, d: dict) -> Decision:
    """Add a decision to a recorded meeting."""
    meeting = get_meeting(meeting_id, scope)
    _writable_council(meeting.council_id, scope)
    row = _add_decision(meeting, d)
    record("insert", "decisions", row.id, after=snapshot(row))
    db.session.commit()
    return row


def update_decision(decision_id: int, scope: Scope, status, note=None) -> Decision:
    """Follow a decision: mark it done (with a note) or dropped, or open again."""
    row = db.session.get(Decision, decision_id) if isinstance(decision_id, int) and 0 < decision_id < 2**31 else None
    if row is None:
        raise ApiError(404, f"no decision {decision_id}")
    _writable_council(row.meeting.council_id, scope)
    errors: dict = {}
    if status not in DECISION_STATUSES:
        errors["status"] = f"must be one of: {', '.join(DECISION_STATUSES)}"
    note = _text(note, "note", errors, 4000)
    _raise(errors)
    before = snapshot(row)
    row.status = status
    row.done_at = func.now() if status == "done" else None
    row.done_note = note
    db.session.flush()
    record("update", "decisions", row.id, before=before, after=snapshot(row))
    db.session.commit()
    return row


def meetings_for_incident(incident: Incident) -> list[Meeting]:
    """Meetings that had the incident on their agenda."""
    return list(db.session.scalars(select(Meeting).join(meeting_incidents, meeting_incidents.c.meeting_id == Meeting.id)
                                   .where(meeting_incidents.c.incident_id == incident.id).order_by(Meeting.held_at)))


def ledger(scope: Scope, community_code: str | None = None, date_from: dt.date | None = None,
           date_to: dt.date | None = None) -> list[dict]:
    """The consultation ledger (协商台账): one row per decision (or per meeting without decisions)."""
    stmt = (select(Meeting, Decision).join(Council, Council.id == Meeting.council_id)
            .join(Area, Area.id == Council.community_id)
            .outerjoin(Decision, Decision.meeting_id == Meeting.id)
            .order_by(Meeting.held_at, Meeting.id, Decision.id))
    if not scope.everything:
        stmt = stmt.where(Area.code.startswith(scope.area_code, autoescape=True)
                          | func.starts_with(scope.area_code, Area.code))
    if community_code:
        stmt = stmt.where(Area.code.startswith(community_code, autoescape=True))
    tz = dt.timezone(dt.timedelta(hours=8))
    if date_from:
        stmt = stmt.where(Meeting.held_at >= dt.datetime.combine(date_from, dt.time(), tz))
    if date_to:
        stmt = stmt.where(Meeting.held_at < dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz))
    rows = []
    today = dt.date.today()
    for meeting, decision in db.session.execute(stmt):
        rows.append({
            "meeting_id": meeting.id, "council": meeting.council.name,
            "community": meeting.council.community.name, "held_at": meeting.held_at,
            "place": meeting.place, "topic": meeting.topic,
            "participants": "、".join(f"{m.name}（{m.organisation or ''}）" if m.organisation else m.name
                                     for m in meeting.participants),
            "incidents": ", ".join(f"#{i.id}" for i in meeting.incidents),
            "decision_id": decision.id if decision else None,
            "decision": decision.text if decision else "", "owner": decision.owner if decision else "",
            "due_on": decision.due_on if decision else None, "status": decision.status if decision else "",
            "done_at": decision.done_at if decision else None, "done_note": decision.done_note if decision else "",
            "late": bool(decision and decision.status == "open" and decision.due_on and decision.due_on < today),
        })
    return rows
