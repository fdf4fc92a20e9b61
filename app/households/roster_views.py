"""Roster pages (网格员名册): this month's yearly obligations on the phone with a "done" button, the
year's list, and the form that adds an obligation to a household file."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core.errors import ApiError
from app.core.time import today
from app.households import rosters
from app.households.common import require_personal
from app.households.models import OBLIGATION_KINDS
from app.households.roster_api import DoneIn, ObligationIn
from app.web.api import parse_body
from app.web.pages import flashed_errors, form_page

bp = Blueprint("rosters", __name__, url_prefix="/households/roster")
STATE_LABELS = {"done": "已办", "overdue": "逾期未办", "due": "本月应办", "upcoming": "未到期"}


def _me():
    return current_user._get_current_object()


@bp.errorhandler(ApiError)
def _page_error(e: ApiError):
    return render_template("error.html", status=e.status, message=e.message), e.status


@bp.get("/")
@login_required
def index():
    """This month's obligations (overdue first) and the year's roster."""
    require_personal(_me())
    kind = request.args.get("kind") if request.args.get("kind") in OBLIGATION_KINDS else None
    return render_template(
        "households/roster.html",
        due=rosters.due_now(_me()),
        rows=rosters.roster(_me(), kind=kind),
        kinds=rosters.KIND_LABELS,
        kind=kind,
        states={k: _(v) for k, v in STATE_LABELS.items()},
        month=today().month,
        year=today().year,
    )


@bp.post("/<int:obligation_id>/done")
@login_required
def done(obligation_id: int):
    """Mark an obligation done for this year (from the phone)."""
    with flashed_errors():
        body = parse_body(DoneIn, {"note": request.form.get("note") or None})
        rosters.mark_done(_me(), obligation_id, body.note)
        flash(_("已标记为办结"), "ok")
    return redirect(request.form.get("next") or url_for("rosters.index"), 303)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Add a yearly obligation to a household file."""
    require_personal(_me())
    household_id = request.values.get("household_id", type=int)
    if household_id is None:
        raise ApiError(404, _("请从住户档案页添加年度事项"), said=True)
    members = rosters.members_of(_me(), household_id)

    def write():
        f = request.form
        body = parse_body(
            ObligationIn,
            {
                "kind": f.get("kind"),
                "due_month": f.get("due_month"),
                "member_id": f.get("member_id") or None,
                "at_home": f.get("at_home") == "1",
                "note": f.get("note") or None,
            },
        )
        rosters.add_obligation(_me(), household_id, body.model_dump())
        flash(_("年度事项已添加"), "ok")
        return redirect(url_for("households.detail", household_id=household_id), 303)

    return form_page(
        write,
        lambda: render_template(
            "households/roster_new.html",
            members=members,
            kinds=rosters.KIND_LABELS,
            household_id=household_id,
            form=request.form,
        ),
    )
