"""Incident pages: the report form (phone-friendly, map to place the point), the list with filters and
CSV export, and the detail page with timeline, photos, map, related records and the next workflow steps."""

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.areas.models import Area
from app.auth import policy
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.registry import OVERLAYS
from app.incidents import services
from app.incidents.hooks import related_links
from app.incidents.models import SOURCES, STATES
from app.incidents.schemas import IncidentPageQuery, ReportIn, TransitionIn
from app.incidents.workflow import (
    SATISFACTION_LABELS,
    SOURCE_LABELS,
    STATE_COLORS,
    STATE_LABELS,
    next_states,
)
from app.web.api import parse_body
from app.web.maps import context_layers, map_texts, overlay_config
from app.web.pages import flash_error
from app.web.tables import csv_response
from gis.maps import add_layers, base_map, render_parts

bp = Blueprint("incidents", __name__, url_prefix="/incidents")
PAGE = 50
CSV_MAX = 100_000
CITY = ((36.06, 103.84), 12)  # where the map opens for a user without an area


def _map(center, zoom, focus_id: int | None = None, height="360px", report: bool = False):
    """A small folium map with the incidents overlay (all states) over the places around (outlines and
    names), optionally opened on one incident. ``report``: nothing on it takes a tap but the map itself,
    which places the pin (also on top of a dot)."""
    m = base_map(
        url_for("static", filename=""),
        center=center,
        zoom=zoom,
        basemap=current_app.config.get("WUWEI_BASEMAP", "osm"),
        tianditu_key=current_app.config.get("WUWEI_TIANDITU_KEY", ""),
        height=height,
    )
    layer = overlay_config(OVERLAYS["incidents"])
    layer.update(url=url_for("incidents_api.incidents"), title=_("事件"), visible=True, colors=STATE_COLORS)
    if report:
        layer.update(interactive=False)
    focus = (
        {"layer": "incidents", "id": focus_id, "url": url_for("incidents_api.item", incident_id=focus_id)}
        if focus_id
        else None
    )
    add_layers(
        m,
        [*context_layers(interactive=not report), layer],
        focus=focus,
        texts=map_texts(),
    )
    parts = render_parts(m)
    parts["name"] = m.get_name()
    return parts


def _user_center():
    """The centre of the user's area and a zoom that shows it."""
    if current_user.area_id:
        centre = func.ST_Centroid(Area.geom)
        lat, lon = db.session.execute(
            select(func.ST_Y(centre), func.ST_X(centre)).where(Area.id == current_user.area_id)
        ).one()
        return (lat, lon), 16 if current_user.area.level in ("community", "grid", "micro_grid") else 13
    return CITY


@bp.get("/")
@login_required
def index():
    """The list with filters (state, category, grid, source, overdue, dates); ``?format=csv`` exports."""
    args = request.args.to_dict()
    try:
        query = parse_body(IncidentPageQuery, {k: v for k, v in args.items() if v != ""})
    except ApiError as e:
        flash(e.message, "error")
        return redirect(url_for("incidents.index"))
    scope, f = policy.current_scope(), query.filters(current_user.id)
    if query.format == "csv":
        rows = services.list_rows(scope, f, CSV_MAX)
        return csv_response(services.CSV_COLUMNS, ([r[c] for c in services.CSV_COLUMNS] for r in rows), "incidents.csv")
    rows = services.list_rows(scope, f, PAGE, (query.page - 1) * PAGE)
    matched, more = services.count_incidents(scope, f)
    args.pop("page", None)
    return render_template(
        "incidents/list.html",
        rows=rows,
        matched=matched,
        more=more,
        page=query.page,
        per_page=PAGE,
        args=args,
        states=STATES,
        sources=SOURCES,
        state_labels=STATE_LABELS,
        source_labels=SOURCE_LABELS,
        colors=STATE_COLORS,
        categories=services.categories(),
        counts=services.state_counts(scope),
    )


def _report(form: dict):
    """Report from the page's form (or attach to an open incident); returns the incident."""
    user, scope = current_user, policy.current_scope()
    body = parse_body(ReportIn, {k: v for k, v in form.items() if v != "" and k != "csrf_token"})
    if body.attach_to is not None:
        incident = services.attach_report(body.attach_to, body.description, user, scope)
        flash(_("已并入事件 #%(id)s", id=incident.id), "ok")
        return incident
    incident = services.report_incident(
        category_code=body.category,
        description=body.description,
        lon=body.lon,
        lat=body.lat,
        address=body.address,
        source=body.source or services.default_source(user),
        reporter_name=body.reporter_name,
        reporter_phone=body.reporter_phone,
        user=user,
        scope=scope,
    )
    upload = request.files.get("photo")
    if upload and upload.filename:
        try:
            services.add_photo(incident.id, upload.read(), user, scope)
        except ApiError as e:
            flash(_("事件已上报，但照片未保存：%(msg)s", msg=e.message), "error")
    flash(_("事件 #%(id)s 已上报", id=incident.id), "ok")
    return incident


PREFILL = ("description", "address", "lon", "lat", "category", "source")


