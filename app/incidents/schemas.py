"""What the incidents API takes: query strings and bodies, as pydantic models (answers: :mod:`.answers`).

The same models check requests (:func:`app.web.api.endpoint`) and describe them in
``/api/v1/openapi.json``; the pages read their forms and filters with them too.
"""

import datetime as dt
from typing import Annotated, Any, Literal

from geojson_pydantic import LineString, MultiLineString, MultiPolygon, Point, Polygon
from pydantic import BeforeValidator, Field, field_validator, model_validator

from app.core.time import day_start
from app.incidents.models import SATISFACTION, SOURCES, STATES
from app.incidents.services import (
    DUPLICATE_DAYS,
    DUPLICATE_RADIUS_M,
    MAX_DESCRIPTION,
    MAX_LIMIT,
    SORTS,
    Filters,
)
from app.incidents.workflow import TIMED_STAGES
from app.web.geometry import check_vertices
from app.web.params import (
    AreaCode,
    Bbox,
    Body,
    CommaList,
    Id,
    LocalDateTime,
    Paging,
    Patch,
    Query,
    SearchText,
    invalid,
)

State = Literal[*STATES]
Source = Literal[*SOURCES]
Sort = Literal[*SORTS, *(f"-{s}" for s in SORTS)]
CategoryCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="letters, digits, '.', '_' or '-'; nests with dots",
    ),
]


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise invalid("must be a number")
    return value


