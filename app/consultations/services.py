"""Councils, meetings and decisions, and the consultation ledger (协商台账) built from them.

Every read and write is limited to councils of communities in the user's area. Values come checked
(:mod:`app.consultations.schemas`); the rules that need the database are here. Recording a meeting with
agenda incidents moves each of them to ``consultation`` through the incidents' own workflow
(:func:`app.incidents.services.transition`) when the user may take that step, else only links it.
"""

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.areas.models import Area
from app.audit.services import audited_insert, record, snapshot
from app.auth.policy import Scope, area_clause, in_scope_code
from app.consultations import outcomes
from app.consultations.models import (
    AgendaItem,
    Council,
    CouncilMember,
    Decision,
    Meeting,
    meeting_incidents,
)
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import MAX_ID, get_or_404
from app.core.time import TZ, day_start, now, today
from app.incidents import services as incidents
from app.incidents.workflow import may_move


def _raise(errors: dict):
    if errors:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)


# --------------------------------------------------------------------------- councils


def councils(scope: Scope) -> list[Council]:
    """Councils of communities in the scope (and of the communities above a user's grid)."""
    stmt = (
        select(Council)
        .join(Area, Area.id == Council.community_id)
        .where(area_clause(scope, Area.code))
        .order_by(Area.code, Council.name)
    )
    return list(db.session.scalars(stmt))


def get_council(council_id: int, scope: Scope) -> Council:
    """A council the scope may see, or 404."""
    council = get_or_404(Council, council_id, f"no council {council_id} in your area")
    if not (
        in_scope_code(scope, council.community.code)
        or (scope.area_code and scope.area_code.startswith(council.community.code))
    ):
        raise ApiError(404, f"no council {council_id} in your area")
    return council


def _writable_council(council_id: int, scope: Scope) -> Council:
    council = get_council(council_id, scope)
    if not in_scope_code(scope, council.community.code):
        raise ApiError(403, "this council belongs to another community")
    return council


def _member(m: dict) -> CouncilMember:
    return CouncilMember(
        name=m["name"],
        role=m["role"],
        organisation=m.get("organisation"),
        phone=m.get("phone"),
        user_id=m.get("user_id"),
    )


def create_council(
    scope: Scope, name: str, community_code: str, description: str | None = None, members: list[dict] = ()
) -> Council:
    """A new council of a community in the scope, with its members (``{name, role, organisation, phone}``)."""
    community = db.session.scalar(select(Area).where(Area.code == community_code, Area.level == "community"))
    if community is None:
        _raise({"community": "unknown community code"})
    if not in_scope_code(scope, community.code):
        raise ApiError(403, "that community lies outside your area")
    council = Council(name=name, community_id=community.id, description=description)
    council.members = [_member(m) for m in members]
    return audited_insert(council)


def add_member(council_id: int, scope: Scope, member: dict) -> CouncilMember:
    """Add one member to a council."""
    row = _member(member)
    row.council_id = _writable_council(council_id, scope).id
    return audited_insert(row, lambda r: {"council_id": r.council_id, "role": r.role})


# --------------------------------------------------------------------------- meetings and decisions


def communities(scope: Scope) -> list[Area]:
    """The communities in the scope: where a council may be created."""
    return list(
        db.session.scalars(
            select(Area).where(Area.level == "community", area_clause(scope, Area.code)).order_by(Area.code)
        )
    )


def centre_of(council: Council) -> tuple[float, float]:
    """Where a council's map opens: its community's centre (lat, lon)."""
    centre = func.ST_PointOnSurface(Area.geom)
    row = db.session.execute(select(func.ST_Y(centre), func.ST_X(centre)).where(Area.id == council.community_id)).one()
    return (row[0], row[1]) if row[0] is not None else (36.06, 103.84)


