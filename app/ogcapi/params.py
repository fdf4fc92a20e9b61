"""Query parameters of OGC API - Features, declared as pydantic models.

The same models check the request (a bad parameter is a 400 ``InvalidParameterValue`` exception,
rendered by the blueprint's error formatter) and describe it in both OpenAPI documents. Their JSON
schemas are written for OpenAPI 3.0 (``/ogcapi/api``): no ``null`` types, and ``style: form,
explode: false`` where a value is a comma-separated list (``bbox``, property filters).

* :class:`OgcQuery` — every route: ``f`` (json or html), ``lang``, ``_``;
* :class:`ItemsQuery` — ``/items``: ``limit`` (default 100, 1..10000; larger values are served as
  10000, as OGC API - Features requires), ``offset``, ``bbox``, ``datetime``;
* :func:`items_query` — a collection's items: :class:`ItemsQuery` plus its property filters.
"""
import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    create_model,
)

from app.basemap.fields import INT_MAX, INT_MIN
from app.basemap.fields import Field as LayerField
from app.basemap.public import PublicLayer
from app.core.time import TZ, day_start
from app.ogcapi.crs import SUPPORTED, Crs, CrsError, lookup
from app.web.params import MAX_OFFSET, invalid

DEFAULT_LIMIT = 100
MAX_LIMIT = 10000
GEOJSON = "application/geo+json"
HTML = "text/html"
# ``f`` values: json and html, and the media types some clients send instead.
FORMATS = {"json": "json", "geojson": "json", "application/json": "json", GEOJSON: "json",
           "html": "html", HTML: "html"}


class ParamError(ValueError):
    """A query parameter that cannot be understood; ``str()`` says why."""


def format_of(value: str) -> str:
    """"json" or "html" for an ``f`` value, or :class:`ParamError`."""
    try:
        return FORMATS[value.lower()]
    except KeyError:
        raise ParamError(f"f must be json or html, not {value!r}") from None


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """``bbox``: 4 finite numbers (or 6 with heights, which are ignored), in the order of ``bbox-crs``.

    Ranges are checked by :func:`check_crs84_bbox` (CRS84) or when the bbox is transformed.
    """
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) not in (4, 6):
        raise ParamError("bbox must be 4 numbers (minLon,minLat,maxLon,maxLat) or 6 with heights")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise ParamError("bbox values must be numbers") from None
    if not all(math.isfinite(v) for v in nums):
        raise ParamError("bbox values must be finite")
    return (nums[0], nums[1], nums[3], nums[4]) if len(nums) == 6 else tuple(nums)


