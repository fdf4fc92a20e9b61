"""``/ogcapi``: OGC API - Features Part 1 (Core, GeoJSON, OpenAPI 3.0, HTML).

The landing page, ``/conformance`` and ``/api`` describe the service and are public;
``/collections`` and below need a login (session cookie, or ``Authorization: Bearer``
for GDAL, QGIS and OWSLib) and show only the user's area and only non-personal properties.
JSON is answered unless HTML is asked for (``?f=html`` or a browser's ``Accept``).
"""
import datetime as dt
import json

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth.access import current_scope, require_login
from app.core.errors import ApiError
from app.ogcapi import openapi, services
from app.ogcapi.params import ParamError, parse_bbox, parse_datetime, parse_limit, parse_offset
from gis.maps import add_layers, base_map, render_parts

bp = Blueprint("ogcapi", __name__, url_prefix="/ogcapi")

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}"
               for c in ("core", "geojson", "oas30", "html")]
COMMON_PARAMS = {"f", "lang", "_"}
ITEMS_PARAMS = COMMON_PARAMS | {"limit", "offset", "bbox", "datetime"}


def wanted_format() -> str:
    """"json" or "html": ``?f=`` first, then ``Accept``; JSON when nothing is asked (OWSLib, GDAL)."""
    f = request.args.get("f")
    if f is not None:
        f = f.lower()
        if f in ("json", "geojson", "application/json", GEOJSON):
            return "json"
        if f in ("html", HTML):
            return "html"
        raise ApiError(400, f"f must be json or html, not {f!r}", {"f": "unknown format"})
    best = request.accept_mimetypes.best_match([GEOJSON, JSON, HTML])
    return "html" if best == HTML else "json"


def _bad(e: ParamError, name: str):
    return ApiError(400, str(e), {name: str(e)})


def _link(rel: str, type_: str, href: str, title: str = "") -> dict:
    link = {"rel": rel, "type": type_, "href": href}
    if title:
        link["title"] = title
    return link


def _self_links(endpoint: str, json_type: str = JSON, **kw) -> list[dict]:
    fmt = wanted_format()
    as_json = url_for(endpoint, _external=True, **kw, f="json")
    as_html = url_for(endpoint, _external=True, **kw, f="html")
    return [_link("self", json_type if fmt == "json" else HTML, as_json if fmt == "json" else as_html,
                  "this document"),
            _link("alternate", HTML if fmt == "json" else json_type, as_html if fmt == "json" else as_json,
                  "this document as " + ("HTML" if fmt == "json" else "JSON"))]


def _json(body, mimetype: str = JSON) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), mimetype=mimetype)


def _check_params(allowed: set[str]) -> None:
    unknown = set(request.args) - allowed
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {', '.join(sorted(unknown))}; "
                            f"allowed: {', '.join(sorted(allowed))}", {n: "unknown parameter" for n in unknown})


def _login_for_data() -> None:
    """Data needs a user; a browser is sent to the login page, other clients get 401."""
    if not current_user.is_authenticated and wanted_format() == "html":
        raise _LoginRedirect()
    require_login()


class _LoginRedirect(Exception):
    """A browser without a session is sent to the login form."""


@bp.errorhandler(_LoginRedirect)
def _to_login(_e):
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


@bp.get("/", strict_slashes=False)
def landing():
    """The landing page: links to the API definition, the conformance classes and the collections."""
    _check_params(COMMON_PARAMS)
    body = {
        "title": _("五微 Wuwei · OGC API - Features"),
        "description": _("网格治理地图的公开图层（不含个人信息）。数据接口需要登录或 Bearer 令牌。"),
        "links": _self_links("ogcapi.landing") + [
            _link("service-desc", OPENAPI, url_for("ogcapi.api", _external=True), "the API definition (OpenAPI 3.0)"),
            _link("service-doc", HTML, url_for("ogcapi.api", _external=True, f="html"), "the API documentation"),
            _link("conformance", JSON, url_for("ogcapi.conformance", _external=True), "conformance classes"),
            _link("http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON,
                  url_for("ogcapi.conformance", _external=True), "conformance classes"),
            _link("data", JSON, url_for("ogcapi.collections", _external=True), "collections"),
            _link("http://www.opengis.net/def/rel/ogc/1.0/data", JSON,
                  url_for("ogcapi.collections", _external=True), "collections"),
        ],
    }
    if wanted_format() == "html":
        return render_template("ogcapi/landing.html", doc=body)
    return _json(body)


