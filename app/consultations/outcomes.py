"""What a council's decisions do to the incidents it discussed (议事结果).

A meeting takes incidents into 议事 (``consultation``); its decisions say who does what by when. When the
meeting's last open decision is closed and at least one of them was carried out, each of its incidents
still in 议事 — and named by no open decision of another meeting — moves on to 核查结案 (``closed``)
through the incidents' own workflow (:func:`app.incidents.services.transition`): the step is the
user's, checked by the workflow and its permissions, recorded on the incident's timeline and told to
whoever the incidents feature tells. Decisions all dropped move nothing: the incident stays in 议事
for staff to decide.
"""

from sqlalchemy import exists, select

from app.auth.policy import Scope
from app.consultations.models import Decision, Meeting, meeting_incidents
from app.core.extensions import db
from app.incidents import services as incidents
from app.incidents.workflow import may_move

NEXT_STATE = "closed"
PUBLIC_NOTE = "经社区议事会协商，问题已按决议办结。"


def _open_elsewhere(incident_id: int, meeting_id: int) -> bool:
    """Whether another meeting that had the incident on its agenda still has an open decision."""
    return db.session.scalar(
        select(
            exists().where(
                Decision.status == "open",
                Decision.meeting_id != meeting_id,
                Decision.meeting_id.in_(
                    select(meeting_incidents.c.meeting_id).where(meeting_incidents.c.incident_id == incident_id)
                ),
            )
        )
    )


def _note(done: list[Decision]) -> str:
    text = "议事决议已全部办结：" + "；".join(f"{d.text}（{d.owner}）" for d in done)
    return text if len(text) <= 4000 else text[:3999] + "…"


def settle(meeting: Meeting, user, scope: Scope) -> list[int]:
    """Move the meeting's incidents on once its decisions are all closed; the ids moved (no commit)."""
    if not meeting.decisions or any(d.status == "open" for d in meeting.decisions):
        return []
    done = [d for d in meeting.decisions if d.status == "done"]
    if not done:
        return []
    moved = []
    for inc in meeting.incidents:
        if inc.state != "consultation" or _open_elsewhere(inc.id, meeting.id):
            continue
        if not may_move(user, inc.state, NEXT_STATE):
            continue
        own = [d for d in done if d.incident_id in (None, inc.id)] or done
        incidents.transition(inc.id, NEXT_STATE, user, scope, note=_note(own), public_note=PUBLIC_NOTE, commit=False)
        moved.append(inc.id)
    return moved
