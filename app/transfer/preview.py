"""The dry run of an import: what would be stored, what would be refused and why, and a map preview.

Every row goes through exactly what the import does (:mod:`app.transfer.services`): the file is read
with the user's options, each row parsed like a ``POST /api/v1/<layer>`` body, and the rows that
parse are inserted in a savepoint — so the database's rules and the user's area are checked too —
which is then rolled back. Nothing is written.
"""

from app.auth.policy import Scope
from app.basemap import checks
from app.basemap.layers import Layer
from app.core.extensions import db
from app.transfer import caps, services
from app.transfer.options import DEFAULT, ImportOptions
from app.web.labels import field_label
from gis import fileio

# Features drawn in the preview (all rows are checked; a map of 100,000 shapes helps nobody).
PREVIEW_FEATURES = 2000


def _check_in_database(layer: Layer, scope: Scope, parsed: list, report: dict, filename) -> None:
    """The rows that parsed, inserted in a savepoint and rolled back: the refusals land in ``report``."""
    if not parsed:
        return
    checked = {"errors": [], "rows": report["rows"]}
    savepoint = db.session.begin_nested()
    try:
        services.insert_rows(layer, scope, parsed, checked, filename)
    except services.ImportRejected:
        pass
    finally:
        if savepoint.is_active:
            savepoint.rollback()
    report["errors"] += checked["errors"]


def _sample(features: list[dict], column: str):
    return next((f["properties"].get(column) for f in features if f["properties"].get(column) not in (None, "")), None)


def preview_import(
    layer: Layer,
    scope: Scope,
    data: bytes,
    filename: str | None,
    fmt: str | None = None,
    options: ImportOptions = DEFAULT,
    limits: fileio.Limits = fileio.NO_LIMITS,
) -> dict:
    """The dry run's report: counts, the refused rows with their reasons, the column mapping with a
    sample value of each column, the layer's fields to map to, and up to :data:`PREVIEW_FEATURES`
    features (``_row``, ``_error``) to draw."""
    fmt, result = services.read_file(data, filename, fmt, limits, options)
    mapping, report = services.start_report(layer, fmt, filename, result, options)
    try:
        parsed = services.parse_rows(layer, result.features, mapping, report, limits, None)
        _check_in_database(layer, scope, parsed, report, filename)
    except fileio.LimitExceededError as e:
        db.session.rollback()
        raise caps.cap_error(e) from None
    errors = sorted(report.pop("errors"), key=lambda e: e["row"])
    for e in errors:
        e.pop("status", None)
        e["said"] = checks.describe(e.get("fields") or {}, e["message"])  # in the user's language
    by_row = {e["row"]: e["message"] for e in errors}
    preview = []
    for feature in result.features[:PREVIEW_FEATURES]:
        props = {mapping[k]: v for k, v in feature["properties"].items() if k in mapping}
        props["_row"] = feature["row"]
        if feature["row"] in by_row:
            props["_error"] = by_row[feature["row"]]
        preview.append({"type": "Feature", "geometry": feature.get("geometry"), "properties": props})
    refused = len({e["row"] for e in errors})
    return {
        **report,
        "dry_run": True,
        "valid": report["rows"] - refused,
        "refused": refused,
        "errors": errors[: services.MAX_REPORTED_ERRORS],
        "columns": [
            {"name": c, "field": mapping.get(c), "sample": _sample(result.features, c)} for c in result.columns
        ],
        "mapping": mapping,
        "fields": [
            {"name": f.name, "label": field_label(f.name), "kind": f.kind, "required": f.required}
            for f in layer.fields
            if f.writable
        ],
        "preview": {"type": "FeatureCollection", "features": preview},
        "options": options.to_json(),
    }