@bp.get("/conformance")
def conformance():
    """The conformance classes this server implements."""
    _check_params(COMMON_PARAMS)
    body = {"conformsTo": CONFORMANCE}
    if wanted_format() == "html":
        return render_template("ogcapi/conformance.html", doc=body)
    return _json(body)


@bp.get("/api")
def api():
    """The OpenAPI 3.0 definition of this OGC API (public: it describes, it reveals no data)."""
    _check_params(COMMON_PARAMS)
    doc = openapi.build_document(url_for("ogcapi.landing", _external=True).rstrip("/"))
    if wanted_format() == "html":
        return render_template("ogcapi/api.html", doc=doc)
    resp = Response(json.dumps(doc, ensure_ascii=False))
    resp.headers["Content-Type"] = OPENAPI
    return resp


def _collection_doc(public, scope) -> dict:
    name = public.name
    layer = public.layer
    return {
        "id": name,
        "title": str(layer.title),
        "description": public.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": services.extent(public, scope),
        "links": [
            _link("self", JSON, url_for("ogcapi.collection", name=name, _external=True, f="json"), str(layer.title)),
            _link("alternate", HTML, url_for("ogcapi.collection", name=name, _external=True, f="html")),
            _link("items", GEOJSON, url_for("ogcapi.items", name=name, _external=True, f="json"), "items as GeoJSON"),
            _link("items", HTML, url_for("ogcapi.items", name=name, _external=True, f="html"), "items as HTML"),
        ],
    }


def _collection_or_404(name: str):
    public = services.get_collection(name)
    if public is None:
        raise ApiError(404, f"no collection {name!r}; collections: "
                            f"{', '.join(p.name for p in services.collections())}")
    return public


@bp.get("/collections")
def collections():
    """Every published layer as a collection, with its extent in the user's area."""
    _check_params(COMMON_PARAMS)
    _login_for_data()
    scope = current_scope()
    body = {"links": _self_links("ogcapi.collections"),
            "collections": [_collection_doc(p, scope) for p in services.collections()]}
    if wanted_format() == "html":
        return render_template("ogcapi/collections.html", doc=body)
    return _json(body)


@bp.get("/collections/<name>")
def collection(name: str):
    """One collection."""
    _check_params(COMMON_PARAMS)
    _login_for_data()
    public = _collection_or_404(name)
    body = _collection_doc(public, current_scope())
    if wanted_format() == "html":
        return render_template("ogcapi/collection.html", doc=body, public=public)
    return _json(body)


def _items_args(public) -> dict:
    filters = {p.name: p for p in public.properties if p.filter and public.layer.field(p.name)}
    _check_params(ITEMS_PARAMS | set(filters))
    args = request.args
    try:
        limit = parse_limit(args.get("limit"))
    except ParamError as e:
        raise _bad(e, "limit") from None
    try:
        offset = parse_offset(args.get("offset"))
    except ParamError as e:
        raise _bad(e, "offset") from None
    try:
        bbox = parse_bbox(args.get("bbox"))
    except ParamError as e:
        raise _bad(e, "bbox") from None
    try:
        when = parse_datetime(args.get("datetime"))
    except ParamError as e:
        raise _bad(e, "datetime") from None
    values = {}
    for name in set(filters) & set(args):
        field = public.layer.field(name)
        try:
            values[name] = [field.parse(v) for v in args.get(name).split(",")]
        except ValueError as e:
            raise ApiError(400, f"{name}={args.get(name)!r}: {e}", {name: str(e)}) from None
    return dict(bbox=bbox, when=when, filters=values, limit=limit, offset=offset)


