"""Pages for household files: staff list/detail/new/CSV, grid workers' phone pages
(households due, log a visit), and the counts overview for everyone else."""
import csv
import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.basemap.models import Building
from app.core.errors import ApiError
from app.core.extensions import db
from app.households import services as hs
from app.households.privacy import personal_clause, reads_personal

bp = Blueprint("households", __name__, url_prefix="/households")

PURPOSE_LABELS = {"greeting": "问候慰问", "needs_survey": "需求走访", "pension_certification": "养老金资格认证",
                  "care_visit": "关爱探访", "suggestion": "听取建议", "follow_up": "回访跟进", "other": "其他"}


def tag_name(tag) -> str:
    """A tag's name in the page's language."""
    from flask_babel import get_locale
    return tag.name_en if str(get_locale()) == "en" and tag.name_en else tag.name


def _purpose_labels() -> dict:
    return {k: _(v) for k, v in PURPOSE_LABELS.items()}


def _me():
    return current_user._get_current_object()


def _form_error(e: ApiError) -> None:
    detail = "; ".join(f"{k}: {v}" for k, v in e.fields.items())
    flash(f"{e.message}" + (f" ({detail})" if detail else ""), "error")


@bp.get("/")
@login_required
def index():
    """Files the user keeps; counts-only roles go to the overview."""
    if not reads_personal(current_user):
        return redirect(url_for("households.overview"))
    tag = request.args.get("tag") or None
    q = (request.args.get("q") or "")[:100] or None
    rows, total = hs.list_households(_me(), tag=tag, q=q, limit=500)
    return render_template("households/index.html", rows=rows, total=total, tags=hs.list_tags(), tag=tag, q=q)


@bp.get("/overview")
@login_required
def overview():
    """Counts per grid (suppressed below 5 where people could be singled out)."""
    return render_template("households/overview.html", stats=hs.household_stats(_me()),
                           due=hs.due_counts(_me()), personal=reads_personal(current_user))


@bp.get("/<int:household_id>")
@login_required
def detail(household_id: int):
    h = hs.get_household(_me(), household_id)
    visits, _n = hs.list_visits(_me(), household_id=h.id, limit=50)
    from app.households.models import CarePlan
    plan = db.session.scalar(select(CarePlan).where(CarePlan.household_id == h.id, CarePlan.active.is_(True)))
    from app.wishes.models import Wish
    wishes = list(db.session.scalars(select(Wish).where(Wish.household_id == h.id).order_by(Wish.posted_at.desc())))
    workers = list(h.grid.workers) if h.grid else []
    return render_template("households/detail.html", h=h, visits=visits, plan=plan, wishes=wishes,
                           purposes=_purpose_labels(), tags=hs.list_tags(), workers=workers)


def _buildings():
    return list(db.session.scalars(select(Building).where(personal_clause(_me(), Building.grid_id))
                                   .order_by(Building.name)))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """A new file: building, flat, head of household, tags and the first member."""
    hs.require_personal(_me())
    status = 200
    if request.method == "POST":
        f = request.form
        data = {"building_id": f.get("building_id") or None, "flat_no": f.get("flat_no", ""),
                "head_name": f.get("head_name", ""), "phone": f.get("phone") or None,
                "notes": f.get("notes") or None, "tags": f.getlist("tags")}
        if f.get("head_name"):
            member = {"name": f.get("head_name"), "relation": "户主"}
            if f.get("age"):
                member["age"] = f.get("age")
            data["members"] = [member]
        try:
            h = hs.create_household(_me(), data)
            flash(_("已建档"), "ok")
            return redirect(url_for("households.detail", household_id=h.id))
        except ApiError as e:
            _form_error(e)
            status = e.status
    return render_template("households/new.html", buildings=_buildings(), tags=hs.list_tags()), status


@bp.get("/due")
@login_required
def due():
    """Phone page: my households due for a visit (overdue first)."""
    hs.require_personal(_me())
    mine = request.args.get("all") != "1"
    rows = hs.due_plans(_me(), worker_id=current_user.id if mine else None, horizon_days=2)
    return render_template("households/due.html", rows=rows, mine=mine)


@bp.route("/<int:household_id>/visit", methods=["GET", "POST"])
@login_required
def visit(household_id: int):
    """Phone page: log a visit (the browser may add its position)."""
    h = hs.get_household(_me(), household_id)
    status = 200
    if request.method == "POST":
        f = request.form
        data = {"household_id": h.id, "purpose": f.get("purpose", ""), "notes": f.get("notes") or None,
                "follow_up": f.get("follow_up") or None, "visitor_names": f.get("visitor_names") or None}
        if f.get("visited_at"):
            data["visited_at"] = f["visited_at"] + ("" if len(f["visited_at"]) > 16 else ":00") + "+08:00"
        if f.get("lon") and f.get("lat"):
            data["lon"], data["lat"] = f["lon"], f["lat"]
        try:
            hs.log_visit(_me(), data)
            flash(_("走访已记录"), "ok")
            return redirect(url_for("households.due") if current_user.role == "grid_worker"
                            else url_for("households.detail", household_id=h.id))
        except ApiError as e:
            _form_error(e)
            status = e.status
    return render_template("households/visit.html", h=h, purposes=_purpose_labels()), status


@bp.post("/<int:household_id>/members")
@login_required
def add_member(household_id: int):
    """Detail-page form: a new member."""
    f = request.form
    data = {"name": f.get("name", ""), "relation": f.get("relation") or None, "phone": f.get("phone") or None,
            "tags": f.getlist("tags")}
    if f.get("age"):
        data["age"] = f["age"]
    try:
        hs.add_member(_me(), household_id, data)
        flash(_("已保存"), "ok")
    except ApiError as e:
        if e.status in (403, 404):
            raise
        _form_error(e)
    return redirect(url_for("households.detail", household_id=household_id), 303)


@bp.post("/<int:household_id>/plan")
@login_required
def set_plan(household_id: int):
    """Detail-page form: a care plan (visit frequency and worker)."""
    f = request.form
    try:
        hs.create_care_plan(_me(), {"household_id": household_id, "frequency_days": f.get("frequency_days", ""),
                                    "worker_id": f.get("worker_id") or None, "note": f.get("note") or None})
        flash(_("已保存"), "ok")
    except ApiError as e:
        if e.status in (403, 404):
            raise
        _form_error(e)
    return redirect(url_for("households.detail", household_id=household_id), 303)


def households_csv_response(user) -> Response:
    """CSV export of the files the user keeps (one row per member; audited as an export)."""
    rows, _n = hs.list_households(user, limit=100000, action="export")
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 CSV with Chinese text only with a BOM
    w = csv.writer(out)
    w.writerow(["household_id", "grid_code", "building", "flat_no", "head_name", "phone", "household_tags",
                "member", "relation", "age", "member_phone", "party_member", "member_tags", "notes"])
    for h in rows:
        base = [h.id, h.grid.code if h.grid else "", h.building.name if h.building else "", h.flat_no,
                h.head_name, h.phone or "", " ".join(t.code for t in h.tags)]
        for m in h.members or [None]:
            if m is None:
                w.writerow(base + ["", "", "", "", "", "", h.notes or ""])
            else:
                w.writerow(base + [m.name, m.relation or "", m.age if m.age is not None else "", m.phone or "",
                                   int(m.party_member), " ".join(t.code for t in m.tags), h.notes or ""])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=households.csv"})


@bp.get("/export.csv")
@login_required
def export_csv():
    hs.require_personal(_me())
    return households_csv_response(_me())


