"""Open311 API keys: issued by an admin to a hotline or another city system; only their hash is kept."""

import hashlib
import secrets

from sqlalchemy import select

from app.audit.services import record
from app.core.errors import ApiError
from app.core.extensions import db
from app.open311.models import Open311Key

KEY_SOURCES = ("open311", "hotline", "other_system", "web")  # incident sources a key may report as


def key_hash(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(name: str, key: str | None = None, source: str = "open311") -> tuple[Open311Key, str]:
    """Issue an API key (only its hash is kept); returns the row and the key to hand out once."""
    key = key or secrets.token_urlsafe(24)
    row = Open311Key(name=name, key_hash=key_hash(key), prefix=key[:8], source=source)
    db.session.add(row)
    db.session.flush()
    record("insert", "open311_keys", row.id, after={"name": name, "prefix": row.prefix, "source": source})
    db.session.commit()
    return row, key


def revoke_key(prefix: str) -> int:
    """Revoke keys starting with ``prefix``; returns how many."""
    rows = list(
        db.session.scalars(select(Open311Key).where(Open311Key.prefix == prefix[:8], Open311Key.revoked.is_(False)))
    )
    for row in rows:
        row.revoked = True
        record("update", "open311_keys", row.id, after={"revoked": True})
    db.session.commit()
    return len(rows)


def list_keys() -> list[Open311Key]:
    """Every key, newest first."""
    return list(db.session.scalars(select(Open311Key).order_by(Open311Key.id.desc())))


def revoke_key_id(key_id: int) -> None:
    """Revoke one key by id (404 when unknown)."""
    row = db.session.get(Open311Key, key_id)
    if row is None:
        raise ApiError(404, f"no Open311 key {key_id}")
    row.revoked = True
    record("update", "open311_keys", row.id, after={"revoked": True})
    db.session.commit()


def key_for(raw: str | None) -> Open311Key | None:
    """The active key matching ``raw``."""
    if not raw or len(raw) > 200:
        return None
    return db.session.scalar(
        select(Open311Key).where(Open311Key.key_hash == key_hash(raw), Open311Key.revoked.is_(False))
    )


def key_exists(key: str) -> bool:
    """Whether ``key`` was ever issued (revoked or not)."""
    return db.session.scalar(select(Open311Key.id).where(Open311Key.key_hash == key_hash(key))) is not None
