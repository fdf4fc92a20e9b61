"""Rendering vector tiles in PostGIS, one statement per tile (one or several layers).

Whole features: ``ST_AsMVT(ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(z, x, y), 4096, 64, true))``
over the rows a source selects with ``geom && ST_Transform(ST_TileEnvelope(z, x, y, margin), 4326)``,
so the GiST index on the stored EPSG:4326 geometry does the work — with no feature cap: the zoom plan
(:mod:`app.tiles.plan`) keeps tiles small. Counts per cell, below a dense layer's detail zoom: the rows
whose bounding-box centre lies in this tile, grouped by cell, one point per cell at the mean centre.
"""
import hashlib

from sqlalchemy import Integer, LargeBinary, cast, func, literal, literal_column, select

from app.auth.policy import Scope
from app.core.errors import ApiError
from app.core.sql import StatementCache, param
from app.tiles.plan import CELL, WORLD, mercator_centre
from app.tiles.sources import MAX_ZOOM, TileSource

EXTENT = 4096
BUFFER = 64
MAX_LAYERS = 12


def check_tile(z: str, x: str, y: str) -> tuple[int, int, int]:
    """Integers z/x/y of an existing tile: 400 when not integers, 404 outside the tile pyramid."""
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except ValueError:
        raise ApiError(400, "z, x and y must be integers: /tiles/{layer}/{z}/{x}/{y}.mvt",
                       {"tile": f"{z}/{x}/{y}"}) from None
    if not 0 <= zi <= MAX_ZOOM:
        raise ApiError(404, f"zoom {zi} is outside 0..{MAX_ZOOM}", {"z": "out of range"})
    n = 1 << zi
    if not (0 <= xi < n and 0 <= yi < n):
        raise ApiError(404, f"tile {zi}/{xi}/{yi} does not exist: x and y are in 0..{n - 1} at zoom {zi}",
                       {"tile": "out of range"})
    return zi, xi, yi


def _world():
    return func.ST_MakeEnvelope(-WORLD, -WORLD, WORLD, WORLD, 3857)


def features_layer(source: TileSource, scope: Scope, z: int, x: int, y: int):
    """SELECT of one MVT layer of whole features (bytea)."""
    envelope = func.ST_TileEnvelope(z, x, y)
    search = func.ST_Transform(func.ST_TileEnvelope(z, x, y, _world(), BUFFER / EXTENT), 4326)
    rows = source.rows(scope, search, z).subquery("r")
    props = [c for c in rows.c if c.name != "geom"]
    tile = select(func.ST_AsMVTGeom(func.ST_Transform(rows.c.geom, 3857), envelope, EXTENT, BUFFER, True)
                  .label("geom"), *props).subquery("tile")
    return (select(func.ST_AsMVT(literal_column("tile"), source.name, EXTENT, "geom", "id"))
            .select_from(tile).where(tile.c.geom.is_not(None)))


def cells_layer(source: TileSource, name: str, scope: Scope, z: int, x: int, y: int):
    """SELECT of one MVT layer of counts per cell (bytea): each row counted in the tile holding its centre."""
    size = 2 * WORLD / (1 << z)
    minx, maxy = -WORLD + x * size, WORLD - y * size
    cell = size * CELL / EXTENT
    rows = source.rows(scope, func.ST_Transform(func.ST_TileEnvelope(z, x, y), 4326), z).subquery("r")
    cx, cy = mercator_centre(rows.c.geom)
    centres = select(cx.label("cx"), cy.label("cy")).subquery("c")
    in_tile = [cast(func.floor((centres.c.cx + WORLD) / size), Integer) == x,
               cast(func.floor((WORLD - centres.c.cy) / size), Integer) == y]
    gx = func.floor((centres.c.cx - minx) / cell)
    gy = func.floor((maxy - centres.c.cy) / cell)
    point = func.ST_SetSRID(func.ST_MakePoint(func.avg(centres.c.cx), func.avg(centres.c.cy)), 3857)
    cells = (select(func.ST_AsMVTGeom(point, func.ST_TileEnvelope(z, x, y), EXTENT, 0, True).label("geom"),
                    cast(func.count(), Integer).label("count"))
             .where(*in_tile).group_by(gx, gy).subquery("cells"))
    return select(func.ST_AsMVT(literal_column("cells"), name, EXTENT, "geom")).select_from(cells) \
        .where(cells.c.geom.is_not(None))