def check_crs84_bbox(bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A lon/lat bbox within range, south below north, not across the antimeridian; else ParamError."""
    minx, miny, maxx, maxy = bbox
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise ParamError("bbox is out of range: longitudes in [-180, 180], latitudes in [-90, 90]")
    if miny > maxy:
        raise ParamError("bbox: the southern edge lies north of the northern edge")
    if minx > maxx:
        raise ParamError("bbox crossing the antimeridian is not supported (Wuwei's data lie in China)")
    return bbox


@dataclass(frozen=True)
class TimeBound:
    """One end of a ``datetime`` interval: an instant, or a whole day when only a date was given."""
    value: dt.datetime | dt.date

    @property
    def is_date(self) -> bool:
        return not isinstance(self.value, dt.datetime)

    def start(self) -> dt.datetime:
        return day_start(self.value) if self.is_date else self.value

    def end(self) -> dt.datetime:
        """The last instant covered (exclusive end for dates is start of the next day)."""
        return self.start() + dt.timedelta(days=1) if self.is_date else self.value

    def local_date(self) -> dt.date:
        return self.value if self.is_date else self.value.astimezone(TZ).date()


def _bound(text: str) -> TimeBound | None:
    """One end of ``datetime``, read as real clients send it: a date (``2024-04-01``, or GDAL's
    ``2024-04-01T``), a date-time with or without seconds, zone or ``T`` (a space); naive times are
    read in Asia/Shanghai."""
    text = text.strip()
    if text in ("", ".."):
        return None
    if text[-1:] in ("T", "t") and len(text) == 11:
        text = text[:-1]
    try:
        if len(text) == 10:
            value = dt.date.fromisoformat(text)
        else:
            value = dt.datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise ParamError(f"datetime: {text!r} is not an RFC 3339 date or date-time "
                         "(e.g. 2024-04-22 or 2024-04-22T08:00:00Z)") from None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=TZ)
    bound = TimeBound(value)
    try:        # the day after 9999-12-31, or a far zone's instant in local time, is beyond datetime
        bound.end(), bound.local_date()
    except OverflowError:
        raise ParamError(f"datetime: {text!r} is out of range") from None
    return bound


When = tuple[TimeBound | None, TimeBound | None, bool]


def parse_datetime(raw: str | None) -> When | None:
    """``datetime``: an instant or an interval ``start/end`` with ``..`` (or nothing) for an open end.

    Returns (start, end, is_instant), or None when absent or open at both ends.
    """
    if raw is None or raw == "":
        return None
    if "/" not in raw:
        b = _bound(raw)
        if b is None:
            raise ParamError("datetime: '..' alone is not an instant; use an interval like 2024-01-01/..")
        return b, b, True
    parts = raw.split("/")
    if len(parts) != 2:
        raise ParamError("datetime interval must be start/end, with '..' for an open end")
    start, end = _bound(parts[0]), _bound(parts[1])
    if start is None and end is None:
        return None
    if start is not None and end is not None and start.start() > end.end():
        raise ParamError("datetime: the interval ends before it starts")
    return start, end, False


def _checked(parse):
    """``parse`` as a pydantic validator: a :class:`ParamError` becomes the field's message."""
    def validate(value):
        try:
            return parse(value)
        except ParamError as e:
            raise invalid(str(e)) from None
    return AfterValidator(validate)


def _schema(**schema) -> WithJsonSchema:
    return WithJsonSchema(schema)


_COMMA_LIST = {"style": "form", "explode": False}

Format = Annotated[str | None, _checked(format_of),
                   _schema(type="string", enum=["json", "html"],
                           description="json or html (default: by Accept, else json)")]
Lang = Annotated[Literal["zh", "en"] | None, _schema(type="string", enum=["zh", "en"],
                                                      description="language of pages and titles")]
Limit = Annotated[int, Field(ge=1), AfterValidator(lambda v: min(v, MAX_LIMIT)),
                  _schema(type="integer", minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT,
                          description=f"page size; larger values are served as {MAX_LIMIT}")]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET),
                   _schema(type="integer", minimum=0, maximum=MAX_OFFSET, default=0,
                           description="paging (follow the next link)")]
BboxParam = Annotated[str | None, _checked(parse_bbox),
                      _schema(type="array", minItems=4, maxItems=6, items={"type": "number"},
                              description="minLon,minLat,maxLon,maxLat (CRS84), or 6 numbers with heights",
                              **_COMMA_LIST)]
_INSTANT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ]([0-9:.]+([Zz]|[+-][0-9]{2}:?[0-9]{2})?)?)?"
DatetimeParam = Annotated[str | None, _checked(parse_datetime),
                          _schema(type="string",
                                  pattern=f"^({_INSTANT}|(\\.\\.|{_INSTANT})?/(\\.\\.|{_INSTANT})?)$",
                                  description="RFC 3339 instant or interval (.. for an open end); collections "
                                              "without a time property ignore it")]




def _crs(value: str) -> Crs:
    try:
        return lookup(value)
    except CrsError as e:
        raise ParamError(str(e)) from None


_NAME = "[A-Za-z_][A-Za-z0-9_-]*"


def parse_sortby(raw: str) -> list[tuple[str, bool]]:
    """``sortby=name,-floors`` (``+`` or nothing ascending, ``-`` descending) → [(name, descending)]."""
    out = []
    for part in (p.strip() for p in raw.split(",")):
        desc = part.startswith("-")
        name = part.lstrip("+-").strip()
        if not re.fullmatch(_NAME, name):
            raise ParamError(f"sortby: {part!r} is not a property name (with an optional + or -)")
        out.append((name, desc))
    if len({n for n, _ in out}) != len(out):
        raise ParamError("sortby names a property twice")
    return out


def parse_names(raw: str) -> list[str]:
    """``properties=name,floors`` → the names (an empty value: no properties)."""
    names = [p.strip() for p in raw.split(",") if p.strip()]
    bad = [n for n in names if not re.fullmatch(_NAME, n)]
    if bad:
        raise ParamError(f"properties: {bad[0]!r} is not a property name")
    return names


CrsParam = Annotated[str | None, _checked(_crs),
                     _schema(type="string", enum=list(SUPPORTED),
                             description="coordinate reference system (URI); default CRS84 lon/lat")]
