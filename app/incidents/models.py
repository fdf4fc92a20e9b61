"""The incident tables shared by reporting, workflow, Open311, heat maps and the dashboard.

Column names here are a contract: heat maps and the dashboard query ``incidents``
by ``geom``, ``reported_at``, ``closed_at``, ``category_id``, ``state``, ``source``
and ``grid_id``.
"""

from datetime import datetime
from typing import ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.extensions import db
from app.core.streets import carries_street

SOURCES = ("hotline", "walk_in", "grid_worker", "patrol", "web", "open311", "other_system")
STATES = (
    "reported",
    "filed",
    "dispatched",
    "in_progress",
    "responded",
    "closed",
    "evaluated",
    "rejected",
    "duplicate",
    "consultation",
)
OPEN_STATES = ("reported", "filed", "dispatched", "in_progress", "responded", "consultation")
_OPEN_STATES_SQL = "state IN " + str(OPEN_STATES)  # partial-index condition, from the constant above
# What the dashboard's overdue count reads of an open incident besides its grid: both open-incident indexes
# include it (ix_incidents_open_stage, ix_incidents_open_reported), so the count stays in an index.
_OVERDUE_READS = ("category_id", "state", "state_changed_at", "extension_hours", "street_code")
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")

# The case number (案件号) read out on the phone: 8 characters of an alphabet without 0/O, 1/I/L, computed
# from the id through a bijection of [0, 31**8) — unique by construction, never stored, and read back to
# the id (case_id_of). It names a case; it opens nothing (the status page needs the token).
CASE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CASE_N, _CASE_A, _CASE_B = len(CASE_ALPHABET) ** 8, 387420489, 123456789


