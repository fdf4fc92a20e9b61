"""Rendering one vector tile in PostGIS.

``ST_AsMVT(ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(z, x, y), 4096, 64, true))``
over the rows a source selects with ``geom && ST_Transform(ST_TileEnvelope(z, x, y, margin), 4326)``,
so the GiST index on the stored EPSG:4326 geometry does the work.
"""
import hashlib

from sqlalchemy import func, literal_column, select

from app.auth.policy import Scope
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import index_driven
from app.tiles.sources import TileSource

EXTENT = 4096
BUFFER = 64
# Web Mercator bounds, passed to ST_TileEnvelope so that the margin argument can follow.
_WORLD = 20037508.342789244


def check_tile(z: str, x: str, y: str, source: TileSource) -> tuple[int, int, int]:
    """Integers z/x/y of an existing tile: 400 when not integers, 404 outside the tile pyramid."""
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except ValueError:
        raise ApiError(400, "z, x and y must be integers: /tiles/{layer}/{z}/{x}/{y}.mvt",
                       {"tile": f"{z}/{x}/{y}"}) from None
    if not 0 <= zi <= source.max_zoom:
        raise ApiError(404, f"zoom {zi} is outside 0..{source.max_zoom}", {"z": "out of range"})
    n = 1 << zi
    if not (0 <= xi < n and 0 <= yi < n):
        raise ApiError(404, f"tile {zi}/{xi}/{yi} does not exist: x and y are in 0..{n - 1} at zoom {zi}",
                       {"tile": "out of range"})
    return zi, xi, yi


def render_tile(source: TileSource, scope: Scope, z: int, x: int, y: int, feature_cap: int) -> bytes:
    """The MVT bytes of one tile (empty when nothing lies in it or below the source's min zoom)."""
    if z < source.min_zoom:
        return b""
    # The default plan scans the table in parallel instead of using the GiST index (12× slower at z14),
    # and JIT compilation (triggered by ST_Intersects' high cost in the area scope) costs more than a tile.
    index_driven()
    world = func.ST_MakeEnvelope(-_WORLD, -_WORLD, _WORLD, _WORLD, 3857)
    envelope = func.ST_TileEnvelope(z, x, y)
    search = func.ST_Transform(func.ST_TileEnvelope(z, x, y, world, BUFFER / EXTENT), 4326)
    rows = source.rows(scope, search, z).limit(source.feature_cap or feature_cap).subquery("r")
    props = [c for c in rows.c if c.name != "geom"]
    tile = select(func.ST_AsMVTGeom(func.ST_Transform(rows.c.geom, 3857), envelope, EXTENT, BUFFER, True)
                  .label("geom"), *props).subquery("tile")
    stmt = (select(func.ST_AsMVT(literal_column("tile"), source.name, EXTENT, "geom", "id"))
            .select_from(tile).where(tile.c.geom.is_not(None)))
    # SET LOCAL ends with the request's transaction (the session is removed at teardown).
    return bytes(db.session.execute(stmt).scalar() or b"")


def etag_of(data: bytes) -> str:
    """A strong ETag value (unquoted) for tile bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def tilejson(source: TileSource, scope: Scope, tile_url: str) -> dict:
    """TileJSON 3.0.0 for a source, with bounds from PostGIS over the user's area."""
    bounds = source.bounds(scope) if source.bounds else None
    if bounds is None:
        bounds = (-180.0, -85.0511, 180.0, 85.0511)
    center_zoom = max(source.min_zoom, min(14, source.max_zoom))
    return {
        "tilejson": "3.0.0",
        "name": source.name,
        "description": str(source.title) + (f" — {source.description}" if source.description else ""),
        "scheme": "xyz",
        "tiles": [tile_url],
        "minzoom": source.min_zoom,
        "maxzoom": source.max_zoom,
        "bounds": [round(v, 7) for v in bounds],
        "center": [round((bounds[0] + bounds[2]) / 2, 7), round((bounds[1] + bounds[3]) / 2, 7), center_zoom],
        "vector_layers": [{"id": source.name, "description": str(source.title), "fields": source.fields,
                           "minzoom": source.min_zoom, "maxzoom": source.max_zoom}],
    }