_NAMES = {"type": "array", "items": {"type": "string", "pattern": f"^[+-]?{_NAME}$"}, **_COMMA_LIST}


def _no_null_defaults(schema: dict, model=None) -> None:
    """OpenAPI 3.0 has no ``null``: a parameter that may be left out has no default instead."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class OgcQuery(BaseModel):
    """The parameters of every OGC API route; any other name is refused."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True,
                              json_schema_extra=_no_null_defaults)

    f: Format = None
    lang: Lang = None
    cache_buster: Annotated[str | None, Field(alias="_"),
                            _schema(type="string", pattern="^[^\\x00]*$", description="ignored")] = None


class ItemsQuery(OgcQuery):
    """A page of features: ``limit``, ``offset``, ``bbox``, ``datetime`` (and a collection's filters)."""
    limit: Limit = DEFAULT_LIMIT
    offset: Offset = 0
    bbox: BboxParam = None
    bbox_crs: Annotated[CrsParam, Field(alias="bbox-crs")] = None
    datetime: DatetimeParam = None
    crs: CrsParam = None
    filter: Annotated[str | None, _schema(type="string", description="a CQL2 filter (text or JSON, see "
                                                                     "filter-lang) over the queryables")] = None
    filter_lang: Annotated[Literal["cql2-text", "cql2-json"] | None, Field(alias="filter-lang"),
                           _schema(type="string", enum=["cql2-text", "cql2-json"], default="cql2-text")] = None
    filter_crs: Annotated[CrsParam, Field(alias="filter-crs")] = None
    sortby: Annotated[str | None, _checked(parse_sortby),
                      _schema(**_NAMES, description="sortables, comma-separated; - for descending")] = None
    properties: Annotated[str | None, _checked(parse_names),
                          _schema(**_NAMES, description="only these properties (comma-separated)")] = None
    skip_geometry: Annotated[bool, Field(alias="skipGeometry"),
                             _schema(type="boolean", default=False, description="features without geometry")] = False
    cursor: Annotated[str | None, _schema(type="string", pattern="^[A-Za-z0-9_.-]+$",
                                          description="where the page starts (the next and prev links carry it)")] \
        = None

    def filters(self) -> dict[str, list]:
        """The property filters given: name → parsed values."""
        return {name: values for name in type(self).model_fields.keys() - ItemsQuery.model_fields.keys()
                if (values := getattr(self, name)) is not None}


class ItemQuery(OgcQuery):
    """One feature: ``crs`` besides ``f`` and ``lang``."""
    crs: CrsParam = None


_ITEM_SCHEMAS = {"str": "string", "text": "string", "enum": "string", "date": "string", "datetime": "string",
                 "int": "integer", "ref": "integer", "float": "number", "bool": "boolean"}


def _filter(field: LayerField):
    """A property filter: comma-separated values (or the parameter repeated), each parsed by the layer's field."""
    def parse(values: list[str]) -> list:
        parsed = []
        for part in (p for v in values for p in v.split(",")):
            try:
                parsed.append(field.parse(part))
            except ValueError as e:
                raise ParamError(f"{part!r}: {e}") from None
        return parsed

    item = {"type": _ITEM_SCHEMAS[field.kind]}
    if field.choices:
        item["enum"] = list(field.choices)
    if item["type"] == "integer":
        item |= {"minimum": INT_MIN if field.min is None else field.min,
                 "maximum": INT_MAX if field.max is None else field.max}
    return Annotated[list[str] | None, _checked(parse),
                     _schema(type="array", items=item, minItems=1,
                             description="property filter; comma-separated values", **_COMMA_LIST)]


_ITEMS_QUERIES: dict[tuple[str, ...], type[ItemsQuery]] = {}


def items_query(public: PublicLayer) -> type[ItemsQuery]:
    """The query model of a collection's items: :class:`ItemsQuery` plus its property filters."""
    fields = {p.name: public.layer.field(p.name) for p in public.properties if p.filter}
    fields = {name: f for name, f in fields.items() if f is not None}
    key = (public.name, *fields)
    model = _ITEMS_QUERIES.get(key)
    if model is None:
        name = "".join(part.title() for part in public.name.replace("_", "-").split("-")) + "ItemsQuery"
        model = create_model(name, __base__=ItemsQuery, __doc__=f"Features of {public.name}: a page, "
                             f"filtered by bbox, datetime and {', '.join(fields) or 'no property'}.",
                             **{n: (_filter(f), None) for n, f in fields.items()})
        _ITEMS_QUERIES[key] = model
    return model
