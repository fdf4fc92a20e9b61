"""Pages for household files: staff list/detail/new/CSV, grid workers' phone pages
(households due, log a visit), and the counts overview for everyone else."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.auth import policy
from app.basemap.models import Building
from app.core.extensions import db
from app.households import care, export, files, rosters, stats, tags, visits
from app.households.common import require_personal
from app.households.schemas import CarePlanIn, HouseholdIn, MemberIn, VisitIn
from app.households.sections import sections_for
from app.web.api import parse_body
from app.web.pages import flashed_errors, form_page

bp = Blueprint("households", __name__, url_prefix="/households")

PURPOSE_LABELS = {
    "greeting": "问候慰问",
    "needs_survey": "需求走访",
    "pension_certification": "养老金资格认证",
    "care_visit": "关爱探访",
    "suggestion": "听取建议",
    "follow_up": "回访跟进",
    "other": "其他",
}


def tag_name(tag) -> str:
    """A tag's name in the page's language."""
    return tag.name_en if str(get_locale()) == "en" and tag.name_en else tag.name


def _purpose_labels() -> dict:
    return {k: _(v) for k, v in PURPOSE_LABELS.items()}


def _me():
    return current_user._get_current_object()


@bp.get("/")
@login_required
def index():
    """Files the user keeps; counts-only roles go to the overview."""
    if not policy.reads_personal(current_user):
        return redirect(url_for("households.overview"))
    tag = request.args.get("tag") or None
    q = (request.args.get("q") or "")[:100] or None
    rows, total = files.list_households(_me(), tag=tag, q=q, limit=500)
    return render_template("households/index.html", rows=rows, total=total, tags=tags.list_tags(), tag=tag, q=q)


@bp.get("/overview")
@login_required
def overview():
    """Counts per grid (suppressed below 5 where people could be singled out)."""
    return render_template(
        "households/overview.html",
        stats=stats.household_stats(_me()),
        due=care.due_counts(_me()),
        personal=policy.reads_personal(current_user),
    )


@bp.get("/<int:household_id>")
@login_required
def detail(household_id: int):
    """One file: members, care plan, visits, and the sections other features add (wishes …)."""
    h = files.get_household(_me(), household_id)
    rows, _n = visits.list_visits(_me(), household_id=h.id, limit=50)
    workers = list(h.grid.workers) if h.grid else []
    return render_template(
        "households/detail.html",
        h=h,
        visits=rows,
        plan=files.active_plan(h),
        sections=sections_for(_me(), h),
        purposes=_purpose_labels(),
        tags=tags.list_tags(),
        workers=workers,
        place=files.household_place(h),
    )


def _buildings():
    return list(
        db.session.scalars(
            select(Building).where(policy.personal_clause(_me(), Building.grid_id)).order_by(Building.name)
        )
    )


def _new_household(form) -> dict:
    data = {
        "building_id": form.get("building_id") or None,
        "flat_no": form.get("flat_no", ""),
        "head_name": form.get("head_name", ""),
        "phone": form.get("phone") or None,
        "notes": form.get("notes") or None,
        "tags": form.getlist("tags"),
    }
    if form.get("head_name"):
        member = {"name": form.get("head_name"), "relation": "户主"}
        if form.get("age"):
            member["age"] = form.get("age")
        data["members"] = [member]
    return data


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """A new file: building, flat, head of household, tags and the first member."""
    require_personal(_me())
    return form_page(
        _create_household, lambda: render_template("households/new.html", buildings=_buildings(), tags=tags.list_tags())
    )


def _create_household():
    h = files.create_household(_me(), parse_body(HouseholdIn, _new_household(request.form)))
    flash(_("已建档"), "ok")
    return redirect(url_for("households.detail", household_id=h.id))


@bp.get("/due")
@login_required
def due():
    """Phone page: my households due for a visit (overdue first)."""
    require_personal(_me())
    mine = request.args.get("all") != "1"
    rows = care.due_plans(_me(), worker_id=current_user.id if mine else None, horizon_days=2)
    return render_template(
        "households/due.html",
        rows=rows,
        mine=mine,
        may_call=policy.reads_personal(_me()),
        roster=rosters.due_now(_me()),
    )


def _visit_form(household_id: int, form) -> dict:
    data = {
        "household_id": household_id,
        "purpose": form.get("purpose", ""),
        "notes": form.get("notes") or None,
        "follow_up": form.get("follow_up") or None,
        "visitor_names": form.get("visitor_names") or None,
    }
    if form.get("visited_at"):
        data["visited_at"] = form["visited_at"] + ("" if len(form["visited_at"]) > 16 else ":00") + "+08:00"
    if form.get("lon") and form.get("lat"):
        data["lon"], data["lat"] = form["lon"], form["lat"]
    return data


@bp.route("/<int:household_id>/visit", methods=["GET", "POST"])
@login_required
def visit(household_id: int):
    """Phone page: log a visit (the browser may add its position)."""
    h = files.get_household(_me(), household_id)

    def write():
        visits.log_visit(_me(), parse_body(VisitIn, _visit_form(h.id, request.form)))
        flash(_("走访已记录"), "ok")
        return redirect(
            url_for("households.due")
            if policy.can(current_user, "visits.round")
            else url_for("households.detail", household_id=h.id)
        )

    return form_page(write, lambda: render_template("households/visit.html", h=h, purposes=_purpose_labels()))


@bp.post("/<int:household_id>/members")
@login_required
def add_member(household_id: int):
    """Detail-page form: a new member."""
    f = request.form
    data = {
        "name": f.get("name", ""),
        "relation": f.get("relation") or None,
        "phone": f.get("phone") or None,
        "tags": f.getlist("tags"),
    }
    if f.get("age"):
        data["age"] = f["age"]
    with flashed_errors():
        files.add_member(_me(), household_id, parse_body(MemberIn, data))
        flash(_("已保存"), "ok")
    return redirect(url_for("households.detail", household_id=household_id), 303)


@bp.post("/<int:household_id>/plan")
@login_required
def set_plan(household_id: int):
    """Detail-page form: a care plan (visit frequency and worker)."""
    f = request.form
    data = {
        "household_id": household_id,
        "frequency_days": f.get("frequency_days", ""),
        "worker_id": f.get("worker_id") or None,
        "note": f.get("note") or None,
    }
    with flashed_errors():
        care.create_care_plan(_me(), parse_body(CarePlanIn, data))
        flash(_("已保存"), "ok")
    return redirect(url_for("households.detail", household_id=household_id), 303)


@bp.get("/export.csv")
@login_required
def export_csv():
    """CSV of the files the user keeps (audited as an export)."""
    require_personal(_me())
    return export.households_csv(_me())
