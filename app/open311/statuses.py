"""One mapping between the 数字城管 workflow states and Open311's statuses, read by every answer.

* GeoReport v2 ``status`` is ``open`` or ``closed``; ``status_notes`` names the finer state.
* mySociety's extended statuses (open311-adapter, FixMyStreet): ``GET servicerequestupdates`` answers
  them in lower case with the internal state as ``external_status_code``; ``POST servicerequestupdates``
  sends them in upper case (``FIXED``, ``REOPEN`` …) and :data:`INCOMING` says which workflow step each
  one asks for. The workflow decides whether the step is possible from the current state.
"""

from app.incidents.models import OPEN_STATES

STATE_NOTES = {
    "reported": "reported (信息采集)",
    "filed": "filed (立案)",
    "dispatched": "dispatched (派遣)",
    "in_progress": "in progress (处置)",
    "responded": "responded (反馈)",
    "closed": "closed (核查结案)",
    "evaluated": "evaluated (综合评价)",
    "rejected": "rejected (不予立案)",
    "duplicate": "duplicate (重复)",
    "consultation": "in consultation (议事)",
}

# internal state → mySociety extended status (what FixMyStreet shows: "investigating", "fixed" …)
EXTENDED = {
    "reported": "open",
    "filed": "investigating",
    "dispatched": "action_scheduled",
    "in_progress": "in_progress",
    "responded": "in_progress",
    "consultation": "investigating",
    "closed": "fixed",
    "evaluated": "fixed",
    "rejected": "not_councils_responsibility",
    "duplicate": "duplicate",
}

# The statuses open311-adapter accepts in POST servicerequestupdates (Role/mySociety.pm).
EXTENDED_UPPER = (
    "UNCHANGED",
    "OPEN",
    "CLOSED",
    "FIXED",
    "IN_PROGRESS",
    "PLANNED",
    "ACTION_SCHEDULED",
    "INVESTIGATING",
    "DUPLICATE",
    "NOT_COUNCILS_RESPONSIBILITY",
    "NO_FURTHER_ACTION",
    "INTERNAL_REFERRAL",
    "CANCELLED",
    "REOPEN",
    "FOR_TRIAGE",
)

# incoming status → the workflow step it asks for; the others are notes on the timeline.
# FIXED/CLOSED: the reporter's side confirms the repair of a responded incident (核查结案);
# REOPEN: it sends a responded incident back (反馈 → 处置);
# CANCELLED/NO_FURTHER_ACTION/NOT_COUNCILS_RESPONSIBILITY: the report is withdrawn (不予立案).
INCOMING = {
    "FIXED": "closed",
    "CLOSED": "closed",
    "REOPEN": "in_progress",
    "CANCELLED": "rejected",
    "NO_FURTHER_ACTION": "rejected",
    "NOT_COUNCILS_RESPONSIBILITY": "rejected",
}


def georeport_status(state: str) -> str:
    """``open`` or ``closed``."""
    return "open" if state in OPEN_STATES else "closed"


def state_note(state: str) -> str:
    """The finer state in words (``status_notes``, an update's ``description``)."""
    return STATE_NOTES.get(state, state)


def extended_status(state: str) -> str:
    """mySociety's extended status of a state."""
    return EXTENDED.get(state, georeport_status(state))
