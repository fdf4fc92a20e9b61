"""Layer import (all or nothing, row errors reported) and export (same scope and filters as the list)."""

import json
from collections.abc import Callable

from app.audit.services import record
from app.auth.policy import Scope
from app.basemap import bulk
from app.basemap import services as layer_services
from app.basemap.layers import Layer
from app.core.errors import ApiError, envelope
from app.core.extensions import db
from app.transfer import caps
from app.transfer.options import DEFAULT, ImportOptions
from app.web.tables import safe_cell
from gis import fileio
from gis.filebase import read_date

# progress(phase, rows done, rows in all): "checking" rows one by one, then "storing" them.
Progress = Callable[[str, int, int], None]

# Columns an exported file carries that an import must not write back: computed in SQL or by PostGIS.
_ALWAYS_READONLY = {"id", "grid_id", "fid", "ogc_fid", "objectid"}
MAX_REPORTED_ERRORS = 200


class ImportRejected(ApiError):
    """An import refused as a whole; ``report`` lists the rows and their errors."""

    def __init__(self, status: int, message: str, report: dict):
        fields = {f"row {e['row']}": e["message"] for e in report["errors"][:MAX_REPORTED_ERRORS]}
        super().__init__(status, message, fields)
        self.report = report

    def error(self) -> dict:
        """The content of the error envelope: ``code``, ``message``, ``fields``, the refused ``rows``
        and the ``report`` (counts, ignored columns)."""
        body = envelope(self.status, self.message, self.fields)["error"]
        body["rows"] = self.report["errors"][:MAX_REPORTED_ERRORS]
        body["report"] = {k: v for k, v in self.report.items() if k != "errors"}
        return body


def export_columns(layer: Layer) -> list[str]:
    """Attribute columns of an export: the layer's fields, then its computed properties."""
    names = [f.name for f in layer.fields]
    if layer.geom_type and layer.scope == "grid":
        names.append("grid_id")
    return names + [c for c in layer.computed if c not in names]


def export_kinds(layer: Layer) -> dict[str, str]:
    """The type of each exported column (integers stay integers, dates dates in GPKG and SHP)."""
    kinds = {f.name: f.kind for f in layer.fields}
    if layer.geom_type and layer.scope == "grid":
        kinds["grid_id"] = "int"
    return kinds


def spreadsheet_safe(features: list[dict]) -> list[dict]:
    """``features`` whose text properties a spreadsheet will not run as formulas (``'=…``)."""
    for f in features:
        props = f.get("properties")
        if props:
            f["properties"] = {k: safe_cell(v) if isinstance(v, str) else v for k, v in props.items()}
    return features


def export_layer(layer: Layer, scope: Scope, fmt: str, **list_args) -> bytes:
    """The features of ``layer`` visible to ``scope`` (with the list's filters) as a file in ``fmt``.

    A CSV opens in a spreadsheet: its text cells are made safe (:func:`app.web.tables.safe_cell`).
    """
    features_json, _, _ = layer_services.list_features(layer, scope, **list_args)
    features = json.loads(features_json) if isinstance(features_json, str) else features_json
    if fmt == "csv":
        features = spreadsheet_safe(features)
    try:
        return fileio.write_features(
            features, fmt, layer.name, export_columns(layer), layer.geom_type, export_kinds(layer)
        )
    except fileio.UnknownFormatError as e:  # e.g. KML for a layer without geometry
        raise ApiError(400, str(e), {"format": str(e)}) from None
    except fileio.FileFormatError as e:
        raise ApiError(422, str(e)) from None


