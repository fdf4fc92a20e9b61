"""Consultation pages: councils, a council with its members and meetings, a meeting, the ledger (print/CSV)."""
import csv
import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth.access import current_scope
from app.consultations import services
from app.consultations.api import ledger_args
from app.consultations.models import MEMBER_ROLES
from app.core.errors import ApiError

bp = Blueprint("consultations", __name__, url_prefix="/consultations")
ROLE_LABELS = {"resident_rep": "居民代表", "work_unit": "驻区单位", "property_company": "物业公司",
               "mediator": "调解员", "staff": "社区工作人员", "other": "其他"}
STATUS_LABELS = {"open": "推进中", "done": "已办结", "dropped": "已撤销"}


def _guard():
    if current_user.role not in services.READ_ROLES:
        raise ApiError(403, _("无权查看议事"))


@bp.errorhandler(ApiError)
def _page_error(e: ApiError):
    return render_template("error.html", status=e.status, message=e.message), e.status


@bp.get("/")
@login_required
def index():
    """Councils in the user's area."""
    _guard()
    return render_template("consultations/index.html", councils=services.councils(current_scope()),
                           role_labels=ROLE_LABELS)


@bp.get("/councils/<int:council_id>")
@login_required
def council(council_id: int):
    _guard()
    c = services.get_council(council_id, current_scope())
    from app.consultations.api import _meetings
    return render_template("consultations/council.html", c=c, meetings=sorted(_meetings(c), key=lambda m: m.held_at),
                           role_labels=ROLE_LABELS, status_labels=STATUS_LABELS,
                           personal=current_user.role in ("admin", "staff"),
                           can_write=current_user.role in services.WRITE_ROLES, roles=MEMBER_ROLES)


@bp.post("/councils/<int:council_id>/meetings")
@login_required
def hold_meeting(council_id: int):
    """Record a meeting from the council page's form."""
    if current_user.role not in services.WRITE_ROLES:
        raise ApiError(403, _("无权记录议事"))
    f = request.form
    try:
        participants = [int(i) for i in f.getlist("participant_ids")]
        incidents = [int(i) for i in f.get("incident_ids", "").replace("#", "").replace("，", ",").split(",") if i.strip()]
    except ValueError:
        flash(_("事件编号须为数字"), "error")
        return redirect(url_for("consultations.council", council_id=council_id))
    decisions = []
    if f.get("decision_text"):
        decisions.append({"text": f.get("decision_text"), "owner": f.get("decision_owner"),
                          "due_on": f.get("decision_due_on") or None})
    try:
        m = services.hold_meeting(council_id, current_scope(), current_user, held_at=f.get("held_at"),
                                  topic=f.get("topic"), place=f.get("place"), minutes=f.get("minutes"),
                                  participant_ids=participants, incident_ids=incidents, decisions=decisions)
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
    m = services.get_meeting(meeting_id, current_scope())
    return render_template("consultations/meeting.html", m=m, role_labels=ROLE_LABELS, status_labels=STATUS_LABELS,
                           can_write=current_user.role in services.WRITE_ROLES)


@bp.post("/decisions/<int:decision_id>")
@login_required
def update_decision(decision_id: int):
    if current_user.role not in services.WRITE_ROLES:
        raise ApiError(403, _("无权更新决议"))
    try:
        d = services.update_decision(decision_id, current_scope(), request.form.get("status"), request.form.get("note"))
    except ApiError as e:
        if e.status in (403, 404):
            raise
        flash(e.message, "error")
        return redirect(request.referrer or url_for("consultations.index"))
    return redirect(url_for("consultations.meeting", meeting_id=d.meeting_id))


@bp.get("/ledger")
@login_required
def ledger():
    """协商台账: printable; ``?format=csv`` downloads it."""
    _guard()
    a = ledger_args()
    rows = services.ledger(current_scope(), **a)
    if request.args.get("format") == "csv":
        out = io.StringIO()
        out.write("\ufeff")
        w = csv.writer(out)
        w.writerow(["会议编号", "议事会", "社区", "时间", "地点", "议题", "参会人员", "关联事件", "决议", "责任人",
                    "期限", "状态", "办结时间", "办结说明"])
        for r in rows:
            w.writerow([r["meeting_id"], r["council"], r["community"], r["held_at"].strftime("%Y-%m-%d %H:%M"),
                        r["place"] or "", r["topic"], r["participants"], r["incidents"], r["decision"], r["owner"],
                        r["due_on"] or "", STATUS_LABELS.get(r["status"], r["status"]),
                        r["done_at"].strftime("%Y-%m-%d") if r["done_at"] else "", r["done_note"] or ""])
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=consultation-ledger.csv"})
    return render_template("consultations/ledger.html", rows=rows, args=request.args, status_labels=STATUS_LABELS)
