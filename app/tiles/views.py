"""``/tiles/{layer}/{z}/{x}/{y}.mvt`` and ``/tiles/{layer}.json`` (TileJSON); several layers in one
tile with ``/tiles/{a},{b}/{z}/{x}/{y}.mvt`` (and ``/tiles/{a},{b}.json``).

Tiles need a login (session or bearer token) and show only the user's area, so they
are cached privately: ``ETag`` + ``Cache-Control: private``; ``If-None-Match`` → 304.
They are sent brotli- or gzip-compressed when the client accepts it (``Content-Encoding``), and built
once per data version of their tables (:mod:`app.tiles.cache`); they run on the read replica when there is one.
A source may need a permission of :mod:`app.auth.policy` besides the login.
"""

from flask import Response, current_app, request, url_for
from pydantic import BaseModel, Field

from app.auth import policy
from app.core.errors import ApiError
from app.core.replica import replica_reads
from app.tiles import cache, encoding, services
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
    """TileJSON 3.0.0 of one or several tile layers (``wuwei:plan``: what each zoom carries)."""

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
    plan: dict = Field(alias="wuwei:plan")


def _source_or_404(name: str) -> TileSource:
    source = get_source(name)
    if source is None:
        raise ApiError(404, f"no tile layer {name!r}; tile layers: {', '.join(source_names())}")
    user = policy.require_login()
    if source.permission and not policy.can(user, source.permission):
        raise ApiError(403, f"role {user.role!r} may not see the {name} tiles")
    return source


def _sources(layers: str) -> list[TileSource]:
    """The sources named in ``a`` or ``a,b,c`` (each once, in the order given)."""
    names = list(dict.fromkeys(n.strip() for n in layers.split(",")))
    if not all(names) or len(names) > services.MAX_LAYERS:
        raise ApiError(400, f"name 1 to {services.MAX_LAYERS} tile layers, separated by commas", {"layer": "bad list"})
    return [_source_or_404(n) for n in names]


def _cache_headers(resp: Response) -> Response:
    resp.headers["Cache-Control"] = f"private, max-age={current_app.config['TILE_MAX_AGE']}"
    resp.headers["Vary"] = "Accept-Encoding, Authorization, Cookie"
    return resp


@bp.get("/<layer>/<z>/<x>/<y>.mvt")
@endpoint(errors=(400, 403, 404))
@replica_reads
def tile(layer: str, z: str, x: str, y: str):
    """A Mapbox Vector Tile of a layer, or of several (``buildings,chargers``): public properties only,
    the user's area only, nothing dropped.

    ``layer``: areas, grids, compounds, buildings, chargers, bike-zones, a feature's tile layer, or a
    comma-separated list of them. Below a dense layer's detail zoom the tile carries ``<layer>-cells``
    (counts per cell) instead of its features; TileJSON states which zooms carry which. Answers
    ``application/vnd.mapbox-vector-tile`` (brotli or gzip by ``Accept-Encoding``); 204 when the tile
    is empty; 304 when ``If-None-Match`` matches its ``ETag``; 404 outside the tile pyramid.
    """
    sources = _sources(layer)
    zi, xi, yi = services.check_tile(z, x, y)
    scope = policy.current_scope()
    tables = tuple(dict.fromkeys(t for s in sources for t in s.tables))
    store = cache.cache() if tables and all(s.tables for s in sources) else None
    if store is None:
        return _answer(services.render(sources, scope, zi, xi, yi), None, None)
    key = (services.statement_key(sources, scope, zi), xi, yi, tables, cache.versions(tables))
    base = cache.etag_base(key)
    # The key names the content: a client holding this key's tile gets 304 before anything is built.
    held = (encoding.etag(base, None), encoding.etag(base, encoding.preferred(request.accept_encodings)))
    if any(request.if_none_match.contains_weak(e) for e in held):
        return _cache_headers(_not_modified(held[0] if request.if_none_match.contains_weak(held[0]) else held[1]))
    entry = store.get(key)
    if entry is None:
        entry = cache.Entry(services.render(sources, scope, zi, xi, yi))
        store.put(key, entry)
    return _answer(entry.data, base, lambda coding: store.encoded(key, entry, coding, encoding.encode))


def _not_modified(etag: str) -> Response:
    resp = Response(status=304)
    resp.set_etag(etag)
    return resp


def _answer(data: bytes, base: str | None, encoded) -> Response:
    """The tile response: 204 when empty, else the bytes in the negotiated encoding with their ETag
    (``base``: from the cache key; None: from the bytes), or 304 when ``If-None-Match`` holds it."""
    if not data:
        resp = Response(status=204)
        resp.headers.remove("Content-Type")
        return _cache_headers(resp)
    coding = encoding.negotiate(request.accept_encodings, len(data))
    etag = encoding.etag(base or services.etag_of(data), coding)
    # If-None-Match compares weakly (RFC 9110 13.1.2); "*" matches any existing tile.
    if request.if_none_match.contains_weak(etag):
        return _cache_headers(_not_modified(etag))
    body = data if not coding else encoded(coding) if encoded else encoding.encode(data, coding)
    resp = Response(body, mimetype=MVT)
    if coding:
        resp.headers["Content-Encoding"] = coding
    resp.set_etag(etag)
    return _cache_headers(resp)


@bp.get("/<layer>.json")
@endpoint(response=TileJson, errors=(400, 403, 404))
def tilejson(layer: str):
    """TileJSON 3.0.0 of a tile layer (or of ``a,b,c``): bounds over the user's area, min/max zoom,
    and the zoom plan of each layer."""
    sources = _sources(layer)
    url = url_for("tiles.tile", layer=layer, z=0, x=0, y=0, _external=True)
    url = url.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
    return _cache_headers(json_response(services.tilejson(sources, policy.current_scope(), url)))
