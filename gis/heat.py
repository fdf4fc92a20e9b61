"""Heat binning rules: how big a cell is at each zoom, where a hexagon sits, which colour a count gets.

Bins are cut on Web Mercator (EPSG:3857), the projection the map is drawn in, so a
cell covers the same number of screen pixels at every latitude and lines up with
zoom levels; one Mercator metre is cos(latitude) metres on the ground (0.81 in Lanzhou).
Square cell ``(i, j)`` spans ``[i*s, (i+1)*s) × [j*s, (j+1)*s)``. Hexagons follow
PostGIS ``ST_HexagonGrid(size, …)``: flat-topped, edge ``size``, column ``i`` centred at
``x = 1.5·size·i``, row ``j`` at ``y = √3·size·(j + ½·(i mod 2))``. Everything here is pure
Python so that the browser, the SQL and the tests agree on one definition.
"""
import datetime as dt
import math
from dataclasses import dataclass

EARTH_CIRCUMFERENCE = 40_075_016.685578488   # metres along the equator, EPSG:3857
ORIGIN_SHIFT = EARTH_CIRCUMFERENCE / 2
TILE_PX = 256
SQRT3 = math.sqrt(3.0)

MIN_ZOOM, MAX_ZOOM = 8, 19
# Screen pixels per bin edge: small enough to show structure, big enough that one
# screen (≈1920×1080) holds at most a few thousand bins, i.e. well under 300 KB.
CELL_PX = 24
SHAPES = ("square", "hexagon", "grid")
# Per-area choropleth: which level of the area tree is coloured at a zoom.
CHOROPLETH_LEVELS = ((12, "street"), (14, "community"), (MAX_ZOOM, "grid"))
# Sequential palette (ColorBrewer YlOrRd, 6 classes) and the colour of an empty class.
PALETTE = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")


def metres_per_pixel(zoom: float) -> float:
    """Web Mercator metres per screen pixel at ``zoom``."""
    return EARTH_CIRCUMFERENCE / (TILE_PX * 2 ** zoom)


def clamp_zoom(zoom: float) -> int:
    """Zoom as an integer within the range the heat map serves."""
    return int(max(MIN_ZOOM, min(MAX_ZOOM, math.floor(zoom))))


def cell_size(zoom: float, px: int = CELL_PX) -> float:
    """Square bin edge in Mercator metres at ``zoom``: ``px`` screen pixels, rounded to a nice number.

    Rounding to 1-2-5 steps keeps bins stable while the user pans at one zoom and makes the
    legend read "≈ 100 m" instead of "≈ 93.4 m".
    """
    raw = metres_per_pixel(clamp_zoom(zoom)) * px
    exp = math.floor(math.log10(raw))
    # The nearest 1-2-5 step on a log scale (rounding up would make bins at some zooms twice too big).
    return float(min((step * 10 ** exp for step in (1, 2, 5, 10)), key=lambda v: abs(math.log(v / raw))))


def hex_size(zoom: float, px: int = CELL_PX) -> float:
    """Hexagon edge (ST_HexagonGrid ``size``) giving the same area as the square bin at ``zoom``."""
    side = cell_size(zoom, px)
    return side * math.sqrt(2.0 / (3.0 * SQRT3))


def ground_metres(mercator_metres: float, lat: float) -> float:
    """True ground length of a Mercator length at latitude ``lat``."""
    return mercator_metres * math.cos(math.radians(lat))


def choropleth_level(zoom: float) -> str:
    """The area level coloured at ``zoom`` (streets when zoomed out, grids when zoomed in)."""
    z = clamp_zoom(zoom)
    for upto, level in CHOROPLETH_LEVELS:
        if z <= upto:
            return level
    return "grid"


def lonlat_to_mercator(lon: float, lat: float) -> tuple[float, float]:
    """EPSG:4326 → EPSG:3857."""
    x = lon * ORIGIN_SHIFT / 180.0
    y = math.log(math.tan((90.0 + lat) * math.pi / 360.0)) * ORIGIN_SHIFT / math.pi
    return x, y


def mercator_to_lonlat(x: float, y: float) -> tuple[float, float]:
    """EPSG:3857 → EPSG:4326."""
    lon = x / ORIGIN_SHIFT * 180.0
    lat = math.degrees(2 * math.atan(math.exp(y / ORIGIN_SHIFT * math.pi)) - math.pi / 2)
    return lon, lat


def square_of(x: float, y: float, size: float) -> tuple[int, int]:
    """The square bin holding Mercator point ``(x, y)``."""
    return math.floor(x / size), math.floor(y / size)


def square_bounds(i: int, j: int, size: float) -> tuple[float, float, float, float]:
    """Mercator bounds (minx, miny, maxx, maxy) of square bin ``(i, j)``."""
    return i * size, j * size, (i + 1) * size, (j + 1) * size


def hex_centre(i: int, j: int, size: float) -> tuple[float, float]:
    """Centre of ST_HexagonGrid cell ``(i, j)`` with edge ``size``."""
    h = SQRT3 * size
    return 1.5 * size * i, h * j + (h / 2 if i % 2 else 0.0)


