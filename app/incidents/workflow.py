"""The 数字城管 workflow as data: which state may follow which, and who may move it.

reported (信息采集) → filed (立案) → dispatched (派遣) → in_progress (处置) → responded (反馈)
→ closed (核查结案) → evaluated (综合评价); branches rejected, duplicate and consultation (议事).
Pure Python: the service applies these rules inside its transaction.
"""
from flask_babel import lazy_gettext as _l

STAFF = ("admin", "staff")
FIELD = ("admin", "staff", "grid_worker", "patrol")
REVIEW = ("admin", "staff", "leader")

# from state → {to state: roles allowed}
TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "reported": {"filed": STAFF, "rejected": STAFF, "duplicate": STAFF},
    "filed": {"dispatched": STAFF, "consultation": STAFF, "rejected": STAFF, "duplicate": STAFF},
    "dispatched": {"in_progress": FIELD, "filed": STAFF},
    "in_progress": {"responded": FIELD},
    "responded": {"closed": STAFF, "in_progress": STAFF},
    "consultation": {"dispatched": STAFF, "closed": STAFF, "rejected": STAFF},
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


def allowed_roles(from_state: str, to_state: str) -> tuple[str, ...] | None:
    """Roles that may move an incident from ``from_state`` to ``to_state``; None if never allowed."""
    return TRANSITIONS.get(from_state, {}).get(to_state)


def next_states(state: str, role: str) -> list[str]:
    """The states ``role`` may move an incident in ``state`` to."""
    return [to for to, roles in TRANSITIONS.get(state, {}).items() if role in roles]

