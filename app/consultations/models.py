"""微协商 (micro-consultation): councils, their members, meetings, decisions; the ledger reads these."""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.columns import link_key
from app.core.extensions import db

MEMBER_ROLES = ("resident_rep", "work_unit", "property_company", "mediator", "staff", "other")
DECISION_STATUSES = ("open", "done", "dropped")

meeting_participants = Table(
    "meeting_participants",
    db.metadata,
    link_key("meeting_id", "meetings.id"),
    link_key("member_id", "council_members.id"),
)
meeting_incidents = Table(
    "meeting_incidents",
    db.metadata,
    link_key("meeting_id", "meetings.id"),
    link_key("incident_id", "incidents.id", type_=BigInteger),
)


class Council(db.Model):
    """A 议事会, e.g. the building-courtyard round-table council (楼院圆桌议事厅) of a community."""

    __tablename__ = "councils"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    community = relationship("Area", lazy="joined")
    members = relationship("CouncilMember", back_populates="council", order_by="CouncilMember.id")


class CouncilMember(db.Model):
    """A member of a council: resident representative, work unit, property company, mediator …"""

    __tablename__ = "council_members"
    __table_args__ = (CheckConstraint(f"role IN {MEMBER_ROLES}", name="ck_council_members_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str | None] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Personal information: shown only to staff of the community and admins.
    phone: Mapped[str | None] = mapped_column(String(32))

    council = relationship("Council", back_populates="members")


class Meeting(db.Model):
    """One sitting of a council: when, where, who came, which incidents, minutes and decisions."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id", ondelete="CASCADE"), index=True)
    held_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    place: Mapped[str | None] = mapped_column(String(256))
    topic: Mapped[str] = mapped_column(String(256))
    minutes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    council = relationship("Council", lazy="joined")
    participants = relationship("CouncilMember", secondary=meeting_participants, order_by="CouncilMember.id")
    incidents = relationship("Incident", secondary=meeting_incidents, order_by="Incident.id")
    decisions = relationship("Decision", back_populates="meeting", order_by="Decision.id")
    agenda = relationship("AgendaItem", back_populates="meeting", order_by="AgendaItem.position")


class AgendaItem(db.Model):
    """An item of a meeting's agenda (议程): what was talked about, numbered 1, 2, … in the meeting,
    optionally about one of the meeting's incidents; decisions may name the item they settle."""

    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("meeting_id", "position", name="uq_agenda_items_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(String(256))
    note: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("incidents.id", ondelete="SET NULL"))

    meeting = relationship("Meeting", back_populates="agenda")


class Decision(db.Model):
    """A decision of a meeting (协商结果) with an owner and a due date, followed until done."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(f"status IN {DECISION_STATUSES}", name="ck_decisions_status"),
        Index("ix_decisions_status_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(128))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_note: Mapped[str | None] = mapped_column(Text)
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))

    meeting = relationship("Meeting", back_populates="decisions")
    agenda_item = relationship("AgendaItem")
