"""What the household API takes and answers: pydantic models for files, members, tags, visits and care plans.

Bodies (:class:`~app.web.params.Body`) refuse unknown fields and trim strings; a ``…Patch`` changes only
the fields sent, and ``null`` is refused where the column can't be empty. Rules a model can't see
(the building is in your grids, the tag exists, the worker walks this grid) are the services' (422).
"""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from app.core.time import today
from app.households.models import GENDERS, VISIT_PURPOSES
from app.web.params import Body, Id, invalid
from app.web.values import Day, Flag, Moment, Text, unset

TagCode = Text(32, 1)
Purpose = Literal[VISIT_PURPOSES]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


# --------------------------------------------------------------------------- tags


class TagPatch(Body):
    """A change to a tag of the admin-managed list (retired tags stay on old files)."""

    name: Text(64, 1) = unset()
    name_en: Text(64) | None = None
    key_group: Flag = unset()
    active: Flag = unset()


class TagIn(TagPatch):
    """A new key-group tag."""

    code: Text(32, 1)
    name: Text(64, 1)
    key_group: Flag = True
    active: Flag = True

    @field_validator("code")
    @classmethod
    def _code(cls, code: str) -> str:
        if not (code[0].isalpha() and code.isascii() and code.replace("_", "").isalnum() and code.islower()):
            raise invalid("lower-case letters, digits and _")
        return code


class TagOut(BaseModel):
    id: int
    code: str
    name: str
    name_en: str | None = None
    key_group: bool | None = None
    active: bool | None = None


# --------------------------------------------------------------------------- members and files


class MemberPatch(Body):
    """A change to a member; ``age`` (0–130) or ``birth_date`` set ``birth_year``; ``tags`` replaces the list."""

    name: Text(64, 1) = unset()
    relation: Text(32) | None = None
    gender: Literal[GENDERS] | None = None
    birth_year: Annotated[int, Field(ge=1880, le=2100)] | None = None
    age: Annotated[int, Field(ge=0, le=130)] | None = None
    birth_date: Day | None = None
    phone: Text(32) | None = None
    party_member: Flag = unset()
    health: Text(2000) | None = None
    notes: Text(4000) | None = None
    tags: list[TagCode] | None = Field(None, description="tag codes from /api/v1/household-tags")

    @field_validator("birth_year")
    @classmethod
    def _not_born_in_the_future(cls, year: int | None) -> int | None:
        if year is not None and year > today().year:
            raise invalid("in the future")
        return year

    @field_validator("birth_date")
    @classmethod
    def _past_date(cls, born):
        if born is not None and (born > today() or born.year < 1880):
            raise invalid("must be a past date after 1880")
        return born


class MemberIn(MemberPatch):
    """A person in a household."""

    name: Text(64, 1)
    party_member: Flag = False


class HouseholdPatch(Body):
    """A change to a file; ``tags`` replaces the list."""

    building_id: Id = unset()
    flat_no: Text(32, 1) = unset("flat/room number, e.g. 3单元502")
    head_name: Text(64, 1) = unset()
    phone: Text(32) | None = None
    notes: Text(4000) | None = None
    tags: list[TagCode] | None = Field(None, description="tag codes from /api/v1/household-tags")


class HouseholdIn(HouseholdPatch):
    """A new file at a building, with its tags and members."""

    building_id: Id
    flat_no: Text(32, 1) = Field(description="flat/room number, e.g. 3单元502")
    head_name: Text(64, 1)
    members: list[MemberIn] | None = None


class MemberOut(BaseModel):
    id: int
    name: str
    relation: str | None
    gender: str | None
    birth_year: int | None
    age: int | None
    phone: str | None
    party_member: bool | None
    health: str | None
    notes: str | None
    tags: list[str]


class HouseholdOut(BaseModel):
    """A household file (personal data: reads are audited)."""

    id: int
    building_id: int
    building: str | None
    flat_no: str
    head_name: str
    phone: str | None
    notes: str | None
    grid_code: str | None
    grid_name: str | None
    tags: list[str]
    tag_names: list[str]
    members: list[MemberOut] = []


# --------------------------------------------------------------------------- visits


class VisitPatch(Body):
    """Notes and follow-up of a visit (``follow_up_done`` marks the follow-up done)."""

    place: Text(256) | None = None
    visitor_names: Text(256) | None = None
    notes: Text(4000) | None = None
    follow_up: Text(2000) | None = None
    follow_up_due: Day | None = None
    follow_up_done: Flag | None = None


class VisitIn(VisitPatch):
    """A visit to a household, a building or a place (the phone's position); ``visited_at`` defaults to now."""

    household_id: Id | None = None
    building_id: Id | None = None
    visited_at: Moment | None = None
    purpose: Purpose
    visitor_ids: list[Id] | None = Field(None, description="user ids of the visitors (default: you)")
    lon: Lon | None = None
    lat: Lat | None = None


class Position(BaseModel):
    lon: float
    lat: float


class VisitOut(BaseModel):
    """A visit (personal data)."""

    id: int
    household_id: int | None
    household: str | None
    building_id: int | None
    building: str | None
    place: str | None
    visited_at: str | None
    purpose: str
    visitor_names: str | None
    visitors: list[str | None]
    notes: str | None
    follow_up: str | None
    follow_up_due: str | None
    follow_up_done: bool | None
    position: Position | None


class HouseholdFile(HouseholdOut):
    """A file with its last 50 visits."""

    visits: list[VisitOut]


# --------------------------------------------------------------------------- care plans


class CarePlanPatch(Body):
    """A change to a care plan's frequency, worker or state."""

    frequency_days: Annotated[int, Field(ge=1, le=366)] = unset()
    worker_id: Id | None = None
    start_date: Day = unset()
    purpose: Purpose = unset()
    note: Text(2000) | None = None
    active: Flag = unset()


class CarePlanIn(CarePlanPatch):
    """A visit frequency for a household (one active plan per household)."""

    household_id: Id
    frequency_days: Annotated[int, Field(ge=1, le=366)]
    start_date: Day | None = None
    purpose: Purpose | None = None
    active: Flag = True


class CarePlanOut(BaseModel):
    id: int
    household_id: int
    frequency_days: int
    worker_id: int | None
    start_date: str | None
    purpose: str | None
    note: str | None
    active: bool | None


class DuePlan(BaseModel):
    """A household due for a visit."""

    plan_id: int
    household_id: int
    household: str
    flat_no: str
    phone: str | None = None
    building: str | None
    building_id: int
    grid_code: str | None
    worker_id: int | None
    worker: str | None
    frequency_days: int
    last_visit: str | None
    next_due: str
    days_overdue: int
    overdue: bool
    tags: list[str]


class DueCount(BaseModel):
    """Plans, due and overdue in a grid (``grid_code``) or building (``building_id``); null: fewer than 5."""

    grid_code: str | None = None
    building_id: int | None = None
    plans: int | None
    due: int | None
    overdue: int | None


class GridStats(BaseModel):
    grid_code: str
    grid_name: str
    households: int | None
    by_tag: dict[str, int | None]


class HouseholdStats(BaseModel):
    """Households per grid and per tag; counts below ``k`` are null."""

    k: int
    grids: list[GridStats]


class HouseholdPage(BaseModel):
    total: int
    items: list[HouseholdOut]


class VisitPage(BaseModel):
    total: int
    items: list[VisitOut]
