"""``/ogcapi``: OGC API - Features Part 1 (Core, GeoJSON, OpenAPI 3.0, HTML).

The landing page, ``/conformance`` and ``/api`` describe the service and are public;
``/collections`` and below need a login (session cookie, or ``Authorization: Bearer``
for GDAL, QGIS and OWSLib) and show only the user's area and only non-personal properties.
JSON is answered unless HTML is asked for (``?f=html`` or a browser's ``Accept``).

Each route parses its query string with a model of :mod:`app.ogcapi.params`, which also describes
it in ``/ogcapi/api`` (:mod:`app.ogcapi.openapi`) and, for the generic routes, in
``/api/v1/openapi.json``. Besides the generic ``/collections/<collectionId>…`` rules, every
collection has rules of its own (added when the blueprint is registered), declared with its own
items model, so that the OGC document lists each collection's filters.
"""

import datetime as dt
import functools
import json

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from spectree import Tag

from app.auth import policy
from app.core.errors import ApiError
from app.core.replica import replica_reads
from app.ogcapi import paging, provider, services
from app.ogcapi.answers import wanted_format
from app.ogcapi.crs import CRS84, DEFAULT, SUPPORTED
from app.ogcapi.filters import items_query
from app.ogcapi.openapi import OPENAPI, SERVER, describe, document, ogc_spec
from app.ogcapi.pages import items_map
from app.ogcapi.params import (
    GEOJSON,
    HTML,
    ItemQuery,
    ItemsQuery,
    OgcQuery,
)
from app.ogcapi.queryables import json_schema
from app.ogcapi.reading import page_request
from app.web.api import parse_query
from app.web.openapi import spec as app_spec

bp = Blueprint("ogcapi", __name__, url_prefix="/ogcapi")

JSON = "application/json"
SCHEMA = "application/schema+json"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
# Only what tests/test_ogcapi*.py checks class by class.
CONFORMANCE = (
    [f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}" for c in ("core", "geojson", "oas30", "html")]
    + ["http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"]
    + [
        f"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/{c}"
        for c in ("queryables", "queryables-query-parameters", "filter", "features-filter")
    ]
    + [
        f"http://www.opengis.net/spec/cql2/1.0/conf/{c}"
        for c in (
            "basic-cql2",
            "cql2-text",
            "cql2-json",
            "advanced-comparison-operators",
            "case-insensitive-comparison",
            "basic-spatial-functions",
            "basic-spatial-functions-plus",
            "spatial-functions",
            "temporal-functions",
            "property-property",
        )
    ]
)
ITEMS = "GeoJSON FeatureCollection with numberMatched, numberReturned and next links (HTML by f or Accept)"
DATA_ERRORS = (400, 401, 404)


def _link(rel: str, type_: str, href: str, title: str = "") -> dict:
    link = {"rel": rel, "type": type_, "href": href}
    if title:
        link["title"] = title
    return link


def _self_links(endpoint: str, json_type: str = JSON, **kw) -> list[dict]:
    fmt = wanted_format()
    as_json = url_for(endpoint, _external=True, **kw, f="json")
    as_html = url_for(endpoint, _external=True, **kw, f="html")
    return [
        _link("self", json_type if fmt == "json" else HTML, as_json if fmt == "json" else as_html, "this document"),
        _link(
            "alternate",
            HTML if fmt == "json" else json_type,
            as_html if fmt == "json" else as_json,
            "this document as " + ("HTML" if fmt == "json" else "JSON"),
        ),
    ]


def _answer(template: str, body: dict, mimetype: str = JSON, **context):
    """``body`` as JSON, or the page ``template`` when HTML is wanted."""
    if wanted_format() == "html":
        return render_template(template, doc=body, **context)
    return Response(json.dumps(body, ensure_ascii=False), mimetype=mimetype)


def _login_for_data() -> None:
    """Data needs a user; a browser is sent to the login page, other clients get 401."""
    if not current_user.is_authenticated and wanted_format() == "html":
        raise _LoginRedirect()
    policy.require_login()


