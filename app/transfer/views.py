"""``GET /api/v1/<layer>/export`` and ``POST /api/v1/<layer>/import`` for planners."""
from flask import Blueprint, Response, current_app, jsonify, request

from app.basemap.schemas import COMMON_LIST_PARAMS
from app.web.openapi import ERROR, register_paths
from app.basemap.api import _layer_or_404, parse_list_args
from app.web.api import check_csrf as _protect
from app.auth.access import current_scope, require_login, require_role
from app.core.errors import ApiError
from app.web.errors import error_response
from app.transfer import services
from gis import fileio

bp = Blueprint("transfer", __name__, url_prefix="/api/v1")
bp.before_request(_protect)
MAX_EXPORT = 1_000_000


@bp.errorhandler(services.ImportRejected)
def _rejected(e: services.ImportRejected):
    from app.core.extensions import db
    db.session.rollback()
    resp, status = error_response(e.status, e.message, e.fields)
    body = resp.get_json()
    body["error"]["rows"] = e.report["errors"][:services.MAX_REPORTED_ERRORS]
    body["error"]["report"] = {k: v for k, v in e.report.items() if k != "errors"}
    return jsonify(body), status


@bp.get("/<layer_name>/export")
def export(layer_name: str):
    """The layer (same filters and area as the list) as a GeoJSON, GeoPackage, Shapefile zip, CSV or KML file."""
    require_login()
    layer = _layer_or_404(layer_name)
    try:
        fmt = fileio.detect_format(None, request.args.get("format") or "geojson")
    except fileio.UnknownFormatError as e:
        raise ApiError(415, str(e), {"format": "unknown"}) from None
    args = parse_list_args(layer, extra=("format",), default_limit=MAX_EXPORT, max_limit=MAX_EXPORT)
    data = services.export_layer(layer, current_scope(), fmt, **args)
    ext, mimetype, _ = fileio.FORMATS[fmt]
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{layer.name}{ext}"'})


@bp.post("/<layer_name>/import")
def import_(layer_name: str):
    """Import a file (multipart field ``file``): all rows or none; 422 with the rows' errors."""
    layer = _layer_or_404(layer_name)
    require_role(*layer.edit_roles)
    limit = current_app.config.get("WUWEI_IMPORT_MAX_BYTES", 16 * 1024 * 1024)
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the upload is larger than {limit // (1024 * 1024)} MB")
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "send the file as multipart/form-data in a field named 'file'")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "no file: send it in a multipart field named 'file'", {"file": "required"})
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"the file is larger than {limit // (1024 * 1024)} MB")
    report = services.import_layer(layer, current_scope(), data, upload.filename,
                                   request.form.get("format") or request.args.get("format"))
    return jsonify(report), 201


_FORMAT = {"name": "format", "in": "query", "required": False,
           "schema": {"type": "string", "enum": list(fileio.FORMATS), "default": "geojson"}}
_REPORT = {"type": "object", "properties": {
    "layer": {"type": "string"}, "format": {"type": "string"}, "file": {"type": "string"},
    "rows": {"type": "integer"}, "imported": {"type": "integer"},
    "ignored_columns": {"type": "array", "items": {"type": "string"}},
    "source_crs": {"type": "string", "nullable": True}}}

register_paths({
    "/api/v1/{layer}/export": {
        "parameters": [{"name": "layer", "in": "path", "required": True, "schema": {"type": "string"}}],
        "get": {"summary": "export a layer as a GIS file (same filters and area as the list)", "tags": ["transfer"],
                "parameters": [_FORMAT] + [p for p in COMMON_LIST_PARAMS if p["name"] != "limit"] + [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                "maximum": MAX_EXPORT}}],
                "responses": {"200": {"description": "the file", "content": {
                    m: {} for _, m, _ in fileio.FORMATS.values()}},
                    "400": ERROR, "401": ERROR, "404": ERROR, "415": ERROR}},
    },
    "/api/v1/{layer}/import": {
        "parameters": [{"name": "layer", "in": "path", "required": True, "schema": {"type": "string"}}],
        "post": {"summary": "import a GeoJSON, GeoPackage, Shapefile (zip), CSV (lon/lat or wkt) or KML file; "
                            "all rows or none", "tags": ["transfer"],
                 "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                     "type": "object", "required": ["file"], "properties": {
                         "file": {"type": "string", "format": "binary"},
                         "format": {"type": "string", "enum": list(fileio.FORMATS)}}}}}},
                 "responses": {"201": {"description": "imported", "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/import_report"}}}},
                     "400": ERROR, "401": ERROR, "403": ERROR, "404": ERROR, "413": ERROR, "415": ERROR,
                     "422": {"description": "rows refused, nothing stored: error.rows lists row numbers "
                                            "and messages", "content": {"application/json": {}}}}},
    },
}, {"import_report": _REPORT})
