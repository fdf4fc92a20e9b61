"""Consultation pages: councils, a council with its members and meetings, a meeting, the ledger (print/CSV)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth import policy
from app.consultations import services
from app.consultations.api import CONTACTS, READ, WRITE, ledger_args, meeting_values
from app.consultations.models import MEMBER_ROLES
from app.consultations.schemas import DecisionPatch, LedgerPageQuery, MeetingIn
from app.core.errors import ApiError
from app.web.api import parse_body
from app.web.tables import csv_response

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
    "决议",
    "责任人",
    "期限",
    "状态",
    "办结时间",
    "办结说明",
]


def _guard(permission: str = READ, message=None):
    if not policy.can(current_user, permission):
        raise ApiError(403, message or _("无权查看议事"))


@bp.errorhandler(ApiError)
def _page_error(e: ApiError):
    return render_template("error.html", status=e.status, message=e.message), e.status


@bp.get("/")
@login_required
def index():
    """Councils in the user's area."""
    _guard()
    return render_template(
        "consultations/index.html", councils=services.councils(policy.current_scope()), role_labels=ROLE_LABELS
    )


@bp.get("/councils/<int:council_id>")
@login_required
def council(council_id: int):
    _guard()
    c = services.get_council(council_id, policy.current_scope())
    return render_template(
        "consultations/council.html",
        c=c,
        meetings=services.meetings_of(c),
        role_labels=ROLE_LABELS,
        status_labels=STATUS_LABELS,
        personal=policy.can(current_user, CONTACTS),
        can_write=policy.can(current_user, WRITE),
        roles=MEMBER_ROLES,
    )


def _meeting_form(f) -> dict:
    """The council page's meeting form as a meeting body (incident numbers may be typed "#12，#15")."""
    incidents = [i.strip() for i in f.get("incident_ids", "").replace("#", "").replace("，", ",").split(",")]
    data = {
        "held_at": f.get("held_at"),
        "topic": f.get("topic"),
        "place": f.get("place"),
        "minutes": f.get("minutes"),
        "participant_ids": [int(i) for i in f.getlist("participant_ids")],
        "incident_ids": [int(i) for i in incidents if i],
    }
    if f.get("decision_text"):
        data["decisions"] = [
            {
                "text": f.get("decision_text"),
                "owner": f.get("decision_owner"),
                "due_on": f.get("decision_due_on") or None,
            }
        ]
    return data


@bp.post("/councils/<int:council_id>/meetings")
@login_required
def hold_meeting(council_id: int):
    """Record a meeting from the council page's form."""
    _guard(WRITE, _("无权记录议事"))
    try:
        data = _meeting_form(request.form)
    except ValueError:
        flash(_("事件编号须为数字"), "error")
        return redirect(url_for("consultations.council", council_id=council_id))
    try:
        body = parse_body(MeetingIn, data)
        m = services.hold_meeting(council_id, policy.current_scope(), current_user, **meeting_values(body))
    except ApiError as e:
        if e.status in (403, 404):
            raise
        flash(e.message, "error")
        return redirect(url_for("consultations.council", council_id=council_id))
    flash(_("议事记录已保存"), "ok")
    return redirect(url_for("consultations.meeting", meeting_id=m.id))


@bp.get("/meetings/<int:meeting_id>")
@login_required
def meeting(meeting_id: int):
    _guard()
    m = services.get_meeting(meeting_id, policy.current_scope())
    return render_template(
        "consultations/meeting.html",
        m=m,
        role_labels=ROLE_LABELS,
        status_labels=STATUS_LABELS,
        can_write=policy.can(current_user, WRITE),
    )


@bp.post("/decisions/<int:decision_id>")
@login_required
def update_decision(decision_id: int):
    _guard(WRITE, _("无权更新决议"))
    try:
        body = parse_body(DecisionPatch, {"status": request.form.get("status"), "note": request.form.get("note")})
        d = services.update_decision(decision_id, policy.current_scope(), body.status, body.note)
    except ApiError as e:
        if e.status in (403, 404):
            raise
        flash(e.message, "error")
        return redirect(request.referrer or url_for("consultations.index"))
    return redirect(url_for("consultations.meeting", meeting_id=d.meeting_id))


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
    return render_template("consultations/ledger.html", rows=rows, args=request.args, status_labels=STATUS_LABELS)