def _agenda(incident_ids: list[int], scope: Scope, errors: dict) -> list:
    """The agenda's incidents, each in the user's area."""
    found = []
    for iid in dict.fromkeys(incident_ids):
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
            incidents.transition(
                inc.id,
                "consultation",
                user,
                scope,
                note=f"提交议事：{meeting.topic}",
                data={"meeting_id": meeting.id},
                at=at,
                commit=False,
            )
        else:
            incidents.link_meeting(inc, meeting.id)


def hold_meeting(
    council_id: int,
    scope: Scope,
    user,
    *,
    held_at: dt.datetime,
    topic: str,
    place=None,
    minutes=None,
    participant_ids=(),
    incident_ids=(),
    agenda=(),
    decisions=(),
) -> Meeting:
    """Record a meeting: participants (member ids), agenda incidents, agenda items (``{title, note,
    incident_id}``, numbered 1, 2, … in order), minutes and decisions (which may name an item's number,
    ``agenda_no``). A meeting is recorded after it was held: a time in the future is refused."""
    council = _writable_council(council_id, scope)
    if held_at > now():
        shown = now().astimezone(TZ).strftime("%Y-%m-%d %H:%M")
        raise ApiError(
            422, _("会议尚未举行：举行时间不能晚于现在（%(now)s）", now=shown), {"held_at": "in the future"}, said=True
        )
    errors: dict = {}
    members = {m.id: m for m in council.members}
    if any(i not in members for i in participant_ids):
        errors["participant_ids"] = "ids of this council's members"
    item_incidents = [a["incident_id"] for a in agenda if a.get("incident_id") is not None]
    incidents_on_agenda = _agenda([*incident_ids, *item_incidents], scope, errors)
    _raise(errors)
    meeting = Meeting(
        council_id=council.id,
        held_at=held_at,
        topic=topic,
        place=place,
        minutes=minutes,
        created_by=getattr(user, "id", None),
    )
    meeting.participants = [members[i] for i in participant_ids]
    meeting.incidents = incidents_on_agenda
    meeting.agenda = [
        AgendaItem(position=n, title=a["title"], note=a.get("note"), incident_id=a.get("incident_id"))
        for n, a in enumerate(agenda, start=1)
    ]
    db.session.add(meeting)
    db.session.flush()
    db.session.add_all([_decision(meeting, d, f"decisions.{i}") for i, d in enumerate(decisions)])
    _to_consultation(meeting, user, scope)
    record("insert", "meetings", meeting.id, after=snapshot(meeting))
    db.session.commit()
    return meeting


def _decision(meeting: Meeting, d: dict, where: str = "decision") -> Decision:
    """A new decision of a recorded meeting; its incident, if any, must be on the meeting's agenda."""
    if d.get("incident_id") is not None and d["incident_id"] not in {i.id for i in meeting.incidents}:
        _raise({f"{where}.incident_id": "must be one of the meeting's agenda incidents"})
    item = None
    if d.get("agenda_no") is not None:
        item = next((a for a in meeting.agenda if a.position == d["agenda_no"]), None)
        if item is None:
            _raise({f"{where}.agenda_no": _("会议议程中没有第 %(n)s 项", n=d["agenda_no"])})
    return Decision(
        meeting_id=meeting.id,
        agenda_item_id=item.id if item else None,
        incident_id=d.get("incident_id") if d.get("incident_id") is not None else (item and item.incident_id),
        text=d["text"],
        owner=d["owner"],
        due_on=d.get("due_on"),
        status="open",
    )


def get_meeting(meeting_id: int, scope: Scope) -> Meeting:
    """A meeting of a council the scope may see, or 404."""
    meeting = get_or_404(Meeting, meeting_id, f"no meeting {meeting_id}")
    get_council(meeting.council_id, scope)
    return meeting


def meetings_of(council: Council) -> list[Meeting]:
    """A council's meetings, oldest first."""
    return list(
        db.session.scalars(
            select(Meeting).where(Meeting.council_id == council.id).order_by(Meeting.held_at, Meeting.id)
        )
    )


def meeting_exists(meeting_id: int) -> bool:
    """Whether a meeting with this id was recorded."""
    return 0 < meeting_id <= MAX_ID and db.session.get(Meeting, meeting_id) is not None


