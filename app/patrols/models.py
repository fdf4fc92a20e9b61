"""Patrols (巡查), cleanups (清洁行动), bike rectification (单车整治), tracking devices and GPS positions.

``positions`` is the large append-only table (range-partitioned by month in Asia/Shanghai
time, see migration ``0004_patrols``). Its column names are a contract for other features
(heat maps read patrol coverage from it):

* ``device_id`` — the tracking device (:class:`Device`), part of the unique key with ``fixed_at``;
* ``user_id``   — the device's owner at the time of the fix (denormalised, no join needed);
* ``patrol_id`` — the patrol the fix belongs to, or NULL outside a patrol;
* ``fixed_at``  — when the fix was taken (``timestamptz``; the partition key);
* ``geom``      — ``POINT`` in EPSG:4326;
* ``accuracy`` (m), ``speed`` (m/s), ``heading`` (°), ``altitude`` (m), ``battery`` (%), ``source``.

Positions are personal data (where a person was): never shown per person in heat maps
or aggregates below 5 people.
"""

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db
from app.core.streets import carries_street

PATROL_KINDS = ("grid_walk", "cleanup", "bike_rectification", "charger_check", "other")
PATROL_STATES = ("planned", "active", "finished", "cancelled")
DEVICE_KINDS = ("traccar", "owntracks", "web", "other")
POSITION_SOURCES = ("osmand", "owntracks", "web", "gpx", "csv", "demo")
EVENT_KINDS = ("alarm", "heartbeat", "no_fix", "transition")  # gis.tracks.DeviceEvent
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.:/@-]{3,64}$"  # a device identifier (also a CHECK constraint)

