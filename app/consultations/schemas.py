"""The consultations API's declarations: bodies, the ledger's query string and the answers.

The pages check their forms with the same models (:func:`app.web.api.parse_body`).
"""

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, Strict

from app.consultations.models import DECISION_STATUSES, MEMBER_ROLES
from app.web.params import MAX_INT, AreaCode, Body, Id, LocalDateTime, Query


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def Text(max_length: int, required: bool = False):
    """A trimmed text of at most ``max_length``; an optional one left blank is None."""
    if required:
        return Annotated[str, Field(min_length=1, max_length=max_length)]
    return Annotated[Annotated[str, Field(max_length=max_length)] | None, BeforeValidator(_blank_is_none)]


StrictId = Annotated[int, Strict(), Field(ge=1, le=MAX_INT)]


# --------------------------------------------------------------------------- bodies


class CouncilMemberIn(Body):
    """A member: resident representative, work unit, property company, mediator, staff …"""

    name: Text(64, required=True)
    role: Literal[*MEMBER_ROLES]
    organisation: Text(128) = None
    phone: Annotated[Text(32), Field(description="personal: shown to those who keep the councils")] = None
    user_id: Annotated[Id | None, Field(description="the member's login, if any")] = None


class CouncilIn(Body):
    """A new council (议事会) of a community in your area, with its members."""

    name: Text(128, required=True)
    community: Annotated[AreaCode, Field(description="the community's code (12 digits)")]
    description: Text(4000) = None
    members: Annotated[list[CouncilMemberIn], Field(max_length=200, default_factory=list)]


class DecisionIn(Body):
    """A decision (协商结果) with an owner and a due date."""

    text: Text(4000, required=True)
    owner: Text(128, required=True)
    due_on: dt.date | None = None
    incident_id: Annotated[Id | None, Field(description="one of the meeting's agenda incidents")] = None
    agenda_no: Annotated[
        int | None, Field(ge=1, le=100, description="the number (1, 2, …) of the agenda item it settles")
    ] = None

    def values(self) -> dict:
        return self.model_dump()


class AgendaItemIn(Body):
    """An item of the agenda (议程), numbered in the order given."""

    title: Text(256, required=True)
    note: Text(4000) = None
    incident_id: Annotated[Id | None, Field(description="the incident it is about (joins the agenda)")] = None


class MeetingIn(Body):
    """A sitting of a council: agenda incidents go to state ``consultation`` (linked to the meeting)."""

    held_at: LocalDateTime
    topic: Text(256, required=True)
    place: Text(256) = None
    minutes: Text(20000) = None
    participant_ids: Annotated[
        list[StrictId], Field(max_length=200, default_factory=list, description="ids of council members")
    ]
    incident_ids: Annotated[list[StrictId], Field(max_length=200, default_factory=list, description="agenda incidents")]
    agenda: Annotated[list[AgendaItemIn], Field(max_length=100, default_factory=list)]
    decisions: Annotated[list[DecisionIn], Field(max_length=100, default_factory=list)]


class DecisionPatch(Body):
    """Follow a decision: done (with a note), dropped, or open again."""

    status: Literal[*DECISION_STATUSES]
    note: Text(4000) = None


class LedgerQuery(Query):
    community: Annotated[AreaCode | None, Field(description="a community's code: its councils")] = None
    from_: Annotated[dt.date | None, Field(alias="from", description="meetings on or after")] = None
    to: Annotated[dt.date | None, Field(description="meetings up to (inclusive)")] = None


class LedgerPageQuery(LedgerQuery):
    format: Literal["csv"] | None = None


# --------------------------------------------------------------------------- answers


class CouncilCommunity(BaseModel):
    code: str
    name: str


class CouncilMember(BaseModel):
    id: int
    name: str
    role: str
    organisation: str | None
    phone: Annotated[str | None, Field(description="only for those who keep the councils")] = None


class Council(BaseModel):
    """A council and its members."""

    id: int
    name: str
    community: CouncilCommunity
    description: str | None
    members: list[CouncilMember]


class Councils(BaseModel):
    councils: list[Council]


class Decision(BaseModel):
    id: int
    meeting_id: int
    incident_id: int | None
    text: str
    owner: str
    due_on: dt.date | None
    status: Literal[*DECISION_STATUSES]
    done_at: dt.datetime | None
    done_note: str | None
    agenda_item_id: int | None


class AgendaItem(BaseModel):
    id: int
    position: int
    title: str
    note: str | None
    incident_id: int | None


class MeetingParticipant(BaseModel):
    id: int
    name: str
    role: str
    organisation: str | None


class Meeting(BaseModel):
    """A meeting with its participants, agenda incidents and decisions."""

    id: int
    council_id: int
    held_at: dt.datetime
    place: str | None
    topic: str
    minutes: str | None
    participants: list[MeetingParticipant]
    incident_ids: list[int]
    agenda: list[AgendaItem]
    decisions: list[Decision]


class CouncilDetail(Council):
    """A council with its members and meetings."""

    meetings: list[Meeting]


class LedgerRow(BaseModel):
    meeting_id: int
    council_id: int
    council: str
    community: str
    held_at: dt.datetime
    place: str | None
    topic: str
    participants: str
    incidents: str
    incident_ids: list[int]
    agenda_item: str
    decision_id: int | None
    decision: str
    owner: str
    due_on: dt.date | None
    status: str
    done_at: dt.datetime | None
    done_note: str | None
    late: bool


class Ledger(BaseModel):
    """The consultation ledger (协商台账): one row per decision, or per meeting without decisions."""

    rows: list[LedgerRow]
