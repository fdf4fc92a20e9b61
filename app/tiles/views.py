"""``/tiles/{layer}/{z}/{x}/{y}.mvt`` and ``/tiles/{layer}.json`` (TileJSON).

Tiles need a login (session or bearer token) and show only the user's area, so they
are cached privately: ``ETag`` + ``Cache-Control: private``; ``If-None-Match`` → 304.
"""
from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_login import current_user

from app.auth import policy
from app.auth.access import current_scope, require_login
from app.core.errors import ApiError
from app.tiles import services
from app.tiles.sources import TileSource, get_source, source_names

bp = Blueprint("tiles", __name__, url_prefix="/tiles")
MVT = "application/vnd.mapbox-vector-tile"


def _source_or_404(name: str) -> TileSource:
    require_login()
    source = get_source(name)
    if source is None:
        raise ApiError(404, f"no tile layer {name!r}; tile layers: {', '.join(source_names())}")
    if source.permission and not policy.can(current_user, source.permission):
        raise ApiError(403, f"role {current_user.role!r} may not see the {name} tiles")
    return source


def _cache_headers(resp: Response) -> Response:
    resp.headers["Cache-Control"] = f"private, max-age={current_app.config['TILE_MAX_AGE']}"
    resp.headers["Vary"] = "Authorization, Cookie"
    return resp


@bp.get("/<name>/<z>/<x>/<y>.mvt")
def tile(name: str, z: str, x: str, y: str):
    """One Mapbox Vector Tile; 204 when empty."""
    source = _source_or_404(name)
    zi, xi, yi = services.check_tile(z, x, y, source)
    data = services.render_tile(source, current_scope(), zi, xi, yi, current_app.config["TILE_FEATURE_CAP"])
    if not data:
        resp = Response(status=204)
        resp.headers.remove("Content-Type")
        return _cache_headers(resp)
    etag = services.etag_of(data)
    # If-None-Match compares weakly (RFC 9110 13.1.2); "*" matches any existing tile.
    resp = Response(status=304) if request.if_none_match.contains_weak(etag) else Response(data, mimetype=MVT)
    resp.set_etag(etag)
    return _cache_headers(resp)


@bp.get("/<name>.json")
def tilejson(name: str):
    """TileJSON 3.0.0 describing one tile layer."""
    source = _source_or_404(name)
    url = url_for("tiles.tile", name=name, z=0, x=0, y=0, _external=True)
    url = url.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
    return _cache_headers(jsonify(services.tilejson(source, current_scope(), url)))


_ERR = {"$ref": "#/components/responses/Error"}
_NAME = {"name": "layer", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "areas, grids, compounds, buildings, chargers, bike-zones, or a feature's tile layer"}
OPENAPI_PATHS = {
    "/tiles/{layer}/{z}/{x}/{y}.mvt": {
        "get": {"summary": "Mapbox Vector Tile of a layer (public properties, the user's area only)",
                "tags": ["tiles"],
                "parameters": [_NAME] + [{"name": n, "in": "path", "required": True,
                                          "schema": {"type": "integer", "minimum": 0}} for n in "zxy"],
                "responses": {"200": {"description": "tile", "content": {MVT: {}}},
                              "204": {"description": "empty tile (nothing here, or below the layer's min zoom)"},
                              "304": {"description": "not modified (If-None-Match)"},
                              "400": _ERR, "401": _ERR, "404": _ERR}}},
    "/tiles/{layer}.json": {
        "get": {"summary": "TileJSON 3.0.0 of a tile layer", "tags": ["tiles"], "parameters": [_NAME],
                "responses": {"200": {"description": "TileJSON", "content": {"application/json": {}}},
                              "401": _ERR, "404": _ERR}}},
}
