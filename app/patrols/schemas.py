"""What the patrol API takes and answers: pydantic models shared by the API and the pages' forms."""

import datetime as dt
from typing import Annotated, Any, Literal

from geojson_pydantic import LineString, MultiLineString
from pydantic import BaseModel, BeforeValidator, Field, StringConstraints

from app.patrols.models import (
    EVENT_KINDS,
    IDENTIFIER_PATTERN,
    PATROL_KINDS,
    PATROL_STATES,
)
from app.web.params import (
    MAX_INT,
    AreaCode,
    Bbox,
    Body,
    CommaList,
    LocalDateTime,
    Paging,
    Patch,
    Period,
    Query,
    invalid,
)


def _json_number(value: Any) -> Any:
    """true/false and strings are not numbers here (pydantic would read them as 1/0 and parse "12")."""
    if isinstance(value, (bool, str)):
        raise invalid("must be a number")
    return value


# JSON numbers only. An integer counts as a number; 12.0 counts as the integer 12 (as in JSON Schema).
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Integer = Annotated[int, BeforeValidator(_json_number)]
Count = Annotated[Integer, Field(ge=0, le=1_000_000)]
Width = Annotated[float, Field(strict=True, gt=0, le=200, description="metres")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Kind = Literal[PATROL_KINDS]
Moment = Annotated[
    Any,
    Field(
        json_schema_extra={"type": ["number", "string"]},
        description="epoch seconds or milliseconds, or ISO 8601 (naive means UTC)",
    ),
]


# --------------------------------------------------------------------------- queries


class PatrolListQuery(Query, Paging):
    kind: Kind | None = None
    state: Literal[PATROL_STATES] | None = None
    from_: LocalDateTime | None = Field(None, alias="from", description="started (or planned) at or after")
    to: LocalDateTime | None = Field(None, description="started (or planned) before")
    area: AreaCode | None = None
    team: Annotated[int, Field(ge=0, le=MAX_INT, description="team id (0: any)")] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 50


class PatrolTrackQuery(Query):
    simplify: Annotated[int, Field(ge=0, le=100, description="tolerance in metres")] = 2
    # The map pages' loader (static/js/wuwei-map.js) asks every layer for the visible bbox; a track is one
    # feature and is answered whole, so both are accepted (and checked) but change nothing.
    bbox: Bbox | None = Field(None, description="accepted from map loaders; the whole track is returned")
    limit: Annotated[int, Field(ge=1, le=10_000, description="accepted from map loaders; one feature")] = 1


class BadParkingQuery(Query):
    bbox: Bbox | None = None
    limit: Annotated[int, Field(ge=1, le=10_000)] = 1000


class PatrolLiveQuery(Query):
    bbox: Bbox | None = None
    minutes: Annotated[int, Field(ge=1, le=24 * 60, description="trail length")] = 30
    limit: Annotated[int, Field(ge=1, le=10_000)] = 2000


class PatrolEventsQuery(Query, Paging):
    kind: CommaList[Literal[EVENT_KINDS]] | None = Field(None, description="alarm, heartbeat, no_fix, transition")
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


class DeviceEventsQuery(PatrolEventsQuery, Period):
    """A device's events in ``from``/``to`` (default: the last 30 days)."""


class PatrolCoverageQuery(Query):
    period: Literal["week", "month"] = "week"
    date: dt.date | None = Field(None, description="a day of the period (default today, Asia/Shanghai)")


# --------------------------------------------------------------------------- bodies


class PatrolIn(Body):
    """A patrol to plan, or to start at once with ``"start": true``."""

    kind: Kind
    title: Title | None = Field(None, description="default: the kind and the date, e.g. 网格巡查 12月2日")
    area: AreaCode | None = Field(None, description="default: your own area")
    team_id: Annotated[Integer, Field(ge=1, le=MAX_INT)] | None = None
    participants: Annotated[list[Username], Field(max_length=200, default_factory=list)]
    planned_start: LocalDateTime | None = None
    planned_route: LineString | MultiLineString | None = None
    start: Annotated[bool, Field(strict=True)] = False
    cleanup_width_m: Width | None = None


def _no_default(schema: dict) -> None:
    schema.pop("default", None)  # a field left out is not changed; it has no default value


class PatrolResultsIn(Patch):
    """Only the fields sent change; ``null`` clears a result (not the title)."""

    title: Title = Field(None, json_schema_extra=_no_default)
    cleanup_width_m: Width | None = None
    bags: Count | None = None
    weight_kg: Annotated[Number, Field(ge=0, le=1_000_000)] | None = None
    volunteers: Count | None = None
    bikes_reparked: Count | None = None
    riders_guided: Count | None = None
    note: Annotated[str, StringConstraints(max_length=4000)] | None = None


class PhoneFix(BaseModel):
    """One fix of the phone page (``navigator.geolocation``)."""

    lat: Number
    lon: Number
    t: Moment
    acc: Number | None = None
    speed: Number | None = None
    heading: Number | None = None
    alt: Number | None = None


class PhonePositionsIn(Body):
    positions: Annotated[list[PhoneFix], Field(max_length=5000)]


class BadParkingSpotIn(Body):
    """A bad-parking spot where the patrol found it."""

    lon: Annotated[Number, Field(ge=-180, le=180)]
    lat: Annotated[Number, Field(ge=-90, le=90)]
    bikes: Annotated[Integer, Field(ge=0, le=10_000)] = 1
    reparked: Annotated[bool, Field(strict=True)] = False
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    found_at: LocalDateTime | None = None


class TrackUpload(BaseModel):
    """A GPX or CSV track (multipart/form-data), optionally of one of your devices."""

    file: bytes
    format: Literal["gpx", "csv"] | None = Field(None, description="default: from the file name (.csv), else gpx")
    device: str | None = Field(None, description="a device identifier of yours (default: the phone page's)")
    all_or_nothing: bool = Field(
        False, description="refuse the whole file when any point is refused (default: import the good points)"
    )


class TrackingDeviceIn(Body):
    """A tracking device to register for yourself (admins: for ``user``).

    ``secret`` empty: the server issues a random one (the usual way); a secret chosen by hand must be at
    least 20 characters and hard to guess. ``identifier`` is the public name (default ``user/name``)."""

    name: Annotated[str, StringConstraints(max_length=128)] = ""
    kind: Literal["traccar", "owntracks", "other"] = "traccar"
    identifier: Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)] | None = None
    secret: Annotated[str, StringConstraints(max_length=200)] | None = None
    user: Username | None = None