patrol_team_members = Table(
    "patrol_team_members",
    db.metadata,
    Column("team_id", Integer, ForeignKey("patrol_teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

patrol_participants = Table(
    "patrol_participants",
    db.metadata,
    Column("patrol_id", Integer, ForeignKey("patrols.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_patrol_participants_user", "user_id"),
)


class Device(db.Model):
    """A registered tracking device of a user.

    ``identifier`` is its public name (``patrol/iphone``), shown in lists and never a credential.
    ``secret_hash`` is the SHA-256 of the secret the phone sends — Traccar Client's "device identifier",
    OwnTracks' Basic-auth password — issued by the server (:func:`app.patrols.devices.issue_secret`);
    NULL for a device that cannot report through the protocols (the phone page's own device, devices
    registered before migration 0015 until a new secret is issued).
    """

    __tablename__ = "devices"
    __audit_exclude__ = ("secret_hash",)
    __table_args__ = (
        CheckConstraint(f"kind IN {DEVICE_KINDS}", name="ck_devices_kind"),
        CheckConstraint(f"identifier ~ '{IDENTIFIER_PATTERN}'", name="ck_devices_identifier"),
        Index("ux_devices_secret_hash", "secret_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64))  # unique index ux_devices_secret_hash (0015)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    kind: Mapped[str] = mapped_column(String(16), default="traccar")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user = relationship("User", lazy="joined")


class PatrolTeam(db.Model):
    """A patrol team or volunteer squad (巡查队/志愿服务小分队) with its leader."""

    __tablename__ = "patrol_teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    note: Mapped[str | None] = mapped_column(Text)

    leader = relationship("User", foreign_keys=[leader_id], lazy="joined")
    members = relationship("User", secondary=patrol_team_members, lazy="select")


class Patrol(db.Model):
    """One patrol, grid walk, cleanup or rectification round, with its results.

    The track is built from ``positions`` in SQL; ``track``/``distance_m``/… are a cache
    refreshed when the patrol stops or its positions are imported.
    """

    __tablename__ = "patrols"
    __table_args__ = (
        CheckConstraint(f"kind IN {PATROL_KINDS}", name="ck_patrols_kind"),
        CheckConstraint(f"state IN {PATROL_STATES}", name="ck_patrols_state"),
        CheckConstraint("ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at", name="ck_patrols_times"),
        CheckConstraint("cleanup_width_m > 0 AND cleanup_width_m <= 200", name="ck_patrols_width"),
        CheckConstraint(
            "coalesce(bags, 0) >= 0 AND coalesce(weight_kg, 0) >= 0 AND coalesce(volunteers, 0) >= 0"
            " AND coalesce(bikes_reparked, 0) >= 0 AND coalesce(riders_guided, 0) >= 0",
            name="ck_patrols_counts",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_teams.id", ondelete="SET NULL"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    planned_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    planned_route = mapped_column(Geometry("MULTILINESTRING", srid=4326, spatial_index=False), nullable=True)
    # Results. Cleanups: width of the swept strip, bags, weight, volunteers without an account.
    cleanup_width_m: Mapped[float] = mapped_column(Numeric(6, 1), default=10)
    bags: Mapped[int | None] = mapped_column(Integer)
    weight_kg: Mapped[float | None] = mapped_column(Numeric(8, 1))
    volunteers: Mapped[int | None] = mapped_column(Integer)
    # Bike rectification (共享单车整治): bikes re-parked, riders guided to the zones.
    bikes_reparked: Mapped[int | None] = mapped_column(Integer)
    riders_guided: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    # Cache of the cleaned track and its figures (recomputed from positions).
    track = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=True), nullable=True)
    distance_m: Mapped[float | None] = mapped_column(Float)
    fixes: Mapped[int | None] = mapped_column(Integer)
    area_m2: Mapped[float | None] = mapped_column(Float)

    area = relationship("Area", lazy="joined")
    team = relationship("PatrolTeam", lazy="joined")
    participants = relationship("User", secondary=patrol_participants, lazy="select")


class BadParkingSpot(db.Model):
    """A bad-parking spot (乱停乱放点) found on a rectification patrol, linked to the nearest bike zone."""

    __tablename__ = "bad_parking_spots"
    __table_args__ = (CheckConstraint("bikes >= 0", name="ck_bad_parking_bikes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), index=True)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    bikes: Mapped[int] = mapped_column(Integer, default=1)
    reparked: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    nearest_zone_id: Mapped[int | None] = mapped_column(ForeignKey("bike_zones.id", ondelete="SET NULL"))
    zone_distance_m: Mapped[float | None] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)


class Position(db.Model):
    """One GPS fix (see the module docstring for the column contract). Partitioned by month."""

    __tablename__ = "positions"
    __table_args__ = (
        Index("ix_positions_fixed_at", "fixed_at", postgresql_using="brin"),
        Index("idx_positions_geom", "geom", postgresql_using="gist"),
        Index("ix_positions_patrol", "patrol_id", "fixed_at", postgresql_where=text("patrol_id IS NOT NULL")),
        Index("ix_positions_user", "user_id", "fixed_at"),
        {"postgresql_partition_by": "RANGE (fixed_at)"},
    )

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    fixed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey("patrols.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    accuracy: Mapped[float | None] = mapped_column(Float)
    speed: Mapped[float | None] = mapped_column(Float)
    heading: Mapped[float | None] = mapped_column(Float)
    altitude: Mapped[float | None] = mapped_column(Float)
    battery: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(12))
    # The distribution column (migration 0023, docs/scaling.md): the street the fix lies in (or nearest).
    street_code: Mapped[str | None] = mapped_column(String(9))


class GridWalkedDay(db.Model):
    """A grid was walked on a local day: a usable fix (accuracy unknown or within ``MAX_ACCURACY_M``) lay
    inside it. Kept by triggers as fixes arrive and grids are redrawn (migration ``0026_walked_days``), so
    "grids not walked" is one index probe per grid instead of a search of the period's fixes. A walked day
    stays when its fixes are deleted later. No person in it."""

    __tablename__ = "grid_walked_days"

    grid_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class DeviceEvent(db.Model):
    """Something a phone reported besides a fix: an alarm (``sos`` …), a heartbeat or a report without a
    position, entering or leaving an OwnTracks region. The same event sent again is stored once.
    Personal data like positions (where and when a person was)."""

    __tablename__ = "device_events"
    __table_args__ = (
        CheckConstraint(f"kind IN {EVENT_KINDS}", name="ck_device_events_kind"),
        Index("ux_device_events_once", "device_id", "happened_at", "kind", "detail", unique=True),
        Index("ix_device_events_alarms", "happened_at", postgresql_where=text("kind = 'alarm'")),
        Index(
            "ix_device_events_open_alarms",
            "happened_at",
            postgresql_where=text("kind = 'alarm' AND acknowledged_at IS NULL"),
        ),
        Index("ix_device_events_happened_at", "happened_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Integer)
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey("patrols.id", ondelete="SET NULL"), index=True)
    happened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(64), default="")
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=True)
    attributes = mapped_column(JSONB, nullable=True)
    source: Mapped[str] = mapped_column(String(12))
    # An alarm stays on the live map until staff acknowledge it (app.patrols.alarms).
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_device_events_acknowledged_by")
    )


carries_street(Position)
