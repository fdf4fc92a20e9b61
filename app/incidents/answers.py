"""What the incidents API answers, as pydantic models: they describe the answers in
``/api/v1/openapi.json`` (answers are built by the services, often by PostgreSQL, and not re-validated).
"""

import datetime as dt
from typing import Annotated, Literal

from geojson_pydantic import Point
from pydantic import BaseModel, Field

from app.incidents.schemas import Source, State


class TimelineStep(BaseModel):
    from_: Annotated[str | None, Field(alias="from")]
    to: str
    at: dt.datetime
    by: str | None
    note: str | None
    public_note: str | None = None
    data: dict


class IncidentPhoto(BaseModel):
    id: int
    url: str
    thumbnail: str
    width: int
    height: int
    transition_id: int | None


class IncidentOffer(BaseModel):
    user_id: int | None
    user: str | None
    department: str | None


class IncidentSummary(BaseModel):
    """What every answer about an incident says: no personal data."""

    state: State
    category: str
    category_name: str
    source: Source
    description: str
    address: str | None
    reported_at: dt.datetime
    state_changed_at: dt.datetime
    closed_at: dt.datetime | None
    due_at: dt.datetime | None
    overdue: bool
    grid_code: str | None
    grid_name: str | None


class IncidentListProperties(IncidentSummary):
    """An incident in a list."""

    id: int
    duplicate_of: int | None
    meeting_id: int | None


class IncidentReporter(BaseModel):
    name: str | None
    phone: str | None


class IncidentProperties(IncidentSummary):
    """One incident with its timeline; ``reporter`` only for roles that read personal data."""

    case_number: str
    department_id: int | None
    assignee_id: int | None
    property_company_id: int | None
    duplicate_of: int | None
    meeting_id: int | None
    rating: int | None
    satisfaction: str | None = None
    extension_hours: float = 0
    attributes: dict
    extent: dict | None
    timeline: list[TimelineStep]
    photos: list[IncidentPhoto]
    offered_to: list[IncidentOffer]
    reporter: IncidentReporter | None = None


class IncidentFeature(BaseModel):
    """One incident as a GeoJSON Feature."""

    type: Literal["Feature"]
    id: int
    geometry: Point
    properties: IncidentProperties


class IncidentListFeature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: Point
    properties: IncidentListProperties


class IncidentPageLink(BaseModel):
    rel: str
    href: str
    type: str


class IncidentCollection(BaseModel):
    """A page of incidents as a GeoJSON FeatureCollection; ``next`` links the following page."""

    type: Literal["FeatureCollection"]
    numberReturned: int
    numberMatched: int | None = None
    numberMatchedAtLeast: int | None = None
    links: list[IncidentPageLink]
    features: list[IncidentListFeature]


class Attached(BaseModel):
    """A report attached to an open incident."""

    attached_to: int
    url: str


class DuplicateCandidate(BaseModel):
    id: int
    state: State
    description: str
    address: str | None
    reported_at: dt.datetime
    distance_m: float


class Duplicates(BaseModel):
    """Open incidents of the category near the point, nearest first."""

    radius_m: int
    days: int
    incidents: list[DuplicateCandidate]


class PhotoStored(BaseModel):
    id: int
    url: str
    thumbnail: str
    width: int
    height: int
    content_type: str


class CategoryNode(BaseModel):
    code: str
    name: str
    name_en: str | None
    parent: str | None
    department_id: int | None
    department: str | None
    deadlines: dict[str, float]
    attributes: list[dict]
    active: bool


class DepartmentRef(BaseModel):
    id: int
    code: str
    name: str


class CategoryTree(BaseModel):
    """The category tree with departments and stage deadlines (hours)."""

    categories: list[CategoryNode]
    departments: list[DepartmentRef]
