"""``GET /api/v1/<layer>/export`` and ``POST /api/v1/<layer>/import`` (a multipart upload) for planners."""
from flask import Response, current_app, request

from app.auth import policy
from app.basemap.layers import LAYERS, Layer, get_layer
from app.core.errors import ApiError
from app.core.extensions import db
from app.transfer import services
from app.transfer.params import (
    ExportQuery,
    ImportForm,
    ImportQuery,
    ImportReport,
    list_args,
)
from app.web.api import ApiBlueprint, endpoint, json_response
from app.web.errors import error_response
from gis import fileio

bp = ApiBlueprint("transfer", __name__, tag="transfer")


@bp.errorhandler(services.ImportRejected)
def _rejected(e: services.ImportRejected):
    db.session.rollback()
    resp, status = error_response(e.status, e.message, e.fields)
    body = resp.get_json()
    body["error"]["rows"] = e.report["errors"][:services.MAX_REPORTED_ERRORS]
    body["error"]["report"] = {k: v for k, v in e.report.items() if k != "errors"}
    return json_response(body, status)


def _layer_or_404(name: str) -> Layer:
    layer = get_layer(name)
    if layer is None:
        raise ApiError(404, f"no layer {name!r}; layers: {', '.join(sorted(LAYERS))}")
    return layer


@bp.get("/<layer>/export")
@endpoint(query=ExportQuery, errors=(404,))
def export(layer: str, query: ExportQuery):
    """Export a layer as a GeoJSON, GeoPackage, Shapefile (zip), CSV or KML file.

    The same area and filters as ``GET /api/v1/<layer>``; text cells of a CSV that a spreadsheet
    would run as a formula start with an apostrophe.
    """
    found = _layer_or_404(layer)
    data = services.export_layer(found, policy.current_scope(), query.format, **list_args(found, query))
    ext, mimetype, _ = fileio.FORMATS[query.format]
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{found.name}{ext}"'})


def _upload() -> tuple[bytes, str, str | None]:
    """(content, file name, ``format`` form field) of the multipart upload; 413, 415 or 400 otherwise."""
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
    return data, upload.filename, request.form.get("format")


@bp.post("/<layer>/import")
@endpoint(query=ImportQuery, form=ImportForm, response=ImportReport, status=201, permission="layers.import",
          errors=(403, 404, 413))
def import_(layer: str, query: ImportQuery):
    """Import a file into a layer: every row, or none.

    Multipart field ``file``; ``format`` (form field or query) when the extension does not tell.
    Each row is checked like a ``POST /api/v1/<layer>`` body: 422 (403 when rows only lie outside
    the user's area) with ``error.rows`` listing the row numbers and their errors.
    """
    found = _layer_or_404(layer)
    data, filename, fmt = _upload()
    report = services.import_layer(found, policy.current_scope(), data, filename, fmt or query.format)
    return json_response(report, 201)
