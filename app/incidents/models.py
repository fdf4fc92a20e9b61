"""The incident tables shared by reporting, workflow, Open311, heat maps and the dashboard.

Column names here are a contract: heat maps and the dashboard query ``incidents``
by ``geom``, ``reported_at``, ``closed_at``, ``category_id``, ``state``, ``source``
and ``grid_id``.
"""
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, SmallInteger,
                        String, Text, func, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db

SOURCES = ("hotline", "walk_in", "grid_worker", "patrol", "web", "open311", "other_system")
STATES = ("reported", "filed", "dispatched", "in_progress", "responded", "closed", "evaluated",
          "rejected", "duplicate", "consultation")
OPEN_STATES = ("reported", "filed", "dispatched", "in_progress", "responded", "consultation")
_OPEN_STATES_SQL = "state IN " + str(OPEN_STATES)  # partial-index condition, from the constant above


class IncidentCategory(db.Model):
    """A node of the admin-managed category tree (环境卫生, 排水, 共享单车 …)."""
    __tablename__ = "incident_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str | None] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("incident_categories.id", ondelete="RESTRICT"))
    department: Mapped[str | None] = mapped_column(String(128))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    # Hours allowed per workflow stage, e.g. {"reported": 2, "filed": 4, "dispatched": 24, ...}.
    deadlines: Mapped[dict] = mapped_column(JSONB, default=dict)
    # Extra attributes asked when reporting (Open311 service attributes).
    attributes: Mapped[list] = mapped_column(JSONB, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent = relationship("IncidentCategory", remote_side=[id])


class Incident(db.Model):
    """Something found or reported at a place, followed through the 数字城管 workflow."""
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(f"source IN {SOURCES}", name="ck_incidents_source"),
        CheckConstraint(f"state IN {STATES}", name="ck_incidents_state"),
        Index("ix_incidents_category_reported", "category_id", "reported_at"),
        Index("ix_incidents_state_reported", "state", "reported_at"),
        # Migration 0003_incidents: stage times, and the open share of a year's million rows.
        Index("ix_incidents_state_changed", "state", "state_changed_at"),
        Index("ix_incidents_open_reported", "reported_at", postgresql_where=text(_OPEN_STATES_SQL)),
        Index("ix_incidents_open_geom", "geom", postgresql_using="gist",
              postgresql_where=text(_OPEN_STATES_SQL)),
        # Migration 0007: dashboard counts and medians per period answered from the index alone.
        Index("ix_incidents_reported_at", "reported_at", postgresql_include=["grid_id"]),
        Index("ix_incidents_closed_at", "closed_at", postgresql_include=["grid_id", "reported_at", "category_id"],
              postgresql_where=text("closed_at IS NOT NULL")),
        # ... and for one street or community: its grids' rows of a period, also for overdue at a past date.
        Index("ix_incidents_grid_reported", "grid_id", "reported_at",
              postgresql_include=["closed_at", "state", "category_id"]),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("incident_categories.id", ondelete="RESTRICT"))
    source: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="reported")
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(256))
    # Personal information: only staff of the area read it; never in tiles/OGC/Open311/heat maps.
    reporter_name: Mapped[str | None] = mapped_column(String(64))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    # Optional extent (a polluted stretch of road, an overflowing area).
    extent = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=True)

    # Workflow (migration 0003_incidents): who holds it now, where consultation decided it.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    property_company_id: Mapped[int | None] = mapped_column(
        ForeignKey("property_companies.id", ondelete="SET NULL"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    attributes: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    media_url: Mapped[str | None] = mapped_column(String(512))
    # Open311: the key a request came through and the token handed back to the client.
    open311_key_id: Mapped[int | None] = mapped_column(ForeignKey("open311_keys.id", ondelete="SET NULL"))
    open311_token: Mapped[str | None] = mapped_column(String(40), unique=True)

    category = relationship("IncidentCategory", lazy="joined")


class Department(db.Model):
    """A department that incidents are dispatched to (城管、排水、环卫 …)."""
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32))


class Transition(db.Model):
    """One step of an incident's timeline: who moved it from which state to which, when, why."""
    __tablename__ = "incident_transitions"
    __table_args__ = (
        Index("ix_incident_transitions_incident", "incident_id", "created_at"),
        # Migration 0010_open311_updates: the state changes of a period (Open311 servicerequestupdates).
        Index("ix_incident_transitions_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user = relationship("User", lazy="joined")


class Photo(db.Model):
    """A photo of an incident, stored on disk under MEDIA_ROOT with a thumbnail."""
    __tablename__ = "incident_photos"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    transition_id: Mapped[int | None] = mapped_column(ForeignKey("incident_transitions.id", ondelete="SET NULL"))
    path: Mapped[str] = mapped_column(String(256))
    thumb_path: Mapped[str] = mapped_column(String(256))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Offer(db.Model):
    """Routing: a new incident offered to a grid worker of its grid or to its category's department."""
    __tablename__ = "incident_offers"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (department_id IS NULL)", name="ck_offer_target"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