def _date_end(value: Any) -> Any:
    """``to=2026-04-30`` includes that day: a bare date means the midnight after it."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return day_start(dt.date.fromisoformat(value) + dt.timedelta(days=1))
        except ValueError:
            raise invalid("must be a date YYYY-MM-DD or an ISO 8601 date-time") from None
    return value


# --------------------------------------------------------------------------- lists


class IncidentQuery(Query, Paging):
    """Filters of the incident list (also the list page's and the CSV export's)."""

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 500
    bbox: Bbox | None = None
    state: CommaList[State] | None = None
    source: CommaList[Source] | None = None
    category: Annotated[
        CommaList[Annotated[str, Field(max_length=64)]] | None,
        Field(description="category codes, each with its subtree"),
    ] = None
    grid: AreaCode | None = None
    overdue: bool | None = None
    open: Annotated[bool | None, Field(description="true: only open states")] = None
    mine: Annotated[bool | None, Field(description="true: open incidents offered or dispatched to me")] = None
    reporter: Annotated[
        CommaList[Annotated[str, Field(min_length=1, max_length=64)]] | None,
        Field(max_length=50, description="usernames of who reported them (a patrol's members)"),
    ] = None
    from_: Annotated[LocalDateTime | None, Field(alias="from", description="reported on or after")] = None
    to: Annotated[
        LocalDateTime | None,
        BeforeValidator(_date_end),
        Field(description="reported before (a date: up to that day, inclusive)"),
    ] = None
    q: SearchText | None = None
    sort: Annotated[Sort, Field(description="prefix - for descending")] = "-reported_at"
    count: Annotated[bool, Field(description="true: add numberMatched (counted up to 1000)")] = False

    @field_validator("to")
    @classmethod
    def _after_from(cls, value, info):
        start = info.data.get("from_")
        if value is not None and start is not None and start >= value:
            raise invalid("must be after from")
        return value

    def filters(self, user_id: int | None) -> Filters:
        """The service's filters; ``mine`` needs the user's id."""
        return Filters(
            state=_tuple(self.state),
            source=_tuple(self.source),
            category=_tuple(self.category),
            grid=self.grid,
            overdue=self.overdue,
            open=self.open or None,
            mine=user_id if self.mine else None,
            reporters=_tuple(self.reporter),
            reported_from=self.from_,
            reported_to=self.to,
            bbox=self.bbox,
            q=self.q or None,
            sort=self.sort,
        )


def _tuple(values: list | None) -> tuple | None:
    return tuple(values) if values else None


class IncidentPageQuery(IncidentQuery):
    """The list page: the same filters, a page number and the CSV export."""

    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    format: Literal["csv"] | None = None


class DuplicateQuery(Query):
    category: Annotated[str, Field(max_length=64, description="category code")]
    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    radius: Annotated[int, Field(ge=1, le=5000, description="metres")] = DUPLICATE_RADIUS_M
    days: Annotated[int, Field(ge=1, le=365)] = DUPLICATE_DAYS


class PhotoQuery(Query):
    size: Annotated[Literal["thumb"] | None, Field(description="thumb: the thumbnail (320 px)")] = None


class CategoryQuery(Query):
    all: Annotated[bool, Field(description="true: include inactive categories")] = False


# --------------------------------------------------------------------------- bodies

# The vertex cap is checked before pydantic builds the shape (app.web.geometry).
Geometry = Annotated[
    Point | LineString | Polygon | MultiLineString | MultiPolygon,
    Field(discriminator="type"),
    BeforeValidator(check_vertices),
]
ShortText = Annotated[str, Field(max_length=256)]


class ReportIn(Body):
    """A report: a category, a description and a place (lon/lat, or a GeoJSON geometry for an extent).

    A GeoJSON Feature is read as its properties plus its geometry. With ``attach_to`` (an open
    incident's id) the description is added to that incident's timeline instead (answer 200).
    """

    category: CategoryCode | None = None
    description: Annotated[str | None, Field(max_length=MAX_DESCRIPTION)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    geometry: Geometry | None = None
    address: ShortText | None = None
    source: Source | None = None
    reporter_name: Annotated[str | None, Field(max_length=64)] = None
    reporter_phone: Annotated[str | None, Field(max_length=32)] = None
    attributes: Annotated[
        dict[str, str | int | float | list[str | int]] | None,
        Field(description="by attribute code; a multivaluelist takes a list"),
    ] = None
    attach_to: Id | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_feature(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "Feature":
            props = data.get("properties") if isinstance(data.get("properties"), dict) else {}
            return {**props, "geometry": data.get("geometry")}
        return data

    def geometry_dict(self) -> dict | None:
        return self.geometry.model_dump(exclude_none=True) if self.geometry is not None else None


class TransitionIn(Body):
    """A workflow step: the next state, a note, and what the step needs."""

    to: State
    note: Annotated[str | None, Field(max_length=MAX_DESCRIPTION)] = None
    department_id: Id | None = None
    assignee_id: Annotated[Id | None, Field(description="a user who may be dispatched to")] = None
    property_company_id: Id | None = None
    duplicate_of: Annotated[Id | None, Field(description="the original incident (step to duplicate)")] = None
    meeting_id: Annotated[Id | None, Field(description="the meeting (step to consultation)")] = None
    satisfaction: Annotated[
        Literal[*SATISFACTION] | None, Field(description="the resident's rating told on a call-back (step from closed)")
    ] = None
    rating: Annotated[int | None, Field(ge=1, le=5, description="older form of satisfaction: 4–5, 3, 1–2")] = None
    public_note: Annotated[
        str | None, Field(max_length=MAX_DESCRIPTION, description="the reply the resident reads on the status page")
    ] = None
    photo_ids: list[Id] = Field(default_factory=list)

    def data(self) -> dict:
        """The step's extra values, as the service takes them."""
        return self.model_dump(exclude={"to", "note", "photo_ids"}, exclude_none=True)


Hours = Annotated[int | float, BeforeValidator(_no_bool), Field(gt=0, le=24 * 365)]


class CategoryAttributeValue(Body):
    key: str | int
    name: str


class CategoryAttribute(Body):
    """An attribute asked when reporting (an Open311 service attribute)."""

    code: Annotated[str, Field(min_length=1, max_length=64)]
    description: str | None = None
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"] = "string"
    datatype_description: str | None = None
    required: bool = False
    order: int | None = None
    values: list[CategoryAttributeValue] | None = None


Deadlines = Annotated[dict[Literal[*TIMED_STAGES], Hours], Field(description="hours allowed per stage")]
Name = Annotated[str, Field(min_length=1, max_length=128)]


class CategoryIn(Body):
    """A new node of the category tree."""

    code: CategoryCode
    name: Name
    name_en: Name | None = None
    parent: Annotated[str | None, Field(description="the parent's code")] = None
    department_id: Id | None = None
    deadlines: Deadlines = Field(default_factory=dict)
    attributes: list[CategoryAttribute] = Field(default_factory=list)
    active: bool = True


def _no_default(schema: dict) -> None:
    schema.pop("default", None)


def unchanged():
    """A field of a partial change: not sent means unchanged (no ``null`` default in the document)."""
    return Field(default=None, json_schema_extra=_no_default)


class CategoryPatch(Patch):
    """The fields to change (codes never change)."""

    code: CategoryCode = unchanged()
    name: Name = unchanged()
    name_en: Name | None = None
    parent: str | None = None
    department_id: Id | None = None
    deadlines: Deadlines = unchanged()
    attributes: list[CategoryAttribute] = unchanged()
    active: bool = unchanged()


def category_values(body: CategoryIn | CategoryPatch) -> dict:
    """The fields sent, as the service takes them."""
    values = body.model_dump(exclude_unset=True, exclude={"attributes"})
    if "attributes" in body.model_fields_set:
        values["attributes"] = [a.model_dump(exclude_none=True) for a in body.attributes]
    return values


class ExtensionIn(Body):
    """Ask for more time in the current stage (the holder): hours and why."""

    hours: Annotated[int | float, BeforeValidator(_no_bool), Field(gt=0, le=24 * 30)]
    reason: Annotated[str, Field(min_length=1, max_length=MAX_DESCRIPTION)]


class ExtensionDecisionIn(Body):
    """Grant (optionally fewer or more hours than asked) or refuse a request for more time."""

    granted: bool
    hours: Annotated[int | float, BeforeValidator(_no_bool), Field(gt=0, le=24 * 30)] | None = None
    note: Annotated[str | None, Field(max_length=MAX_DESCRIPTION)] = None


class MembersIn(Body):
    """The members of an organisation (users of role ``department``), replacing the ones it had."""

    usernames: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=200)]


class OrganisationIn(Body):
    """A department or a property company whose people will work in Wuwei."""

    department_id: Id | None = None
    property_company_id: Id | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.department_id is None) == (self.property_company_id is None):
            raise invalid("give either department_id or property_company_id")
        return self


class DeskQuery(Query):
    view: Annotated[
        Literal["open", "responded", "done"],
        Field(
            description="open: to accept or in hand; responded: waiting for verification; "
            "done: closed in the last 30 days"
        ),
    ] = "open"
