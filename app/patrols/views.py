"""Patrol pages: the phone page, the live map, the list, the detail page and coverage (devices: device_views)."""

import datetime as dt

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from geoalchemy2.shape import to_shape
from werkzeug.routing import BuildError

from app.auth.policy import can
from app.core.errors import ApiError
from app.core.time import TZ, day_start
from app.patrols import access, coverage, lifecycle, tracks
from app.patrols.labels import KIND_LABELS, STATE_LABELS
from app.patrols.models import PATROL_KINDS, PATROL_STATES
from app.patrols.schemas import PatrolResultsIn
from app.web.api import parse_body
from app.web.maps import context_layers, map_texts
from gis.maps import add_layers, add_legend, base_map, render_parts

bp = Blueprint("patrols", __name__, url_prefix="/patrols")

KIND_COLORS = {
    "grid_walk": "#2563eb",
    "cleanup": "#16a34a",
    "bike_rectification": "#d97706",
    "charger_check": "#7c3aed",
    "other": "#6b7280",
}


@bp.app_context_processor
def _labels():
    return {
        "patrol_kind_label": lambda k: KIND_LABELS.get(k, k),
        "patrol_state_label": lambda s: STATE_LABELS.get(s, s),
        "local_time": _local_time,
    }


def _local_time(t, fmt="%Y-%m-%d %H:%M"):
    return t.astimezone(TZ).strftime(fmt) if t else "–"


def _map(center, zoom, layers, legend=None, bounds=None):
    """A folium map with browser-loaded ``layers``; its parts for the template and its variable name."""
    m = base_map(
        url_for("static", filename=""),
        center=center,
        zoom=zoom,
        basemap=current_app.config["WUWEI_BASEMAP"],
        tianditu_key=current_app.config["WUWEI_TIANDITU_KEY"],
    )
    add_layers(m, [*context_layers(), *layers], texts=map_texts(), bounds=bounds)
    if legend:
        add_legend(m, legend)
    parts = render_parts(m)
    parts["name"] = m.get_name()
    return parts


def _aggregate_only() -> bool:
    """Roles that see per-grid figures only are sent to the coverage page."""
    return not can(current_user, "patrols.run")


@bp.get("/")
@login_required
def index():
    """Patrol list with filters (leaders and planners are sent to the coverage figures)."""
    if _aggregate_only():
        return redirect(url_for("patrols.coverage_page"))
    kind = request.args.get("kind") or None
    state = request.args.get("state") or None
    if kind not in (None, *PATROL_KINDS) or state not in (None, *PATROL_STATES):
        abort(400, _("未知的筛选条件"))
    try:
        start = dt.date.fromisoformat(request.args["from"]) if request.args.get("from") else None
        end = dt.date.fromisoformat(request.args["to"]) if request.args.get("to") else None
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        abort(400, _("日期格式应为 YYYY-MM-DD"))
    rows, total = access.list_patrols(
        current_user,
        kind=kind,
        state=state,
        start=day_start(start) if start else None,
        end=day_start(end + dt.timedelta(days=1)) if end else None,
        limit=50,
        offset=(page - 1) * 50,
    )
    return render_template(
        "patrols/list.html",
        patrols=rows,
        total=total,
        page=page,
        kinds=PATROL_KINDS,
        states=PATROL_STATES,
        args=request.args,
    )


