"""The layer API's models, built from each layer's fields: one declaration validates and documents.

For every layer of :data:`app.basemap.layers.LAYERS` (``bike-zones`` → ``BikeZones…``):

* ``<Name>Query``: a list's query string (paging, bbox, sort, search, area codes, the layer's filters);
* ``<Name>FeatureIn`` / ``<Name>FeaturePatch``: a GeoJSON Feature body for POST and PUT / for PATCH.
  The geometry is documented as geojson-pydantic's shape and checked (and turned into a shapely
  geometry) by :func:`gis.geometry.parse_geometry`; the properties come from the layer's
  :class:`~app.basemap.fields.Field` declarations (:meth:`~app.basemap.fields.Field.annotation`);
* ``<Name>Feature`` / ``<Name>Collection``: the answers, for the document.

Rules a model cannot see (a referenced id exists, an area nests in its parent, a place lies in
the user's area) stay in :mod:`app.basemap.services` and :mod:`app.areas.services`.
"""

import functools
import inspect
import operator
from typing import Annotated, Any, ClassVar, Literal

import geojson_pydantic as gj
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    WrapValidator,
    create_model,
    model_validator,
)

from app.basemap.layers import Layer
from app.core.errors import ApiError
from app.core.extensions import db
from app.web.api import MESSAGES, parse_body
from app.web.geometry import check_vertices
from app.web.params import AreaCode, Bbox, Body, Paging, Query, SearchText, invalid
from gis.geometry import GeometryError, parse_geometry

_cache: dict[tuple, type[BaseModel]] = {}


def _cached(kind: str):
    """Build a layer's model once (per layer name and arguments)."""

    def decorate(build):
        signature = inspect.signature(build)

        @functools.wraps(build)
        def get(layer: Layer, *args, **kwargs):
            bound = signature.bind(layer, *args, **kwargs)
            bound.apply_defaults()
            key = (kind, layer.name, *list(bound.arguments.values())[1:])
            if key not in _cache:
                _cache[key] = build(*bound.args, **bound.kwargs)
            return _cache[key]

        return get

    return decorate


def camel(layer: Layer) -> str:
    """``bike-zones`` → ``BikeZones``: the prefix of the layer's model names."""
    return "".join(part.capitalize() for part in layer.name.replace("_", "-").split("-"))


def _no_default(schema: dict) -> None:
    schema.pop("default", None)


def _optional(annotation) -> tuple:
    """An optional body field: may be left out (``exclude_unset`` tells), no default in the document."""
    return annotation, Field(default=None, json_schema_extra=_no_default)


# --------------------------------------------------------------------------- query strings


def _message(e: ValidationError) -> str:
    err = e.errors(include_url=False)[0]
    try:
        return MESSAGES.get(err["type"], err["msg"]).format(**err.get("ctx", {}))
    except (KeyError, IndexError):
        return err["msg"]


def filter_type(f) -> Any:
    """A filter ``?name=a,b`` (or repeated): a list of the field's values, each checked like the field."""
    item = f.value_type()
    adapter = TypeAdapter(item)

    def split(value):
        values = value if isinstance(value, list) else [value]
        out = []
        for part in (p.strip() for v in values for p in str(v).split(",")):
            if part == "":
                continue
            try:
                out.append(adapter.validate_python(part))
            except ValidationError as e:
                raise invalid(f"{part!r}: {_message(e)}") from None
        return out

    return Annotated[
        list[Any],
        BeforeValidator(split),
        WithJsonSchema(
            {
                "type": "array",
                "items": adapter.json_schema(),
                "description": "filter: comma-separated values (or the parameter repeated)",
            }
        ),
    ]


Community = Annotated[str, Field(pattern="^[0-9]{12}$", description="12-digit community code")]
Grid = Annotated[str, Field(pattern="^[0-9]{15}$", description="15-digit grid code")]


class LayerQuery(Query, Paging):
    """What every layer's list takes."""

    bbox: Bbox | None = None
    q: SearchText | None = None
    area: Annotated[AreaCode | None, Field(description="area code: rows under this street/community/grid")] = None
    community: Community | None = None
    grid: Grid | None = None
    count: Annotated[
        bool,
        Field(
            description="true: count every matching row, so numberMatched is given on a full page too "
            "(without it a full page answers numberMatched null and a next link: counting a large table "
            "costs more than the page)"
        ),
    ] = False


