"""``/api/v1/openapi.json``: the OpenAPI 3.1 document, generated from the endpoints' declarations.

Every view declared with :func:`app.web.api.endpoint` is described by spectree from its Flask route
(path parameters and their converters) and its pydantic models (query, body, answer). Nothing here
is written by hand but the document's head: title, servers, security schemes, the error envelope.

Why spectree (docs/web-toolkit.md): it documents plain Flask blueprints, so the pages, the protocol
blueprints and the API share one application object; it takes pydantic v2 models as they are;
its document validates. Validation itself is done by :mod:`app.web.api` with the same models,
so that the status of each kind of bad input is decided once (400 query, 415/400 body, 422 values).
"""
import copy
from typing import Literal

from flask import Blueprint, jsonify
from pydantic import BaseModel, Field
from spectree import SecurityScheme, SecuritySchemeData, SpecTree


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable kind: bad_request, invalid, forbidden, not_found …")
    message: str = Field(description="what went wrong, for people")
    fields: dict[str, str] = Field(default_factory=dict, description="field or parameter → what is wrong")


class ErrorModel(BaseModel):
    """Every API error: ``{"error": {"code", "message", "fields"}}``."""
    error: ErrorDetail


class Health(BaseModel):
    """``GET /healthz``: the app is up and PostGIS answers (503 with ``database: down`` when not)."""
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "down"]
    postgis: str | None = Field(description="the PostGIS version; null when the database is down")


def _health_path() -> dict:
    """``/healthz`` is a plain Flask view of :mod:`app.health`, which imports nothing above ``app.core``."""
    answer = {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}
    return {"/healthz": {"get": {
        "summary": "the app is up and PostGIS answers", "operationId": "get__healthz", "tags": ["health"],
        "security": [], "responses": {"200": {"description": "up", "content": answer},
                                      "503": {"description": "the database is down", "content": answer}}}}}


def _name(model: type) -> str:
    return model.__name__


spec = SpecTree(
    "flask", mode="strict", annotations=False, naming_strategy=_name,
    nested_naming_strategy=lambda parent, child: child,
    validation_error_status=422, validation_error_model=ErrorModel,
    title="Wuwei (五微) API", version="1.0",
    description="Map-centred governance for street offices and communities. GeoJSON (RFC 7946), "
                "lon/lat order, WGS-84. Errors: 400 unreadable request or bad query parameter; 415 not "
                "JSON; 422 a value breaks a rule; 401/403 who; 404 unknown or outside the user's area; "
                "409 conflict; 412 stale If-Match (the record changed since you read its ETag); 413 too large.",
    security_schemes=[
        SecurityScheme(name="bearer", data=SecuritySchemeData(type="http", scheme="bearer",
                                            description="a token from `flask tokens create`")),
        SecurityScheme(name="session", data=SecuritySchemeData(type="apiKey", field_in="cookie", name="session",
                                             description="the web login; writes need X-CSRFToken")),
    ],
    security=[{"bearer": []}, {"session": []}],
)

# Set in a versioned endpoint's responses by app.web.api; replaced here by what the method means.
VERSIONED = "x-wuwei-versioned"
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "the ETag of the record as you read it: the write is refused with 412 if it has "
                           "changed since (leave it out to write regardless)"}


def _versioned(paths: dict) -> dict:
    """Writes to a versioned record take ``If-Match`` and may answer 412; reads only carry the ETag."""
    out = {}
    for path, item in paths.items():
        if not any(isinstance(op, dict) and VERSIONED in op.get("responses", {}) for op in item.values()):
            out[path] = item
            continue
        item = copy.deepcopy(item)
        for method, op in item.items():
            if not isinstance(op, dict) or op.get("responses", {}).pop(VERSIONED, None) is None:
                continue
            if method not in ("get", "head", "options"):
                op.setdefault("parameters", []).append(IF_MATCH)
                op["responses"]["412"] = {"description": "Precondition Failed", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorModel"}}}}
                op["responses"] = dict(sorted(op["responses"].items()))
        out[path] = item
    return out


bp = Blueprint("openapi", __name__)
ERROR = {"$ref": "#/components/responses/Error"}   # transitional: hand-written path items refer to it
_extra_paths: list[dict] = []
_extra_schemas: dict = {}


def register_paths(paths: dict, schemas: dict | None = None) -> None:
    """Paths answered outside Flask's routing (e.g. by WSGI middleware) still belong in the document.

    Transitional: hand-written path items of features not yet declared with ``endpoint``.
    """
    _extra_paths.append(paths)
    _extra_schemas.update(schemas or {})


def _error_schemas() -> dict:
    schema = ErrorModel.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"ErrorModel": schema, **defs, "Health": Health.model_json_schema()}


def document() -> dict:
    """The whole OpenAPI document of the running application."""
    doc = dict(spec.spec)
    doc["servers"] = [{"url": "/"}]
    paths = _versioned(doc["paths"])
    extra_schemas = dict(_extra_schemas)
    for extra in _extra_paths:
        if callable(extra):          # built on demand: titles are translated per request
            extra, more = extra()
            extra_schemas.update(more)
        paths.update(extra)
    paths.update(_health_path())
    doc["paths"] = dict(sorted(paths.items()))
    components = dict(doc.get("components", {}))
    components["schemas"] = {**components.get("schemas", {}), **extra_schemas, **_error_schemas()}
    components.setdefault("responses", {})["Error"] = {
        "description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorModel"}}}}
    doc["components"] = components
    return doc


@bp.get("/api/v1/openapi.json")
def openapi_json():
    """Serve the document (public: it describes, it reveals no data)."""
    return jsonify(document())