def meetings_for_incident(incident_id: int) -> list[Meeting]:
    """Meetings that had the incident on their agenda."""
    return list(
        db.session.scalars(
            select(Meeting)
            .join(meeting_incidents, meeting_incidents.c.meeting_id == Meeting.id)
            .where(meeting_incidents.c.incident_id == incident_id)
            .order_by(Meeting.held_at)
        )
    )


def add_decision(meeting_id: int, scope: Scope, d: dict) -> Decision:
    """Add a decision (``{text, owner, due_on, incident_id}``) to a recorded meeting."""
    meeting = get_meeting(meeting_id, scope)
    _writable_council(meeting.council_id, scope)
    return audited_insert(_decision(meeting, d))


def get_decision(decision_id: int, scope: Scope) -> Decision:
    """A decision of a council the scope may see, or 404."""
    row = get_or_404(Decision, decision_id, f"no decision {decision_id}")
    get_council(row.meeting.council_id, scope)
    return row


def update_decision(decision_id: int, scope: Scope, status: str, note: str | None = None, user=None) -> Decision:
    """Follow a decision: mark it done (with a note) or dropped, or open again.

    Closing the meeting's last open decision settles its incidents in the same transaction
    (:func:`app.consultations.outcomes.settle`): those still in 议事 move on to 核查结案.
    """
    row = get_decision(decision_id, scope)
    _writable_council(row.meeting.council_id, scope)
    before = snapshot(row)
    row.status, row.done_at, row.done_note = status, func.now() if status == "done" else None, note
    db.session.flush()
    record("update", "decisions", row.id, before, snapshot(row))
    if status != "open" and user is not None:
        outcomes.settle(row.meeting, user, scope)
    db.session.commit()
    return row


# --------------------------------------------------------------------------- the ledger


def _ledger_row(meeting: Meeting, decision: Decision | None, day: dt.date) -> dict:
    d = decision
    return {
        "meeting_id": meeting.id,
        "council_id": meeting.council_id,
        "council": meeting.council.name,
        "community": meeting.council.community.name,
        "held_at": meeting.held_at,
        "place": meeting.place,
        "topic": meeting.topic,
        "participants": "、".join(
            f"{m.name}（{m.organisation or ''}）" if m.organisation else m.name for m in meeting.participants
        ),
        "incidents": ", ".join(f"#{i.id}" for i in meeting.incidents),
        "incident_ids": [i.id for i in meeting.incidents],
        "agenda_item": f"{d.agenda_item.position}. {d.agenda_item.title}" if d and d.agenda_item else "",
        "decision_id": d.id if d else None,
        "decision": d.text if d else "",
        "owner": d.owner if d else "",
        "due_on": d.due_on if d else None,
        "status": d.status if d else "",
        "done_at": d.done_at if d else None,
        "done_note": d.done_note if d else "",
        "late": bool(d and d.status == "open" and d.due_on and d.due_on < day),
    }


def ledger(
    scope: Scope, community_code: str | None = None, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> list[dict]:
    """The consultation ledger (协商台账): one row per decision (or per meeting without decisions)."""
    stmt = (
        select(Meeting, Decision)
        .join(Council, Council.id == Meeting.council_id)
        .join(Area, Area.id == Council.community_id)
        .outerjoin(Decision, Decision.meeting_id == Meeting.id)
        .where(area_clause(scope, Area.code))
        .order_by(Meeting.held_at, Meeting.id, Decision.id)
    )
    if community_code:
        stmt = stmt.where(Area.code.startswith(community_code, autoescape=True))
    if date_from:
        stmt = stmt.where(Meeting.held_at >= day_start(date_from))
    if date_to:
        stmt = stmt.where(Meeting.held_at < day_start(date_to + dt.timedelta(days=1)))
    day = today()
    return [_ledger_row(meeting, decision, day) for meeting, decision in db.session.execute(stmt)]
