"""What a collection may be filtered and sorted by: its queryables (OGC API - Features Part 3).

The queryables of a collection are its published properties (:mod:`app.basemap.public`), its
``id`` and its ``geometry`` — nothing else, so a filter can only ever read what the collection
publishes. A property that is a plain column (``t.floors``, ``t.installed_on::text``) is filtered on
the typed column (an index may serve it, dates compare as dates); any other published expression
(a suppressed count, a sub-select) is filtered on that very expression, so ``households = 3`` finds
nothing where the answer would show ``null``. Plain columns are also the sortables.
"""
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Numeric, String, Text, literal_column

from app.basemap.public import PublicLayer, get_public_layer
from app.core.extensions import db

GEOMETRY = "geometry"
_PLAIN = re.compile(r"^t\.([a-z_][a-z0-9_]*)(::[a-z0-9]+)?$")
_KIND_OF_TYPE = ((Boolean, "boolean"), (DateTime, "datetime"), (Date, "date"), (Integer, "integer"),
                 (Numeric, "number"), (Float, "number"), (String, "string"), (Text, "string"))
_SQL_TYPES = {"string": Text, "integer": Integer, "number": Float}
_GEOJSON_FORMATS = {"Point": "geometry-point", "MultiPoint": "geometry-multipoint",
                    "LineString": "geometry-linestring", "MultiLineString": "geometry-multilinestring",
                    "Polygon": "geometry-polygon", "MultiPolygon": "geometry-multipolygon"}


@dataclass(frozen=True)
class Queryable:
    """One name a filter or ``sortby`` may use: its kind and its SQL over the table aliased ``t``."""
    name: str
    kind: str                        # string, integer, number, boolean, date, datetime, geometry
    sql: Callable                    # t -> SQL expression
    sortable: bool = False
    schema: dict = field(default_factory=dict, compare=False)


def _kind_of(column) -> str:
    return next((kind for type_, kind in _KIND_OF_TYPE if isinstance(column.type, type_)), "string")


def _schema(kind: str, title: str, choices=()) -> dict:
    schema = {"title": title}
    schema |= {"string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
               "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
               "datetime": {"type": "string", "format": "date-time"}}[kind]
    if choices:
        schema["enum"] = list(choices)
    return schema


def _column_getter(name: str) -> Callable:
    return lambda t: t.c[name]


def _expression_getter(sql: str, kind: str) -> Callable:
    return lambda t: literal_column(sql, _SQL_TYPES.get(kind, Text)())


@functools.cache
def queryables_of(name: str) -> dict[str, Queryable]:
    """name → :class:`Queryable` of the collection ``name`` (built once)."""
    return _build(get_public_layer(name))


def _build(public: PublicLayer) -> dict[str, Queryable]:
    layer = public.layer
    table = db.metadata.tables[layer.table]
    out = {"id": Queryable("id", "integer", _column_getter("id"), True, _schema("integer", "feature id"))}
    for prop in public.properties:
        field_ = layer.field(prop.name)
        choices = field_.choices if field_ is not None else ()
        title = str(field_.label or prop.name) if field_ is not None else prop.name
        plain = _PLAIN.match(prop.sql)
        if plain and plain.group(1) in table.c:
            kind = _kind_of(table.c[plain.group(1)])
            out[prop.name] = Queryable(prop.name, kind, _column_getter(plain.group(1)), True,
                                       _schema(kind, title, choices))
        else:
            out[prop.name] = Queryable(prop.name, prop.type, _expression_getter(prop.sql, prop.type), False,
                                       _schema(prop.type, title, choices))
    geom = {"title": "geometry", "format": _GEOJSON_FORMATS.get(layer.geom_type, "geometry-any"),
            "x-ogc-role": "primary-geometry"}
    out[GEOMETRY] = Queryable(GEOMETRY, "geometry", _column_getter("geom"), False, geom)
    return out


def json_schema(public: PublicLayer, url: str) -> dict:
    """The queryables document (JSON Schema 2020-12) of a collection."""
    props = {name: q.schema for name, q in queryables_of(public.name).items()}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": url, "type": "object",
            "title": str(public.layer.title), "description": public.description,
            "properties": props, "additionalProperties": False}
