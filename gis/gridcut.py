"""Cutting a grid in two along a line the planner drew, and joining two grids into one.

Plain shapely: the database work (codes, the rows inside, the audit) is :mod:`app.areas.regrid`'s.
"""

import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.ops import split, unary_union

from gis.geometry import GeometryError, rfc7946

# A drawn line is lengthened by this much (degrees, about a metre) at both ends, so that a line
# snapped onto the border (not quite across it, in floating point) still cuts.
_OVERSHOOT = 1e-5


def _extended(line: LineString) -> LineString:
    coords = list(line.coords)
    if len(coords) < 2:
        raise GeometryError("the cutting line needs at least two points", kind="invalid")

    def beyond(a, b):
        dx, dy = b[0] - a[0], b[1] - a[1]
        length = (dx * dx + dy * dy) ** 0.5 or 1.0
        return (b[0] + dx / length * _OVERSHOOT, b[1] + dy / length * _OVERSHOOT)

    return LineString(
        [beyond(coords[1], coords[0]), *coords[1:-1], beyond(coords[-2], coords[-1])]
        if len(coords) > 2
        else [beyond(coords[1], coords[0]), beyond(coords[0], coords[1])]
    )


def cut(area: MultiPolygon, line: LineString) -> tuple[MultiPolygon, MultiPolygon]:
    """(the larger part, the part cut off) of ``area`` cut by ``line``.

    The line must cross the area once, from border to border: it makes exactly two pieces of the
    polygon it crosses (other polygons of a multi-part area stay with the larger part).
    :class:`GeometryError` otherwise, saying what the planner should draw.
    """
    blade = _extended(line)
    parts = list(area.geoms)
    crossed = [i for i, p in enumerate(parts) if p.intersects(blade)]
    if len(crossed) != 1:
        raise GeometryError(
            "draw the cutting line across one part of the grid, from one side of its border to the other",
            kind="cut",
        )
    pieces = [g for g in split(parts[crossed[0]], blade).geoms if isinstance(g, Polygon) and g.area > 0]
    if len(pieces) != 2:
        raise GeometryError(
            f"the line cuts the grid into {len(pieces)} piece(s); draw it across the grid once, "
            "from one side of its border to the other, to make two",
            kind="cut",
        )
    pieces.sort(key=lambda p: p.area, reverse=True)
    others = [p for i, p in enumerate(parts) if i != crossed[0]]
    kept = MultiPolygon([pieces[0], *others])
    cut_off = MultiPolygon([pieces[1]])
    return rfc7946(kept), rfc7946(cut_off)


def join(a: MultiPolygon, b: MultiPolygon) -> MultiPolygon:
    """The union of two grids as one valid MultiPolygon (slivers between their borders stay out)."""
    union = shapely.make_valid(unary_union([a, b]))
    polygons = [g for g in getattr(union, "geoms", [union]) if isinstance(g, Polygon) and g.area > 0]
    return rfc7946(MultiPolygon(polygons))