def _items_links(name: str, limit: int, offset: int, returned: int, matched: int | None) -> list[dict]:
    args = {k: v for k, v in request.args.items() if k not in ("offset", "f")}
    fmt = wanted_format()
    page_type = GEOJSON if fmt == "json" else HTML

    def page(off: int, f: str) -> str:
        return url_for("ogcapi.items", name=name, _external=True, **{**args, "offset": off, "f": f})

    links = [_link("self", page_type, page(offset, fmt)),
             _link("alternate", HTML if fmt == "json" else GEOJSON, page(offset, "html" if fmt == "json" else "json")),
             _link("collection", JSON, url_for("ogcapi.collection", name=name, _external=True, f="json"))]
    more = offset + returned < matched if matched is not None else returned == limit
    if more:
        links.append(_link("next", page_type, page(offset + limit, fmt), "next page"))
    if offset > 0:
        links.append(_link("prev", page_type, page(max(0, offset - limit), fmt), "previous page"))
    return links


def _items_map(public) -> dict:
    """A folium map whose browser loader fetches this collection's items for the visible bbox."""
    layer = public.layer
    minx, miny, maxx, maxy = services.extent(public, current_scope())["spatial"]["bbox"][0]
    m = base_map(url_for("static", filename=""), basemap=current_app.config["WUWEI_BASEMAP"],
                 tianditu_key=current_app.config.get("WUWEI_TIANDITU_KEY", ""), height="420px")
    add_layers(m, [{"name": public.name, "title": str(layer.title), "geom_type": layer.geom_type,
                    "url": url_for("ogcapi.items", name=public.name, f="json"), "style": layer.style,
                    "min_zoom": public.min_zoom, "popup": [p.name for p in public.properties][:6],
                    "visible": True}],
               bounds=[[miny, minx], [maxy, maxx]],
               texts={"layers": _("图层与图例"), "loading": _("加载中…"), "empty": _("无数据"),
                      "error": _("加载失败"), "zoom_in": _("放大后显示")})
    return render_parts(m)


@bp.get("/collections/<name>/items")
def items(name: str):
    """A page of a collection's features as GeoJSON (``limit``, ``offset``, ``bbox``, ``datetime``, filters)."""
    _login_for_data()
    public = _collection_or_404(name)
    a = _items_args(public)
    features, matched, returned = services.items(public, current_scope(), **a)
    head = {"type": "FeatureCollection"}
    if matched is not None:
        head["numberMatched"] = matched
    head["numberReturned"] = returned
    head["timeStamp"] = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    head["links"] = _items_links(name, a["limit"], a["offset"], returned, matched)
    if wanted_format() == "html":
        return render_template("ogcapi/items.html", doc=head, features=json.loads(features), public=public,
                               props=[p.name for p in public.properties], map=_items_map(public))
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',"features":' + features + "}"
    return Response(text, mimetype=GEOJSON)


@bp.get("/collections/<name>/items/<fid>")
def item(name: str, fid: str):
    """One feature."""
    _check_params(COMMON_PARAMS)
    _login_for_data()
    public = _collection_or_404(name)
    feature = services.item(public, current_scope(), int(fid)) if fid.isdigit() and len(fid) < 12 else None
    if feature is None:
        raise ApiError(404, f"no feature {fid!r} in collection {name!r} (in your area)")
    feature["links"] = _self_links("ogcapi.item", GEOJSON, name=name, fid=fid) + [
        _link("collection", JSON, url_for("ogcapi.collection", name=name, _external=True, f="json"))]
    if wanted_format() == "html":
        return render_template("ogcapi/item.html", doc=feature, public=public)
    return _json(feature, GEOJSON)


_OGC_CODES = {400: "InvalidParameterValue", 401: "NotAuthorized", 403: "Forbidden", 404: "NotFound",
              405: "MethodNotAllowed", 429: "TooManyRequests", 500: "ServerError", 503: "ServiceUnavailable"}


def exception_response(status: int, message: str, fields: dict):
    """OGC API exceptions: ``{"code", "description"}`` (an HTML page for browsers)."""
    try:
        html = wanted_format() == "html"
    except ApiError:
        html = False
    if html:
        return render_template("error.html", status=status, message=message), status
    body = {"code": _OGC_CODES.get(status, "NoApplicableCode"), "description": message}
    headers = {"WWW-Authenticate": 'Bearer realm="wuwei"'} if status == 401 else {}
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=JSON, headers=headers)
