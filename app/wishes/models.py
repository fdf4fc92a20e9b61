"""微心愿 (micro-wishes): posted by or for a household, claimed by a volunteer or team,
then fulfilled or withdrawn.

``title`` and ``category`` are public (the wish wall); ``details``, the household and the
people involved are personal. Columns for aggregation: ``status``, ``grid_id``,
``category``, ``posted_at``, ``fulfilled_at``.
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db

WISH_CATEGORIES = ("daily_needs", "health", "repair", "companionship", "paperwork", "study", "employment", "other")
WISH_STATUSES = ("posted", "claimed", "fulfilled", "withdrawn")
# Allowed moves; anything else is 409.
TRANSITIONS = {
    "posted": ("claimed", "withdrawn"),
    "claimed": ("fulfilled", "withdrawn", "posted"),
    "fulfilled": (),
    "withdrawn": (),
}


class Wish(db.Model):
    """A 微心愿 posted by or for a household (``grid_id`` copied from the household's building)."""

    __tablename__ = "wishes"
    __table_args__ = (
        CheckConstraint(f"category IN {WISH_CATEGORIES}", name="ck_wishes_category"),
        CheckConstraint(f"status IN {WISH_STATUSES}", name="ck_wishes_status"),
        CheckConstraint(
            "status <> 'claimed' OR claimed_by_volunteer_id IS NOT NULL OR claimed_by_team_id IS NOT NULL",
            name="ck_wishes_claimer",
        ),
        Index("ix_wishes_status_grid", "status", "grid_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    details: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="posted")
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    posted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    claimed_by_volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"))
    claimed_by_team_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_teams.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fulfilled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fulfilment_note: Mapped[str | None] = mapped_column(Text)
    photo_path: Mapped[str | None] = mapped_column(String(256))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdraw_reason: Mapped[str | None] = mapped_column(Text)

    household = relationship("Household", lazy="joined")
    grid = relationship("Area", lazy="joined")
    claimed_by_volunteer = relationship("Volunteer", lazy="joined")
    claimed_by_team = relationship("Team", lazy="joined")
