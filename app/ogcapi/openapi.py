"""The OpenAPI 3.0 definition of ``/ogcapi`` (served at ``/ogcapi/api``).

Paths are relative to the server URL (the landing page), as OGC API clients expect;
each collection gets its own items path listing its filter parameters, so that GDAL
and QGIS can see which property filters the server applies.
"""
from app.ogcapi import services

_ERR = {"$ref": "#/components/responses/Exception"}
_F = {"name": "f", "in": "query", "required": False, "description": "json or html (default: by Accept, else json)",
      "schema": {"type": "string", "enum": ["json", "html"]}, "style": "form", "explode": False}
_LIMIT = {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
          "description": "page size; larger values are served as 10000",
          "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}}
_OFFSET = {"name": "offset", "in": "query", "required": False, "style": "form", "explode": False,
           "schema": {"type": "integer", "minimum": 0, "default": 0}, "description": "paging (follow the next link)"}
_BBOX = {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
         "description": "minLon,minLat,maxLon,maxLat (CRS84)",
         "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}}
_DATETIME = {"name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
             "description": "RFC 3339 instant or interval (.. for an open end); collections without a time "
                            "property ignore it", "schema": {"type": "string"}}
_JSON_TYPES = {"integer": "integer", "number": "number", "string": "string"}


def _path(summary: str, op_id: str, params: list, ok: dict, tags=("server",)) -> dict:
    return {"get": {"summary": summary, "operationId": op_id, "tags": list(tags), "parameters": params,
                    "responses": {"200": ok, "400": _ERR, "401": _ERR, "404": _ERR, "500": _ERR}}}


def _ok(description: str, *types: str) -> dict:
    return {"description": description, "content": {t: {} for t in types}}


def build_document(server_url: str) -> dict:
    """The OpenAPI document with ``server_url`` as its server."""
    paths = {
        "/": _path("landing page", "getLandingPage", [_F], _ok("landing page", "application/json", "text/html")),
        "/conformance": _path("conformance classes", "getConformanceDeclaration", [_F],
                              _ok("conformance classes", "application/json", "text/html")),
        "/api": _path("this API definition", "getAPI", [_F],
                      _ok("OpenAPI 3.0", "application/vnd.oai.openapi+json;version=3.0", "text/html")),
        "/collections": _path("the collections (login needed)", "getCollections", [_F],
                              _ok("collections", "application/json", "text/html")),
    }
    for public in services.collections():
        name = public.name
        tag = [name]
        filters = [{"name": p.name, "in": "query", "required": False, "style": "form", "explode": False,
                    "description": "property filter; comma-separated values",
                    "schema": {"type": _JSON_TYPES[p.type]}}
                   for p in public.properties if p.filter and public.layer.field(p.name)]
        paths[f"/collections/{name}"] = _path(f"{public.layer.title}: collection", f"describe_{name}", [_F],
                                             _ok("collection", "application/json", "text/html"), tag)
        paths[f"/collections/{name}/items"] = _path(
            f"{public.layer.title}: features", f"getFeatures_{name}",
            [_F, _LIMIT, _OFFSET, _BBOX, _DATETIME] + filters,
            _ok("GeoJSON FeatureCollection with numberMatched, numberReturned and next links",
                "application/geo+json", "text/html"), tag)
        paths[f"/collections/{name}/items/{{featureId}}"] = _path(
            f"{public.layer.title}: one feature", f"getFeature_{name}",
            [{"name": "featureId", "in": "path", "required": True, "schema": {"type": "integer"}}, _F],
            _ok("GeoJSON Feature", "application/geo+json", "text/html"), tag)
    return {
        "openapi": "3.0.2",
        "info": {"title": "Wuwei (五微) OGC API - Features", "version": "1.0",
                 "description": "Published, non-personal map layers of Wuwei. /collections and below need a "
                                "login: a session cookie or 'Authorization: Bearer <token>' "
                                "(flask --app app tokens create --user U)."},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "schemas": {"exception": {"type": "object", "required": ["code"], "properties": {
                "code": {"type": "string"}, "description": {"type": "string"}}}},
            "responses": {"Exception": {"description": "an error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/exception"}}}}},
        },
        "tags": [{"name": "server"}] + [{"name": p.name, "description": str(p.layer.title)}
                                        for p in services.collections()],
    }


# The generic OGC paths, listed in the app's own /api/v1/openapi.json as well.
APP_PATHS = {
    "/ogcapi/": {"get": {"summary": "OGC API - Features landing page (see /ogcapi/api for its own OpenAPI)",
                         "tags": ["ogcapi"], "security": [], "responses": {"200": {"description": "landing page"}}}},
    "/ogcapi/conformance": {"get": {"summary": "OGC API conformance classes", "tags": ["ogcapi"], "security": [],
                                    "responses": {"200": {"description": "conformsTo"}}}},
    "/ogcapi/api": {"get": {"summary": "OpenAPI 3.0 of the OGC API", "tags": ["ogcapi"], "security": [],
                            "responses": {"200": {"description": "OpenAPI document"}}}},
    "/ogcapi/collections": {"get": {"summary": "OGC API collections (published layers)", "tags": ["ogcapi"],
                                    "responses": {"200": {"description": "collections"},
                                                  "401": {"description": "login needed"}}}},
    "/ogcapi/collections/{collectionId}": {"get": {
        "summary": "OGC API collection", "tags": ["ogcapi"],
        "parameters": [{"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "collection"}, "404": {"description": "unknown collection"}}}},
    "/ogcapi/collections/{collectionId}/items": {"get": {
        "summary": "OGC API items (GeoJSON; limit, offset, bbox, datetime, property filters)", "tags": ["ogcapi"],
        "parameters": [{"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string"}},
                       _LIMIT, _OFFSET, _BBOX, _DATETIME, _F],
        "responses": {"200": {"description": "FeatureCollection", "content": {"application/geo+json": {}}},
                      "400": {"description": "bad parameter ({code, description})"}}}},
    "/ogcapi/collections/{collectionId}/items/{featureId}": {"get": {
        "summary": "OGC API feature", "tags": ["ogcapi"],
        "parameters": [{"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "featureId", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {"200": {"description": "Feature", "content": {"application/geo+json": {}}},
                      "404": {"description": "unknown feature"}}}},
}
