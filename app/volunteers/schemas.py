"""What the volunteers API takes and answers: teams, volunteers, activities, sign-ups and attendance."""
from typing import Annotated

from pydantic import BaseModel, Field

from app.web.params import Body, Id
from app.web.values import Day, Flag, Moment, Text, unset

Community = Annotated[str, Field(description="12-digit community code (default: your community)")]
Skill = Text(32, 1)


class TeamIn(Body):
    """A volunteer team in a community."""
    name: Text(128, 1)
    leader_name: Text(64) | None = None
    party_led: Flag = True
    note: Text(2000) | None = None
    community: Community | None = None


class VolunteerPatch(Body):
    """A change to a volunteer; ``skills`` replaces the list."""
    name: Text(64, 1) = unset()
    phone: Text(32) | None = None
    team_id: Id | None = None
    party_member: Flag = unset()
    active: Flag = unset()
    skills: list[Skill] | None = None


class VolunteerIn(VolunteerPatch):
    """A volunteer, in a team or directly in a community."""
    name: Text(64, 1)
    party_member: Flag = False
    active: Flag = True
    community: Community | None = None


class ActivityPatch(Body):
    """A change to an activity."""
    title: Text(128, 1) = unset()
    description: Text(4000) | None = None
    team_id: Id | None = None
    place: Text(256) | None = None
    building_id: Id | None = None
    dtstart: Moment = unset()
    rrule: Text(500) | None = Field(None, description="RFC 5545 RRULE, e.g. FREQ=MONTHLY;BYMONTHDAY=4,14,24")
    duration_minutes: Annotated[int, Field(ge=1, le=1440)] = unset()
    capacity: Annotated[int, Field(ge=1, le=100000)] | None = None
    active: Flag = unset()


class ActivityIn(ActivityPatch):
    """An activity series (or a one-off without ``rrule``) from ``dtstart``."""
    title: Text(128, 1)
    dtstart: Moment
    duration_minutes: Annotated[int, Field(ge=1, le=1440)] = 120
    active: Flag = True
    community: Community | None = None


class SignUpIn(Body):
    """A volunteer for one occurrence (the date must be one)."""
    volunteer_id: Id
    date: Day


class AttendanceIn(Body):
    """Attendance; ``hours`` default to the activity's duration when attended."""
    attended: Flag
    hours: Annotated[float, Field(ge=0, le=24, allow_inf_nan=False)] | None = None


class TeamOut(BaseModel):
    id: int
    name: str
    leader_name: str | None
    party_led: bool | None
    note: str | None
    community: str
    community_name: str
    hours: float | None = None


class VolunteerOut(BaseModel):
    """A volunteer; ``phone`` only for community staff and admins."""
    id: int
    name: str
    phone: str | None
    team_id: int | None
    team: str | None
    skills: list[str]
    party_member: bool | None
    active: bool | None


class ActivityOut(BaseModel):
    id: int
    title: str
    description: str | None
    community: str
    team_id: int | None
    team: str | None
    place: str | None
    building_id: int | None
    dtstart: str
    rrule: str | None
    duration_minutes: int
    capacity: int | None
    active: bool | None
    next: str | None


class Occurrence(BaseModel):
    activity_id: int
    title: str
    start: str
    end: str
    date: str
    place: str | None
    team: str | None
    signups: int
    capacity: int | None


class SignUpOut(BaseModel):
    id: int
    activity_id: int
    date: str
    volunteer_id: int
    volunteer: str
    attended: bool | None
    hours: float | None


class HoursRow(BaseModel):
    """Hours of a team (``volunteers`` null below 5) or of a volunteer."""
    team_id: int | None = None
    volunteer_id: int | None = None
    volunteer: str | None = None
    team: str | None
    hours: float
    volunteers: int | None = None
    times: int