class _LoginRedirect(Exception):
    """A browser without a session is sent to the login form."""


@bp.errorhandler(_LoginRedirect)
def _to_login(_e):
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def _service_route(rule: str, operation_id: str, ok: str, public: bool = True, **options):
    """A route of the whole service, described in both documents."""
    errors = (400,) if public else (400, 401)

    def decorate(view):
        ogc = describe(
            view,
            ogc_spec,
            query=OgcQuery,
            ok=ok,
            errors=errors,
            public=public,
            tags=[SERVER],
            operation_id=operation_id,
        )
        return bp.get(rule, **options)(
            describe(ogc, app_spec, query=OgcQuery, ok=ok, errors=errors, public=public, tags=["ogcapi"])
        )

    return decorate


def _collection_route(rule: str, query: type[OgcQuery], ok: str):
    """A generic route of one collection, described in ``/api/v1/openapi.json`` (``/ogcapi/api``
    describes each collection's own rules instead)."""

    def decorate(view):
        return bp.get(rule)(describe(view, app_spec, query=query, ok=ok, errors=DATA_ERRORS, tags=["ogcapi"]))

    return decorate


@_service_route("/", "getLandingPage", "the landing page", strict_slashes=False)
def landing():
    """OGC API - Features landing page: links to the API definition, conformance classes and collections.

    Public. ``/ogcapi/api`` is the OGC API's own OpenAPI 3.0 document.
    """
    parse_query(OgcQuery)
    conformance_url = url_for("ogcapi.conformance", _external=True)
    data_url = url_for("ogcapi.collections", _external=True)
    body = {
        "title": _("五微 Wuwei · OGC API - Features"),
        "description": _("网格治理地图的公开图层（不含个人信息）。数据接口需要登录或 Bearer 令牌。"),
        "links": _self_links("ogcapi.landing")
        + [
            _link("service-desc", OPENAPI, url_for("ogcapi.api", _external=True), "the API definition (OpenAPI 3.0)"),
            _link("service-doc", HTML, url_for("ogcapi.api", _external=True, f="html"), "the API documentation"),
            _link("conformance", JSON, conformance_url, "conformance classes"),
            _link("http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON, conformance_url, "conformance classes"),
            _link("data", JSON, data_url, "collections"),
            _link("http://www.opengis.net/def/rel/ogc/1.0/data", JSON, data_url, "collections"),
        ],
    }
    return _answer("ogcapi/landing.html", body)


@_service_route("/conformance", "getConformanceDeclaration", "the conformance classes")
def conformance():
    """The conformance classes this OGC API implements (public)."""
    parse_query(OgcQuery)
    return _answer("ogcapi/conformance.html", {"conformsTo": CONFORMANCE})


@_service_route("/api", "getAPI", f"this document ({OPENAPI}), or a page")
def api():
    """The OpenAPI 3.0 document of the OGC API (public: it describes, it reveals no data)."""
    parse_query(OgcQuery)
    doc = document(url_for("ogcapi.landing", _external=True).rstrip("/"))
    if wanted_format() == "html":
        return render_template("ogcapi/api.html", doc=doc)
    resp = Response(json.dumps(doc, ensure_ascii=False))
    resp.headers["Content-Type"] = OPENAPI
    return resp


def _collection_doc(public, scope) -> dict:
    name = public.name
    title = str(public.layer.title)

    def link(endpoint: str, f: str) -> str:
        return url_for(endpoint, collectionId=name, _external=True, f=f)

    return {
        "id": name,
        "title": title,
        "description": public.description,
        "itemType": "feature",
        "crs": list(SUPPORTED),
        "storageCrs": CRS84,
        "extent": services.extent(public, scope),
        "links": [
            _link("self", JSON, link("ogcapi.collection", "json"), title),
            _link("alternate", HTML, link("ogcapi.collection", "html")),
            _link("items", GEOJSON, link("ogcapi.items", "json"), "items as GeoJSON"),
            _link("items", HTML, link("ogcapi.items", "html"), "items as HTML"),
            _link(
                QUERYABLES_REL,
                SCHEMA,
                url_for("ogcapi.queryables", collectionId=name, _external=True),
                "what filters may name",
            ),
        ],
    }


def _collection_or_404(name: str):
    public = services.get_collection(name)
    if public is None:
        raise ApiError(404, f"no collection {name!r}; collections: {', '.join(p.name for p in services.collections())}")
    return public


@_service_route("/collections", "getCollections", "the collections", public=False)
@replica_reads
def collections():
    """OGC API collections: every published layer, with its extent in the user's area (login needed)."""
    parse_query(OgcQuery)
    _login_for_data()
    scope = policy.current_scope()
    body = {
        "links": _self_links("ogcapi.collections"),
        "collections": [_collection_doc(p, scope) for p in services.collections()],
    }
    return _answer("ogcapi/collections.html", body)


@_collection_route("/collections/<collectionId>", OgcQuery, "the collection")
@replica_reads
def collection(collectionId: str):  # collectionId, featureId: the OGC names
    """OGC API collection: one published layer (404 for an unknown one)."""
    parse_query(OgcQuery)
    _login_for_data()
    public = _collection_or_404(collectionId)
    return _answer("ogcapi/collection.html", _collection_doc(public, policy.current_scope()), public=public)


def _items_links(name: str, query: ItemsQuery, page: provider.Page) -> list[dict]:
    args = {k: v for k, v in request.args.items() if k not in ("offset", "cursor", "f")}
    fmt = wanted_format()
    page_type = GEOJSON if fmt == "json" else HTML

    def url(f: str, **where) -> str:
        return url_for("ogcapi.items", collectionId=name, _external=True, **{**args, **where, "f": f})

    here = {"cursor": query.cursor} if query.cursor else ({"offset": query.offset} if query.offset else {})
    links = [
        _link("self", page_type, url(fmt, **here)),
        _link("alternate", HTML if fmt == "json" else GEOJSON, url("html" if fmt == "json" else "json", **here)),
        _link("collection", JSON, url_for("ogcapi.collection", collectionId=name, _external=True, f="json")),
    ]
    if page.next_cursor:
        links.append(_link("next", page_type, url(fmt, cursor=page.next_cursor), "next page"))
    if page.prev_cursor:
        links.append(_link("prev", page_type, url(fmt, cursor=page.prev_cursor), "previous page"))
    return links


def _with_crs(resp: Response, crs) -> Response:
    resp.headers["Content-Crs"] = crs.header
    return resp


@_collection_route("/collections/<collectionId>/items", ItemsQuery, ITEMS)
@replica_reads
def items(collectionId: str):
    """OGC API items: a page of a collection's features.

    ``limit``, ``offset`` or ``cursor`` (the next/prev links), ``bbox`` (in ``bbox-crs``), ``datetime``,
    property filters, a CQL2 ``filter`` (``filter-lang``, ``filter-crs``), ``sortby``, ``properties``,
    ``skipGeometry``, ``crs``. Each collection's parameters are listed in ``/ogcapi/api``.
    """
    _login_for_data()
    public = _collection_or_404(collectionId)
    query = parse_query(items_query(public))
    try:
        page = provider.page(public, policy.current_scope(), page_request(public, query))
    except paging.CursorError as e:
        raise ApiError(400, str(e), {"cursor": str(e)}) from None
    head = {"type": "FeatureCollection"}
    if page.matched is not None:
        head["numberMatched"] = page.matched
    head["numberReturned"] = page.returned
    head["timeStamp"] = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    head["links"] = _items_links(collectionId, query, page)
    crs = query.crs or DEFAULT
    if wanted_format() == "html":
        return _with_crs(
            Response(
                render_template(
                    "ogcapi/items.html",
                    doc=head,
                    features=json.loads(page.features),
                    public=public,
                    props=[p.name for p in public.properties],
                    map=items_map(public),
                ),
                mimetype=HTML,
            ),
            crs,
        )
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',"features":' + page.features + "}"
    return _with_crs(Response(text, mimetype=GEOJSON), crs)


@_collection_route("/collections/<collectionId>/items/<featureId>", ItemQuery, "GeoJSON Feature (or a page)")
@replica_reads
def item(collectionId: str, featureId: str):
    """OGC API feature: one feature of a collection, if it lies in the user's area (``crs`` as for items)."""
    query = parse_query(ItemQuery)
    _login_for_data()
    public = _collection_or_404(collectionId)
    fid = int(featureId) if featureId.isdigit() and len(featureId) < 12 else None
    crs = query.crs or DEFAULT
    feature = provider.item(public, policy.current_scope(), fid, crs) if fid is not None else None
    if feature is None:
        raise ApiError(404, f"no feature {featureId!r} in collection {collectionId!r} (in your area)")
    feature["links"] = _self_links("ogcapi.item", GEOJSON, collectionId=collectionId, featureId=featureId) + [
        _link("collection", JSON, url_for("ogcapi.collection", collectionId=collectionId, _external=True, f="json"))
    ]
    resp = _answer("ogcapi/item.html", feature, GEOJSON, public=public)
    return _with_crs(resp if isinstance(resp, Response) else Response(resp, mimetype=HTML), crs)


@_collection_route("/collections/<collectionId>/queryables", OgcQuery, f"JSON Schema of the queryables ({SCHEMA})")
@replica_reads
def queryables(collectionId: str):
    """OGC API queryables: the properties a CQL2 filter may name, as JSON Schema (Part 3)."""
    parse_query(OgcQuery)
    _login_for_data()
    public = _collection_or_404(collectionId)
    url = url_for("ogcapi.queryables", collectionId=collectionId, _external=True)
    return Response(json.dumps(json_schema(public, url), ensure_ascii=False), mimetype=SCHEMA)


# --------------------------------------------------------------------------- each collection's rules


@functools.cache
def _rules_of(name: str) -> tuple:
    """(rule, endpoint, view) of one collection: its description, items and features, each declared
    for ``/ogcapi/api`` with the collection's own query model."""
    public = services.get_collection(name)
    title = str(public.layer.title)
    tags = [Tag(name=name, description=f"{title}: {public.description}")]
    table = (  # suffix, endpoint, operation, query, answer, view, summary
        ("", "collection", "describe", OgcQuery, "the collection", lambda: collection(name), "the collection"),
        ("/items", "items", "getFeatures", items_query(public), ITEMS, lambda: items(name), "features"),
        ("/items/<int:featureId>", "item", "getFeature", ItemQuery, "GeoJSON Feature (or a page)",
         lambda featureId: item(name, str(featureId)), "one feature"),
        ("/queryables", "queryables", "getQueryables", OgcQuery, f"JSON Schema ({SCHEMA})",
         lambda: queryables(name), "queryables (JSON Schema)"),
    )  # fmt: skip
    rules = []
    for suffix, endpoint, operation, query, ok, view, summary in table:
        view.__doc__ = f"{title}: {summary}"
        view.__name__ = f"{endpoint}_{name}"
        described = describe(view, ogc_spec, query=query, ok=ok, errors=DATA_ERRORS, tags=tags,
                             operation_id=f"{operation}_{name}")  # fmt: skip
        rules.append((f"/collections/{name}{suffix}", f"{endpoint}_{name}", described))
    return tuple(rules)


@bp.record
def _collection_rules(state) -> None:
    """Add each collection's own rules when the blueprint is registered (collections are known then)."""
    for public in services.collections():
        for rule, endpoint, view in _rules_of(public.name):
            state.add_url_rule(rule, endpoint, view, methods=["GET"])