def map_columns(
    layer: Layer, columns: list[str], chosen: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """(file column → layer field name, ignored columns).

    What the user chose first (``chosen``: column → field, ``""`` to leave it out), then exact names,
    then case-insensitive (KML's ``Name``), then the 10-character names a Shapefile cuts field names
    to (``property_c`` → ``property_company_id``).
    """
    chosen = chosen or {}
    fields = [f.name for f in layer.fields if f.writable]
    readonly = _ALWAYS_READONLY | set(layer.computed)
    mapping, ignored = {}, []
    taken = {v for k, v in chosen.items() if v and k in columns}
    for col in columns:
        target = None
        if col in chosen:
            target = chosen[col] or None
        elif col in fields:
            target = col
        else:
            ci = [f for f in fields if f.lower() == col.lower()]
            cut = [f for f in fields if len(col) == 10 and f[:10].lower() == col.lower()]
            if len(ci) == 1:
                target = ci[0]
            elif len(cut) == 1:
                target = cut[0]
        if target and (col in chosen or target not in taken):
            mapping[col] = target
            taken.add(target)
        elif col.lower() not in readonly or col in chosen:
            ignored.append(col)
    return mapping, ignored


def detect_format(filename: str | None, fmt: str | None = None) -> str:
    """The file's format from ``fmt`` or its name; 415 when neither tells."""
    try:
        return fileio.detect_format(filename, fmt)
    except fileio.UnknownFormatError as e:
        raise ApiError(415, str(e)) from None


def unreadable(filename: str | None, e: fileio.FileFormatError) -> ApiError:
    return ApiError(422, f"{filename or 'the file'}: {e}", {"file": str(e)})


def read_file(
    data: bytes,
    filename: str | None,
    fmt: str | None = None,
    limits: fileio.Limits = fileio.NO_LIMITS,
    options: ImportOptions = DEFAULT,
) -> tuple[str, fileio.ReadResult]:
    """(format, features) of an uploaded file; 415 for an unknown format, 422 for an unreadable file
    or one over ``limits`` (:func:`app.transfer.caps.cap_error`)."""
    fmt = detect_format(filename, fmt)
    try:
        return fmt, fileio.read_features(data, fmt, limits, options.reading())
    except fileio.FileFormatError as e:
        raise unreadable(filename, e) from None
    except fileio.LimitExceededError as e:
        raise caps.cap_error(e) from None


def import_layer(
    layer: Layer,
    scope: Scope,
    data: bytes,
    filename: str | None = None,
    fmt: str | None = None,
    user_id: int | None = None,
    *,
    limits: fileio.Limits = fileio.NO_LIMITS,
    progress: Progress | None = None,
    before_commit: Callable[[dict], None] | None = None,
    options: ImportOptions = DEFAULT,
) -> dict:
    """Insert every feature of a file into ``layer``, or none.

    Each row is parsed and checked exactly like a ``POST /api/v1/<layer>`` body; any bad row
    rejects the whole file (422, or 403 when rows only lie outside the user's area) with the
    row numbers and their errors. A file over ``limits`` is refused (422, naming the cap) as soon
    as the cap is passed. Returns the report: counts, ignored columns. ``before_commit(report)``
    runs in the import's transaction.
    """
    fmt, result = read_file(data, filename, fmt, limits, options)
    mapping, report = start_report(layer, fmt, filename, result, options)
    if not result.features:
        raise ImportRejected(422, f"{filename or 'the file'} holds no features", report)
    try:
        parsed = parse_rows(layer, result.features, mapping, report, limits, progress)
        if report["errors"]:
            _reject(report, filename)
        if progress:
            progress("storing", 0, len(parsed))
        with caps.sql_deadline(limits):
            insert_rows(layer, scope, parsed, report, filename)
        limits.check_time()
    except fileio.LimitExceededError as e:
        db.session.rollback()
        raise caps.cap_error(e) from None
    report["imported"] = len(parsed)
    record("import", layer.table, None, after={k: v for k, v in report.items() if k != "errors"}, user_id=user_id)
    if before_commit:
        before_commit(report)
    db.session.commit()
    return report


def start_report(layer: Layer, fmt: str, filename: str | None, result, options: ImportOptions) -> tuple[dict, dict]:
    """(column mapping, the report's first counts) of a file read."""
    mapping, ignored = map_columns(layer, result.columns, options.mapping)
    report = {
        "layer": layer.name,
        "format": fmt,
        "file": filename,
        "rows": len(result.features),
        "imported": 0,
        "ignored_columns": ignored,
        "source_crs": result.source_crs,
        "encoding": result.encoding,
        "errors": [],
    }
    return mapping, report


def parse_rows(
    layer: Layer, features: list[dict], mapping: dict, report: dict, limits: fileio.Limits, progress: Progress | None
) -> list[tuple]:
    """(row, values, geometry) of each feature; the rows that fail are listed in ``report``."""
    parsed = []
    dates = [f.name for f in layer.fields if f.kind == "date"]
    for i, feature in enumerate(features, start=1):
        if i % 200 == 0:
            limits.check_time()
            if progress:
                progress("checking", i, len(features))
        row = feature["row"]
        if feature.get("error"):
            report["errors"].append({"row": row, "message": feature["error"], "fields": {}})
            continue
        props = {mapping[k]: v for k, v in feature["properties"].items() if k in mapping}
        for name in dates:
            if name in props:
                props[name] = read_date(props[name])  # 2024/04/22, 2024-04-22T00:00:00 as GDAL/QGIS write
        body = {"type": "Feature", "geometry": feature["geometry"], "properties": props}
        try:
            values, geom = layer_services.parse_feature(layer, body, partial=False)
        except ApiError as e:
            report["errors"].append({"row": row, "message": e.message, "fields": e.fields})
            continue
        parsed.append((row, values, geom))
    return parsed


def insert_rows(layer: Layer, scope: Scope, parsed: list, report: dict, filename: str | None) -> None:
    """Insert the parsed rows; when any is refused, roll back and reject the file."""
    if layer.before_write is None:
        _insert_set_based(layer, scope, parsed, report)
    else:  # area rules look at rows inserted before (a community, then its grids): one by one
        _insert_row_by_row(layer, scope, parsed, report)
    if report["errors"]:
        db.session.rollback()
        outside = sum(1 for e in report["errors"] if e.get("status") == 403)
        for e in report["errors"]:
            e.pop("status", None)
        _reject(report, filename, status=403 if outside == len(report["errors"]) else 422)


def _insert_row_by_row(layer: Layer, scope: Scope, parsed: list, report: dict) -> None:
    """Each row in its own savepoint, so that every refused row is reported with its number."""
    for row, values, geom in parsed:
        try:
            with db.session.begin_nested():
                layer_services.insert_feature(layer, scope, values, geom)
        except ApiError as e:
            report["errors"].append({"row": row, "message": e.message, "fields": e.fields, "status": e.status})


def _insert_set_based(layer: Layer, scope: Scope, parsed: list, report: dict) -> None:
    """All rows in a few multi-row INSERTs, one scope check, audit entries in one flush.

    When the database refuses the batch (a unique name twice, say), the rows are tried one
    by one to tell which.
    """
    try:
        with db.session.begin_nested():
            ids = bulk.insert_many(layer, [(v, g) for _, v, g in parsed])
            visible = bulk.writable_features(layer, scope, ids)
            for (row, _, _), fid in zip(parsed, ids):
                if fid not in visible:
                    report["errors"].append(
                        {
                            "row": row,
                            "message": "this place lies outside your area",
                            "fields": {"geometry": "outside your area"},
                            "status": 403,
                        }
                    )
            if report["errors"]:
                return
            for fid in ids:
                record("insert", layer.table, fid, after=visible[fid])
            db.session.flush()
    except ApiError:
        _insert_row_by_row(layer, scope, parsed, report)


def _reject(report: dict, filename: str | None, status: int = 422):
    n = len(report["errors"])
    first = "; ".join(f"row {e['row']}: {e['message']}" for e in report["errors"][:3])
    raise ImportRejected(
        status,
        f"{filename or 'the file'}: {n} of {report['rows']} row(s) refused, "
        f"nothing imported. {first}" + (" …" if n > 3 else ""),
        report,
    )
