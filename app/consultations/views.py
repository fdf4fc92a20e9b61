"""Consultation pages: councils (create one, add members), a council with its meeting form (incidents
picked by search or on the map, agenda items, several decisions), a meeting, the ledger (print/CSV)."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth import policy
from app.consultations import services
from app.consultations.api import CONTACTS, READ, WRITE, ledger_args, meeting_values
from app.consultations.models import MEMBER_ROLES
from app.consultations.schemas import (
    CouncilIn,
    CouncilMemberIn,
    DecisionIn,
    DecisionPatch,
    LedgerPageQuery,
    MeetingIn,
)
from app.core.errors import ApiError
from app.core.time import TZ, now
from app.incidents.workflow import STATE_LABELS
from app.web.api import parse_body
from app.web.pages import flashed_errors
from app.web.tables import csv_response
from gis.maps import base_map, render_parts

bp = Blueprint("consultations", __name__, url_prefix="/consultations")
ROLE_LABELS = {
    "resident_rep": "居民代表",
    "work_unit": "驻区单位",
    "property_company": "物业公司",
    "mediator": "调解员",
    "staff": "社区工作人员",
    "other": "其他",
}
STATUS_LABELS = {"open": "推进中", "done": "已办结", "dropped": "已撤销"}
LEDGER_HEADER = [
    "会议编号",
    "议事会",
    "社区",
    "时间",
    "地点",
    "议题",
    "参会人员",
    "关联事件",
    "议程",
    "决议",
    "责任人",
    "期限",
    "状态",
    "办结时间",
    "办结说明",
]
FORM_ROWS = 3  # agenda and decision rows a meeting form opens with (the page's script adds more)


def _guard(permission: str = READ, message=None):
    if not policy.can(current_user, permission):
        raise ApiError(403, message or _("无权查看议事"))


@bp.errorhandler(ApiError)
def _page_error(e: ApiError):
    return render_template("error.html", status=e.status, message=e.message), e.status


@bp.get("/")
@login_required
def index():
    """Councils in the user's area, and a form to create one."""
    _guard()
    scope = policy.current_scope()
    can_write = policy.can(current_user, WRITE)
    return render_template(
        "consultations/index.html",
        councils=services.councils(scope),
        communities=services.communities(scope) if can_write else [],
        role_labels=ROLE_LABELS,
        can_write=can_write,
    )


@bp.post("/councils")
@login_required
def create_council():
    """Create a council from the index page's form."""
    _guard(WRITE, _("无权设立议事会"))
    f = request.form
    with flashed_errors():
        body = parse_body(
            CouncilIn, {"name": f.get("name"), "community": f.get("community"), "description": f.get("description")}
        )
        c = services.create_council(policy.current_scope(), body.name, body.community, body.description, [])
        flash(_("议事会已设立，请添加成员"), "ok")
        return redirect(url_for("consultations.council", council_id=c.id))
    return redirect(url_for("consultations.index"))


def _picker_map(council) -> dict:
    """A small map to pick the agenda's incidents on (the page's script loads them by the visible bbox)."""
    m = base_map(
        url_for("static", filename=""),
        center=services.centre_of(council),
        zoom=15,
        basemap=current_app.config.get("WUWEI_BASEMAP", "osm"),
        tianditu_key=current_app.config.get("WUWEI_TIANDITU_KEY", ""),
        height="300px",
    )
    parts = render_parts(m)
    parts["name"] = m.get_name()
    return parts


@bp.get("/councils/<int:council_id>")
@login_required
def council(council_id: int):
    _guard()
    c = services.get_council(council_id, policy.current_scope())
    can_write = policy.can(current_user, WRITE)
    return render_template(
        "consultations/council.html",
        c=c,
        meetings=services.meetings_of(c),
        role_labels=ROLE_LABELS,
        status_labels=STATUS_LABELS,
        personal=policy.can(current_user, CONTACTS),
        can_write=can_write,
        roles=MEMBER_ROLES,
        map=_picker_map(c) if can_write else None,
        rows=range(FORM_ROWS),
    )


@bp.post("/councils/<int:council_id>/members")
@login_required
def add_member(council_id: int):
    """Add a member from the council page's form."""
    _guard(WRITE, _("无权添加成员"))
    f = request.form
    with flashed_errors():
        body = parse_body(CouncilMemberIn, {k: f.get(k) for k in ("name", "role", "organisation", "phone")})
        m = services.add_member(council_id, policy.current_scope(), body.model_dump())
        flash(_("已添加成员：%(name)s", name=m.name), "ok")
    return redirect(url_for("consultations.council", council_id=council_id))


def _ids(values: list[str], field: str) -> list[int]:
    try:
        return [int(v) for v in values if v.strip()]
    except ValueError:
        raise ApiError(422, _("请从列表中选择"), {field: "ids"}, said=True) from None


def _rows(f, prefix: str, names: tuple[str, ...]) -> list[dict]:
    """The form's repeated rows (``agenda_title``, ``agenda_note`` …) as dicts, blank rows left out."""
    columns = [f.getlist(f"{prefix}_{n}") for n in names]
    size = max(map(len, columns))
    rows = [dict(zip(names, (c[i] if i < len(c) else "" for c in columns))) for i in range(size)]
    return [{k: (v.strip() or None) for k, v in r.items()} for r in rows if any(v.strip() for v in r.values())]


