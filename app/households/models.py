"""Household situation files (民情档案): households at buildings, members, key-group tags,
door-to-door visits and care plans.

Everything here is personal information (DESIGN.md, Security): only the grid's own
workers, community staff of that community and admins read it (see
:func:`app.auth.policy.personal_clause`). Column names are plain so that the dashboard and
heat-map features can aggregate them (through the households services, always with
:func:`app.auth.policy.suppress`).
"""

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.columns import link_key
from app.core.extensions import db
from app.core.time import today

VISIT_PURPOSES = ("greeting", "needs_survey", "pension_certification", "care_visit", "suggestion", "follow_up", "other")
GENDERS = ("female", "male")

household_tags = Table(
    "household_tags",
    db.metadata,
    link_key("household_id", "households.id"),
    link_key("tag_id", "tags.id", ondelete="RESTRICT", index=True),
)
member_tags = Table(
    "member_tags",
    db.metadata,
    link_key("member_id", "household_members.id"),
    link_key("tag_id", "tags.id", ondelete="RESTRICT", index=True),
)
visit_visitors = Table(
    "visit_visitors",
    db.metadata,
    link_key("visit_id", "visits.id"),
    link_key("user_id", "users.id", ondelete="RESTRICT", index=True),
)


class Tag(db.Model):
    """A key-group tag (重点人群标签) from the admin-managed list, e.g. ``elderly_alone`` 独居老人."""

    __tablename__ = "tags"
    __table_args__ = (CheckConstraint("code ~ '^[a-z][a-z0-9_]*$'", name="ck_tags_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(64))
    key_group: Mapped[bool] = mapped_column(Boolean, default=True)  # counts as a key household (重点户)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Household(db.Model):
    """A 户 at a building and flat; ``grid_id`` is the building's grid, copied on write.

    Columns for aggregation: ``grid_id``, ``building_id``, ``created_at``; tags via ``household_tags``.
    """

    __tablename__ = "households"
    __table_args__ = (Index("ix_households_building_flat", "building_id", "flat_no", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="RESTRICT"))
    flat_no: Mapped[str] = mapped_column(String(32))
    head_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    building = relationship("Building", lazy="joined")
    grid = relationship("Area", lazy="joined")
    tags = relationship("Tag", secondary=household_tags, lazy="selectin", order_by="Tag.id")
    members = relationship(
        "Member", back_populates="household", lazy="selectin", order_by="Member.id", cascade="all, delete-orphan"
    )


class Member(db.Model):
    """A person in a household; age comes from ``birth_year`` so that it never goes stale."""

    __tablename__ = "household_members"
    __table_args__ = (
        CheckConstraint("birth_year IS NULL OR birth_year BETWEEN 1880 AND 2100", name="ck_members_birth_year"),
        CheckConstraint(f"gender IS NULL OR gender IN {GENDERS}", name="ck_members_gender"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str | None] = mapped_column(String(32))  # 户主, 配偶, 子女 …
    gender: Mapped[str | None] = mapped_column(String(8))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    phone: Mapped[str | None] = mapped_column(String(32))
    party_member: Mapped[bool] = mapped_column(Boolean, default=False)
    health: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)

    household = relationship("Household", back_populates="members")
    tags = relationship("Tag", secondary=member_tags, lazy="selectin", order_by="Tag.id")

    @property
    def age(self) -> int | None:
        return None if self.birth_year is None else today().year - self.birth_year


class CarePlan(db.Model):
    """A household to be visited every ``frequency_days`` (e.g. weekly for Mr Liu) by ``worker_id``.

    Next due = last visit (or ``start_date``) + ``frequency_days``; overdue is computed in SQL
    (:func:`app.households.care.due_subquery`), never stored.
    """

    __tablename__ = "care_plans"
    __table_args__ = (CheckConstraint("frequency_days BETWEEN 1 AND 366", name="ck_care_plans_frequency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    frequency_days: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    start_date: Mapped[date] = mapped_column(Date, server_default=func.current_date())
    purpose: Mapped[str] = mapped_column(String(32), default="care_visit")
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    household = relationship("Household", lazy="joined")
    worker = relationship("User", lazy="joined")


class Visit(db.Model):
    """A 走访: to a household or a place (building), at ``visited_at``, with a purpose.

    ``grid_id`` is the household's (or building's) grid; without either, PostGIS sets it from
    the optional phone position ``geom``. Columns for aggregation: ``visited_at``, ``grid_id``,
    ``building_id``, ``household_id``, ``purpose``, ``geom``.
    """

    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint(f"purpose IN {VISIT_PURPOSES}", name="ck_visits_purpose"),
        CheckConstraint(
            "household_id IS NOT NULL OR building_id IS NOT NULL OR geom IS NOT NULL", name="ck_visits_place"
        ),
        Index("ix_visits_household_at", "household_id", "visited_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"), index=True)
    place: Mapped[str | None] = mapped_column(String(256))
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    visitor_names: Mapped[str | None] = mapped_column(String(256))  # party members/cadres without accounts
    notes: Mapped[str | None] = mapped_column(Text)
    follow_up: Mapped[str | None] = mapped_column(Text)
    follow_up_due: Mapped[date | None] = mapped_column(Date)
    follow_up_done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=True)

    household = relationship("Household", lazy="joined")
    building = relationship("Building", lazy="joined")
    visitors = relationship("User", secondary=visit_visitors, lazy="selectin")


# Recurring obligations (网格员名册/年度任务): what a household must do once a year, with whom the grid worker
# goes, e.g. Grandma Peng's pension certification (养老金资格认证) done at home.
OBLIGATION_KINDS = ("pension_certification", "disability_review", "subsistence_review", "elderly_allowance", "other")


class Obligation(db.Model):
    """A yearly obligation of a household (or one of its members), due in ``due_month`` every year.

    Whether it is done this year is read from :class:`ObligationDone`; due and overdue are computed.
    """

    __tablename__ = "household_obligations"
    __table_args__ = (
        CheckConstraint(f"kind IN {OBLIGATION_KINDS}", name="ck_obligations_kind"),
        CheckConstraint("due_month BETWEEN 1 AND 12", name="ck_obligations_month"),
        Index("ix_obligations_household", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("household_members.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    due_month: Mapped[int] = mapped_column(SmallInteger)
    at_home: Mapped[bool] = mapped_column(Boolean, default=False)  # done at home (cannot walk)
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    household = relationship("Household", lazy="joined")
    member = relationship("Member", lazy="joined")


class ObligationDone(db.Model):
    """An obligation done for one year: when, by whom, with a note."""

    __tablename__ = "obligation_completions"
    __table_args__ = (Index("uq_obligation_completions_year", "obligation_id", "year", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    obligation_id: Mapped[int] = mapped_column(ForeignKey("household_obligations.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(SmallInteger)
    done_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    note: Mapped[str | None] = mapped_column(Text)

    obligation = relationship("Obligation", lazy="joined")