def hex_of(x: float, y: float, size: float) -> tuple[int, int]:
    """The hexagon holding Mercator point ``(x, y)``: the nearer of the two candidate columns' centres.

    Hexagons are the Voronoi cells of their centres, so the nearest centre is the containing cell.
    """
    h = SQRT3 * size
    i0 = math.floor(x / (1.5 * size))
    best = None
    for i in (i0, i0 + 1):
        j = round((y - (h / 2 if i % 2 else 0.0)) / h)
        cx, cy = hex_centre(i, j, size)
        d = (x - cx) ** 2 + (y - cy) ** 2
        if best is None or d < best[0]:
            best = (d, i, j)
    return best[1], best[2]


def hex_ring(i: int, j: int, size: float) -> list[tuple[float, float]]:
    """The six Mercator corners of hexagon ``(i, j)``, counter-clockwise from the east corner."""
    cx, cy = hex_centre(i, j, size)
    return [(cx + size * math.cos(math.radians(a)), cy + size * math.sin(math.radians(a)))
            for a in (0, 60, 120, 180, 240, 300)]


@dataclass(frozen=True)
class Classes:
    """Colour classes for a set of counts: upper bounds and the colour of each class."""
    breaks: tuple[float, ...]
    colors: tuple[str, ...]

    def color(self, value: float) -> str:
        for b, c in zip(self.breaks, self.colors):
            if value <= b:
                return c
        return self.colors[-1]

    def index(self, value: float) -> int:
        for k, b in enumerate(self.breaks):
            if value <= b:
                return k
        return len(self.breaks) - 1

    def as_dict(self) -> dict:
        return {"breaks": list(self.breaks), "colors": list(self.colors)}


def _nice(v: float) -> float:
    """Round up to 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × a power of ten (legend numbers people read)."""
    if v <= 0:
        return 0
    exp = math.floor(math.log10(v))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * 10 ** exp >= v - 1e-9:
            n = step * 10 ** exp
            return float(int(n)) if n >= 1 and n == int(n) else round(n, 6)
    return float(10 ** (exp + 1))


def classify(values, n: int = len(PALETTE)) -> Classes:
    """Quantile classes over the non-zero ``values``, with nice, strictly increasing upper bounds."""
    vals = sorted(v for v in values if v and v > 0)
    if not vals:
        return Classes((1.0,), (PALETTE[0],))
    counts = all(float(v).is_integer() for v in vals)
    breaks: list[float] = []
    for k in range(1, n + 1):
        q = vals[min(len(vals) - 1, math.ceil(k * len(vals) / n) - 1)]
        b = float(math.ceil(_nice(q))) if counts else _nice(q)
        if not breaks or b > breaks[-1]:
            breaks.append(b)
    if breaks[-1] < vals[-1]:
        breaks[-1] = float(math.ceil(_nice(vals[-1]))) if counts else _nice(vals[-1])
    # Spread the palette over the classes we got, keeping its ends.
    m = len(breaks)
    idx = [round(k * (len(PALETTE) - 1) / max(1, m - 1)) for k in range(m)] if m > 1 else [len(PALETTE) // 2]
    return Classes(tuple(breaks), tuple(PALETTE[k] for k in idx))


def whole_days(start: dt.datetime, end: dt.datetime, tz) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` widened to whole days in ``tz``: midnight at or before ``start``, at or after ``end``.

    Counts over people are published per whole day (docs/heatmaps.md): a window of a minute answers
    for its whole day, so no two windows differ by less than a day.
    """
    first = start.astimezone(tz).date()
    last = end.astimezone(tz)
    stop = last.date() if last.time() == dt.time() else last.date() + dt.timedelta(days=1)
    return (dt.datetime(first.year, first.month, first.day, tzinfo=tz),
            dt.datetime(stop.year, stop.month, stop.day, tzinfo=tz))


def bin_range(bbox, size: float) -> tuple[int, int, int, int]:
    """The square bins ``(i0, j0, i1, j1)`` (inclusive) of edge ``size`` that a lon/lat bbox touches."""
    x0, y0 = lonlat_to_mercator(bbox[0], max(-85.0, bbox[1]))
    x1, y1 = lonlat_to_mercator(bbox[2], min(85.0, bbox[3]))
    return math.floor(x0 / size), math.floor(y0 / size), math.floor(x1 / size), math.floor(y1 / size)


def frame_steps(start, end, step: str) -> list[tuple]:
    """Animation frames ``[(from, to), …]`` covering ``[start, end)`` by ``day``, ``week`` or ``month``."""
    frames = []
    cur = start
    while cur < end:
        if step == "day":
            nxt = cur + dt.timedelta(days=1)
        elif step == "week":
            nxt = cur + dt.timedelta(days=7)
        elif step == "month":
            y, m = (cur.year + 1, 1) if cur.month == 12 else (cur.year, cur.month + 1)
            nxt = cur.replace(year=y, month=m, day=1)
        else:
            raise ValueError(f"step must be day, week or month, not {step!r}")
        frames.append((cur, min(nxt, end)))
        cur = nxt
    return frames