# --------------------------------------------------------------------------- answers


class PatrolArea(BaseModel):
    code: str
    name: str


class PatrolTeamRef(BaseModel):
    id: int
    name: str


class PatrolResults(BaseModel):
    cleanup_width_m: float | None
    bags: int | None
    weight_kg: float | None
    volunteers: int | None
    bikes_reparked: int | None
    riders_guided: int | None
    note: str | None


class PatrolGridVisit(BaseModel):
    code: str
    name: str
    minutes: float
    coverage: float = Field(description="share of the grid's area within the swept strip")


class PatrolStats(BaseModel):
    fixes: int
    raw_fixes: int
    dropped_fixes: int
    distance_m: float
    duration_s: int
    moving_s: int
    area_m2: float | None
    people: int
    hours: float
    person_hours: float
    grids: list[PatrolGridVisit]
    bad_parking_spots: int
    bad_parked_bikes: int


class PatrolOut(BaseModel):
    """A patrol; participants by display name only."""

    id: int
    kind: str
    title: str
    state: str
    area: PatrolArea
    team: PatrolTeamRef | None
    planned_start: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    participants: list[str]
    results: PatrolResults
    distance_m: float | None
    area_m2: float | None
    links: dict[str, str]
    stats: PatrolStats | None = Field(None, description="with one patrol and after stop")


class PatrolList(BaseModel):
    total: int
    patrols: list[PatrolOut]


class RefusedPoint(BaseModel):
    where: str = Field(description="`line 12` (CSV) or `track 1 segment 2 point 7` (GPX)")
    reason: str


class FixesReceived(BaseModel):
    received: int
    stored: int = Field(description="new fixes (resends are skipped)")
    refused: list[RefusedPoint] = Field([], description="points of a file that were not imported, and why")
    refused_count: int = Field(0, description="all refused points (the list shows the first 1000)")
    track: dict | None = Field(
        None,
        description="the patrol so far: stored_fixes, kept_fixes, dropped_accuracy, dropped_speed "
        "(the drift filter's reasons), max_accuracy_m, max_speed_kmh, distance_m",
    )


class ParticipantsIn(Body):
    """People to add to a patrol, by username."""

    usernames: Annotated[list[Username], Field(min_length=1, max_length=50)]


class BadParkingSpotCreated(BaseModel):
    id: int
    nearest_zone_id: int | None
    zone_distance_m: float | None
    grid_id: int | None


class PatrolGridCoverage(BaseModel):
    code: str
    name: str
    community: str | None
    fixes: int
    patrols: int
    days: int
    last_walked: str | None
    walked: bool


class PatrolCoverage(BaseModel):
    period: str
    start: str
    end: str
    grids: list[PatrolGridCoverage]
    not_walked: list[str]


class TrackingDevice(BaseModel):
    id: int
    identifier: str
    name: str
    kind: str
    active: bool = True
    can_report: bool = True
    secret: str | None = None


class TrackingDevices(BaseModel):
    devices: list[TrackingDevice]


class DeviceEventOut(BaseModel):
    id: int
    device: str = Field(description="the device's public name")
    who: str
    patrol_id: int | None
    happened_at: str
    received_at: str
    kind: str
    detail: str
    lon: float | None
    lat: float | None
    attributes: dict
    source: str
    acknowledged_at: str | None = Field(None, description="alarms: when staff acknowledged it")
    acknowledged_by: str | None = None


class DeviceEventList(BaseModel):
    total: int
    events: list[DeviceEventOut]
