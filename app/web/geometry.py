"""Geometries in request bodies: at most ``WUWEI_MAX_VERTICES`` positions each (issue 14).

A 200,000-vertex zone took 5.7 s of a worker (validity check, grid assignment, area checks). The
positions are counted on the decoded JSON before anything else looks at them — before pydantic
builds its models, shapely builds the geometry or PostGIS sees it — and a geometry over the cap
is a 422 naming the field. The cap is a setting (:mod:`app.core.config`, docs/operations.md).
"""
import json
from typing import Any

from flask import current_app, has_app_context

from app.web.params import invalid

DEFAULT_MAX_VERTICES = 20_000


def max_vertices() -> int:
    """The cap of the running application (the default outside one)."""
    if has_app_context():
        return int(current_app.config.get("WUWEI_MAX_VERTICES", DEFAULT_MAX_VERTICES))
    return DEFAULT_MAX_VERTICES


def count_positions(coordinates: Any, stop_after: int | None = None) -> int:
    """How many positions (``[lon, lat]`` arrays) a GeoJSON ``coordinates`` array holds; counting
    stops once it passes ``stop_after``."""
    count, stack = 0, [coordinates]
    while stack:
        item = stack.pop()
        if not isinstance(item, list | tuple) or not item:
            continue
        if not isinstance(item[0], list | tuple):
            count += 1                      # a position: numbers (their types are checked later)
            if stop_after is not None and count > stop_after:
                return count
        else:
            stack.extend(item)
    return count


def check_vertices(value: Any) -> Any:
    """A pydantic before-validator for a GeoJSON geometry: refused when it has more positions than
    the cap (a ``GeometryCollection``'s members count together); the value otherwise, unchanged."""
    geometry = value
    if isinstance(geometry, str):
        try:
            geometry = json.loads(geometry)
        except ValueError:
            return value                    # the geometry's own parser says what is wrong
    if not isinstance(geometry, dict):
        return value
    cap = max_vertices()
    members = geometry.get("geometries") if geometry.get("type") == "GeometryCollection" else [geometry]
    n = sum(count_positions(g.get("coordinates"), cap) for g in members or () if isinstance(g, dict))
    if n > cap:
        raise invalid(f"too many vertices: at most {cap} per geometry (WUWEI_MAX_VERTICES)")
    return value