@_cached("query")
def list_query(layer: Layer) -> type[LayerQuery]:
    """The query model of ``layer``'s list: :class:`LayerQuery`, ``sort`` and the layer's filters."""
    names = [f.name for f in layer.fields if f.filter]
    clash = {n for n in names if n in LayerQuery.model_fields or n == "sort"}
    if clash:
        raise ValueError(f"layer {layer.name}: filters {', '.join(sorted(clash))} clash with the list's parameters")
    sorts = tuple(s for c in layer.sortable for s in (c, "-" + c))
    fields: dict[str, Any] = {
        "sort": (Literal[sorts], Field(default="id", description="order by this attribute; prefix - for descending"))
    }
    for f in layer.fields:
        if f.filter:
            fields[f.name] = (filter_type(f) | None, None)
    return create_model(
        f"{camel(layer)}Query",
        __base__=LayerQuery,
        __doc__=(f"{layer.title} ({layer.name}): paging, bbox, sort, search, area and filters."),
        **fields,
    )


def list_kwargs(query, filters: dict) -> dict:
    """Paging, bbox, search and sort of a validated list query, with ``filters``: the keyword arguments of
    :func:`app.basemap.services.list_features` (the layer API and the exports read them alike)."""
    return {
        "bbox": query.bbox,
        "filters": filters,
        "q": query.q,
        "sort": query.sort,
        "limit": query.limit,
        "offset": query.offset,
        "count": getattr(query, "count", True),
    }


def list_args(layer: Layer, query: LayerQuery) -> dict:
    """The keyword arguments of :func:`app.basemap.services.list_features` from a validated query."""
    filters = {f.name: getattr(query, f.name) for f in layer.fields if f.filter and getattr(query, f.name, None)}
    for name in ("area", "community", "grid"):
        code = getattr(query, name)
        if code is not None:
            filters["area"] = code
    return list_kwargs(query, filters)


# --------------------------------------------------------------------------- bodies


def _accepted(layer: Layer) -> tuple[str, ...]:
    """GeoJSON types a layer takes: its own, and a Polygon where MultiPolygons are stored."""
    return (layer.geom_type, "Polygon") if layer.geom_type == "MultiPolygon" else (layer.geom_type,)


def _shape_of(layer: Layer):
    """geojson-pydantic's model(s) of the layer's geometry, for the document."""
    classes = tuple(getattr(gj, t) for t in _accepted(layer))
    if len(classes) == 1:
        return classes[0]
    return Annotated[functools.reduce(operator.or_, classes), Field(discriminator="type")]


def geometry_type(layer: Layer, required: bool) -> Any:
    """A body's geometry: documented as geojson-pydantic's shape, checked and parsed by gis.geometry.

    The validated value is a shapely geometry (a Polygon promoted to MultiPolygon where the layer
    stores those), valid and in range, or None (only when not ``required``: "leave it as it is").
    """
    allowed = (layer.geom_type,)

    def parse(value, _handler):
        if value is None:
            if required:
                raise invalid("required")
            return None
        check_vertices(value)  # before shapely and PostGIS do any work
        try:
            return parse_geometry(value, allowed=allowed)
        except GeometryError as e:
            raise invalid(str(e)) from None

    shape = _shape_of(layer)
    return Annotated[
        shape if required else shape | None,
        WrapValidator(parse),
        Field(description=f"GeoJSON {' or '.join(_accepted(layer))} (lon/lat, WGS-84)"),
    ]


class Properties(Body):
    """A feature's attributes: unknown names are refused; read-only ones (computed) are dropped."""

    readonly: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_readonly(cls, data):
        if isinstance(data, dict) and cls.readonly:
            return {k: v for k, v in data.items() if k not in cls.readonly}
        return data


def _nullable(f, table) -> bool:
    """Whether ``f`` may be cleared: not required, and not a NOT NULL column."""
    return not f.required and (f.col not in table.c or table.c[f.col].nullable)


@_cached("properties")
def properties_in(layer: Layer, partial: bool = False) -> type[Properties]:
    """The properties of a body: every writable field; required ones unless ``partial`` (PATCH)."""
    table = db.metadata.tables[layer.table]
    fields = {}
    for f in layer.fields:
        if not f.writable:
            continue
        annotation = f.annotation(nullable=_nullable(f, table))
        fields[f.name] = (annotation, ...) if f.required and not partial else _optional(annotation)
    model = create_model(
        f"{camel(layer)}Properties{'Patch' if partial else 'In'}",
        __base__=Properties,
        __doc__=f"{layer.title} ({layer.name}): attributes",
        **fields,
    )
    model.readonly = frozenset((set(layer.computed) | {"grid_id"}) - {f.name for f in layer.fields})
    return model


