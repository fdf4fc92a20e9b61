"""``GET /api/v1/<layer>/export``, ``POST /api/v1/<layer>/import`` (a multipart upload) and
``GET /api/v1/imports/<id>`` (an import running as a job) for planners."""

from flask import Response, current_app, request

from app.auth import policy
from app.basemap.layers import LAYERS, Layer, get_layer
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.replica import replica_reads
from app.transfer import caps, jobs, options, preview, services
from app.transfer.params import (
    ExportQuery,
    ImportForm,
    ImportJobOut,
    ImportPreview,
    ImportQuery,
    ImportReport,
    list_args,
)
from app.web.api import ApiBlueprint, endpoint, json_response
from gis import fileio

bp = ApiBlueprint("transfer", __name__, tag="transfer")


@bp.errorhandler(services.ImportRejected)
def _rejected(e: services.ImportRejected):
    db.session.rollback()
    return json_response({"error": e.error()}, e.status)


def _layer_or_404(name: str) -> Layer:
    layer = get_layer(name)
    if layer is None:
        raise ApiError(404, f"no layer {name!r}; layers: {', '.join(sorted(LAYERS))}")
    return layer


@bp.get("/<layer>/export")
@endpoint(query=ExportQuery, errors=(404,))
@replica_reads
def export(layer: str, query: ExportQuery):
    """Export a layer as a GeoJSON, GeoPackage, Shapefile (zip), CSV or KML file.

    The same area and filters as ``GET /api/v1/<layer>``; text cells of a CSV that a spreadsheet
    would run as a formula start with an apostrophe.
    """
    found = _layer_or_404(layer)
    data = services.export_layer(found, policy.current_scope(), query.format, **list_args(found, query))
    ext, mimetype, _ = fileio.FORMATS[query.format]
    return Response(
        data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{found.name}{ext}"'}
    )


def _upload() -> tuple[bytes, str, str | None]:
    """(content, file name, ``format`` form field) of the multipart upload; 413, 415 or 400 otherwise."""
    limit = current_app.config.get("WUWEI_IMPORT_MAX_BYTES", 16 * 1024 * 1024)
    too_large = (
        f"larger than the cap of {_size(limit)} for an import (WUWEI_IMPORT_MAX_BYTES); "
        "nothing imported. Split the file, or raise WUWEI_IMPORT_MAX_BYTES."
    )
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the upload is {too_large}", {"file": "over WUWEI_IMPORT_MAX_BYTES"})
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "send the file as multipart/form-data in a field named 'file'")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "no file: send it in a multipart field named 'file'", {"file": "required"})
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"the file is {too_large}", {"file": "over WUWEI_IMPORT_MAX_BYTES"})
    return data, upload.filename, request.form.get("format")


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


@bp.post("/<layer>/import")
@endpoint(
    query=ImportQuery,
    form=ImportForm,
    response=ImportReport,
    status=201,
    permission="layers.import",
    errors=(403, 404, 413),
    also={202: ImportJobOut, 200: ImportPreview},
)
def import_(layer: str, query: ImportQuery):
    """Import a file into a layer: every row, or none.

    Multipart field ``file``; ``format`` (form field or query) when the extension does not tell;
    ``crs`` (``wgs84`` — also CGCS2000 —, ``gcj02`` for 高德/腾讯, ``bd09`` for 百度, or ``EPSG:<code>``)
    when the file's numbers are not what it says; ``encoding`` of a Shapefile's text (found out when
    left out); ``mapping``: a JSON object file column → field (``""`` leaves a column out).
    **``dry_run=true``** (query or form): nothing is written; **200** with the check of every row
    (``ImportPreview``: counts, refused rows with reasons, the column mapping, features to draw).
    Each row is checked like a ``POST /api/v1/<layer>`` body: 422 (403 when rows only lie outside
    the user's area) with ``error.rows`` listing the row numbers and their errors. Caps
    (docs/operations.md): 413 over ``WUWEI_IMPORT_MAX_BYTES``; 422 over the features, vertices or
    seconds caps, naming the setting. A file of more than ``WUWEI_IMPORT_SYNC_MAX_FEATURES`` features
    is imported by the jobs worker: **202** with the job (``ImportJobOut``: ``id``, ``state``,
    ``status_url``), then ``GET /api/v1/imports/{id}`` until it is ``done`` or ``failed``.
    """
    found = _layer_or_404(layer)
    data, filename, fmt = _upload()
    form = request.form
    said = options.parse(found, form.get("crs"), form.get("encoding"), form.get("mapping"))
    user = policy.require("layers.import")
    if query.dry_run or form.get("dry_run", "").lower() in ("1", "true", "yes"):
        report = preview.preview_import(
            found, policy.scope_of(user), data, filename, fmt or query.format, said, caps.import_limits()
        )
        return json_response(report, 200)
    body, status = jobs.submit(found, user, data, filename, fmt or query.format, said)
    headers = {"Location": body["status_url"]} if status == 202 else None
    return json_response(body, status, headers)


@bp.get("/imports/<int:import_id>")
@endpoint(response=ImportJobOut, permission="layers.import", errors=(404,))
def import_status(import_id: int):
    """An import running as a background job: its state (queued, running, done, failed), its progress
    (rows checked of the rows in the file), the report when done, the error with the refused rows when
    failed (nothing is stored then). Only the user who uploaded the file sees it (404 for others)."""
    user = policy.require("layers.import")
    return json_response(jobs.status_of(jobs.get_job(user, import_id)))