@bp.get("/<int:patrol_id>")
@login_required
def detail(patrol_id: int):
    """One patrol: track on the map, figures, results, bad-parking spots."""
    try:
        p = access.get_patrol(current_user, patrol_id)
    except ApiError as e:
        abort(e.status, e.message)
    stats = tracks.patrol_stats(p)
    bounds = None
    if p.track is not None:
        shp = to_shape(p.track)
        c = shp.centroid
        center, zoom = (c.y, c.x), 17
        x0, y0, x1, y1 = shp.bounds
        bounds = [[y0, x0], [y1, x1]]
    else:
        c = to_shape(p.area.geom).centroid
        center, zoom = (c.y, c.x), 16
    layers = [
        {
            "name": "track",
            "title": str(_("巡查轨迹")),
            "url": url_for("patrols_api.track", patrol_id=p.id),
            "style": {"color": KIND_COLORS.get(p.kind, "#b42318"), "weight": 4},
            "geom_type": "LineString",
            "popup": ["fixes", "distance_m", "start", "end"],
            "visible": True,
        }
    ]
    if p.kind == "bike_rectification":
        layers.append(
            {
                "name": "spots",
                "title": str(_("乱停放点")),
                "url": url_for("patrols_api.bad_parking", patrol_id=p.id),
                "style": {"color": "#b42318", "fillColor": "#f97316"},
                "geom_type": "Point",
                "popup": ["bikes", "reparked", "nearest_zone", "zone_distance_m", "note"],
                "visible": True,
            }
        )
        layers.append(
            {
                "name": "zones",
                "title": str(_("停放区")),
                "url": url_for("api.collection", layer_name="bike-zones"),
                "style": {"color": "#2563eb", "weight": 1, "fillOpacity": 0.4},
                "geom_type": "MultiPolygon",
                "popup": ["name", "capacity"],
                "visible": True,
            }
        )
    parts = _map(center, zoom, layers, bounds=bounds)
    return render_template(
        "patrols/detail.html",
        p=p,
        stats=stats,
        map=parts,
        can_edit=access.can_edit(current_user, p),
        incidents_url=_incidents_url(p),
    )


def _incidents_url(p) -> str | None:
    """The incidents API asked for what the patrol's members reported while it ran (None before it
    started, or without the incidents feature)."""
    if p.started_at is None:
        return None
    args = {
        "reporter": ",".join(u.username for u in p.participants),
        "from": p.started_at.astimezone(TZ).isoformat(timespec="seconds"),
        "limit": 200,
    }
    if p.ended_at is not None:
        args["to"] = (p.ended_at + dt.timedelta(minutes=1)).astimezone(TZ).isoformat(timespec="seconds")
    try:
        return url_for("incidents_api.incidents", **args)
    except BuildError:
        return None


@bp.post("/<int:patrol_id>/results")
@login_required
def save_results(patrol_id: int):
    """The results form on the detail page (checked by the API's model)."""
    numbers = {
        "cleanup_width_m": float,
        "bags": int,
        "weight_kg": float,
        "volunteers": int,
        "bikes_reparked": int,
        "riders_guided": int,
    }
    values = {}
    for k in PatrolResultsIn.model_fields:
        raw = request.form.get(k)
        if raw is None:
            continue
        raw = raw.strip()
        if k not in numbers:
            values[k] = raw if raw or k == "title" else None
        elif raw == "":
            values[k] = None
        else:
            try:
                values[k] = numbers[k](raw)
            except ValueError:
                flash(_("%(field)s 必须是数字", field=k), "error")
                return redirect(url_for("patrols.detail", patrol_id=patrol_id))
    try:
        body = parse_body(PatrolResultsIn, values)
        lifecycle.update_results(current_user, patrol_id, body.model_dump(exclude_unset=True))
    except ApiError as e:
        if e.status in (403, 404):
            abort(e.status, e.message)
        flash(e.message + ": " + "; ".join(f"{k} {v}" for k, v in e.fields.items()), "error")
    else:
        flash(_("已保存"), "ok")
    return redirect(url_for("patrols.detail", patrol_id=patrol_id))