class FeatureIn(Body):
    """A GeoJSON Feature body (RFC 7946): ``type`` may be left out; ``id`` and ``bbox`` are ignored
    (the id is the URL's, the box is the geometry's); any other member is refused. A body with
    neither ``type`` nor ``properties`` is read as the properties themselves (plus ``geometry``)."""

    type: Literal["Feature"] = "Feature"
    id: Annotated[int | str | None, Field(description="ignored: the URL names the feature")] = None
    bbox: Annotated[list[float] | None, Field(description="ignored: the geometry's box")] = None

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data):
        if isinstance(data, dict) and "type" not in data and "properties" not in data:
            flat = {"properties": {k: v for k, v in data.items() if k not in ("geometry", "id", "bbox")}}
            if "geometry" in data:
                flat["geometry"] = data["geometry"]
            return flat
        return data


def _no_object(value):
    return {} if value is None else value


@_cached("feature_in")
def feature_in(layer: Layer, partial: bool = False) -> type[FeatureIn]:
    """The body of POST and PUT (``partial``: of PATCH, where only what is sent changes)."""
    props = properties_in(layer, partial)
    annotation = Annotated[props, BeforeValidator(_no_object)]
    if any(f.is_required() for f in props.model_fields.values()):
        fields: dict[str, Any] = {"properties": (annotation, ...)}
    else:  # left out: no attributes (validated, so that PATCH {} changes nothing)
        fields = {
            "properties": (
                annotation,
                Field(default_factory=dict, validate_default=True, json_schema_extra=_no_default),
            )
        }
    if layer.geom_type:
        geom = geometry_type(layer, required=not partial)
        fields["geometry"] = (geom, ...) if not partial else _optional(geom)
    else:
        fields["geometry"] = (None, Field(default=None, description="null: the layer has no geometry"))
    return create_model(
        f"{camel(layer)}Feature{'Patch' if partial else 'In'}",
        __base__=FeatureIn,
        __doc__=f"{layer.title} ({layer.name}) as a GeoJSON Feature",
        **fields,
    )


def feature_error(e: ApiError) -> ApiError:
    """A body's 422 named by attribute (``ports``, ``geometry``), as the layer API always did."""
    if e.status != 422 or not e.fields:
        return e
    fields: dict[str, str] = {}
    for key, message in e.fields.items():
        if key.startswith("properties."):
            key = key.split(".")[1]
        elif key.startswith("geometry."):
            key = "geometry"
        fields.setdefault(key, message)
    text = "; ".join(f"{k}: {v}" for k, v in fields.items())
    return ApiError(422, f"invalid feature: {text}", fields)


def validate_feature(layer: Layer, body, partial: bool = False) -> FeatureIn:
    """``body`` (a dict) as the layer's Feature model, or ApiError 400/422 named by attribute."""
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object (a GeoJSON Feature)", {"body": "not an object"})
    try:
        return parse_body(feature_in(layer, partial), body)
    except ApiError as e:
        raise feature_error(e) from None


# --------------------------------------------------------------------------- answers


class Link(BaseModel):
    rel: str
    type: str
    href: str


def _geometry_out(layer: Layer):
    return getattr(gj, layer.geom_type) if layer.geom_type else None


@_cached("properties_out")
def properties_out(layer: Layer) -> type[BaseModel]:
    """A feature's properties as answered: the fields, ``grid_id`` and the computed values."""
    table = db.metadata.tables[layer.table]
    fields: dict[str, Any] = {f.name: (f.value_type() | None, None) for f in layer.fields}
    if "grid_id" in table.c:
        fields["grid_id"] = (int | None, Field(default=None, description="the grid PostGIS assigned"))
    for name in layer.computed:
        fields.setdefault(name, (Any, Field(default=None, description="computed, read-only")))
    return create_model(f"{camel(layer)}Properties", **fields)


@_cached("feature_out")
def feature_out(layer: Layer) -> type[BaseModel]:
    """One feature as answered (``GET /api/v1/<layer>/<id>``, and each of a list)."""
    geom = _geometry_out(layer)
    base = gj.Feature[geom or gj.Point, properties_out(layer)]
    extra: dict[str, Any] = {"id": (int, ...)}
    if geom is None:
        extra["geometry"] = (None, None)
    return create_model(
        f"{camel(layer)}Feature", __base__=base, __doc__=f"{layer.title} ({layer.name}): a GeoJSON Feature", **extra
    )


@_cached("collection_out")
def collection_out(layer: Layer) -> type[BaseModel]:
    """A page of a layer as answered: a FeatureCollection with counts and paging links."""
    return create_model(
        f"{camel(layer)}Collection",
        __base__=gj.FeatureCollection[feature_out(layer)],
        __doc__=f"{layer.title} ({layer.name}): a page as a GeoJSON FeatureCollection",
        numberMatched=(
            int | None,
            Field(description="rows matching the filters (all pages); null on a full page unless count=true"),
        ),
        numberReturned=(int, Field(description="features on this page")),
        links=(list[Link], Field(description="self, and next/prev while there are more pages")),
    )
