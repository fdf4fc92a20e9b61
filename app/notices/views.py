"""Notice pages: the inbox (``/notices/``), opening a notice (marks it read, goes to its page), the settings
with the area subscriptions (``/notices/settings``)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth import policy
from app.core.errors import ApiError
from app.notices import services, settings
from app.notices.kinds import KINDS, area_kinds
from app.notices.render import kind_label, notice_text

bp = Blueprint("notices", __name__, url_prefix="/notices")
PAGE = 50


def _allowed():
    if not policy.can(current_user, "notices.read"):
        abort(403)


@bp.get("/")
@login_required
def index():
    """The inbox, newest first; unread ones stand out."""
    _allowed()
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    rows = services.inbox(current_user.id, PAGE + 1, (page - 1) * PAGE)
    items = [
        {
            "id": n.id,
            "kind": kind_label(n.kind),
            "text": notice_text(n.kind, n.params),
            "link": n.link,
            "at": n.created_at,
            "read": n.read_at is not None,
        }
        for n in rows[:PAGE]
    ]
    return render_template(
        "notices/index.html",
        items=items,
        page=page,
        more=len(rows) > PAGE,
        unread=services.unread_count(current_user.id),
    )


@bp.get("/<int:notice_id>")
@login_required
def open_notice(notice_id: int):
    """Mark the notice read and go to what it tells of."""
    notice = services.get_notice(current_user.id, notice_id)
    if notice is None:
        abort(404)
    services.mark_read(current_user.id, [notice.id])
    return redirect(notice.link or url_for("notices.index"))


@bp.post("/read")
@login_required
def read_all():
    """Mark every notice read."""
    services.mark_read(current_user.id)
    return redirect(url_for("notices.index"))


def _kind_form(form) -> dict:
    return {k.name: {"inbox": f"inbox:{k.name}" in form, "email": f"email:{k.name}" in form} for k in KINDS}


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings_page():
    """E-mail address, language of e-mails, each kind on or off; area subscriptions."""
    _allowed()
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        if email and ("@" not in email or len(email) > 254 or any(c.isspace() for c in email)):
            flash(_("邮箱地址格式不正确"), "error")
        else:
            language = request.form.get("language") if request.form.get("language") in settings.LANGUAGES else None
            settings.save_settings(current_user, email=email, language=language, kinds=_kind_form(request.form))
            flash(_("通知设置已保存"), "ok")
        return redirect(url_for("notices.settings_page"))
    return render_template(
        "notices/settings.html",
        s=settings.settings_dict(current_user),
        subscriptions=settings.subscriptions(current_user.id),
        areas=settings.subscribable_areas(current_user) if policy.can(current_user, "notices.subscribe") else [],
        area_kinds=area_kinds(),
        kind_labels={k.name: k.label for k in KINDS},
    )


@bp.post("/subscriptions")
@login_required
def subscribe():
    """Subscribe to an area from the settings page."""
    if not policy.can(current_user, "notices.subscribe"):
        abort(403)
    try:
        settings.subscribe(current_user, request.form.get("area", ""), request.form.getlist("kinds"))
        flash(_("已订阅"), "ok")
    except ApiError:
        flash(_("请选择您辖区内的区域和至少一种通知"), "error")
    return redirect(url_for("notices.settings_page"))


@bp.post("/subscriptions/<int:subscription_id>/delete")
@login_required
def unsubscribe(subscription_id: int):
    """End a subscription from the settings page."""
    try:
        settings.unsubscribe(current_user, subscription_id)
        flash(_("已取消订阅"), "ok")
    except ApiError:
        abort(404)
    return redirect(url_for("notices.settings_page"))
