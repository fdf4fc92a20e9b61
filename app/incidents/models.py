"""The incident tables shared by reporting, workflow, Open311, heat maps and the dashboard.

Column names here are a contract: heat maps and the dashboard query ``incidents``
by ``geom``, ``reported_at``, ``closed_at``, ``category_id``, ``state``, ``source``
and ``grid_id``.
"""
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db

SOURCES = ("hotline", "walk_in", "grid_worker", "patrol", "web", "open311", "other_system")
STATES = ("reported", "filed", "dispatched", "in_progress", "responded", "closed", "evaluated",
          "rejected", "duplicate", "consultation")
OPEN_STATES = ("reported", "filed", "dispatched", "in_progress", "responded", "consultation")


class IncidentCategory(db.Model):
    """A node of the admin-managed category tree (环境卫生, 排水, 共享单车 …)."""
    __tablename__ = "incident_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str | None] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("incident_categories.id", ondelete="RESTRICT"))
    department: Mapped[str | None] = mapped_column(String(128))
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
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    # Optional extent (a polluted stretch of road, an overflowing area).
    extent = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=True)

    category = relationship("IncidentCategory", lazy="joined")