def _owner_and_due(d: dict, where: str) -> None:
    """On the pages every decision names its owner and due date (the API leaves the date to the caller)."""
    missing = {f"{where}.{k}": "required" for k in ("owner", "due_on") if not d.get(k)}
    if missing:
        raise ApiError(422, _("每条决议都要写明责任人和期限"), missing, said=True)


def _meeting_form(f) -> dict:
    """The council page's meeting form as a meeting body: picked incidents, agenda rows, decision rows."""
    agenda = _rows(f, "agenda", ("title", "note", "incident_id"))
    decisions = _rows(f, "decision", ("text", "owner", "due_on", "agenda_no"))
    for a in agenda:
        a["incident_id"] = _ids([a["incident_id"] or ""], "agenda")[0] if a["incident_id"] else None
    for i, d in enumerate(decisions):
        d["agenda_no"] = _ids([d["agenda_no"] or ""], "decisions")[0] if d["agenda_no"] else None
        _owner_and_due(d, f"decisions.{i}")
    return {
        "held_at": f.get("held_at"),
        "topic": f.get("topic"),
        "place": f.get("place"),
        "minutes": f.get("minutes"),
        "participant_ids": _ids(f.getlist("participant_ids"), "participant_ids"),
        "incident_ids": _ids(f.getlist("incident_ids"), "incident_ids"),
        "agenda": agenda,
        "decisions": decisions,
    }


@bp.post("/councils/<int:council_id>/meetings")
@login_required
def hold_meeting(council_id: int):
    """Record a meeting from the council page's form."""
    _guard(WRITE, _("无权记录议事"))
    with flashed_errors():
        body = parse_body(MeetingIn, _meeting_form(request.form))
        m = services.hold_meeting(council_id, policy.current_scope(), current_user, **meeting_values(body))
        flash(_("议事记录已保存"), "ok")
        return redirect(url_for("consultations.meeting", meeting_id=m.id))
    return redirect(url_for("consultations.council", council_id=council_id))


@bp.get("/meetings/<int:meeting_id>")
@login_required
def meeting(meeting_id: int):
    _guard()
    m = services.get_meeting(meeting_id, policy.current_scope())
    return render_template(
        "consultations/meeting.html",
        m=m,
        state_labels=STATE_LABELS,
        role_labels=ROLE_LABELS,
        status_labels=STATUS_LABELS,
        can_write=policy.can(current_user, WRITE),
    )


@bp.post("/meetings/<int:meeting_id>/decisions")
@login_required
def add_decision(meeting_id: int):
    """Add a decision to a recorded meeting from its page."""
    _guard(WRITE, _("无权记录决议"))
    f = request.form
    with flashed_errors():
        row = _rows(f, "decision", ("text", "owner", "due_on", "agenda_no"))
        values = row[0] if row else {}
        _owner_and_due(values, "decision")
        if values.get("agenda_no"):
            values["agenda_no"] = _ids([values["agenda_no"]], "agenda_no")[0]
        body = parse_body(DecisionIn, values)
        services.add_decision(meeting_id, policy.current_scope(), body.values())
        flash(_("决议已添加"), "ok")
    return redirect(url_for("consultations.meeting", meeting_id=meeting_id))


@bp.post("/decisions/<int:decision_id>")
@login_required
def update_decision(decision_id: int):
    _guard(WRITE, _("无权更新决议"))
    scope = policy.current_scope()
    meeting_id = services.get_decision(decision_id, scope).meeting_id
    with flashed_errors():
        body = parse_body(DecisionPatch, {"status": request.form.get("status"), "note": request.form.get("note")})
        before = {i.id: i.state for i in services.get_meeting(meeting_id, scope).incidents}
        d = services.update_decision(decision_id, scope, body.status, body.note, current_user)
        moved = [i.id for i in d.meeting.incidents if before.get(i.id) != i.state]
        if moved:
            flash(_("决议已全部办结，关联事件已转入核查结案：%(ids)s", ids="、".join(f"#{i}" for i in moved)), "ok")
    return redirect(url_for("consultations.meeting", meeting_id=meeting_id))


def _ledger_cells(r: dict) -> list:
    return [
        r["meeting_id"],
        r["council"],
        r["community"],
        r["held_at"].strftime("%Y-%m-%d %H:%M"),
        r["place"],
        r["topic"],
        r["participants"],
        r["incidents"],
        r["agenda_item"],
        r["decision"],
        r["owner"],
        r["due_on"],
        STATUS_LABELS.get(r["status"], r["status"]),
        r["done_at"].strftime("%Y-%m-%d") if r["done_at"] else "",
        r["done_note"],
    ]


@bp.get("/ledger")
@login_required
def ledger():
    """协商台账: printable; ``?format=csv`` downloads it."""
    _guard()
    query = parse_body(LedgerPageQuery, {k: v for k, v in request.args.items() if v != ""})  # the form sends blanks
    rows = services.ledger(policy.current_scope(), **ledger_args(query))
    if query.format == "csv":
        return csv_response(LEDGER_HEADER, (_ledger_cells(r) for r in rows), "consultation-ledger.csv")
    return render_template(
        "consultations/ledger.html",
        rows=rows,
        args=request.args,
        status_labels=STATUS_LABELS,
        printed_at=now().astimezone(TZ).strftime("%Y-%m-%d %H:%M"),
    )
