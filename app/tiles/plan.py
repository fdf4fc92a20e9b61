"""What a layer's tiles hold at each zoom, decided from the data: whole features, or counts per cell.

A tile never drops a feature. Instead, for each published layer the densest tile at each zoom is
measured (features counted by the centre of their bounding box, one ``GROUP BY`` over the table);
the layer sends whole features from the first zoom whose densest tile holds at most
``TILE_FEATURE_CAP`` of them (its *detail zoom*). When the data push the detail zoom above the
layer's own minimum zoom, the zooms below it (down to :data:`AGGREGATE_FROM`) carry a second MVT
layer, ``<name>-cells``: a point per occupied cell of :data:`CELL` tile units with the number of
features whose centre lies in it — every feature is counted once, in one tile. TileJSON states the
plan (``vector_layers`` and ``wuwei:plan``).

The measure is of the whole table (every user's area is a part of it) and is kept for
``TILE_PLAN_TTL`` seconds per process.
"""

import math
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Integer, and_, cast, func, select

from app.basemap.public import PublicLayer
from app.basemap.services import base_conditions, table_of
from app.core.extensions import db

NATIVE_MAX_ZOOM = 16  # 4096 units per tile: ~0.1 m at z16 in Lanzhou; clients overzoom beyond
AGGREGATE_FROM = 10  # a district on screen
CELL = 128  # tile units per aggregate cell (32 x 32 cells per tile)
WORLD = 20037508.342789244  # half the Web Mercator extent, metres

_CACHE: dict[tuple, tuple[float, "Plan"]] = {}


@dataclass(frozen=True)
class Plan:
    """The zooms of one layer: counts per cell in ``[min_zoom, detail_zoom)``, features from ``detail_zoom``."""

    name: str
    min_zoom: int
    detail_zoom: int
    max_zoom: int
    cap: int
    densest: dict[int, int] = field(default_factory=dict)

    @property
    def cells_name(self) -> str:
        return f"{self.name}-cells"

    def mode(self, z: int) -> str | None:
        """ "features", "cells" or None (nothing at this zoom)."""
        if z >= self.detail_zoom:
            return "features"
        if z >= self.min_zoom:
            return "cells"
        return None

    def statement(self) -> dict:
        """The plan as TileJSON states it."""
        if not self.cap:
            return {
                "features": [self.detail_zoom, self.max_zoom],
                "feature_cap": None,
                "reason": "a registered source: it decides its own density per zoom",
            }
        reason = (
            f"the densest z{self.detail_zoom - 1} tile holds {self.densest.get(self.detail_zoom - 1, 0):,} "
            f"features, more than {self.cap:,}"
            if self.detail_zoom > self.min_zoom
            else f"no tile from z{self.detail_zoom} holds more than {self.cap:,} features"
        )
        out = {
            "features": [self.detail_zoom, self.max_zoom],
            "feature_cap": None,
            "reason": reason,
            "densest_tile": {str(z): n for z, n in sorted(self.densest.items())},
        }
        if self.detail_zoom > self.min_zoom:
            out["cells"] = {
                "layer": self.cells_name,
                "zooms": [self.min_zoom, self.detail_zoom - 1],
                "cell_units": CELL,
                "count": "features whose bbox centre lies in the cell",
            }
        return out


def mercator_centre(geom):
    """(x, y) in EPSG:3857 of the centre of a lon/lat geometry's bounding box, by arithmetic."""
    lon = (func.ST_XMin(geom) + func.ST_XMax(geom)) / 2
    lat = (func.ST_YMin(geom) + func.ST_YMax(geom)) / 2
    lat = func.greatest(-85.0511, func.least(85.0511, lat))
    x = lon * (WORLD / 180.0)
    y = func.ln(func.tan(func.radians(45.0 + lat / 2.0))) * (WORLD / math.pi)
    return x, y


def densest_by_centre(geom, conditions: list, zooms: range) -> dict[int, int]:
    """zoom → rows in the densest tile, by bbox centre of ``geom``, over the rows meeting ``conditions``:
    one ``GROUP BY`` at the top zoom, summed up to the parents."""
    x, y = mercator_centre(geom)
    top = zooms.stop - 1
    size = 2 * WORLD / (1 << top)
    tx = cast(func.floor((x + WORLD) / size), Integer).label("tx")
    ty = cast(func.floor((WORLD - y) / size), Integer).label("ty")
    rows = db.session.execute(select(tx, ty, func.count()).where(and_(*conditions)).group_by(tx, ty)).all()
    cells = {(a, b): n for a, b, n in rows}
    out: dict[int, int] = {}
    for z in range(top, zooms.start - 1, -1):
        out[z] = max(cells.values(), default=0)
        parent: dict[tuple, int] = {}
        for (a, b), n in cells.items():
            parent[(a >> 1, b >> 1)] = parent.get((a >> 1, b >> 1), 0) + n
        cells = parent
    return out


def _densest(public: PublicLayer, zooms: range) -> dict[int, int]:
    """zoom → features in the densest tile, by bbox centre, over the whole table."""
    t = table_of(public.layer)
    x, y = mercator_centre(t.c.geom)
    base = base_conditions(public.layer)
    if public.tile_filter is None:
        return densest_by_centre(t.c.geom, base, zooms)
    out: dict[int, int] = {}
    for z in zooms:  # what is drawn depends on the zoom (area levels)
        zsize = 2 * WORLD / (1 << z)
        tx = cast(func.floor((x + WORLD) / zsize), Integer).label("tx")
        ty = cast(func.floor((WORLD - y) / zsize), Integer).label("ty")
        counts = (
            select(func.count().label("n")).where(and_(*base, *public.tile_filter(t, z))).group_by(tx, ty).subquery()
        )
        out[z] = db.session.execute(select(func.coalesce(func.max(counts.c.n), 0))).scalar()
    return out


def plan_of(public: PublicLayer, layer_min_zoom: int) -> Plan:
    """The (cached) plan of a published layer whose own minimum zoom is ``layer_min_zoom``."""
    return measured_plan(public.name, layer_min_zoom, lambda zooms: _densest(public, zooms))


def measured_plan(name: str, layer_min_zoom: int, measure) -> Plan:
    """The (cached) plan of the layer ``name``: ``measure(zooms)`` gives the densest tile per zoom."""
    cap = int(current_app.config["TILE_FEATURE_CAP"])
    key = (name, cap, layer_min_zoom)
    hit = _CACHE.get(key)
    if hit is not None and time.monotonic() - hit[0] < current_app.config["TILE_PLAN_TTL"]:
        return hit[1]
    first = min(layer_min_zoom, AGGREGATE_FROM)
    densest = measure(range(first, NATIVE_MAX_ZOOM + 1))
    detail = next((z for z in range(layer_min_zoom, NATIVE_MAX_ZOOM + 1) if densest[z] <= cap), NATIVE_MAX_ZOOM)
    min_zoom = layer_min_zoom if detail == layer_min_zoom else min(first, detail)
    plan = Plan(name, min_zoom, detail, NATIVE_MAX_ZOOM, cap, {z: n for z, n in densest.items() if z >= min_zoom})
    _CACHE[key] = (time.monotonic(), plan)
    return plan


def forget() -> None:
    """Drop every cached plan (after a bulk load, or in tests)."""
    _CACHE.clear()
