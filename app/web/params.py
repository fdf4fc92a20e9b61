"""Types for request declarations: what every API shares (paging, bbox, codes, dates, comma lists).

A view declares its query string and body as pydantic models built from these (see
:func:`app.web.api.endpoint`); the same models validate the request and describe it in OpenAPI.

    class IncidentQuery(Query, Paging):
        state: CommaList[Literal[*STATES]] | None = None
        bbox: Bbox | None = None
"""
import datetime as dt
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from app.core.errors import ApiError
from app.core.time import aware, day_start, today
from gis.geometry import GeometryError, parse_bbox

T = TypeVar("T")

MAX_OFFSET = 10_000_000
MAX_INT = 2**31 - 1


def invalid(message: str) -> PydanticCustomError:
    """A validation error whose message is ``message`` as written (no "Value error, " prefix)."""
    return PydanticCustomError("invalid", message)


def _split(value: Any) -> Any:
    """``"a,b"`` or ``["a,b", "c"]`` → ``["a", "b", "c"]`` (a list filter may come either way)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [part.strip() for v in value for part in (v.split(",") if isinstance(v, str) else [v])
                if not (isinstance(part, str) and part.strip() == "")]
    return value


def _bbox(value: str) -> tuple[float, float, float, float]:
    try:
        return parse_bbox(value)
    except GeometryError as e:
        raise invalid(str(e)) from None


def _area_code(value: str) -> str:
    if not value.isdigit() or len(value) > 18:
        raise invalid("must be an area code (digits)")
    return value


class _CommaList:
    def __class_getitem__(cls, item):
        return Annotated[list[item], BeforeValidator(_split),
                         WithJsonSchema({"type": "string", "description": "comma-separated values"})]


CommaList = _CommaList
"""``CommaList[X]``: a list filter given as ``?state=filed,closed`` or ``?state=filed&state=closed``."""

Bbox = Annotated[str, AfterValidator(_bbox),
                 WithJsonSchema({"type": "string", "pattern": r"^[-0-9.eE]+(,[-0-9.eE]+){3}$",
                                 "description": "minLon,minLat,maxLon,maxLat (WGS-84)"})]
AreaCode = Annotated[str, AfterValidator(_area_code),
                     WithJsonSchema({"type": "string", "pattern": "^[0-9]{1,18}$",
                                     "description": "area code (digits): its subtree"})]
SearchText = Annotated[str, Field(max_length=100, description="text search")]
Id = Annotated[int, Field(ge=1, le=MAX_INT)]


def _date_or_time(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 10:
        try:
            return day_start(dt.date.fromisoformat(value))
        except ValueError:
            raise invalid("must be a date YYYY-MM-DD or an ISO 8601 date-time") from None
    return value


LocalDateTime = Annotated[dt.datetime, BeforeValidator(_date_or_time), AfterValidator(aware),
                          WithJsonSchema({"type": "string", "description":
                                          "YYYY-MM-DD (midnight, Asia/Shanghai) or an ISO 8601 date-time"})]


class Query(BaseModel):
    """A query string: unknown parameters are refused (a typo is not silently ignored).

    ``lang`` (the page language) and ``_`` (a cache buster some clients add) are always allowed.
    """
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    lang: Annotated[str | None, Field(description="zh or en (pages only)", pattern="^(zh|en)$")] = None
    cache_buster: Annotated[str | None, Field(alias="_", description="ignored")] = None


class OverlayQuery(Query):
    """The query of a map overlay's GeoJSON (:class:`app.core.registry.Overlay`): the map's box, at most ``limit``."""
    bbox: Bbox | None = None
    limit: Annotated[int, Field(ge=1, le=10_000)] = 1000


class Paging(BaseModel):
    """``limit`` and ``offset``; a view sets its own default and maximum by overriding ``limit``."""
    limit: Annotated[int, Field(ge=1, le=10_000)] = 1000
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] = 0


class Body(BaseModel):
    """A JSON object body: unknown fields are refused, strings are trimmed."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Patch(Body):
    """A partial change: only the fields sent are changed (``model_dump(exclude_unset=True)``)."""


def fields_of(model: type[BaseModel]) -> set[str]:
    """The names a model accepts, aliases included."""
    return {f.alias or name for name, f in model.model_fields.items()}


# --------------------------------------------------------------------------- periods

MAX_PERIOD_DAYS = 3 * 366
PERIOD_YEARS = (1900, 2199)         # beyond: a typo, and date arithmetic (the period before) would overflow


def _date_or_instant(value: Any) -> Any:
    """``2026-11-01`` stays a date (a whole day); an ISO 8601 time becomes aware (naive: local time)."""
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return dt.date.fromisoformat(value)
            return aware(dt.datetime.fromisoformat(value))
        except ValueError:
            raise invalid("must be a date YYYY-MM-DD or an ISO 8601 date-time") from None
    return value


DateOrTime = Annotated[dt.datetime | dt.date, BeforeValidator(_date_or_instant),
                       WithJsonSchema({"type": "string", "description":
                                       "YYYY-MM-DD (a whole day, Asia/Shanghai) or an ISO 8601 date-time"})]


class Period(BaseModel):
    """``from``/``to``: dates (inclusive: ``to=2026-11-30`` takes the whole day) or ISO 8601 times (``to``
    exclusive). :meth:`bounds` gives the half-open ``[start, end)``, by default the last 30 days."""
    from_: Annotated[DateOrTime | None, Field(alias="from", description="start: a date or a time")] = None
    to: Annotated[DateOrTime | None, Field(description="end: a date (included) or a time (excluded)")] = None

    def bounds(self, default_days: int = 30, max_days: int = MAX_PERIOD_DAYS) -> tuple[dt.datetime, dt.datetime]:
        """``[start, end)``; 400 when ``to`` is not after ``from`` or the period is longer than ``max_days``."""
        end = _in_range("to", lambda: _end(self.to))
        start = _in_range("from", lambda: end - dt.timedelta(days=default_days) if self.from_ is None
                          else _start(self.from_))
        if end <= start:
            raise ApiError(400, "to must be after from", {"to": "before from"})
        if (end - start).days > max_days:
            raise ApiError(400, f"a period is at most {max_days} days", {"from": "period too long"})
        return start, end


def _in_range(name: str, compute) -> dt.datetime:
    try:
        value = compute()
    except OverflowError:
        value = None
    if value is None or not PERIOD_YEARS[0] <= value.year <= PERIOD_YEARS[1]:
        raise ApiError(400, f"dates lie in {PERIOD_YEARS[0]}–{PERIOD_YEARS[1]}", {name: "out of range"})
    return value


def _start(value: dt.date) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else day_start(value)


def _end(value: dt.date | None) -> dt.datetime:
    """The exclusive end: a time as given, the midnight after a date, or after today."""
    if isinstance(value, dt.datetime):
        return value
    return day_start((value or today()) + dt.timedelta(days=1))
