"""Tile sources: what one ``/tiles/{name}`` serves, and the registry features add to.

A :class:`TileSource` knows how to select its rows for a tile: ``rows(scope, envelope, z)``
returns a SQLAlchemy select with an integer ``id``, a ``geom`` in EPSG:4326 and the
properties, already limited to the user's area and to ``geom && envelope`` (so the GiST
index is used). :mod:`app.tiles.services` turns it into a tile. Every published layer of
:mod:`app.basemap.public` is a source, with a zoom plan measured on its data
(:mod:`app.tiles.plan`); other features (heat maps …) register their own with
:func:`register_tile_source` and decide their density themselves (a heat source bins by zoom):
no source's tile is ever cut at a feature count.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Float, Integer, Text, and_, cast, func, literal_column, select

from app.auth.policy import Scope
from app.basemap.public import PUBLIC_LAYERS, PublicLayer, get_public_layer
from app.basemap.services import layer_conditions, table_of
from app.core.extensions import db
from app.tiles.plan import NATIVE_MAX_ZOOM, Plan, plan_of

MAX_ZOOM = 22
_SQL_TYPES = {"string": Text, "integer": Integer, "number": Float}
_TILEJSON_TYPES = {"string": "String", "integer": "Number", "number": "Number"}


@dataclass
class TileSource:
    """One vector tile layer."""

    name: str
    title: object
    rows: Callable[[Scope, object, int], object]  # (scope, envelope in 4326, zoom) → select(id, geom, …)
    fields: dict[str, str]  # property → "String"/"Number"/"Boolean" (TileJSON)
    min_zoom: int = 0
    max_zoom: int = MAX_ZOOM  # the highest zoom with new detail (TileJSON)
    bounds: Callable[[Scope], tuple | None] | None = None  # lon/lat extent for TileJSON
    permission: str | None = None  # of app.auth.policy; None: every logged-in user
    description: str = ""
    plan: Callable[[], Plan] | None = None  # published layers: features or cells per zoom
    # The tables its tiles are drawn from, each with a data version (migration 0015): tiles are then
    # cached until one of them is written (app/tiles/cache.py). Empty: built on every request.
    tables: tuple[str, ...] = ()

    def zoom_plan(self) -> Plan:
        """The source's plan: measured for published layers, else features from ``min_zoom``."""
        if self.plan is not None:
            return self.plan()
        return Plan(self.name, self.min_zoom, self.min_zoom, self.max_zoom, 0)


TILE_SOURCES: dict[str, TileSource] = {}


def register_tile_source(source: TileSource) -> TileSource:
    """Serve ``source`` at ``/tiles/{source.name}/{z}/{x}/{y}.mvt``."""
    TILE_SOURCES[source.name] = source
    return source


def layer_source(public: PublicLayer) -> TileSource:
    """The tile source of a published layer: its public tile properties, in the user's area."""
    props = [p for p in public.properties if p.in_tiles]

    def rows(scope: Scope, envelope, z: int):
        t = table_of(public.layer)
        cols = [cast(literal_column(p.sql), _SQL_TYPES[p.type]).label(p.name) for p in props]
        conds = [t.c.geom.op("&&")(envelope), *layer_conditions(public.layer, t, scope)]
        if public.tile_filter is not None:
            conds += public.tile_filter(t, z)
        return select(t.c.id.label("id"), t.c.geom.label("geom"), *cols).where(and_(*conds))

    def bounds(scope: Scope):
        t = table_of(public.layer)
        ext = func.ST_Extent(t.c.geom)
        row = _extent_row(
            select(func.ST_XMin(ext), func.ST_YMin(ext), func.ST_XMax(ext), func.ST_YMax(ext)).where(
                and_(*layer_conditions(public.layer, t, scope))
            )
        )
        return row

    min_zoom = max(public.min_zoom, public.layer.min_zoom)
    return TileSource(
        public.name,
        public.layer.title,
        rows,
        {p.name: _TILEJSON_TYPES[p.type] for p in props},
        min_zoom=min_zoom,
        max_zoom=NATIVE_MAX_ZOOM,
        bounds=bounds,
        description=public.description,
        plan=lambda: plan_of(public, min_zoom),
        tables=tuple(dict.fromkeys((public.layer.table, "areas"))),  # areas: the user's area limits every tile
    )


def _extent_row(stmt):
    row = db.session.execute(stmt).one()
    return None if row[0] is None else tuple(float(v) for v in row)


def get_source(name: str) -> TileSource | None:
    """The source called ``name``: a registered one, else a published layer."""
    if name in TILE_SOURCES:
        return TILE_SOURCES[name]
    public = get_public_layer(name)
    if public is None or public.layer.geom_type is None:
        return None
    return layer_source(public)


def source_names() -> list[str]:
    """Every tile source name (for error messages and docs)."""
    return sorted(set(TILE_SOURCES) | {n for n, p in PUBLIC_LAYERS.items() if p.layer and p.layer.geom_type})
