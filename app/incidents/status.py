"""The resident's status page (``/status/<token>``): no login, an unguessable link handed out when the report
is made (the report form's confirmation, the Open311 answer, read out or sent by the hotline). It shows what
:func:`app.incidents.services.resident.public_view` chooses, and takes the resident's rating."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.core.errors import ApiError
from app.core.extensions import limiter
from app.incidents import services
from app.incidents.models import SATISFACTION
from app.incidents.workflow import SATISFACTION_LABELS, STATE_LABELS

bp = Blueprint("incident_status", __name__, url_prefix="/status")
# The road a report travels, as the resident reads it.
ROAD = ("reported", "filed", "dispatched", "in_progress", "responded", "closed", "evaluated")


def _incident(token: str):
    try:
        return services.by_token(token)
    except ApiError:
        abort(404)


@bp.get("/<token>")
@limiter.limit("60 per minute")
def page(token: str):
    """Stage, dates and public replies of one report; the rating form once it is closed."""
    view = services.public_view(_incident(token))
    reached = {s["state"] for s in view["steps"]}
    return (
        render_template(
            "incidents/status.html",
            v=view,
            token=token,
            road=ROAD,
            reached=reached,
            state_labels=STATE_LABELS,
            satisfaction=SATISFACTION,
            satisfaction_labels=SATISFACTION_LABELS,
        ),
        200,
        {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"},
    )


@bp.post("/<token>/rating")
@limiter.limit("10 per minute")
def rating(token: str):
    """The resident's rating: 满意 and 基本满意 end the case, 不满意 sends it back to verification."""
    _incident(token)
    choice = request.form.get("satisfaction", "")
    comment = (request.form.get("comment") or "").strip() or None
    try:
        services.rate(token, choice, comment)
        flash(_("谢谢您的评价！") if choice != "unsatisfied" else _("已收到您的意见，社区将重新核查处理结果。"), "ok")
    except ApiError as e:
        flash(_("未能提交评价：%(msg)s", msg=e.message), "error")
    return redirect(url_for("incident_status.page", token=token))
