"""Incident pages: the report form (phone-friendly, map to place the point), the list with filters and
CSV export, and the detail page with timeline, photos, map and the next workflow steps."""
import csv
import io

from flask import (Blueprint, Response, current_app, flash, redirect, render_template, request, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth.access import current_scope
from app.core.errors import ApiError
from app.incidents import photos, services
from app.incidents.api import REPORT_ROLES, parse_filters
from app.incidents.models import SOURCES, STATES
from app.incidents.workflow import SOURCE_LABELS, STATE_COLORS, STATE_LABELS, next_states
from gis.maps import add_layers, base_map, render_parts

bp = Blueprint("incidents", __name__, url_prefix="/incidents")
PAGE = 50
CSV_MAX = 100_000


def _map(center, zoom, focus_id: int | None = None, height="360px"):
    """A small folium map with the incidents overlay (all states), optionally opened on one incident."""
    from app.web.maps import overlay_config
    from app.core.registry import OVERLAYS
    m = base_map(url_for("static", filename=""), center=center, zoom=zoom,
                 basemap=current_app.config.get("WUWEI_BASEMAP", "osm"),
                 tianditu_key=current_app.config.get("WUWEI_TIANDITU_KEY", ""), height=height)
    layer = overlay_config(OVERLAYS["incidents"])
    layer.update(url=url_for("incidents_api.incidents"), title=_("事件"), visible=True, colors=STATE_COLORS)
    focus = {"layer": "incidents", "id": focus_id,
             "url": url_for("incidents_api.item", incident_id=focus_id)} if focus_id else None
    add_layers(m, [layer], focus=focus, texts={"layers": _("图层"), "loading": _("加载中…"), "empty": _("无数据"),
                                                "error": _("加载失败")})
    parts = render_parts(m)
    parts["name"] = m.get_name()
    return parts


def _user_center():
    from sqlalchemy import func, select
    from app.areas.models import Area
    from app.core.extensions import db
    if current_user.area_id:
        row = db.session.execute(select(func.ST_Y(func.ST_Centroid(Area.geom)), func.ST_X(func.ST_Centroid(Area.geom)))
                                 .where(Area.id == current_user.area_id)).one()
        return (row[0], row[1]), 16 if current_user.area.level in ("community", "grid", "micro_grid") else 13
    return (36.06, 103.84), 12


@bp.get("/")
@login_required
def index():
    """The list with filters (state, category, grid, source, overdue, dates); ``?format=csv`` exports."""
    args = request.args.to_dict()
    page = args.pop("page", "1")
    fmt = args.get("format")
    try:
        page = max(1, int(page))
        f = parse_filters({k: v for k, v in args.items() if v != ""})
    except (ValueError, ApiError) as e:
        flash(getattr(e, "message", str(e)), "error")
        return redirect(url_for("incidents.index"))
    scope = current_scope()
    if fmt == "csv":
        return _csv(services.list_rows(scope, f, CSV_MAX, 0, f["sort"]))
    rows = services.list_rows(scope, f, PAGE, (page - 1) * PAGE, f["sort"])
    matched, more = services.count_incidents(scope, f)
    return render_template("incidents/list.html", rows=rows, matched=matched, more=more, page=page, per_page=PAGE,
                           args=args, states=STATES, sources=SOURCES, state_labels=STATE_LABELS,
                           source_labels=SOURCE_LABELS, colors=STATE_COLORS, categories=services.categories(),
                           counts=services.state_counts(scope))


def _csv(rows) -> Response:
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 CSV correctly with a BOM
    cols = ["id", "state", "category", "category_name", "source", "description", "address", "reported_at",
            "state_changed_at", "closed_at", "due_at", "overdue", "grid_code", "grid_name", "lon", "lat"]
    w = csv.writer(out)
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r[c] is None else r[c] for c in cols])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=incidents.csv"})


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Report an incident: place the point on the map (or use the phone's position), pick a category."""
    if current_user.role not in REPORT_ROLES:
        return render_template("error.html", status=403, message=_("无权上报事件")), 403
    form = request.form.to_dict()
    errors = {}
    if request.method == "POST":
        try:
            if form.get("attach_to"):
                incident = services.attach_report(int(form["attach_to"]), form.get("description"), current_user,
                                                  current_scope())
                flash(_("已并入事件 #%(id)s", id=incident.id), "ok")
                return redirect(url_for("incidents.detail", incident_id=incident.id))
            default_source = {"grid_worker": "grid_worker", "patrol": "patrol"}.get(current_user.role, "web")
            incident = services.report_incident(
                category_code=form.get("category"), description=form.get("description"),
                lon=_float(form.get("lon")), lat=_float(form.get("lat")), address=form.get("address") or None,
                source=form.get("source") or default_source, reporter_name=form.get("reporter_name") or None,
                reporter_phone=form.get("reporter_phone") or None, user=current_user, scope=current_scope())
            upload = request.files.get("photo")
            if upload and upload.filename:
                try:
                    photos.add_photo(incident.id, upload.read(), current_user, current_scope())
                except ApiError as e:
                    flash(_("事件已上报，但照片未保存：%(msg)s", msg=e.message), "error")
            flash(_("事件 #%(id)s 已上报", id=incident.id), "ok")
            return redirect(url_for("incidents.detail", incident_id=incident.id))
        except (ApiError, ValueError) as e:
            errors = getattr(e, "fields", {}) or {"form": str(e)}
            flash(getattr(e, "message", str(e)), "error")
    center, zoom = _user_center()
    return render_template("incidents/new.html", form=form, errors=errors, categories=services.categories(),
                           sources=SOURCES, source_labels=SOURCE_LABELS, map=_map(center, zoom),
                           personal=current_user.role in services.PERSONAL_ROLES), 422 if errors else 200


def _float(v):
    if v in (None, ""):
        return None
    try:
        return float(v)
    except ValueError:
        return v


@bp.get("/<int:incident_id>")
@login_required
def detail(incident_id: int):
    """One incident: facts, map, timeline with photos, next steps for the user's role."""
    try:
        incident = services.get_incident(incident_id, current_scope())
    except ApiError as e:
        return render_template("error.html", status=e.status, message=e.message), e.status
    data = services.incident_dict(incident, current_user)
    lon, lat = data["geometry"]["coordinates"]
    from app.auth.models import User
    from app.basemap.models import PropertyCompany
    from app.core.extensions import db
    from sqlalchemy import select
    workers = list(db.session.scalars(select(User).where(User.role.in_(("grid_worker", "patrol", "staff")),
                                                         User.active.is_(True)).order_by(User.username)))
    companies = list(db.session.scalars(select(PropertyCompany).order_by(PropertyCompany.name)))
    from app.consultations.services import meetings_for_incident
    return render_template("incidents/detail.html", incident=incident, d=data["properties"],
                           map=_map((lat, lon), 17, focus_id=incident.id), next_states=next_states(incident.state, current_user.role),
                           state_labels=STATE_LABELS, source_labels=SOURCE_LABELS, colors=STATE_COLORS,
                           departments=services.departments(), workers=workers, companies=companies,
                           meetings=meetings_for_incident(incident))


@bp.post("/<int:incident_id>/transition")
@login_required
def do_transition(incident_id: int):
    """Apply a workflow step from the detail page's form."""
    form = request.form.to_dict()
    to = form.pop("to", "")
    note = form.pop("note", None)
    form.pop("csrf_token", None)
    data = {k: v for k, v in form.items() if v != ""}
    try:
        services.transition(incident_id, to, current_user, current_scope(), note=note, data=data)
        upload = request.files.get("photo")
        if upload and upload.filename:
            from app.incidents.models import Transition
            from app.core.extensions import db
            from sqlalchemy import select
            last = db.session.scalar(select(Transition.id).where(Transition.incident_id == incident_id)
                                     .order_by(Transition.id.desc()).limit(1))
            photos.add_photo(incident_id, upload.read(), current_user, current_scope(), transition_id=last)
        flash(_("已更新为：%(state)s", state=STATE_LABELS.get(to, to)), "ok")
    except ApiError as e:
        flash(e.message, "error")
        if e.status == 404:
            return render_template("error.html", status=404, message=e.message), 404
    return redirect(url_for("incidents.detail", incident_id=incident_id))


@bp.post("/<int:incident_id>/photos")
@login_required
def add_photo(incident_id: int):
    """Upload a photo from the detail page."""
    upload = request.files.get("photo")
    try:
        if upload is None or not upload.filename:
            raise ApiError(422, _("请选择照片"))
        photos.add_photo(incident_id, upload.read(), current_user, current_scope())
        flash(_("照片已上传"), "ok")
    except ApiError as e:
        flash(e.message, "error")
        if e.status == 404:
            return render_template("error.html", status=404, message=e.message), 404
    return redirect(url_for("incidents.detail", incident_id=incident_id))
