"""The 数字城管 workflow as data: which state may follow which, and which permission each step needs.

reported (信息采集) → filed (立案) → dispatched (派遣) → in_progress (处置) → responded (反馈)
→ closed (核查结案) → evaluated (综合评价); branches rejected, duplicate and consultation (议事).
Who holds a permission is :mod:`app.auth.policy`'s business; the service applies these rules
inside its transaction.
"""
from flask_babel import lazy_gettext as _l

from app.auth import policy

TRIAGE = "incidents.triage"      # file, dispatch, reject, close (community staff)
HANDLE = "incidents.handle"      # take on and respond (people in the field)
REVIEW = "incidents.review"      # evaluate a closed incident

# from state → {to state: permission needed}
TRANSITIONS: dict[str, dict[str, str]] = {
    "reported": {"filed": TRIAGE, "rejected": TRIAGE, "duplicate": TRIAGE},
    "filed": {"dispatched": TRIAGE, "consultation": TRIAGE, "rejected": TRIAGE, "duplicate": TRIAGE},
    "dispatched": {"in_progress": HANDLE, "filed": TRIAGE},
    "in_progress": {"responded": HANDLE},
    "responded": {"closed": TRIAGE, "in_progress": TRIAGE},
    "consultation": {"dispatched": TRIAGE, "closed": TRIAGE, "rejected": TRIAGE},
    "closed": {"evaluated": REVIEW},
    "evaluated": {},
    "rejected": {},
    "duplicate": {},
}

# Stages that carry a deadline (hours in the category's ``deadlines``).
TIMED_STAGES = ("reported", "filed", "dispatched", "in_progress", "responded", "consultation")
DEFAULT_DEADLINES = {"reported": 2, "filed": 4, "dispatched": 24, "in_progress": 72, "responded": 24,
                     "consultation": 240}
CLOSED_STATES = ("closed", "evaluated", "rejected", "duplicate")

STATE_LABELS = {
    "reported": _l("信息采集"), "filed": _l("立案"), "dispatched": _l("派遣"), "in_progress": _l("处置"),
    "responded": _l("反馈"), "closed": _l("核查结案"), "evaluated": _l("综合评价"),
    "rejected": _l("不予立案"), "duplicate": _l("重复"), "consultation": _l("议事"),
}
STATE_COLORS = {
    "reported": "#dc2626", "filed": "#ea580c", "dispatched": "#d97706", "in_progress": "#ca8a04",
    "responded": "#2563eb", "consultation": "#7c3aed", "closed": "#16a34a", "evaluated": "#15803d",
    "rejected": "#6b7280", "duplicate": "#9ca3af",
}
SOURCE_LABELS = {
    "hotline": _l("热线"), "walk_in": _l("来访"), "grid_worker": _l("网格员"), "patrol": _l("巡查"),
    "web": _l("网页"), "open311": _l("Open311 客户端"), "other_system": _l("其他系统"),
}


def permission_for(from_state: str, to_state: str) -> str | None:
    """The permission that moves an incident from ``from_state`` to ``to_state``; None if never allowed."""
    return TRANSITIONS.get(from_state, {}).get(to_state)


def may_move(user, from_state: str, to_state: str) -> bool:
    """Whether ``user`` may take the step (the workflow allows it and the user holds its permission)."""
    permission = permission_for(from_state, to_state)
    return permission is not None and policy.can(user, permission)


def next_states(state: str, user) -> list[str]:
    """The states ``user`` may move an incident in ``state`` to."""
    return [to for to, permission in TRANSITIONS.get(state, {}).items() if policy.can(user, permission)]
