"""Who is told what as an incident moves (through :mod:`app.notices`): the hand-offs of the 数字城管 workflow.

=========================  ===================================  ============================================
event                      kind                                 told
=========================  ===================================  ============================================
reported                   ``incident.new``                     subscribers of the area ("my grid")
dispatched                 ``incident.dispatched``              the holder (the person, or the organisation)
returned by the holder     ``incident.returned``                community staff of the incident's area
more time asked / decided  ``incident.extension_*``             staff / the holder
reported done              ``incident.responded``               community staff
sent back for rework       ``incident.rework``                  the holder
verified and closed        ``incident.closed``                  the holder
rated unsatisfied          ``incident.unsatisfied``             community staff, subscribers of the area
deadline near / overdue    ``incident.deadline_near/overdue``   whoever's stage it is (overdue: subscribers)
=========================  ===================================  ============================================

Steps recorded with a past time (demo replays, imports) tell nobody. The key of each notice names the
step (``incident:<id>:step:<step id>``), so one event reaches each person once.
"""

from flask import current_app, has_request_context, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import literal, select

from app.areas.models import Area
from app.auth.models import User
from app.auth.policy import roles_with
from app.core.extensions import db
from app.incidents.models import Incident, Transition
from app.incidents.services.deadlines import overdue_of
from app.incidents.services.organisations import holder_ids, organisation_of, target_name
from app.incidents.workflow import HOLDER_STAGES, TRIAGE
from app.notices.kinds import register_kind
from app.notices.services import notify, notify_area

NEW, DISPATCHED, RETURNED = "incident.new", "incident.dispatched", "incident.returned"
EXTENSION_ASKED, EXTENSION_GRANTED, EXTENSION_REFUSED = (
    "incident.extension_requested",
    "incident.extension_granted",
    "incident.extension_refused",
)
RESPONDED, REWORK, CLOSED, UNSATISFIED = (
    "incident.responded",
    "incident.rework",
    "incident.closed",
    "incident.unsatisfied",
)
NEAR, OVERDUE = "incident.deadline_near", "incident.overdue"

register_kind(NEW, _l("新事件"), _l("新事件 %(case)s：%(category)s，%(address)s"), email=False, area=True, order=10)
register_kind(
    DISPATCHED,
    _l("新派遣"),
    _l("事件 %(case)s（%(category)s，%(address)s）已派遣给%(holder)s，本环节时限 %(due_at)s"),
    order=11,
)
register_kind(RETURNED, _l("被退回"), _l("%(holder)s退回了事件 %(case)s（%(category)s）：%(reason)s"), order=12)
register_kind(
    EXTENSION_ASKED, _l("延期申请"), _l("%(holder)s申请事件 %(case)s 延期 %(hours)s 小时：%(reason)s"), order=13
)
register_kind(EXTENSION_GRANTED, _l("延期已批准"), _l("事件 %(case)s 的延期申请已批准，新时限 %(due_at)s"), order=14)
register_kind(EXTENSION_REFUSED, _l("延期未批准"), _l("事件 %(case)s 的延期申请未获批准：%(reason)s"), order=15)
register_kind(RESPONDED, _l("办结待核查"), _l("%(holder)s已办结事件 %(case)s（%(category)s），请核查"), order=16)
register_kind(REWORK, _l("退回重办"), _l("事件 %(case)s 核查未通过，请继续处置：%(reason)s"), order=17)
register_kind(CLOSED, _l("已结案"), _l("事件 %(case)s（%(category)s）已核查结案"), email=False, order=18)
register_kind(
    UNSATISFIED,
    _l("居民不满意"),
    _l("居民对事件 %(case)s（%(category)s）的处理结果不满意，已退回核查"),
    area=True,
    order=19,
)
register_kind(NEAR, _l("即将到期"), _l("事件 %(case)s（%(category)s）本环节将于 %(due_at)s 到期"), order=20)
register_kind(
    OVERDUE, _l("已超时"), _l("事件 %(case)s（%(category)s）已超过本环节时限 %(due_at)s"), area=True, order=21
)


def _link(endpoint: str, **values) -> str:
    """A path in the application, also outside a request (the worker, the command line)."""
    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context():
        return url_for(endpoint, **values)


def case_label(number: str | None) -> str:
    """A case number as read out: two groups of four (``K7QM-3XPA``)."""
    return f"{number[:4]}-{number[4:]}" if number and len(number) == 8 else (number or "")


def grid_code(incident: Incident) -> str | None:
    return db.session.scalar(select(Area.code).where(Area.id == incident.grid_id)) if incident.grid_id else None


