"""Where consultations meet incidents, registered into :mod:`app.incidents.hooks`:

* a step to ``consultation`` may name the meeting (``meeting_id``), which must exist;
* an incident's page lists the meetings that had it on their agenda.
"""

from flask import url_for
from flask_babel import lazy_gettext as _l

from app.consultations.services import meeting_exists, meetings_for_incident
from app.incidents.hooks import Link, Step, register_related, register_step_handler
from app.incidents.services import link_meeting


def _consultation_step(step: Step) -> dict:
    meeting_id = step.data.get("meeting_id")
    if meeting_id is None:
        return {}
    if not isinstance(meeting_id, int) or isinstance(meeting_id, bool) or not meeting_exists(meeting_id):
        step.fail("meeting_id", "unknown meeting")
        return {}
    link_meeting(step.incident, meeting_id)
    return {"meeting_id": meeting_id}


def _meeting_links(incident_id: int) -> list[Link]:
    return [
        Link(url_for("consultations.meeting", meeting_id=m.id), f"{m.held_at.strftime('%Y-%m-%d')} {m.topic}")
        for m in meetings_for_incident(incident_id)
    ]


def register() -> None:
    """Plug consultations into the incident workflow and the incident page."""
    register_step_handler("consultation", _consultation_step)
    register_related("meetings", _l("议事"), _meeting_links)
