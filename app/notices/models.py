"""The notices' tables: each user's notices (one per user and event key), their settings, their area
subscriptions (migration 0013_notify)."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db

EMAIL_STATES = ("queued", "sending", "sent", "failed")


class Notice(db.Model):
    """Something a user is told: shown in their inbox (``in_inbox``) and, where their settings say, e-mailed.

    ``key`` names the event (``incident:12:step:345``): a producer telling the same user the same event
    twice stores one row and sends one e-mail. ``params`` fill the kind's message when it is shown, in the
    reader's language.
    """

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_notices_user_key"),
        Index("ix_notices_user_created", "user_id", "created_at"),
        Index("ix_notices_unread", "user_id", postgresql_where=text("read_at IS NULL AND in_inbox")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    link: Mapped[str | None] = mapped_column(String(512))
    in_inbox: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # E-mail (NULL: not e-mailed): queued → sending → sent | failed, by the jobs worker.
    email_to: Mapped[str | None] = mapped_column(String(254))
    email_state: Mapped[str | None] = mapped_column(String(16))
    email_attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    email_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NoticeSetting(db.Model):
    """A user's choices: an e-mail address, the language of e-mails, and per kind inbox and e-mail on or off
    (``kinds``: ``{"incident.dispatched": {"inbox": true, "email": false}}``; a kind not named keeps its
    defaults)."""

    __tablename__ = "notice_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")
    kinds: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Subscription(db.Model):
    """An area subscription ("new incidents in my grid", as FixMyStreet's alerts): the kinds a user wants
    to hear of for everything in an area of their scope."""

    __tablename__ = "notice_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "area_id", name="uq_notice_subscriptions_user_area"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    kinds: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    area = relationship("Area", lazy="joined")
