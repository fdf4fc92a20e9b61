"""Open311 API keys: issued by an admin to a hotline or another city system; stored hashed."""
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, func
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
