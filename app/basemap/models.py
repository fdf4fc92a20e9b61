"""Base-map models. ``grid_id`` on every spatial row is set by PostGIS (trigger ``assign_grid``)."""

from datetime import date

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db

ALLIANCE_STANDINGS = ("model_unit", "member", "none")
CHARGER_STATUSES = ("planned", "installed", "faulty", "removed")
BIKE_ZONE_KINDS = ("shared_bike", "e_bike", "mixed")
BIKE_ZONE_STATUSES = ("planned", "active", "closed")


class PropertyCompany(db.Model):
    """A property company (物业) and its standing in the "Red Property" (红色物业) alliance."""

    __tablename__ = "property_companies"
    __table_args__ = (
        CheckConstraint(f"alliance_standing IN {ALLIANCE_STANDINGS}", name="ck_property_companies_standing"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    contact_person: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(256))
    alliance_standing: Mapped[str] = mapped_column(String(16), default="none")
    standing_date: Mapped[date | None] = mapped_column(Date)
    standing_note: Mapped[str | None] = mapped_column(Text)


class Compound(db.Model):
    """A residential compound or courtyard (小区/院落), managed by a property company."""

    __tablename__ = "compounds"
    __table_args__ = (CheckConstraint("ST_IsValid(geom)", name="ck_compounds_geom_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    address: Mapped[str | None] = mapped_column(String(256))
    property_company_id: Mapped[int | None] = mapped_column(
        ForeignKey("property_companies.id", ondelete="SET NULL"), index=True
    )
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)

    property_company = relationship("PropertyCompany", lazy="select")


class Building(db.Model):
    """A building footprint with its address, floors, households and e-bike survey."""

    __tablename__ = "buildings"
    __table_args__ = (
        CheckConstraint("ST_IsValid(geom)", name="ck_buildings_geom_valid"),
        CheckConstraint("floors IS NULL OR floors BETWEEN 1 AND 200", name="ck_buildings_floors"),
        CheckConstraint("households IS NULL OR households >= 0", name="ck_buildings_households"),
        CheckConstraint("ebikes IS NULL OR ebikes >= 0", name="ck_buildings_ebikes"),
        # Migration 0007: households per grid (the dashboard's rates) from the index alone.
        Index("ix_buildings_grid_id", "grid_id", postgresql_include=["households"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(128))
    address: Mapped[str | None] = mapped_column(String(256))
    floors: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    # E-bike survey (电动车摸排): bikes kept by residents, and where they charge today.
    ebikes: Mapped[int | None] = mapped_column(Integer)
    charging_note: Mapped[str | None] = mapped_column(Text)
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compounds.id", ondelete="SET NULL"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)


class Charger(db.Model):
    """An e-bike charging station (充电桩)."""

    __tablename__ = "chargers"
    __table_args__ = (
        CheckConstraint(f"status IN {CHARGER_STATUSES}", name="ck_chargers_status"),
        CheckConstraint("ports BETWEEN 1 AND 200", name="ck_chargers_ports"),
        CheckConstraint("power_kw IS NULL OR power_kw > 0", name="ck_chargers_power"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(128))
    ports: Mapped[int] = mapped_column(Integer, default=10)
    power_kw: Mapped[float | None] = mapped_column(Numeric(6, 2))
    status: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compounds.id", ondelete="SET NULL"), index=True)
    installed_on: Mapped[date | None] = mapped_column(Date)
    operator: Mapped[str | None] = mapped_column(String(128))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)


class BikeZone(db.Model):
    """A bike-parking zone (非机动车停放区)."""

    __tablename__ = "bike_zones"
    __table_args__ = (
        CheckConstraint(f"kind IN {BIKE_ZONE_KINDS}", name="ck_bike_zones_kind"),
        CheckConstraint(f"status IN {BIKE_ZONE_STATUSES}", name="ck_bike_zones_status"),
        CheckConstraint("capacity >= 0", name="ck_bike_zones_capacity"),
        CheckConstraint("ST_IsValid(geom)", name="ck_bike_zones_geom_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(128))
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16), default="shared_bike")
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
