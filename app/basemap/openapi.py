"""``/api/v1/openapi.json``: the OpenAPI 3 description of the API.

Layer paths are generated from the layer registry; other features add their
paths with :func:`register_paths` in their ``init_app``.
"""
from app.basemap.layers import LAYERS, Layer
from app.web.openapi import register_paths

ERROR = {"$ref": "#/components/responses/Error"}


def _param(name, where="query", schema=None, description="", required=False):
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema or {"type": "string"}}


COMMON_LIST_PARAMS = [
    _param("bbox", description="minLon,minLat,maxLon,maxLat (WGS-84)"),
    _param("limit", schema={"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000}),
    _param("offset", schema={"type": "integer", "minimum": 0, "default": 0}),
    _param("area", description="area code: rows under this street/community/grid"),
    _param("community", description="12-digit community code"),
    _param("grid", description="15-digit grid code"),
    _param("q", description="text search in the name"),
]


def _layer_paths(layer: Layer) -> dict:
    props = {f.name: f.openapi() for f in layer.fields}
    schema_name = layer.name.replace("-", "_")
    filters = [_param(f.name, schema=f.openapi(), description="filter; comma-separated values")
               for f in layer.fields if f.filter]
    sort = _param("sort", schema={"type": "string", "enum": [s for c in layer.sortable for s in (c, "-" + c)]})
    body = {"required": True, "content": {"application/geo+json": {
        "schema": {"$ref": f"#/components/schemas/{schema_name}_feature"}}}}
    one = {"200": {"description": "a feature", "content": {"application/geo+json": {}}},
           "401": ERROR, "404": ERROR}
    title = str(layer.title)
    return {
        f"/api/v1/{layer.name}": {
            "get": {"summary": f"{title}: list as a GeoJSON FeatureCollection", "tags": [layer.name],
                    "parameters": COMMON_LIST_PARAMS + [sort] + filters,
                    "responses": {"200": {"description": "FeatureCollection with numberMatched/numberReturned "
                                                         "and next/prev links",
                                          "content": {"application/geo+json": {}}},
                                  "400": ERROR, "401": ERROR}},
            "post": {"summary": f"{title}: create", "tags": [layer.name], "requestBody": body,
                     "responses": {"201": {"description": "created"}, "400": ERROR, "401": ERROR,
                                   "403": ERROR, "409": ERROR, "415": ERROR, "422": ERROR}},
        },
        f"/api/v1/{layer.name}/{{id}}": {
            "parameters": [_param("id", "path", {"type": "integer"}, required=True)],
            "get": {"summary": f"{title}: one feature", "tags": [layer.name], "responses": one},
            "patch": {"summary": f"{title}: change some properties", "tags": [layer.name],
                      "requestBody": body, "responses": {**one, "403": ERROR, "415": ERROR, "422": ERROR}},
            "put": {"summary": f"{title}: replace", "tags": [layer.name],
                    "requestBody": body, "responses": {**one, "403": ERROR, "415": ERROR, "422": ERROR}},
            "delete": {"summary": f"{title}: delete", "tags": [layer.name],
                       "responses": {"204": {"description": "deleted"}, "401": ERROR, "403": ERROR,
                                     "404": ERROR, "409": ERROR}},
        },
    }, {f"{schema_name}_feature": {
        "type": "object", "required": ["type", "properties"] + (["geometry"] if layer.geom_type else []),
        "properties": {"type": {"type": "string", "enum": ["Feature"]},
                       "geometry": {"type": "object", "description": f"GeoJSON {layer.geom_type or 'null'}"},
                       "properties": {"type": "object", "properties": props,
                                      "required": [f.name for f in layer.fields if f.required]}}}}


def register_layer_paths() -> None:
    """The layer paths (transitional, until the layer API is declared with ``endpoint``)."""
    register_paths(_all_layer_paths)


def _all_layer_paths() -> tuple[dict, dict]:
    paths, schemas = {}, {}
    for layer in LAYERS.values():
        p, sch = _layer_paths(layer)
        paths.update(p)
        schemas.update(sch)
    paths["/api/v1/me"] = {"get": {"summary": "the current user", "responses": {"200": {"description": "user"},
                                                                                "401": ERROR}}}
    paths["/healthz"] = {"get": {"summary": "health", "security": [],
                                 "responses": {"200": {"description": "ok"},
                                               "503": {"description": "database down"}}}}
    return paths, schemas
