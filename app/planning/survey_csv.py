"""Surveys from a CSV file (a spreadsheet kept during door-to-door visits), all rows or none.

Columns (a header row, UTF-8 or GBK as Excel writes it): ``building_id``, ``ebikes`` (required),
``surveyed_on``, ``household_id``, ``charge_flat``, ``charge_stairwell``, ``charge_window_cable``,
``charge_charger``, ``hazards`` (codes separated by ``;``), ``note``, ``surveyor_name``. Each row is
checked like a survey sent to the API; one bad row refuses the file and every bad row is named.
"""

import csv
import io

from app.auth import policy
from app.core.errors import ApiError
from app.core.extensions import db
from app.planning.schemas import SurveyIn
from app.planning.surveys import _household, building_in_reach, record_survey
from app.web.api import parse_body

COLUMNS = (
    "building_id",
    "household_id",
    "surveyed_on",
    "ebikes",
    "charge_flat",
    "charge_stairwell",
    "charge_window_cable",
    "charge_charger",
    "hazards",
    "note",
    "surveyor_name",
)
MAX_ROWS = 5000


def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ApiError(422, "the file is neither UTF-8 nor GBK text", {"file": "unreadable encoding"})


def _row_body(row: dict) -> dict:
    body = {k: v.strip() for k, v in row.items() if k in COLUMNS and isinstance(v, str) and v.strip() != ""}
    if "hazards" in body:
        body["hazards"] = [h.strip() for h in body["hazards"].replace("；", ";").split(";") if h.strip()]
    return body


def read_rows(data: bytes) -> list[dict]:
    """The rows of the file as request bodies; 422 for a file without the required columns."""
    reader = csv.DictReader(io.StringIO(_text(data)))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("building_id", "ebikes") if c not in header]
    if missing:
        raise ApiError(422, f"the CSV lacks the column(s) {', '.join(missing)}", {"file": "missing columns"})
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise ApiError(422, f"unknown column(s): {', '.join(unknown)}", {"file": "unknown columns"})
    reader.fieldnames = header
    rows = [_row_body(r) for r in reader]
    if not rows:
        raise ApiError(422, "the CSV has no rows", {"file": "empty"})
    if len(rows) > MAX_ROWS:
        raise ApiError(413, f"at most {MAX_ROWS} rows per file", {"file": "too many rows"})
    return rows


def import_surveys(user, data: bytes, dry_run: bool = False) -> dict:
    """Check every row, then (unless ``dry_run``) store them all in one transaction."""

    scope = policy.scope_of(user)
    bodies, errors = [], {}
    for n, raw in enumerate(read_rows(data), start=2):  # row 1 is the header
        try:
            body = parse_body(SurveyIn, raw)
            building_in_reach(scope, body.building_id)
            _household(user, body)
            bodies.append(body)
        except ApiError as e:
            errors[f"row {n}"] = "; ".join(f"{k}: {v}" for k, v in (e.fields or {}).items()) or e.message
    if errors:
        shown = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:5])
        raise ApiError(422, f"{len(errors)} row(s) refused, nothing imported: {shown}", errors)
    if dry_run:
        return {"rows": len(bodies), "imported": 0, "dry_run": True}
    try:
        ids = [record_survey(user, body, commit=False).id for body in bodies]
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return {"rows": len(bodies), "imported": len(ids), "dry_run": False, "ids": ids}
