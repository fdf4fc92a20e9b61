"""The heat map page (``/heat``) and its JSON API (``/api/v1/heat/…``).

The page is a folium map with controls; ``static/js/heatmaps.js`` fetches the bins of the
visible bbox and zoom for the chosen source, period and filters, and redraws on every move.
"""

import datetime as dt
import json

from branca.element import MacroElement
from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2 import Template
from pydantic import BaseModel, Field

from app.audit.services import record
from app.auth import policy
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.heat import HEAT_SOURCES
from app.core.replica import read_only, replica_reads
from app.core.time import today
from app.heatmaps import bins, people, services
from app.heatmaps.params import DrillQuery, FramesQuery, ViewQuery, heat_request
from app.web.api import GEOJSON, ApiBlueprint, endpoint
from gis import heat
from gis.maps import base_map, render_parts

bp = Blueprint("heatmaps", __name__)
api = ApiBlueprint("heat_api", __name__, url_prefix="/api/v1/heat", tag="heat")
MAX_FRAMES = 400


# --------------------------------------------------------------------------- answers (documentation)


class FilterInfo(BaseModel):
    name: str
    label: str
    choices: list[tuple[str, str]] = Field(description="[value, label]")


class SourceInfo(BaseModel):
    name: str
    title: str
    personal: bool = Field(description="over people: counts below 5 hidden, records for file readers only")
    timed: bool
    binned: bool = Field(description="has locations of its own (/cells)")
    areas: bool = Field(description="has grids (/areas)")
    unit: str
    filters: list[FilterInfo]


class Sources(BaseModel):
    """The heat sources and their filters."""

    sources: list[SourceInfo]


class Classes(BaseModel):
    breaks: list[float]
    colors: list[str]


class Privacy(BaseModel):
    """How a personal source was counted (docs/heatmaps.md, "Personal data")."""

    counts: str = Field(description="people: distinct people, never records")
    per: str = Field(
        description="day: bins sum the people of each day (people-days); period: areas count "
        "the people of the whole period"
    )
    k: int = Field(description="a unit (a day in a base square, or a grid) with fewer people is left out")
    min_size: float = Field(description="the smallest bin edge (EPSG:3857 metres)")
    start: str | None = Field(None, alias="from", description="the window counted: whole days")
    to: str | None = None


class Cells(BaseModel):
    """Bins of the visible bbox; the browser draws cell ``(i, j)`` from ``size`` (EPSG:3857 metres)."""

    source: str
    shape: str = Field(description="as asked; personal sources: always square")
    zoom: int
    size: float
    ground_m: int
    unit: str = Field(description="what a count counts (records, or people-days for a personal source)")
    total: int
    suppressed: int | None = Field(
        description="cells hidden: 0, or null for a personal source (telling it would locate a small group)"
    )
    classes: Classes
    cells: list[tuple[int, int, int]] = Field(description="[i, j, count]")
    privacy: Privacy | None = Field(None, description="personal sources only")


class Areas(BaseModel):
    """A GeoJSON FeatureCollection: one simplified polygon per area with n, households, rate, cls, suppressed
    (a personal source: the area has grids below 5; n is then the sum of the grids shown, or null)."""

    type: str = "FeatureCollection"
    level: str
    unit: str
    total: int
    suppressed: int
    classes: Classes
    features: list[dict]
    privacy: Privacy | None = Field(None, description="personal sources only")


class Drill(BaseModel):
    """The records of one bin or area (nothing personal), at most ``limit``."""

    source: str
    rows: list[dict]
    limit: int


class FrameOut(BaseModel):
    start: str = Field(alias="from")
    to: str


class Frames(BaseModel):
    step: str
    frames: list[FrameOut]


def _json(payload: dict, mimetype: str = "application/json"):
    resp = current_app.response_class(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), mimetype=mimetype)
    resp.headers["Cache-Control"] = "private, max-age=60"
    return resp


# --------------------------------------------------------------------------- the API


def source_catalogue() -> list[dict]:
    """Sources and their filters, for the page's controls."""
    return [
        {
            "name": s.name,
            "title": str(s.title),
            "personal": s.personal,
            "timed": s.time is not None,
            "binned": s.geom is not None,
            "areas": s.grid is not None,
            "unit": str(s.unit),
            "filters": [
                {"name": f.name, "label": str(f.label), "choices": [[v, str(lbl)] for v, lbl in f.choices()]}
                for f in s.filters
            ],
        }
        for s in HEAT_SOURCES
    ]


@api.get("/sources")
@endpoint(response=Sources, permission="heat.view")
def sources():
    """Heat sources and their filters."""
    return _json({"sources": source_catalogue()})


@api.get("/cells")
@endpoint(query=ViewQuery, response=Cells, permission="heat.view")
@replica_reads
def cells(query: ViewQuery):
    """Square or hexagon bins of the visible bbox.

    Personal sources (visits, positions) count people, not records: per whole day and square of at
    least 500 m (the zoom floor), a unit with fewer than 5 people is left out, and a bin is the sum of
    the units in it over the days of the window (widened to whole days): people-days.

    Besides the parameters listed, the source's own filters narrow it: comma-separated values of the
    filter names ``GET /api/v1/heat/sources`` lists (``category``, ``state``, ``channel`` for incidents …).
    """
    q = heat_request(query)
    if q.shape == "grid":
        raise ApiError(400, "shape=grid is served by /api/v1/heat/areas", {"shape": "use /areas"})
    if q.source.geom is None:
        raise ApiError(
            400, f"{q.source.name} has no locations of its own: use /api/v1/heat/areas", {"source": "per area only"}
        )
    scope = policy.current_scope()
    if q.source.personal:
        return _json(people.heat_cells(q, scope))
    return _json(services.heat_cells(q, scope, bins.cell_rows))


