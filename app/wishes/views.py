"""Pages: the staff wish board, posting a wish (phone), and the public wish wall."""

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core.extensions import limiter
from app.core.images import content_type_of
from app.households.common import require_personal
from app.households.files import household_choices
from app.volunteers.teams import list_teams, list_volunteers
from app.web.api import parse_body
from app.web.pages import flashed_errors, form_page
from app.wishes import services as ws
from app.wishes.models import WISH_STATUSES
from app.wishes.schemas import ClaimIn, FulfilIn, WishIn, WithdrawIn

bp = Blueprint("wishes", __name__, url_prefix="/wishes")

CATEGORY_LABELS = {
    "daily_needs": "生活所需",
    "health": "医疗健康",
    "repair": "维修",
    "companionship": "陪伴",
    "paperwork": "代办事项",
    "study": "学习",
    "employment": "就业",
    "other": "其他",
}
STATUS_LABELS = {"posted": "待认领", "claimed": "已认领", "fulfilled": "已实现", "withdrawn": "已撤回"}


def _labels():
    return ({k: _(v) for k, v in CATEGORY_LABELS.items()}, {k: _(v) for k, v in STATUS_LABELS.items()})


def _me():
    return current_user._get_current_object()


@bp.get("/wall")
@limiter.limit("60 per minute")
def wall():
    """The public wish wall (心愿墙): titles and progress, nobody's name."""
    code = request.args.get("community")
    if code is not None and not (code.isdigit() and len(code) == 12):
        code = None
    cats, stats = _labels()
    return render_template("wishes/wall.html", wishes=ws.wall(code), cats=cats, stats=stats)


@bp.get("/")
@login_required
def board():
    """Staff board: wishes by status, with claim / fulfil / withdraw actions."""
    require_personal(_me())
    wishes = ws.list_wishes(_me())
    cols = {s: [w for w in wishes if w.status == s] for s in WISH_STATUSES}
    cats, stats = _labels()
    return render_template(
        "wishes/board.html",
        cols=cols,
        cats=cats,
        stats=stats,
        teams=list_teams(_me()),
        volunteers=list_volunteers(_me()),
    )


def _claimer(f) -> dict:
    """The board's "who claims" choice (``team:ID`` or ``volunteer:ID``: a team or one person) as a claim."""
    kind, _sep, value = (f.get("claimer") or "").partition(":")
    if kind in ("team", "volunteer") and value:
        return {f"{kind}_id": value}
    return {"team_id": f.get("team_id") or None, "volunteer_id": f.get("volunteer_id") or None}


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Post a wish for a household (phone-friendly)."""
    require_personal(_me())
    return form_page(
        _post_wish,
        lambda: render_template(
            "wishes/new.html",
            households=household_choices(_me()),
            cats=_labels()[0],
            chosen=request.values.get("household_id", type=int),
        ),
    )


def _post_wish():
    f = request.form
    ws.post_wish(
        _me(),
        parse_body(
            WishIn,
            {
                "household_id": f.get("household_id") or None,
                "title": f.get("title", ""),
                "category": f.get("category", ""),
                "details": f.get("details") or None,
            },
        ),
    )
    flash(_("微心愿已登记"), "ok")
    return redirect(url_for("wishes.board"))


@bp.post("/<int:wish_id>/<action>")
@login_required
def act(wish_id: int, action: str):
    """Board actions (form posts)."""
    f = request.form
    with flashed_errors():
        if action == "claim":
            ws.claim_wish(_me(), wish_id, parse_body(ClaimIn, _claimer(f)))
        elif action == "fulfil":
            ws.fulfil_wish(
                _me(), wish_id, parse_body(FulfilIn, {"note": f.get("note", "")}), request.files.get("photo")
            )
        elif action == "withdraw":
            ws.withdraw_wish(_me(), wish_id, parse_body(WithdrawIn, {"reason": f.get("reason", "")}))
        elif action == "release":
            ws.release_wish(_me(), wish_id)
        else:
            abort(404)
    return redirect(url_for("wishes.board"), 303)


@bp.get("/<int:wish_id>/photo")
@login_required
def photo(wish_id: int):
    """The fulfilment photo, for those who may read the wish."""
    path = ws.photo_path(ws.get_wish(_me(), wish_id))
    if path is None:
        abort(404)
    return send_file(path, mimetype=content_type_of(path), max_age=0)
