"""Recording audit entries inside the caller's transaction, and the audited writes every feature makes.

``audited_insert``, ``audited_update``, ``audited_delete`` and ``audited_read`` each do one whole step:
write the row, record what it was and became (``view(row)``: :func:`snapshot` unless a feature shows
its rows another way), commit. A write that needs more between the flush and the commit records
with :func:`record` itself.
"""

import datetime as dt
import decimal
import enum
from collections.abc import Callable
from contextlib import nullcontext

from flask import has_request_context, request
from geoalchemy2.elements import WKBElement, WKTElement
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import inspect, select

from app.audit.models import AuditEntry
from app.core.extensions import db
from app.core.sql import conflict_as_409


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


def record(
    action: str, table: str, row_id, before: dict | None = None, after: dict | None = None, user_id: int | None = None
) -> None:
    """Add an audit entry to the current session; it commits with the caller's write."""
    entry = AuditEntry(
        action=action,
        table_name=table,
        row_id=None if row_id is None else str(row_id),
        before=before,
        after=after,
        user_id=user_id if user_id is not None else current_user_id(),
        remote_addr=request.remote_addr if has_request_context() else None,
    )
    db.session.add(entry)


def _table(row) -> str:
    return row.__table__.name


def audited_insert(row, view: Callable = snapshot, conflict: tuple[str, dict] | None = None):
    """Add ``row``, record its insert and commit; returns ``row``.

    ``conflict``: the message and field errors of the 409 when a unique index refuses the row.
    """
    with conflict_as_409(*conflict) if conflict else nullcontext():
        db.session.add(row)
        db.session.flush()
    record("insert", _table(row), row.id, after=view(row))
    db.session.commit()
    return row


def audited_update(row, values: dict, view: Callable = snapshot, conflict: tuple[str, dict] | None = None):
    """Set ``values`` (attribute → value) on ``row``, record the change and commit; returns ``row``."""
    before = view(row)
    with conflict_as_409(*conflict) if conflict else nullcontext():
        for key, value in values.items():
            setattr(row, key, value)
        db.session.flush()
    record("update", _table(row), row.id, before, view(row))
    db.session.commit()
    return row


def audited_delete(row, view: Callable = snapshot) -> None:
    """Delete ``row``, record what it was and commit."""
    before, row_id = view(row), row.id
    db.session.delete(row)
    record("delete", _table(row), row_id, before=before)
    db.session.commit()


def audited_read(row):
    """Record that the user read ``row`` (personal data) and commit; returns ``row``."""
    record("read", _table(row), row.id)
    db.session.commit()
    return row


def entries_for(table: str, row_id, limit: int = 200) -> list[AuditEntry]:
    """The audit entries of one row, newest first (a feature's history: who, when, before, after)."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.table_name == table, AuditEntry.row_id == str(row_id))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )
