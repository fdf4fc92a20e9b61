"""The 数字城管 workflow as data: which state may follow which, and which permission each step needs.

reported (信息采集) → filed (立案) → dispatched (派遣) → in_progress (处置) → responded (反馈)
→ closed (核查结案) → evaluated (综合评价); branches rejected, duplicate and consultation (议事).

Each stage is done by the people who own it: community staff file, dispatch, verify and close
(``incidents.triage``); the holder of a dispatched incident — the department or property company it was
dispatched to, or the person — accepts it, returns it with a reason, asks for more time and reports it
done (``incidents.handle``, and :func:`app.incidents.services.organisations.holds` says who holds it);
the resident rates the result on the status page, or tells staff on a call-back (``incidents.review``):
"unsatisfied" sends a closed incident back to verification (closed → responded).
Who holds a permission is :mod:`app.auth.policy`'s business; the service applies these rules
inside its transaction.
"""

from flask_babel import lazy_gettext as _l

from app.auth import policy

TRIAGE = "incidents.triage"  # file, dispatch, reject, verify and close (community staff)
HANDLE = "incidents.handle"  # accept, return, respond (the stage's holder)
REVIEW = "incidents.review"  # the resident's rating, recorded from a call-back (回访)

# from state → {to state: the permission needed, or several: any of them}
TRANSITIONS: dict[str, dict[str, str | tuple[str, ...]]] = {
    "reported": {"filed": TRIAGE, "rejected": TRIAGE, "duplicate": TRIAGE},
    "filed": {"dispatched": TRIAGE, "consultation": TRIAGE, "rejected": TRIAGE, "duplicate": TRIAGE},
    # accept; back to filed: the holder returns it (with a reason) or staff recall it
    "dispatched": {"in_progress": HANDLE, "filed": (HANDLE, TRIAGE)},
    "in_progress": {"responded": HANDLE},
    "responded": {"closed": TRIAGE, "in_progress": TRIAGE},
    "consultation": {"dispatched": TRIAGE, "closed": TRIAGE, "rejected": TRIAGE},
    # the resident's rating: (basically) satisfied → evaluated; unsatisfied → back to verification
    "closed": {"evaluated": REVIEW, "responded": REVIEW},
    "evaluated": {},
    "rejected": {},
    "duplicate": {},
}
# Steps taken by the stage's holder, who must hold the incident (not anyone with the permission).
HOLDER_STEPS = {("dispatched", "in_progress"), ("dispatched", "filed"), ("in_progress", "responded")}
# Stages whose clock runs for the holder (a department's desk), the others for community staff.
HOLDER_STAGES = ("dispatched", "in_progress")

# Stages that carry a deadline (hours in the category's ``deadlines``).
TIMED_STAGES = ("reported", "filed", "dispatched", "in_progress", "responded", "consultation")
DEFAULT_DEADLINES = {
    "reported": 2,
    "filed": 4,
    "dispatched": 24,
    "in_progress": 72,
    "responded": 24,
    "consultation": 240,
}
CLOSED_STATES = ("closed", "evaluated", "rejected", "duplicate")

STATE_LABELS = {
    "reported": _l("信息采集"),
    "filed": _l("立案"),
    "dispatched": _l("派遣"),
    "in_progress": _l("处置"),
    "responded": _l("反馈"),
    "closed": _l("核查结案"),
    "evaluated": _l("综合评价"),
    "rejected": _l("不予立案"),
    "duplicate": _l("重复"),
    "consultation": _l("议事"),
}
STATE_COLORS = {
    "reported": "#dc2626",
    "filed": "#ea580c",
    "dispatched": "#d97706",
    "in_progress": "#ca8a04",
    "responded": "#2563eb",
    "consultation": "#7c3aed",
    "closed": "#16a34a",
    "evaluated": "#15803d",
    "rejected": "#6b7280",
    "duplicate": "#9ca3af",
}
SOURCE_LABELS = {
    "hotline": _l("热线"),
    "walk_in": _l("来访"),
    "grid_worker": _l("网格员"),
    "patrol": _l("巡查"),
    "web": _l("网页"),
    "open311": _l("Open311 客户端"),
    "other_system": _l("其他系统"),
}
SATISFACTION_LABELS = {"satisfied": _l("满意"), "basically_satisfied": _l("基本满意"), "unsatisfied": _l("不满意")}
SATISFACTION_RATING = {"satisfied": 5, "basically_satisfied": 3, "unsatisfied": 1}  # the 1–5 ``rating`` kept beside


def permissions_for(from_state: str, to_state: str) -> tuple[str, ...]:
    """The permissions any of which moves an incident from ``from_state`` to ``to_state``; () if never allowed."""
    needed = TRANSITIONS.get(from_state, {}).get(to_state)
    if needed is None:
        return ()
    return needed if isinstance(needed, tuple) else (needed,)


def permission_for(from_state: str, to_state: str) -> str | None:
    """The (first) permission that moves an incident from ``from_state`` to ``to_state``; None if never allowed."""
    needed = permissions_for(from_state, to_state)
    return needed[0] if needed else None


def may_move(user, from_state: str, to_state: str) -> bool:
    """Whether ``user`` may take the step (the workflow allows it and the user holds a permission for it)."""
    return any(policy.can(user, p) for p in permissions_for(from_state, to_state))


def next_states(state: str, user) -> list[str]:
    """The states ``user``'s permissions may move an incident in ``state`` to (holding it is checked apart)."""
    return [to for to in TRANSITIONS.get(state, {}) if may_move(user, state, to)]