def tile_statement(sources: list[TileSource], scope: Scope, z: int, x: int, y: int):
    """One statement whose single value is the whole tile (the layers' MVT bytes concatenated), or None
    when no layer has anything at this zoom."""
    parts = []
    for source in sources:
        plan = source.zoom_plan()
        mode = plan.mode(z)
        if mode == "features":
            parts.append(features_layer(source, scope, z, x, y))
        elif mode == "cells":
            parts.append(cells_layer(source, plan.cells_name, scope, z, x, y))
    if not parts:
        return None
    empty = cast(literal(b""), LargeBinary)
    value = func.coalesce(parts[0].scalar_subquery(), empty)
    for part in parts[1:]:
        value = value.op("||")(func.coalesce(part.scalar_subquery(), empty))
    return select(value)


# Built and compiled once per (layers, what each draws at z, z, user scope); x and y come with each tile
# (building the statement cost more than a z16 tile's SQL, docs/benchmarks.md). The default plan scans
# the table in parallel instead of using the GiST index (12× slower at z14), and JIT compilation costs
# more than a tile: the SET LOCAL goes in the same round trip and ends with the request's transaction.
_TILES = StatementCache(lambda name: name in ("x", "y"), index_driven=True)


def statement_key(sources: list[TileSource], scope: Scope, z: int) -> tuple:
    """Everything a tile statement depends on but x and y. A registered source is known by its object;
    a published layer by its name (its rows, properties and zoom filter are the layer's own)."""
    return (tuple((s.name, 0 if s.plan is not None else id(s)) for s in sources),
            tuple(s.zoom_plan().mode(z) for s in sources), z,
            scope.everything, scope.area_id, scope.area_code, scope.area_level)


def render(sources: list[TileSource], scope: Scope, z: int, x: int, y: int) -> bytes:
    """The MVT bytes of one tile (empty when nothing lies in it or no layer is drawn at this zoom)."""
    if all(s.zoom_plan().mode(z) is None for s in sources):
        return b""
    rows = _TILES.run(statement_key(sources, scope, z),
                      lambda: tile_statement(sources, scope, z, param("x"), param("y")), {"x": x, "y": y})
    return bytes(rows[0][0] or b"")


def etag_of(data: bytes) -> str:
    """A strong ETag value (unquoted) for tile bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _vector_layers(source: TileSource) -> list[dict]:
    plan = source.zoom_plan()
    layers = [{"id": source.name, "description": str(source.title), "fields": source.fields,
               "minzoom": plan.detail_zoom, "maxzoom": source.max_zoom}]
    if plan.detail_zoom > plan.min_zoom:
        layers.append({"id": plan.cells_name, "description": f"{source.title}: features per cell (counts)",
                       "fields": {"count": "Number"}, "minzoom": plan.min_zoom, "maxzoom": plan.detail_zoom - 1})
    return layers


def tilejson(sources: list[TileSource], scope: Scope, tile_url: str) -> dict:
    """TileJSON 3.0.0 for one or several sources, with bounds from PostGIS over the user's area and each
    layer's plan (which zooms carry features, which counts per cell)."""
    boxes = [b for s in sources if s.bounds and (b := s.bounds(scope)) is not None]
    bounds = ((min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
              if boxes else (-180.0, -85.0511, 180.0, 85.0511))
    plans = {s.name: s.zoom_plan() for s in sources}
    minzoom = min(p.min_zoom for p in plans.values())
    maxzoom = max(s.max_zoom for s in sources)
    center_zoom = max(minzoom, min(14, maxzoom))
    first = sources[0]
    description = str(first.title) + (f" — {first.description}" if first.description else "") \
        if len(sources) == 1 else " + ".join(str(s.title) for s in sources)
    return {
        "tilejson": "3.0.0",
        "name": ",".join(s.name for s in sources),
        "description": description,
        "scheme": "xyz",
        "tiles": [tile_url],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": [round(v, 7) for v in bounds],
        "center": [round((bounds[0] + bounds[2]) / 2, 7), round((bounds[1] + bounds[3]) / 2, 7), center_zoom],
        "vector_layers": [layer for s in sources for layer in _vector_layers(s)],
        "wuwei:plan": {name: p.statement() for name, p in plans.items()},
    }