def _prefill(args) -> dict:
    """The report form's fields given in the query string (``/incidents/new?description=…&lon=…&lat=…``)."""
    return {k: args[k][:4000] for k in PREFILL if args.get(k)}


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Report an incident: place the point on the map (or use the phone's position), pick a category."""
    if not policy.can(current_user, "incidents.report"):
        return render_template("error.html", status=403, message=_("无权上报事件")), 403
    # A GET may carry what another page already knows (a visit's follow-up: its text and the building).
    form = request.form.to_dict() if request.method == "POST" else _prefill(request.args)
    errors = {}
    if request.method == "POST":
        try:
            incident = _report(form)
            return redirect(url_for("incidents.detail", incident_id=incident.id))
        except ApiError as e:
            errors = e.fields or {"form": e.message}
            flash_error(e)
    center, zoom = _user_center()
    return render_template(
        "incidents/new.html",
        form=form,
        errors=errors,
        categories=services.categories(),
        sources=SOURCES,
        source_labels=SOURCE_LABELS,
        map=_map(center, zoom, report=True),
        personal=services.can_read_personal(current_user),
    ), 422 if errors else 200


@bp.get("/<int:incident_id>")
@login_required
def detail(incident_id: int):
    """One incident: facts, map, timeline with photos, related records, next steps for the user."""
    try:
        incident = services.get_incident(incident_id, policy.current_scope())
    except ApiError as e:
        return render_template("error.html", status=e.status, message=e.message), e.status
    data = services.incident_dict(incident, current_user)
    lon, lat = data["geometry"]["coordinates"]
    staff = policy.can(current_user, "incidents.triage")
    return render_template(
        "incidents/detail.html",
        incident=incident,
        d=data["properties"],
        map=_map((lat, lon), 17, focus_id=incident.id),
        next_states=[
            s for s in next_states(incident.state, current_user) if services.may_take(incident, s, current_user)
        ],
        state_labels=STATE_LABELS,
        source_labels=SOURCE_LABELS,
        colors=STATE_COLORS,
        departments=services.departments(),
        workers=services.assignable_users(),
        companies=services.dispatch_companies(),
        related=related_links(incident.id),
        case=services.case_label(incident.case_number),
        holder=services.target_name(incident),
        status_url=url_for("incident_status.page", token=incident.public_token, _external=True) if staff else None,
        pending=services.pending(incident.id) if staff else None,
        satisfaction_labels=SATISFACTION_LABELS,
    )


@bp.get("/case")
@login_required
def case():
    """Find a case by the number a resident reads out on the phone (staff)."""
    if not policy.can(current_user, "incidents.triage"):
        return render_template("error.html", status=403, message=_("无权查询案件号")), 403
    incident = services.by_case_number(request.args.get("number", ""), policy.current_scope())
    if incident is None:
        flash(_("未找到该案件号"), "error")
        return redirect(url_for("incidents.index"))
    return redirect(url_for("incidents.detail", incident_id=incident.id))


@bp.post("/<int:incident_id>/extensions/<int:request_id>")
@login_required
def decide_extension(incident_id: int, request_id: int):
    """Grant or refuse a request for more time from the detail page."""
    try:
        granted = request.form.get("decision") == "grant"
        services.decide_extension(
            incident_id, request_id, granted, request.form.get("note"), current_user, policy.current_scope()
        )
        flash(_("已批准延期") if granted else _("已驳回延期申请"), "ok")
    except ApiError as e:
        return _page_error(e, incident_id)
    return redirect(url_for("incidents.detail", incident_id=incident_id))


def _page_error(e: ApiError, incident_id: int):
    flash(e.message, "error")
    if e.status == 404:
        return render_template("error.html", status=404, message=e.message), 404
    return redirect(url_for("incidents.detail", incident_id=incident_id))


@bp.post("/<int:incident_id>/transition")
@login_required
def do_transition(incident_id: int):
    """Apply a workflow step from the detail page's form (a photo may come with it)."""
    form = {k: v for k, v in request.form.items() if v != "" and k != "csrf_token"}
    try:
        body = parse_body(TransitionIn, form)
        scope = policy.current_scope()
        services.transition(incident_id, body.to, current_user, scope, note=body.note, data=body.data())
        upload = request.files.get("photo")
        if upload and upload.filename:
            services.add_photo(
                incident_id, upload.read(), current_user, scope, transition_id=services.last_step_id(incident_id)
            )
        flash(_("已更新为：%(state)s", state=STATE_LABELS.get(body.to, body.to)), "ok")
    except ApiError as e:
        return _page_error(e, incident_id)
    return redirect(url_for("incidents.detail", incident_id=incident_id))


@bp.post("/<int:incident_id>/photos")
@login_required
def add_photo(incident_id: int):
    """Upload a photo from the detail page."""
    upload = request.files.get("photo")
    try:
        if upload is None or not upload.filename:
            raise ApiError(422, _("请选择照片"), said=True)
        services.add_photo(incident_id, upload.read(), current_user, policy.current_scope())
        flash(_("照片已上传"), "ok")
    except ApiError as e:
        return _page_error(e, incident_id)
    return redirect(url_for("incidents.detail", incident_id=incident_id))
