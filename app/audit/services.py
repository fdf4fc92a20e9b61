"""Recording audit entries inside the caller's transaction."""
import datetime as dt
import decimal
import enum

from flask import has_request_context, request
from geoalchemy2.elements import WKBElement, WKTElement
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import inspect

from app.audit.models import AuditEntry
from app.core.extensions import db


def _plain(value):
    """A JSON-friendly copy of a column value (geometries as GeoJSON)."""
    if isinstance(value, (WKBElement, WKTElement)):
        return mapping(to_shape(value))
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def snapshot(obj) -> dict:
    """The column values of a model instance, as stored."""
    mapper = inspect(obj).mapper
    skip = getattr(obj, "__audit_exclude__", ())
    return {c.key: _plain(getattr(obj, c.key)) for c in mapper.column_attrs if c.key not in skip}


def current_user_id() -> int | None:
    """The logged-in or token user, if any."""
    if not has_request_context():
        return None
    from flask_login import current_user
    return current_user.id if getattr(current_user, "is_authenticated", False) else None


def record(action: str, table: str, row_id, before: dict | None = None,
           after: dict | None = None, user_id: int | None = None) -> None:
    """Add an audit entry to the current session; it commits with the caller's write."""
    entry = AuditEntry(
        action=action, table_name=table, row_id=None if row_id is None else str(row_id),
        before=before, after=after,
        user_id=user_id if user_id is not None else current_user_id(),
        remote_addr=request.remote_addr if has_request_context() else None)
    db.session.add(entry)
