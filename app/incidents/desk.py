"""The desk (处置台) of a department or a property company, for phones: the incidents dispatched to it with
their deadlines; accept, return with a reason, ask for more time, report done with photos."""

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth import policy
from app.core.errors import ApiError
from app.incidents import services
from app.incidents.services.desk import VIEWS, desk_counts, desk_item, desk_rows
from app.incidents.services.organisations import DESK
from app.incidents.workflow import SATISFACTION_LABELS, STATE_COLORS, STATE_LABELS

bp = Blueprint("incident_desk", __name__, url_prefix="/incidents/desk")
MAX_PHOTOS = 6
EXTENSION_HOURS = (4, 8, 24, 48, 72, 168)


def _desk_user():
    if not policy.can(current_user, DESK):
        abort(403)
    return current_user._get_current_object()


def _item_or_404(incident_id: int):
    try:
        return services.load_for_desk(incident_id, _desk_user())
    except ApiError:
        abort(404)


@bp.get("/")
@login_required
def index():
    """The desk: to accept and in hand (overdue first), waiting for verification, done in the last 30 days."""
    user = _desk_user()
    view = request.args.get("view", "open")
    if view not in VIEWS:
        view = "open"
    org = services.organisation_of(user)
    return render_template(
        "incidents/desk.html",
        org=org,
        view=view,
        rows=desk_rows(user, view),
        counts=desk_counts(user),
        state_labels=STATE_LABELS,
        colors=STATE_COLORS,
    )


@bp.get("/<int:incident_id>")
@login_required
def item(incident_id: int):
    """One incident of the desk and what its holder may do now."""
    incident = _item_or_404(incident_id)
    user = current_user._get_current_object()
    return render_template(
        "incidents/desk_item.html",
        d=desk_item(incident),
        org=services.organisation_of(user),
        can_accept=services.may_take(incident, "in_progress", user),
        can_return=services.may_take(incident, "filed", user),
        can_respond=services.may_take(incident, "responded", user),
        can_extend=incident.state in ("dispatched", "in_progress") and services.pending(incident.id) is None,
        pending=services.pending(incident.id),
        extension_hours=EXTENSION_HOURS,
        state_labels=STATE_LABELS,
        colors=STATE_COLORS,
        satisfaction_labels=SATISFACTION_LABELS,
    )


def _step(incident_id: int, to: str, note: str | None, done_message: str, photo_ids=None):
    try:
        services.transition(incident_id, to, current_user, policy.current_scope(), note=note, photo_ids=photo_ids)
        flash(done_message, "ok")
    except ApiError as e:
        flash(e.message, "error")
    return redirect(url_for("incident_desk.item", incident_id=incident_id))


@bp.post("/<int:incident_id>/accept")
@login_required
def accept(incident_id: int):
    """接单: the organisation takes the incident on."""
    _item_or_404(incident_id)
    return _step(incident_id, "in_progress", request.form.get("note") or None, _("已接单"))


@bp.post("/<int:incident_id>/return")
@login_required
def give_back(incident_id: int):
    """退回: not ours, or not possible, and why."""
    _item_or_404(incident_id)
    reason = (request.form.get("note") or "").strip()
    if not reason:
        flash(_("请填写退回原因"), "error")
        return redirect(url_for("incident_desk.item", incident_id=incident_id))
    _step(incident_id, "filed", reason, _("已退回社区"))
    return redirect(url_for("incident_desk.index"))


@bp.post("/<int:incident_id>/extension")
@login_required
def extension(incident_id: int):
    """申请延期: hours and a reason."""
    _item_or_404(incident_id)
    hours = request.form.get("hours", type=float)
    reason = (request.form.get("reason") or "").strip()
    if not hours or hours <= 0 or hours > 24 * 30 or not reason:
        flash(_("请选择延期时长并填写原因"), "error")
    else:
        try:
            services.request_extension(incident_id, hours, reason, current_user, policy.current_scope())
            flash(_("延期申请已提交，等待社区审核"), "ok")
        except ApiError as e:
            flash(e.message, "error")
    return redirect(url_for("incident_desk.item", incident_id=incident_id))


@bp.post("/<int:incident_id>/done")
@login_required
def done(incident_id: int):
    """办结反馈: what was done, with photos (stored first, then attached to the step)."""
    _item_or_404(incident_id)
    note = (request.form.get("note") or "").strip()
    if not note:
        flash(_("请填写处置情况"), "error")
        return redirect(url_for("incident_desk.item", incident_id=incident_id))
    uploads = [f for f in request.files.getlist("photos") if f and f.filename][:MAX_PHOTOS]
    photo_ids = []
    try:
        for upload in uploads:
            photo_ids.append(services.add_photo(incident_id, upload.read(), current_user, None).id)
    except ApiError as e:
        flash(_("照片未保存：%(msg)s", msg=e.message), "error")
        return redirect(url_for("incident_desk.item", incident_id=incident_id))
    return _step(incident_id, "responded", note, _("已提交办结，等待社区核查"), photo_ids=photo_ids)


@bp.get("/<int:incident_id>/photos/<int:photo_id>")
@login_required
def photo(incident_id: int, photo_id: int):
    """A photo of an incident of the desk (``?size=thumb``: its thumbnail)."""
    _item_or_404(incident_id)
    try:
        path, ctype = services.photo_file(incident_id, photo_id, None, request.args.get("size") == "thumb")
    except ApiError:
        abort(404)
    resp = send_file(path, mimetype=ctype, max_age=3600)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