@bp.get("/live")
@login_required
def live():
    """Live map of active patrols, refreshed in the browser every few seconds."""
    if _aggregate_only():
        return redirect(url_for("patrols.coverage_page"))
    area = current_user.area
    if area is not None:
        c = to_shape(area.geom).centroid
        center, zoom = (c.y, c.x), 15 if area.level in ("community", "grid", "micro_grid") else 13
    else:
        center, zoom = (36.06, 103.84), 12
    layers = [
        {
            "name": "live",
            "title": str(_("进行中的巡查")),
            "url": url_for("patrols_api.live", minutes=30),
            "style": {"color": "#b42318", "fillColor": "#ef4444", "weight": 3},
            "geom_type": "Point",
            "popup": ["who", "patrol", "fixed_at", "accuracy", "battery"],
            "visible": True,
            "limit": 5000,
            "labels": {
                "who": str(_("人员")),
                "patrol": str(_("巡查")),
                "fixed_at": str(_("时间")),
                "accuracy": str(_("精度(米)")),
                "battery": str(_("电量%")),
            },
        },
        {
            "name": "grids",
            "title": str(_("网格")),
            "url": url_for("api.collection", layer_name="grids"),
            "style": {"color": "#374151", "weight": 1, "fillOpacity": 0.03},
            "geom_type": "MultiPolygon",
            "popup": ["name", "code"],
            "visible": True,
        },
    ]
    parts = _map(center, zoom, layers)
    return render_template("patrols/live.html", map=parts, refresh_seconds=10, sos=_sos_texts())


def _sos_texts() -> dict:
    """What the live map's SOS markers say (static/js/patrols-live.js), in the reader's language."""
    return {
        "title": str(_("求助（SOS）")),
        "who": str(_("人员")),
        "when": str(_("时间")),
        "where": str(_("位置")),
        "patrol": str(_("巡查")),
        "outside": str(_("不在巡查中")),
        "ack": str(_("确认已处理")),
        "acking": str(_("正在确认…")),
        "acked": str(_("已确认")),
        "failed": str(_("确认失败")),
        "count": str(_("求助")),
        "show": str(_("点击查看")),
        "can_ack": can(current_user, "patrols.oversee"),
        "ack_url": url_for("patrols_api.acknowledge", event_id=0),
        "patrol_url": url_for("patrols.detail", patrol_id=0),
    }


@bp.get("/coverage")
@login_required
def coverage_page():
    """Grids walked and not walked this week or month."""
    period = request.args.get("period", "week")
    try:
        day = dt.date.fromisoformat(request.args["date"]) if request.args.get("date") else None
        data = coverage.coverage(current_user, period, day)
    except ValueError:
        abort(400, _("日期格式应为 YYYY-MM-DD"))
    except ApiError as e:
        abort(e.status, e.message)
    return render_template("patrols/coverage.html", data=data, period=period, day=request.args.get("date", ""))


@bp.get("/phone")
@login_required
def phone():
    """The phone page, map first: own track live, the grid and bike zones, time, distance, fixes kept by
    the drift filter; start in one tap, add people, bad-parking spots, incidents reported on the spot."""
    if _aggregate_only():
        return redirect(url_for("patrols.coverage_page"))
    active, _n = access.list_patrols(current_user, state="active", limit=50)
    mine = next((p for p in active if current_user in p.participants), None)
    area = current_user.area
    if area is not None and area.geom is not None:
        c = to_shape(area.geom).centroid
        center, zoom = (c.y, c.x), 16 if area.level in ("community", "grid", "micro_grid") else 14
    else:
        center, zoom = (36.06, 103.84), 13
    m = _map(center, zoom, _phone_layers())
    return render_template(
        "patrols/phone.html",
        active=mine,
        progress=tracks.progress(mine.id) if mine else None,
        kinds=PATROL_KINDS,
        default_area=area.code if area else "",
        map=m,
    )


def _phone_layers() -> list[dict]:
    """Over the places around (app.web.maps.context_layers): the bike-parking zones."""
    return [
        {
            "name": "zones",
            "title": str(_("停放区")),
            "url": url_for("api.collection", layer_name="bike-zones"),
            "style": {"color": "#2563eb", "weight": 1, "fillOpacity": 0.35},
            "geom_type": "MultiPolygon",
            "popup": ["name", "capacity"],
            "min_zoom": 14,
            "visible": True,
        },
    ]


@bp.get("/sw.js")
def service_worker():
    """The phone page's service worker, served under /patrols/ so that its scope covers the page."""
    resp = send_from_directory(current_app.static_folder, "js/patrols-sw.js", mimetype="text/javascript", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp
