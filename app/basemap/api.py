"""``/api/v1/<layer>``: GeoJSON collections of the map layers, with CRUD for editors.

Views parse and authorise; :mod:`app.basemap.services` does the work in SQL.
"""
import json

from flask import request, url_for
from flask_login import current_user

from app.basemap import services
from app.basemap.layers import LAYERS, Layer, get_layer
from app.auth.access import current_scope, require_login, require_role
from app.core.errors import ApiError
from app.web.api import GEOJSON, ApiBlueprint, geojson_response, int_arg, json_body
from gis.geometry import GeometryError, parse_bbox

bp = ApiBlueprint("api", __name__, tag="layers")
COMMON_PARAMS = {"bbox", "limit", "offset", "sort", "q", "area", "community", "grid", "_", "lang"}


def _layer_or_404(name: str) -> Layer:
    layer = get_layer(name)
    if layer is None:
        raise ApiError(404, f"no layer {name!r}; layers: {', '.join(sorted(LAYERS))}")
    return layer


def parse_list_args(layer: Layer, extra: tuple[str, ...] = (), default_limit: int | None = None,
                    max_limit: int | None = None) -> dict:
    """bbox, paging, sort and filters from the query string; unknown names or values → 400.

    ``extra`` names parameters the caller reads itself (e.g. ``format`` on exports).
    """
    args = request.args
    filter_names = {f.name for f in layer.fields if f.filter}
    if any("\x00" in v for vs in args.listvalues() for v in vs):
        raise ApiError(400, "query parameters must not contain NUL characters")
    unknown = set(args) - COMMON_PARAMS - filter_names - set(extra)
    if unknown:
        raise ApiError(400, f"unknown parameter(s): {', '.join(sorted(unknown))}; "
                            f"filters for {layer.name}: {', '.join(sorted(filter_names)) or 'none'}",
                       {n: "unknown parameter" for n in unknown})
    try:
        bbox = parse_bbox(args.get("bbox"))
    except GeometryError as e:
        raise ApiError(400, str(e), {"bbox": str(e)}) from None
    filters = {}
    for name in filter_names & set(args):
        f = layer.field(name)
        values = []
        for raw in args.get(name).split(","):
            try:
                values.append(f.parse(raw))
            except ValueError as e:
                raise ApiError(400, f"{name}={raw!r}: {e}", {name: str(e)}) from None
        filters[name] = values
    for name, length in (("area", None), ("community", 12), ("grid", 15)):
        code = args.get(name)
        if code is None:
            continue
        if not code.isdigit() or (length and len(code) != length):
            want = f"a {length}-digit code" if length else "an area code (digits)"
            raise ApiError(400, f"{name} must be {want}", {name: "malformed code"})
        filters["area"] = code
    sort = args.get("sort", "id")
    if sort.lstrip("-") not in layer.sortable:
        raise ApiError(400, f"sort must be one of {', '.join(layer.sortable)} (prefix - for descending)",
                       {"sort": "unknown"})
    q = args.get("q")
    if q is not None and len(q) > 100:
        raise ApiError(400, "q is at most 100 characters", {"q": "too long"})
    return dict(bbox=bbox, filters=filters, q=q, sort=sort,
                limit=int_arg("limit", default_limit or services.DEFAULT_LIMIT, 1, max_limit or services.MAX_LIMIT),
                offset=int_arg("offset", 0, 0, 10_000_000))


def _page_links(layer_name: str, limit: int, offset: int, returned: int, matched: int) -> list[dict]:
    args = {k: v for k, v in request.args.items() if k not in ("offset",)}
    links = [{"rel": "self", "type": GEOJSON, "href": request.url}]
    if offset + returned < matched:
        links.append({"rel": "next", "type": GEOJSON,
                      "href": url_for("api.collection", layer_name=layer_name, _external=True,
                                      **{**args, "offset": offset + limit})})
    if offset > 0:
        links.append({"rel": "prev", "type": GEOJSON,
                      "href": url_for("api.collection", layer_name=layer_name, _external=True,
                                      **{**args, "offset": max(0, offset - limit)})})
    return links


@bp.get("/<layer_name>")
def collection(layer_name: str):
    """A page of a layer as a GeoJSON FeatureCollection."""
    require_login()
    layer = _layer_or_404(layer_name)
    a = parse_list_args(layer)
    features, matched, returned = services.list_features(layer, current_scope(), **a)
    head = {"type": "FeatureCollection", "numberMatched": matched, "numberReturned": returned,
            "links": _page_links(layer_name, a["limit"], a["offset"], returned, matched)}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',"features":' + features + "}"
    return geojson_response(text)


@bp.get("/<layer_name>/<int:fid>")
def item(layer_name: str, fid: int):
    """One feature, if it lies in the user's area."""
    require_login()
    layer = _layer_or_404(layer_name)
    feature = services.get_feature(layer, current_scope(), fid)
    if feature is None:
        raise ApiError(404, f"no {layer_name} feature {fid} in your area")
    return geojson_response(json.dumps(feature, ensure_ascii=False))


@bp.post("/<layer_name>")
def create(layer_name: str):
    """Create a feature from a GeoJSON Feature body."""
    layer = _layer_or_404(layer_name)
    require_role(*layer.edit_roles)
    feature = services.create_feature(layer, current_scope(), json_body())
    resp = geojson_response(json.dumps(feature, ensure_ascii=False), 201)
    resp.headers["Location"] = url_for("api.item", layer_name=layer_name, fid=feature["id"])
    return resp


@bp.route("/<layer_name>/<int:fid>", methods=["PATCH", "PUT"])
def change(layer_name: str, fid: int):
    """PATCH changes the given properties; PUT replaces the feature (required fields needed)."""
    layer = _layer_or_404(layer_name)
    require_role(*layer.edit_roles)
    feature = services.update_feature(layer, current_scope(), fid, json_body(),
                                      partial=request.method == "PATCH")
    return geojson_response(json.dumps(feature, ensure_ascii=False))


@bp.delete("/<layer_name>/<int:fid>")
def remove(layer_name: str, fid: int):
    """Delete a feature."""
    layer = _layer_or_404(layer_name)
    require_role(*layer.edit_roles)
    services.delete_feature(layer, current_scope(), fid)
    return "", 204
