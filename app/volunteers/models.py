"""微服务/微力量: volunteer teams, volunteers with skills, recurring activities, sign-ups and
attendance, and the service hours they add up to.

Columns for aggregation: ``signups.hours`` (service hours, counted when ``attended``),
``signups.occurs_on``, ``volunteers.team_id``, ``activities.area_id``.
"""

from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db


class Team(db.Model):
    """A volunteer team (志愿服务队), e.g. one of the "four-colour" squads, in a community."""

    __tablename__ = "volunteer_teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    leader_name: Mapped[str | None] = mapped_column(String(64))
    party_led: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)

    area = relationship("Area", lazy="joined")


class Volunteer(db.Model):
    """A volunteer (志愿者); name and phone are personal, skills are not."""

    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_teams.id", ondelete="SET NULL"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    party_member: Mapped[bool] = mapped_column(Boolean, default=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    team = relationship("Team", lazy="joined")


class Activity(db.Model):
    """An activity series with an RFC 5545 ``rrule`` (empty: a one-off) from ``dtstart``.

    Occurrences are expanded in Asia/Shanghai by :mod:`app.volunteers.recurrence`.
    """

    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint("duration_minutes BETWEEN 1 AND 1440", name="ck_activities_duration"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="ck_activities_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_teams.id", ondelete="SET NULL"))
    place: Mapped[str | None] = mapped_column(String(256))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"))
    dtstart: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rrule: Mapped[str | None] = mapped_column(String(512))
    duration_minutes: Mapped[int] = mapped_column(Integer, default=120)
    capacity: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    area = relationship("Area", lazy="joined")
    team = relationship("Team", lazy="joined")


class SignUp(db.Model):
    """A volunteer signed up for one occurrence (``occurs_on``); attendance adds ``hours``."""

    __tablename__ = "signups"
    __table_args__ = (
        Index("ix_signups_unique", "activity_id", "occurs_on", "volunteer_id", unique=True),
        CheckConstraint("hours IS NULL OR (hours >= 0 AND hours <= 24)", name="ck_signups_hours"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    occurs_on: Mapped[date] = mapped_column(Date, index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    signed_up_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    attended: Mapped[bool | None] = mapped_column(Boolean)
    hours: Mapped[float | None] = mapped_column(Numeric(5, 2))

    activity = relationship("Activity", lazy="joined")
    volunteer = relationship("Volunteer", lazy="joined")
