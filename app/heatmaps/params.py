"""Query-string parsing shared by the heat map and the dashboard: periods, bbox, zoom, filters.

Every bad value becomes a 400 with the parameter named in ``fields``; nothing reaches SQL unparsed.
"""
import datetime as dt
from zoneinfo import ZoneInfo

from flask import request

from app.core.errors import ApiError
from app.heatmaps.services import HeatQuery
from app.heatmaps.sources import HeatSource, available_sources, get_source
from gis import heat
from gis.geometry import GeometryError, parse_bbox

TZ = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 3 * 366
DEFAULT_DAYS = 30
COMMON = {"source", "bbox", "zoom", "shape", "from", "to", "level", "limit", "i", "j", "size", "area",
          "step", "format", "_", "lang", "group", "compare"}


def parse_instant(name: str, raw: str, end: bool = False) -> dt.datetime:
    """A date (``2026-11-01``; as an end, the whole day is included) or an ISO 8601 time, in Shanghai time."""
    try:
        if len(raw) == 10:
            d = dt.date.fromisoformat(raw)
            if end:
                d += dt.timedelta(days=1)
            return dt.datetime.combine(d, dt.time(), TZ)
        t = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time, not {raw!r}",
                       {name: "malformed date"}) from None
    return t if t.tzinfo else t.replace(tzinfo=TZ)


def today() -> dt.date:
    return dt.datetime.now(TZ).date()


def parse_period(default_days: int = DEFAULT_DAYS) -> tuple[dt.datetime, dt.datetime]:
    """``from``/``to`` (inclusive dates or ISO times) → half-open ``[start, end)``; default the last 30 days."""
    args = request.args
    end = parse_instant("to", args["to"], end=True) if args.get("to") else \
        dt.datetime.combine(today() + dt.timedelta(days=1), dt.time(), TZ)
    start = parse_instant("from", args["from"]) if args.get("from") else end - dt.timedelta(days=default_days)
    if end <= start:
        raise ApiError(400, "to must be after from", {"to": "before from"})
    if (end - start).days > MAX_DAYS:
        raise ApiError(400, f"a period is at most {MAX_DAYS} days", {"from": "period too long"})
    return start, end


def parse_source(required: bool = True) -> HeatSource:
    name = request.args.get("source", "incidents")
    src = get_source(name)
    if src is None:
        names = ", ".join(s.name for s in available_sources())
        raise ApiError(400, f"unknown source {name!r}; sources: {names}", {"source": "unknown"})
    return src


def parse_zoom() -> int:
    raw = request.args.get("zoom")
    if raw is None or raw == "":
        return 15
    try:
        z = float(raw)
    except ValueError:
        raise ApiError(400, "zoom must be a number", {"zoom": "not a number"}) from None
    if not 0 <= z <= 24:
        raise ApiError(400, "zoom must be between 0 and 24", {"zoom": "out of range"})
    return heat.clamp_zoom(z)


def zoom_for_bbox(bbox, width_px: int = 1200) -> int:
    """The zoom at which ``bbox`` fills a screen ``width_px`` wide (clients that send no zoom)."""
    import math
    span = max(1e-6, bbox[2] - bbox[0])
    return heat.clamp_zoom(math.log2(360.0 / span * width_px / heat.TILE_PX))


def parse_filters(src: HeatSource) -> dict[str, list]:
    """The source's filters from the query string; unknown parameters and values → 400."""
    args = request.args
    names = {f.name for f in src.filters}
    unknown = set(args) - COMMON - names
    if unknown:
        raise ApiError(400, f"unknown parameter(s): {', '.join(sorted(unknown))}; filters for {src.name}: "
                            f"{', '.join(sorted(names)) or 'none'}", {n: "unknown parameter" for n in unknown})
    out = {}
    for f in src.filters:
        raw = args.get(f.name)
        if not raw:
            continue
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if f.resolve is not None:
            try:
                out[f.name] = f.resolve(values)
            except ValueError as e:
                raise ApiError(400, f"{f.name}: {e}", {f.name: str(e)}) from None
        else:
            allowed = {v for v, _ in f.choices()}
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ApiError(400, f"{f.name} must be among {', '.join(sorted(allowed))}",
                               {f.name: f"unknown value {bad[0]!r}"})
            out[f.name] = values
    return out


def parse_bbox_arg(required: bool = True):
    raw = request.args.get("bbox")
    if not raw:
        if required:
            raise ApiError(400, "bbox=minLon,minLat,maxLon,maxLat is required", {"bbox": "missing"})
        return None
    try:
        return parse_bbox(raw)
    except GeometryError as e:
        raise ApiError(400, str(e), {"bbox": str(e)}) from None


def parse_heat_query(require_bbox: bool = True) -> HeatQuery:
    """Everything a heat request asks, validated."""
    src = parse_source()
    bbox = parse_bbox_arg(require_bbox) or (-180.0, -85.0, 180.0, 85.0)
    zoom = parse_zoom() if request.args.get("zoom") else zoom_for_bbox(bbox)
    shape = request.args.get("shape", "square")
    if shape not in heat.SHAPES:
        raise ApiError(400, f"shape must be one of {', '.join(heat.SHAPES)}", {"shape": "unknown"})
    start, end = parse_period() if src.time else (None, None)
    return HeatQuery(source=src, bbox=tuple(bbox), zoom=zoom, shape=shape, start=start, end=end,
                     filters=parse_filters(src))
