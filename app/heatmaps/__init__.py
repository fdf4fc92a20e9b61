"""Leaders' heat maps (热力图): server-side bins and per-area choropleths of incidents and other sources.

``sources.py`` is the registry of binnable tables, ``services.py`` the SQL, ``views.py`` the page
``/heat`` and the API under ``/api/v1/heat/``; the binning rules are in :mod:`gis.heat`.
"""
from flask_babel import lazy_gettext as _l


def _p(name, description="", schema=None, required=False):
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


COMMON = [_p("source", "heat source: incidents, ebike_hazards, bad_parking, chargers, bike_zones, "
                       "and visits/wishes/positions when present (GET /api/v1/heat/sources)"),
          _p("bbox", "minLon,minLat,maxLon,maxLat (WGS-84); only this box is binned", required=True),
          _p("zoom", "map zoom (8–19) choosing the cell size", {"type": "integer"}),
          _p("from", "start date YYYY-MM-DD or ISO 8601 time (default: 30 days ago)"),
          _p("to", "end date, inclusive (YYYY-MM-DD) or ISO 8601 time, exclusive"),
          _p("category", "incident category codes, comma-separated (with their sub-categories)"),
          _p("state", "incident states, comma-separated"),
          _p("channel", "incident sources (hotline, grid_worker, patrol …), comma-separated")]
ERR = {"$ref": "#/components/responses/Error"}


def _paths() -> dict:
    ok = {"description": "JSON", "content": {"application/json": {}}}
    return {
        "/api/v1/heat/sources": {"get": {"summary": "Heat sources and their filters", "tags": ["heat"],
                                         "responses": {"200": ok, "401": ERR, "403": ERR}}},
        "/api/v1/heat/cells": {"get": {
            "summary": "Square or hexagon bins of the visible bbox: {size, cells: [[i, j, n]], classes}; "
                       "personal-data sources drop cells below 5",
            "tags": ["heat"], "parameters": COMMON + [_p("shape", "square or hexagon",
                                                          {"type": "string", "enum": ["square", "hexagon"]})],
            "responses": {"200": ok, "400": ERR, "401": ERR, "403": ERR}}},
        "/api/v1/heat/areas": {"get": {
            "summary": "Per-area choropleth (street/community/grid by zoom): count and rate per 1,000 households",
            "tags": ["heat"], "parameters": COMMON + [_p("level", "street, community or grid")],
            "responses": {"200": {"description": "GeoJSON", "content": {"application/geo+json": {}}},
                          "400": ERR, "401": ERR, "403": ERR}}},
        "/api/v1/heat/drill": {"get": {
            "summary": "Records in one bin (i, j, shape, zoom) or one area (area=CODE), at most 200",
            "tags": ["heat"], "parameters": COMMON + [_p("i", schema={"type": "integer"}),
                                                      _p("j", schema={"type": "integer"}), _p("area")],
            "responses": {"200": ok, "400": ERR, "401": ERR, "403": ERR}}},
        "/api/v1/heat/frames": {"get": {
            "summary": "Animation frames of a period by day, week or month", "tags": ["heat"],
            "parameters": [_p("from"), _p("to"), _p("step", schema={"type": "string",
                                                                     "enum": ["day", "week", "month"]})],
            "responses": {"200": ok, "400": ERR, "401": ERR, "403": ERR}}},
    }


def init_app(app) -> None:
    """Register the page, the API, the nav link, the map overlay and the OpenAPI paths."""
    from app.web.openapi import register_paths
    from app.heatmaps import views
    from app.heatmaps.sources import HEAT_ROLES
    from app.core.registry import Overlay, register_overlay
    from app.core.registry import register_nav
    from gis.heat import PALETTE
    app.register_blueprint(views.bp)
    app.register_blueprint(views.api)
    register_nav("heatmaps.page", _l("热力图"), permission="heat.view", order=30)
    register_overlay(Overlay(
        name="heat_incidents", title=_l("事件热力（按区域）"), endpoint="heat_api.areas",
        url_kwargs={"source": "incidents", "shape": "grid"}, geom_type="Polygon",
        style={"weight": 1, "color": "#7f0000", "fillOpacity": 0.55},
        popup=["name", "n", "rate", "households"], color_by="cls",
        colors={k: c for k, c in enumerate(PALETTE)}, permission="heat.view", order=80,
        labels={"name": _l("名称"), "n": _l("事件数（近30天）"), "rate": _l("每千户"), "households": _l("户数")}))
    register_paths(_paths())
