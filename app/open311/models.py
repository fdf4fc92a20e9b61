"""Open311's own tables: API keys (stored hashed), the updates clients post, every media_url of a request."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.extensions import db


class Open311Key(db.Model):
    """A key for ``POST requests``; ``source`` is the incident source its requests get."""

    __tablename__ = "open311_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(String(16), default="open311")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Open311Update(db.Model):
    """An update a client posted to ``servicerequestupdates`` (migration 0010_open311_updates).

    It became the timeline step ``transition_id`` (whose id is the ``update_id`` answered); ``applied``
    says whether its status moved the incident. The author's name and phone are personal data: kept
    for staff, never answered.
    """

    __tablename__ = "open311_updates"
    __table_args__ = (
        UniqueConstraint("key_id", "client_update_id", name="uq_open311_updates_client"),
        Index("ix_open311_updates_incident", "incident_id"),
        Index("ix_open311_updates_transition", "transition_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("open311_keys.id", ondelete="CASCADE"))
    client_update_id: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    transition_id: Mapped[int] = mapped_column(ForeignKey("incident_transitions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(32))
    applied: Mapped[bool] = mapped_column(Boolean)
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author_name: Mapped[str | None] = mapped_column(String(64))
    author_phone: Mapped[str | None] = mapped_column(String(32))
    media_urls: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Open311Media(db.Model):
    """Every ``media_url`` a request was posted with, in order (``incidents.media_url`` keeps the first)."""

    __tablename__ = "open311_media"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    urls: Mapped[list] = mapped_column(JSONB)
