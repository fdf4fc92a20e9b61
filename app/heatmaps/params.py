"""The heat API's query strings, declared as pydantic models (``app.web.params``), and what they become.

A bad value is a 400 naming the parameter. A source's filters (``?state=filed,closed``) are the
source's own (``GET /api/v1/heat/sources``): they are checked against the chosen source here.
"""
import math
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, WithJsonSchema

from app.core.errors import ApiError
from app.core.heat import HEAT_SOURCES, HeatSource
from app.heatmaps import people
from app.heatmaps.services import HeatRequest
from app.web.params import MAX_INT, Bbox, Period, Query, invalid
from gis import heat

WORLD = (-180.0, -85.0, 180.0, 85.0)


def _source(name: str) -> str:
    if name not in HEAT_SOURCES:
        raise invalid(f"unknown source {name!r}; sources: {', '.join(HEAT_SOURCES.names())}")
    return name


def _area(code: str) -> str:
    if not code.isdigit() or len(code) not in (9, 12, 15, 18):
        raise invalid("must be a street, community or grid code")
    return code


SourceName = Annotated[str, AfterValidator(_source),
                       WithJsonSchema({"type": "string", "description": "a heat source (GET /api/v1/heat/sources)"})]
Zoom = Annotated[float, Field(ge=0, le=24, description="map zoom choosing the cell size (default: from the bbox)")]
DrillArea = Annotated[str, AfterValidator(_area),
                      WithJsonSchema({"type": "string", "pattern": "^[0-9]{9,18}$",
                                      "description": "a street, community or grid code"})]
CellIndex = Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]


class HeatQuery(Query, Period):
    """A heat view: a source, its period (default: the last 30 days) and its filters, at a zoom.

    Besides the parameters listed, the source's filters are accepted (``category``, ``state``,
    ``channel`` for incidents …: comma-separated values, see ``GET /api/v1/heat/sources``).
    """
    model_config = ConfigDict(extra="allow")

    source: SourceName = "incidents"
    zoom: Zoom | None = None
    shape: Annotated[Literal["square", "hexagon", "grid"],
                     Field(description="bins: square or hexagon; grid: per area (/areas)")] = "square"


class ViewQuery(HeatQuery):
    """The visible part of the map: only this bbox is binned or coloured."""
    bbox: Bbox
    level: Annotated[Literal["street", "community", "grid"] | None,
                     Field(description="areas: the level coloured (default: by zoom)")] = None
    limit: Annotated[int | None, Field(ge=1, le=10_000, description="ignored (sent by the map page's overlays)")] = None


class DrillQuery(HeatQuery):
    """One bin (``i``, ``j`` at ``zoom`` and ``shape``) or one area (``area``)."""
    bbox: Bbox | None = None
    i: CellIndex | None = None
    j: CellIndex | None = None
    area: DrillArea | None = None


class FramesQuery(Query, Period):
    """A period cut into animation frames."""
    step: Literal["day", "week", "month"] = "week"


def zoom_for_bbox(bbox, width_px: int = 1200) -> int:
    """The zoom at which ``bbox`` fills a screen ``width_px`` wide (clients that send no zoom)."""
    span = max(1e-6, bbox[2] - bbox[0])
    return heat.clamp_zoom(math.log2(360.0 / span * width_px / heat.TILE_PX))


def _filter_values(src: HeatSource, extra: dict) -> dict[str, list]:
    """The source's filters from the query string's other parameters; unknown names and values → 400."""
    names = {f.name for f in src.filters}
    unknown = set(extra) - names
    if unknown:
        raise ApiError(400, f"unknown parameter(s): {', '.join(sorted(unknown))}; filters for {src.name}: "
                            f"{', '.join(sorted(names)) or 'none'}", {n: "unknown parameter" for n in unknown})
    out = {}
    for f in src.filters:
        raw = extra.get(f.name)
        raw = raw if isinstance(raw, list) else [raw] if raw else []
        values = [v.strip() for part in raw for v in str(part).split(",") if v.strip()]
        if not values:
            continue
        if f.resolve is not None:
            try:
                out[f.name] = f.resolve(values)
            except ValueError as e:
                raise ApiError(400, f"{f.name}: {e}", {f.name: str(e)}) from None
            continue
        allowed = {v for v, _ in f.choices()}
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ApiError(400, f"{f.name} must be among {', '.join(sorted(allowed))}",
                           {f.name: f"unknown value {bad[0]!r}"})
        out[f.name] = values
    return out


def heat_request(query: HeatQuery) -> HeatRequest:
    """What a heat query asks, resolved: the source, the bbox (the world if none), zoom, period and filters.

    A personal source's request is answered as :func:`app.heatmaps.people.protect` makes it: whole
    days, squares no finer than the zoom floor."""
    src = HEAT_SOURCES[query.source]
    bbox = tuple(query.bbox) if getattr(query, "bbox", None) else WORLD
    zoom = heat.clamp_zoom(query.zoom) if query.zoom is not None else zoom_for_bbox(bbox)
    start, end = query.bounds() if src.time is not None else (None, None)
    q = HeatRequest(source=src, bbox=bbox, zoom=zoom, shape=query.shape, start=start, end=end,
                    filters=_filter_values(src, query.model_extra or {}))
    return people.protect(q) if src.personal else q