def staff_ids(incident: Incident) -> list[int]:
    """Community staff whose area holds the incident's grid (those who triage it)."""
    code = grid_code(incident)
    if code is None:
        return []
    return list(
        db.session.scalars(
            select(User.id)
            .join(Area, Area.id == User.area_id)
            .where(User.active.is_(True), User.role.in_(roles_with(TRIAGE)), literal(code).startswith(Area.code))
            .order_by(User.id)
        )
    )


def _params(incident: Incident, **more) -> dict:
    due, _ = overdue_of(incident)
    return {
        "case": case_label(incident.case_number),
        "category": incident.category.name,
        "address": incident.address or "",
        "holder": target_name(incident) or "",
        "due_at": due.isoformat() if due else None,
        **more,
    }


def _tell_holders(incident: Incident, kind: str, key: str, params: dict) -> None:
    """The holder: the organisation's people get their desk's page, a person the incident's page."""
    holders = holder_ids(incident)
    desk = [u for u in holders if organisation_of(db.session.get(User, u)) is not None]
    notify(desk, kind, key, params, _link("incident_desk.item", incident_id=incident.id))
    notify([u for u in holders if u not in desk], kind, key, params, _link("incidents.detail", incident_id=incident.id))


def _tell_staff(incident: Incident, kind: str, key: str, params: dict, exclude: int | None = None) -> list[int]:
    staff = [u for u in staff_ids(incident) if u != exclude]
    notify(staff, kind, key, params, _link("incidents.detail", incident_id=incident.id))
    return staff


def reported(incident: Incident, user) -> None:
    """A new incident: the area's subscribers (not the person who reported it)."""
    notify_area(
        NEW,
        grid_code(incident),
        f"incident:{incident.id}:new",
        _params(incident),
        _link("incidents.detail", incident_id=incident.id),
        exclude=[getattr(user, "id", None)],
    )


def step_taken(incident: Incident, step: Transition, user) -> None:
    """Tell whoever the step hands the incident to (see the module's table)."""
    key = f"incident:{incident.id}:step:{step.id}"
    moved = (step.from_state, step.to_state)
    params = _params(incident, reason=step.public_note or step.note or "")
    actor = getattr(user, "id", None)
    if step.to_state == "dispatched":
        _tell_holders(incident, DISPATCHED, key, params)
    elif moved == ("dispatched", "filed") and step.data.get("returned"):
        _tell_staff(incident, RETURNED, key, {**params, "holder": step.data.get("returned")}, exclude=actor)
    elif moved == ("in_progress", "responded"):
        _tell_staff(incident, RESPONDED, key, params, exclude=actor)
    elif moved == ("responded", "in_progress"):
        _tell_holders(incident, REWORK, key, params)
    elif step.to_state == "closed" and step.from_state != "closed":
        _tell_holders(incident, CLOSED, key, params)
    elif moved == ("closed", "responded"):
        told = _tell_staff(incident, UNSATISFIED, key, params, exclude=actor)
        notify_area(
            UNSATISFIED,
            grid_code(incident),
            key,
            params,
            _link("incidents.detail", incident_id=incident.id),
            exclude=told,
        )


def extension_asked(incident: Incident, request_id: int, holder: str, hours: float, reason: str, user) -> None:
    _tell_staff(
        incident,
        EXTENSION_ASKED,
        f"incident:{incident.id}:extension:{request_id}",
        _params(incident, holder=holder, hours=f"{hours:g}", reason=reason),
        exclude=user.id,
    )


def extension_decided(incident: Incident, request_id: int, granted: bool, note: str | None) -> None:
    _tell_holders(
        incident,
        EXTENSION_GRANTED if granted else EXTENSION_REFUSED,
        f"incident:{incident.id}:extension:{request_id}:decided",
        _params(incident, reason=note or ""),
    )


def deadline(incident: Incident, overdue: bool) -> None:
    """The stage's deadline is near or past: its holder (staff when nobody of the organisation works in
    Wuwei, and for the stages that are staff's own); overdue also the area's subscribers."""
    kind = OVERDUE if overdue else NEAR
    stage = f"{incident.state}:{incident.state_changed_at.timestamp():.0f}:{incident.extension_hours:g}"
    key, params = f"incident:{incident.id}:{kind}:{stage}", _params(incident)
    told = holder_ids(incident) if incident.state in HOLDER_STAGES else []
    if told:
        _tell_holders(incident, kind, key, params)
    else:
        told = _tell_staff(incident, kind, key, params)
    if overdue:
        notify_area(
            OVERDUE, grid_code(incident), key, params, _link("incidents.detail", incident_id=incident.id), exclude=told
        )