@api.get("/areas")
@endpoint(query=ViewQuery, response=Areas, permission="heat.view", media_type=GEOJSON)
@replica_reads
def areas(query: ViewQuery):
    """Per-area choropleth (street/community/grid by zoom, or ``level``): count and rate per 1,000 households.

    Personal sources (visits, wishes) count people over the window (whole days); a grid below 5 shows
    null, and a community or street the sum of its grids shown.

    Besides the parameters listed, the source's own filters narrow it: comma-separated values of the
    filter names ``GET /api/v1/heat/sources`` lists (``category``, ``state``, ``channel`` for incidents …).
    """
    q = heat_request(query)
    if q.source.grid is None:
        raise ApiError(400, f"{q.source.name} has no grids: use /api/v1/heat/cells", {"source": "bins only"})
    count = people.area_counts if q.source.personal else services.area_counts
    out = count(q, policy.current_scope(), query.level)
    return _json({"type": "FeatureCollection", **out}, mimetype=GEOJSON)


def _drill_rows(query: DrillQuery, q: services.HeatRequest) -> list[dict]:
    scope = policy.current_scope()
    if query.area is not None:
        if q.source.grid is None:
            raise ApiError(400, f"{q.source.name} has no grids: drill into a bin (i, j)", {"area": "bins only"})
        return services.drill_rows(q, scope, "area", area_code=query.area)
    if q.source.geom is None:
        raise ApiError(400, f"{q.source.name} is listed per area: give area=CODE", {"area": "missing"})
    if q.shape not in ("square", "hexagon"):
        raise ApiError(400, "shape must be square or hexagon (or give area=CODE)", {"shape": "unknown"})
    for name in ("i", "j"):
        if getattr(query, name) is None:
            raise ApiError(400, f"{name} must be an integer", {name: "required"})
    return services.drill_rows(q, scope, q.shape, services.bin_size(q), query.i, query.j)


@api.get("/drill")
@endpoint(query=DrillQuery, response=Drill, permission="heat.view", errors=(403,))
def drill(query: DrillQuery):
    """Records in one bin (i, j, shape, zoom) or one area (area=CODE), at most 200.

    Records of personal sources only for roles that read household files (and audited). Filters as for
    ``/cells``.
    """
    q = heat_request(query)
    policy.require(q.source.drill_permission)
    with read_only():
        rows = _drill_rows(query, q)
    if q.source.personal:
        record("read", q.source.table.name, None, after={"drill": dict(request.args), "rows": len(rows)})
        db.session.commit()
    return _json({"source": q.source.name, "rows": rows, "limit": services.DRILL_LIMIT})


@api.get("/frames")
@endpoint(query=FramesQuery, response=Frames, permission="heat.view")
def frames(query: FramesQuery):
    """Animation frames of a period by day, week or month."""
    start, end = query.bounds()
    out = services.frame_list(start, end, query.step)
    if len(out) > MAX_FRAMES:
        raise ApiError(400, f"at most {MAX_FRAMES} frames: choose a longer step", {"step": "too many frames"})
    return _json({"step": query.step, "frames": out})


# --------------------------------------------------------------------------- the page


class _Loader(MacroElement):
    """Starts ``WuweiHeat`` on the folium map with the page's config."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        WuweiHeat.init({{ this._parent.get_name() }}, {{ this.config_json }});
        {% endmacro %}""")

    def __init__(self, config: dict):
        super().__init__()
        self._name = "WuweiHeat"
        self.config_json = json.dumps(config, ensure_ascii=False)


def heat_map_parts(config: dict) -> dict:
    """The folium map of the heat page, with the loader script and no data."""
    m = base_map(
        url_for("static", filename=""),
        basemap=current_app.config.get("WUWEI_BASEMAP", "osm"),
        tianditu_key=current_app.config.get("WUWEI_TIANDITU_KEY", ""),
        zoom=13,
        center=(36.055, 103.84),
    )
    m.default_js.append(("wuwei_heat", url_for("static", filename="js/heatmaps.js")))
    m.default_css.append(("wuwei_heat_css", url_for("static", filename="css/heatmaps.css")))
    _Loader(config).add_to(m)
    return render_parts(m)


def _texts() -> dict:
    return {
        "loading": _("加载中…"),
        "cells": _("格"),
        "total": _("合计"),
        "suppressed": _("个区域有少于5人（户）的网格：不显示，也不计入上级合计"),
        "privacyCells": _("个人数据：每格每天数不同的人，少于5人不计；按整天统计，放大后格网不再变细"),
        "privacyAreas": _("个人数据：按不同的人（户）计数，按整天统计"),
        "partial": _("不含少于5的网格"),
        "counted": _("统计时段"),
        "cell": _("格网边长约"),
        "none": _("无记录"),
        "households": _("户数"),
        "rate": _("每千户"),
        "records": _("明细"),
        "more": _("仅显示前200条"),
        "noDrill": _("无权查看明细"),
        "error": _("加载失败"),
    }


@bp.get("/heat")
@login_required
def page():
    """The heat map page."""
    policy.require("heat.view")
    t = today()
    config = {
        "urls": {
            "cells": url_for("heat_api.cells"),
            "areas": url_for("heat_api.areas"),
            "drill": url_for("heat_api.drill"),
            "frames": url_for("heat_api.frames"),
        },
        "sources": source_catalogue(),
        "palette": list(heat.PALETTE),
        "canDrill": {s.name: policy.can(current_user, s.drill_permission) for s in HEAT_SOURCES},
        "text": _texts(),
    }
    return render_template(
        "heatmaps/heat.html",
        map=heat_map_parts(config),
        sources=config["sources"],
        default_from=(t - dt.timedelta(days=29)).isoformat(),
        default_to=t.isoformat(),
    )
