"""``/tiles/{layer}/{z}/{x}/{y}.mvt`` and ``/tiles/{layer}.json`` (TileJSON).

Tiles need a login (session or bearer token) and show only the user's area, so they
are cached privately: ``ETag`` + ``Cache-Control: private``; ``If-None-Match`` → 304.
A source may need a permission of :mod:`app.auth.policy` besides the login.
"""
from flask import Response, current_app, request, url_for
from pydantic import BaseModel

from app.auth import policy
from app.core.errors import ApiError
from app.tiles import services
from app.tiles.sources import TileSource, get_source, source_names
from app.web.api import ApiBlueprint, endpoint, json_response

bp = ApiBlueprint("tiles", __name__, url_prefix="/tiles", tag="tiles")
MVT = "application/vnd.mapbox-vector-tile"


class TileVectorLayer(BaseModel):
    id: str
    description: str
    fields: dict[str, str]
    minzoom: int
    maxzoom: int


class TileJson(BaseModel):
    """TileJSON 3.0.0 of one tile layer."""
    tilejson: str
    name: str
    description: str
    scheme: str
    tiles: list[str]
    minzoom: int
    maxzoom: int
    bounds: list[float]
    center: list[float]
    vector_layers: list[TileVectorLayer]


def _source_or_404(name: str) -> TileSource:
    source = get_source(name)
    if source is None:
        raise ApiError(404, f"no tile layer {name!r}; tile layers: {', '.join(source_names())}")
    user = policy.require_login()
    if source.permission and not policy.can(user, source.permission):
        raise ApiError(403, f"role {user.role!r} may not see the {name} tiles")
    return source


def _cache_headers(resp: Response) -> Response:
    resp.headers["Cache-Control"] = f"private, max-age={current_app.config['TILE_MAX_AGE']}"
    resp.headers["Vary"] = "Authorization, Cookie"
    return resp


@bp.get("/<layer>/<z>/<x>/<y>.mvt")
@endpoint(errors=(400, 403, 404))
def tile(layer: str, z: str, x: str, y: str):
    """A Mapbox Vector Tile of a layer (public properties, the user's area only).

    ``layer``: areas, grids, compounds, buildings, chargers, bike-zones, or a feature's tile layer.
    Answers ``application/vnd.mapbox-vector-tile``; 204 when the tile is empty (nothing there, or
    below the layer's min zoom); 304 when ``If-None-Match`` matches its ``ETag``; 404 outside the
    tile pyramid.
    """
    source = _source_or_404(layer)
    zi, xi, yi = services.check_tile(z, x, y, source)
    data = services.render_tile(source, policy.current_scope(), zi, xi, yi,
                                current_app.config["TILE_FEATURE_CAP"])
    if not data:
        resp = Response(status=204)
        resp.headers.remove("Content-Type")
        return _cache_headers(resp)
    etag = services.etag_of(data)
    # If-None-Match compares weakly (RFC 9110 13.1.2); "*" matches any existing tile.
    resp = Response(status=304) if request.if_none_match.contains_weak(etag) else Response(data, mimetype=MVT)
    resp.set_etag(etag)
    return _cache_headers(resp)


@bp.get("/<layer>.json")
@endpoint(response=TileJson, errors=(403, 404))
def tilejson(layer: str):
    """TileJSON 3.0.0 of a tile layer, its bounds over the user's area."""
    source = _source_or_404(layer)
    url = url_for("tiles.tile", layer=layer, z=0, x=0, y=0, _external=True)
    url = url.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
    return _cache_headers(json_response(services.tilejson(source, policy.current_scope(), url)))