def case_number_of(incident_id: int) -> str:
    """The case number of ``incident_id`` (the same as ``Incident.case_number`` computes in SQL)."""
    x = ((incident_id % _CASE_N) * _CASE_A + _CASE_B) % _CASE_N
    return "".join(CASE_ALPHABET[(x // 31**k) % 31] for k in range(7, -1, -1))


def case_id_of(number: str) -> int | None:
    """The incident id a case number stands for (None when it is not one)."""
    if len(number) != 8 or any(c not in CASE_ALPHABET for c in number):
        return None
    x = 0
    for c in number:
        x = x * 31 + CASE_ALPHABET.index(c)
    return ((x - _CASE_B) * pow(_CASE_A, -1, _CASE_N)) % _CASE_N


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
        CheckConstraint(f"satisfaction IN {SATISFACTION}", name="ck_incidents_satisfaction"),
        Index("ix_incidents_category_reported", "category_id", "reported_at"),
        Index("ix_incidents_state_reported", "state", "reported_at"),
        # Migration 0003_incidents: stage times, and the open share of a year's million rows.
        Index("ix_incidents_state_changed", "state", "state_changed_at"),
        # Migration 0025: covering as ix_incidents_open_stage does, so the overdue count stays in an index
        # whichever of the two the planner takes.
        Index(
            "ix_incidents_open_reported",
            "reported_at",
            postgresql_include=["grid_id", *_OVERDUE_READS],
            postgresql_where=text(_OPEN_STATES_SQL),
        ),
        Index("ix_incidents_open_geom", "geom", postgresql_using="gist", postgresql_where=text(_OPEN_STATES_SQL)),
        # Migration 0007 (0023 added the street code): dashboard counts and medians per period answered from the index alone.
        Index("ix_incidents_reported_at", "reported_at", postgresql_include=["grid_id", "street_code"]),
        Index(
            "ix_incidents_closed_at",
            "closed_at",
            postgresql_include=["grid_id", "reported_at", "category_id", "street_code"],
            postgresql_where=text("closed_at IS NOT NULL"),
        ),
        # ... and for one street or community: its grids' rows of a period, also for overdue at a past date.
        Index(
            "ix_incidents_grid_reported",
            "grid_id",
            "reported_at",
            postgresql_include=["closed_at", "state", "category_id", "street_code"],
        ),
        # Migration 0021: overdue now and at a past date, read from the indexes alone.
        Index(
            "ix_incidents_open_stage",
            "grid_id",
            postgresql_include=list(_OVERDUE_READS),
            postgresql_where=text(_OPEN_STATES_SQL),
        ),
        Index(
            "ix_incidents_unclosed_counted",
            "reported_at",
            postgresql_include=["grid_id", "category_id", "street_code"],
            postgresql_where=text("closed_at IS NULL AND state NOT IN ('rejected', 'duplicate')"),
        ),
        Index(
            "ix_incidents_closed_counted",
            "closed_at",
            postgresql_include=["grid_id", "reported_at", "category_id", "street_code"],
            postgresql_where=text("closed_at IS NOT NULL AND state NOT IN ('rejected', 'duplicate')"),
        ),
    )

    # The ORM knows a row by (id, street_code), the key it would have distributed (docs/scaling.md): its
    # UPDATEs and DELETEs name the street, so they would go to one shard. The table's key stays ``id``.
    __mapper_args__: ClassVar[dict] = {"primary_key": ["id", "street_code"]}

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
    # The distribution column (migration 0023, docs/scaling.md): the street of the grid, else of the place.
    street_code: Mapped[str | None] = mapped_column(String(9))
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    # Optional extent (a polluted stretch of road, an overflowing area).
    extent = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=True)

    # Workflow (migration 0003_incidents): who holds it now, where consultation decided it.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    property_company_id: Mapped[int | None] = mapped_column(ForeignKey("property_companies.id", ondelete="SET NULL"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    attributes: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    media_url: Mapped[str | None] = mapped_column(String(512))
    # Open311: the key a request came through and the token handed back to the client.
    open311_key_id: Mapped[int | None] = mapped_column(ForeignKey("open311_keys.id", ondelete="SET NULL"))
    open311_token: Mapped[str | None] = mapped_column(String(40), unique=True)
    # Migration 0013_notify: the resident's follow-up and the stage's clock.
    public_token: Mapped[str] = mapped_column(
        String(32), unique=True, server_default=text("replace(gen_random_uuid()::text, '-', '')")
    )
    extension_hours: Mapped[float] = mapped_column(Float, default=0, server_default="0")  # granted for this stage
    deadline_notified: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # 1 near, 2 overdue
    satisfaction: Mapped[str | None] = mapped_column(String(24))

    category = relationship("IncidentCategory", lazy="joined")

    @classmethod
    def by_id(cls, incident_id: int | None) -> "Incident | None":
        """The incident with this id, or None (the ORM's identity is (id, street_code): no ``session.get``)."""
        if incident_id is None or not 0 < int(incident_id) < 2**63:
            return None
        return db.session.scalars(select(cls).where(cls.id == incident_id)).first()

    @hybrid_property
    def case_number(self) -> str:
        """The case number (案件号) of this incident."""
        return case_number_of(self.id)

    @case_number.inplace.expression
    @classmethod
    def _case_number_sql(cls):
        x = ((cast(cls.id, Numeric) % _CASE_N) * _CASE_A + _CASE_B) % _CASE_N
        return func.concat(
            *(func.substr(CASE_ALPHABET, cast(func.div(x, 31**k) % 31, Integer) + 1, 1) for k in range(7, -1, -1))
        )


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
    # The reply the resident reads on the status page (and Open311 updates); ``note`` stays internal.
    public_note: Mapped[str | None] = mapped_column(Text)
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


class Organisation(db.Model):
    """A department or a property company whose people work in Wuwei (处置端): incidents dispatched to it
    reach their desk. It links the existing ``departments`` or ``property_companies`` row."""

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint("(department_id IS NULL) <> (property_company_id IS NULL)", name="ck_organisations_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), unique=True)
    property_company_id: Mapped[int | None] = mapped_column(
        ForeignKey("property_companies.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    department = relationship("Department", lazy="joined")
    property_company = relationship("PropertyCompany", lazy="joined")

    @property
    def name(self) -> str:
        return self.department.name if self.department is not None else self.property_company.name


class OrganisationMember(db.Model):
    """A user (role ``department``) of an organisation; a user belongs to one."""

    __tablename__ = "organisation_members"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)


class ExtensionRequest(db.Model):
    """A stage's holder asks for more time (申请延期); community staff grant or refuse it."""

    __tablename__ = "incident_extensions"
    __table_args__ = (
        Index(
            "ix_incident_extensions_pending", "incident_id", unique=True, postgresql_where=text("decided_at IS NULL")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    hours: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    granted: Mapped[bool | None] = mapped_column(Boolean)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)


carries_street(Incident)
