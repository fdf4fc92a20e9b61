"""The heat map page (``/heat``) and its JSON API (``/api/v1/heat/…``).

The page is a folium map with controls; ``static/js/heatmaps.js`` fetches the bins of the
visible bbox and zoom for the chosen source, period and filters, and redraws on every move.
"""
import datetime as dt
import json

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.audit.services import record
from app.auth.access import current_scope, require_role
from app.core.errors import ApiError
from app.heatmaps import services
from app.heatmaps.params import parse_heat_query, parse_period, today
from app.heatmaps.sources import HEAT_ROLES, available_sources
from gis import heat
from gis.maps import base_map, render_parts

bp = Blueprint("heatmaps", __name__)
api = Blueprint("heat_api", __name__, url_prefix="/api/v1/heat")
MAX_FRAMES = 400


def _json(payload: dict):
    resp = current_app.response_class(json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                                      mimetype="application/json")
    resp.headers["Cache-Control"] = "private, max-age=60"
    return resp


def source_catalogue() -> list[dict]:
    """Sources and their filters, for the page's controls."""
    return [{"name": s.name, "title": str(s.title), "personal": s.personal, "timed": s.time is not None,
             "binned": s.geom is not None, "areas": s.grid is not None,
             "unit": str(s.unit),
             "filters": [{"name": f.name, "label": str(f.label),
                          "choices": [[v, str(lbl)] for v, lbl in f.choices()]} for f in s.filters]}
            for s in available_sources()]


@api.get("/sources")
def sources():
    """The heat sources this database offers, with their filters."""
    require_role(*HEAT_ROLES)
    return _json({"sources": source_catalogue()})


@api.get("/cells")
def cells():
    """Square or hexagon bins of the visible bbox: ``{"size", "cells": [[i, j, n], …], "classes"}``."""
    require_role(*HEAT_ROLES)
    q = parse_heat_query()
    if q.shape == "grid":
        raise ApiError(400, "shape=grid is served by /api/v1/heat/areas", {"shape": "use /areas"})
    if q.source.geom is None:
        raise ApiError(400, f"{q.source.name} has no locations of its own: use /api/v1/heat/areas",
                       {"source": "per area only"})
    return _json(services.heat_cells(q, current_scope()))


@api.get("/areas")
def areas():
    """Per-area choropleth (street/community/grid by zoom, or ``level``) as GeoJSON."""
    require_role(*HEAT_ROLES)
    q = parse_heat_query()
    if q.source.grid is None:
        raise ApiError(400, f"{q.source.name} has no grids: use /api/v1/heat/cells", {"source": "bins only"})
    level = request.args.get("level")
    if level is not None and level not in services.LEVEL_LENGTH:
        raise ApiError(400, "level must be street, community or grid", {"level": "unknown"})
    out = services.area_counts(q, current_scope(), level)
    resp = _json({"type": "FeatureCollection", "level": out["level"], "total": out["total"],
                  "suppressed": out["suppressed"], "classes": out["classes"], "features": out["features"]})
    resp.mimetype = "application/geo+json"
    return resp


def _int(name: str) -> int:
    raw = request.args.get(name)
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, f"{name} must be an integer", {name: "not an integer"}) from None


@api.get("/drill")
def drill():
    """What lies in one bin (``i``, ``j`` at ``zoom``/``shape``) or one area (``area``): at most 200 rows."""
    require_role(*HEAT_ROLES)
    q = parse_heat_query(require_bbox=False)
    if current_user.role not in q.source.drill_roles:
        raise ApiError(403, f"role {current_user.role!r} may not list {q.source.name} records")
    code = request.args.get("area")
    if code is not None:
        if q.source.grid is None:
            raise ApiError(400, f"{q.source.name} has no grids: drill into a bin (i, j)", {"area": "bins only"})
        if not code.isdigit() or len(code) not in (9, 12, 15, 18):
            raise ApiError(400, "area must be a street, community or grid code", {"area": "malformed code"})
        rows = services.drill_rows(q, current_scope(), "area", area_code=code)
    else:
        if q.source.geom is None:
            raise ApiError(400, f"{q.source.name} is listed per area: give area=CODE", {"area": "missing"})
        if q.shape not in ("square", "hexagon"):
            raise ApiError(400, "shape must be square or hexagon (or give area=CODE)", {"shape": "unknown"})
        i, j = _int("i"), _int("j")
        rows = services.drill_rows(q, current_scope(), q.shape, services.bin_size(q), i, j)
    if q.source.personal:
        record("read", q.source.table, None, after={"drill": dict(request.args), "rows": len(rows)})
        from app.core.extensions import db
        db.session.commit()
    return _json({"source": q.source.name, "rows": rows, "limit": services.DRILL_LIMIT})


@api.get("/frames")
def frames():
    """The slider's frames: ``from``/``to`` cut by ``step`` (day, week, month)."""
    require_role(*HEAT_ROLES)
    start, end = parse_period()
    step = request.args.get("step", "week")
    if step not in ("day", "week", "month"):
        raise ApiError(400, "step must be day, week or month", {"step": "unknown"})
    out = services.frame_list(start, end, step)
    if len(out) > MAX_FRAMES:
        raise ApiError(400, f"at most {MAX_FRAMES} frames: choose a longer step", {"step": "too many frames"})
    return _json({"step": step, "frames": out})


def heat_map_parts(config: dict) -> dict:
    """The folium map of the heat page, with the loader script and no data."""
    from branca.element import MacroElement
    from jinja2 import Template

    class Loader(MacroElement):
        _template = Template("""
            {% macro script(this, kwargs) %}
            WuweiHeat.init({{ this._parent.get_name() }}, {{ this.config_json }});
            {% endmacro %}""")

        def __init__(self):
            super().__init__()
            self._name = "WuweiHeat"
            self.config_json = json.dumps(config, ensure_ascii=False)

    m = base_map(url_for("static", filename=""), basemap=current_app.config.get("WUWEI_BASEMAP", "osm"),
                 tianditu_key=current_app.config.get("WUWEI_TIANDITU_KEY", ""), zoom=13, center=(36.055, 103.84))
    m.default_js.append(("wuwei_heat", url_for("static", filename="js/heatmaps.js")))
    m.default_css.append(("wuwei_heat_css", url_for("static", filename="css/heatmaps.css")))
    Loader().add_to(m)
    return render_parts(m)


@bp.get("/heat")
@login_required
def page():
    """The heat map page."""
    require_role(*HEAT_ROLES)
    t = today()
    config = {
        "urls": {"cells": url_for("heat_api.cells"), "areas": url_for("heat_api.areas"),
                 "drill": url_for("heat_api.drill"), "frames": url_for("heat_api.frames")},
        "sources": source_catalogue(),
        "palette": list(heat.PALETTE),
        "canDrill": {s.name: current_user.role in s.drill_roles for s in available_sources()},
        "text": {"loading": _("加载中…"), "cells": _("格"), "total": _("合计"), "suppressed": _("少于5条已隐藏"),
                 "cell": _("格网边长约"), "none": _("无记录"), "households": _("户数"),
                 "rate": _("每千户"), "records": _("明细"), "more": _("仅显示前200条"),
                 "noDrill": _("无权查看明细"), "error": _("加载失败")},
    }
    return render_template("heatmaps/heat.html", map=heat_map_parts(config), sources=config["sources"],
                           default_from=(t - dt.timedelta(days=29)).isoformat(),
                           default_to=t.isoformat())
