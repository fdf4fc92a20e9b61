"""Heat maps computed in PostGIS: bins for the visible bbox, per-area choropleths, drill-down lists.

Only aggregates leave the database: ``[i, j, count]`` per bin (the browser draws the cell from ``i``,
``j`` and the size, see :mod:`gis.heat`) or one simplified polygon per area with its count and rate per
1,000 households. Every query is limited to the visible bbox (GiST index) and to the user's area, and
runs planned for index-driven reads (:func:`app.core.sql.index_driven`: no parallel workers, no JIT),
which on these bbox-limited plans is what keeps the index scan (DESIGN: 12× faster than parallel).
The sources are the features' (:data:`app.core.heat.HEAT_SOURCES`); this module knows none of them.
"""

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import Float, Integer, case, cast, func, select

from app.areas.models import Area
from app.auth.policy import Scope, grid_clause, street_clause, street_column
from app.basemap.heat import households_per_area
from app.core.extensions import db
from app.core.heat import HeatSource
from app.core.sql import StatementCache, index_driven, param
from gis import heat

MAX_CELLS = 6000  # bins per answer: [i,j,n] ≈ 20 bytes each → ≤ 120 KB
MAX_AREAS = 1200  # polygons per choropleth answer
DRILL_LIMIT = 200
TIME_DRIVEN_DAYS = 2  # windows this short (the heat bins' live days) are read by time (conditions)
LEVEL_LENGTH = {"street": 9, "community": 12, "grid": 15}
LEVEL_ORDER = ("city", "district", "street", "community", "grid", "micro_grid")
AREAS = Area.__table__


@dataclass
class HeatRequest:
    """What the user asked for: a source, a bbox, a zoom, a period and filters (already validated)."""

    source: HeatSource
    bbox: tuple[float, float, float, float]
    zoom: int
    shape: str = "square"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    filters: dict[str, list] = field(default_factory=dict)
    finest_zoom: int = heat.MAX_ZOOM  # bins no finer than at this zoom (personal sources: a floor)


# Values that change from one request to the next are named parameters, bound at each run: the bbox
# (w s e n), the period (t0 t1), the filters (f_<name>, arrays), and for the choropleth the area level,
# code length, simplification tolerance, scope prefix and the listed codes; for personal sources the small
# count (k). Everything else is compiled in, and named by the statement's key (shape_key);
# tests/test_read_side.py holds the keys to that.
DYNAMIC = frozenset({"w", "s", "e", "n", "t0", "t1", "codes", "level", "length", "tol", "scope_prefix", "k"})
STATEMENTS = StatementCache(lambda name: name in DYNAMIC or name.startswith("f_"), index_driven=True)


def time_driven(q: HeatRequest) -> bool:
    """Whether ``q``'s window is short enough (:data:`TIME_DRIVEN_DAYS`) to read its rows by time, not by bbox."""
    if q.source.time is None or q.start is None or q.end is None:
        return False
    return q.end - q.start <= dt.timedelta(days=TIME_DRIVEN_DAYS)


def conditions(q: HeatRequest, scope: Scope, use_bbox: bool = True) -> list:
    """Bbox, period, filters, the source's fixed condition and the area scope as Core conditions."""
    src = q.source
    conds = []
    if use_bbox and src.geom is not None:
        inside = src.geom.op("&&")(func.ST_MakeEnvelope(*(param(k) for k in "wsen"), 4326))
        # A window of a day or two: its rows come from the time index and the bbox is checked row by row
        # (``IS TRUE`` keeps the GiST index out). Offered both, the planner ANDed them and walked a third
        # of the GiST index for a z13 screen: today and yesterday binned live 30 → 5 ms (docs/scaling.md).
        conds.append(inside.is_(True) if time_driven(q) else inside)
    if src.time is not None and q.start is not None:
        conds.append(src.time >= param("t0"))
    if src.time is not None and q.end is not None:
        conds.append(src.time < param("t1"))
    for f in src.filters:
        if q.filters.get(f.name):
            conds.append(f.column == sa.any_(param(f"f_{f.name}")))
    if src.where is not None:
        conds.append(src.where)
    if src.grid is not None:
        conds.append(grid_clause(scope, src.grid, src.geom))
    elif not scope.everything:
        area_geom = select(AREAS.c.geom).where(AREAS.c.id == scope.area_id).scalar_subquery()
        conds.append(func.ST_Intersects(src.geom, area_geom))
        if (street := street_column(src.geom)) is not None:  # the shards that can hold the rows
            conds.append(street_clause(scope, street))
    return conds


def values(q: HeatRequest) -> dict:
    """The named parameters of :func:`conditions` for this request."""
    v = {"w": q.bbox[0], "s": q.bbox[1], "e": q.bbox[2], "n": q.bbox[3], "t0": q.start, "t1": q.end}
    for f in q.source.filters:
        if q.filters.get(f.name):
            v[f"f_{f.name}"] = list(q.filters[f.name])
    return v


def shape_key(q: HeatRequest, scope: Scope, *extra) -> tuple:
    """What fixes the SQL of a heat query (not the values of its parameters)."""
    return (
        q.source.name,
        q.start is None,
        q.end is None,
        tuple(f.name for f in q.source.filters if q.filters.get(f.name)),
        scope.everything,
        scope.area_id,
        scope.area_code,
        scope.area_level,
        time_driven(q),
    ) + extra


def bin_size(q: HeatRequest) -> float:
    """The cell size for the query's zoom and shape, coarsened until the bbox holds ≤ MAX_CELLS bins."""
    size = heat.cell_size(min(q.zoom, q.finest_zoom))
    x0, y0 = heat.lonlat_to_mercator(q.bbox[0], max(-85.0, q.bbox[1]))
    x1, y1 = heat.lonlat_to_mercator(q.bbox[2], min(85.0, q.bbox[3]))
    while (x1 - x0) * (y1 - y0) / (size * size) > MAX_CELLS:
        size *= 2
    return size if q.shape == "square" else size * math.sqrt(2.0 / (3.0 * heat.SQRT3))


def point(src: HeatSource):
    """Where a row sits in a bin: its point, or a point on its surface (bike-parking zones are polygons)."""
    kind = getattr(src.geom.type, "geometry_type", None)
    return src.geom if kind == "POINT" else func.ST_PointOnSurface(src.geom)


def _bin_select(q: HeatRequest, scope: Scope, size: float):
    """SELECT i, j, n: the query's points binned into squares or hexagons of ``size``."""
    g = func.ST_Transform(point(q.source), 3857)
    return binned(select(func.ST_X(g).label("x"), func.ST_Y(g).label("y")).where(*conditions(q, scope)), q.shape, size)


def binned(pts: sa.Select, shape: str, size: float, carry: tuple[str, ...] = ()) -> sa.Select:
    """SELECT <carry>, i, j, n: the rows of ``pts`` (Mercator ``x``, ``y`` and the ``carry`` columns)
    counted per square or ST_HexagonGrid hexagon of ``size``, and per ``carry``."""
    if shape == "square":
        p = pts.subquery("pts")
        i = cast(func.floor(p.c.x / size), Integer)
        j = cast(func.floor(p.c.y / size), Integer)
        keep = [p.c[k] for k in carry]
        return select(*keep, i.label("i"), j.label("j"), func.count().label("n")).group_by(*keep, i, j)
    # Hexagon: of the two candidate columns, the nearer centre holds the point (gis.heat.hex_of).
    # The points are a MATERIALIZED CTE: inlined, ST_Transform/ST_X/ST_Y ran once per use of x and y
    # below (a dozen times a row; z12 city screen 1.3 s → see docs/scaling.md).
    p = pts.cte("pts").prefix_with("MATERIALIZED")
    h = heat.SQRT3 * size
    c = select(
        p.c.x, p.c.y, *(p.c[k] for k in carry), cast(func.floor(p.c.x / (1.5 * size)), Integer).label("i0")
    ).subquery("c")
    cand = []
    for di in (0, 1):
        # Integers cast to double precision: a Python float times an integer column is numeric
        # arithmetic in PostgreSQL, far slower than double (measured: 480 of 600 ms on a z12 screen).
        i = c.c.i0 + di
        off = cast(i % 2, Float) * (h / 2)
        jj = cast(func.round((c.c.y - off) / h), Integer)
        dx = c.c.x - cast(i, Float) * (1.5 * size)
        dy = c.c.y - cast(jj, Float) * h - off
        cand.append((i, jj, dx * dx + dy * dy))
    (ia, ja, da), (ib, jb, db_) = cand
    hx = select(
        *(c.c[k] for k in carry), case((da <= db_, ia), else_=ib).label("i"), case((da <= db_, ja), else_=jb).label("j")
    ).subquery("hx")
    keep = [hx.c[k] for k in carry]
    return select(*keep, hx.c.i, hx.c.j, func.count().label("n")).group_by(*keep, hx.c.i, hx.c.j)


CellRows = Callable[["HeatRequest", Scope, float], list]


def live_cells(q: HeatRequest, scope: Scope, size: float) -> list:
    """``[(i, j, n)]`` of the query binned from the source's rows in the bbox, now."""
    return STATEMENTS.run(shape_key(q, scope, "cells", q.shape, size), lambda: _bin_select(q, scope, size), values(q))


def heat_cells(q: HeatRequest, scope: Scope, cell_rows: CellRows = live_cells) -> dict:
    """Binned counts of rows for the visible bbox: ``{"size", "cells": [[i, j, n], …], "classes", …}``.

    ``cell_rows`` counts them (live, or from the bins made once: :func:`app.heatmaps.bins.cell_rows`).
    Not for personal sources: those are counted in people (:func:`app.heatmaps.people.heat_cells`)."""
    if q.source.personal:
        raise ValueError(f"{q.source.name} is personal: count it with app.heatmaps.people")
    size = bin_size(q)
    rows = cell_rows(q, scope, size)
    lat = (q.bbox[1] + q.bbox[3]) / 2
    return {
        "source": q.source.name,
        "shape": q.shape,
        "zoom": q.zoom,
        "size": size,
        "ground_m": round(heat.ground_metres(size, lat)),
        "unit": str(q.source.unit),
        "total": sum(n for _, _, n in rows),
        "suppressed": 0,
        "classes": heat.classify([n for _, _, n in rows]).as_dict(),
        "cells": [[i, j, n] for i, j, n in rows],
    }


def effective_level(zoom: int, scope: Scope, level: str | None = None) -> str:
    """The area level to colour: by zoom unless given, never above the user's own area."""
    lv = level or heat.choropleth_level(zoom)
    if (
        not scope.everything
        and scope.area_level in LEVEL_ORDER
        and LEVEL_ORDER.index(lv) < LEVEL_ORDER.index(scope.area_level)
    ):
        lv = scope.area_level if scope.area_level in LEVEL_LENGTH else "grid"
    return lv


def _areas_select(everything: bool) -> sa.Select:
    """The areas of ``:level`` meeting the bbox (in the user's area), simplified to the pixel, with the
    households living in each (the base map's :func:`households_per_area`)."""
    conds = [
        AREAS.c.level == param("level"),
        AREAS.c.geom.op("&&")(func.ST_MakeEnvelope(*(param(k) for k in "wsen"), 4326)),
    ]
    if not everything:
        conds.append(AREAS.c.code.like(param("scope_prefix")))
    a = select(AREAS.c.code, AREAS.c.name, AREAS.c.geom).where(*conds).order_by(AREAS.c.code).limit(MAX_AREAS).cte("a")
    hh = households_per_area(param("length"), select(a.c.code)).cte("hh")
    geometry = func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(a.c.geom, param("tol")), 5)
    return (
        select(a.c.code, a.c.name, geometry.label("geometry"), func.coalesce(hh.c.households, 0).label("households"))
        .select_from(a.outerjoin(hh, hh.c.code == a.c.code))
        .order_by(a.c.code)
    )


def _area_counts_select(q: HeatRequest, scope: Scope, length: int) -> sa.Select:
    """The source's rows per area code prefix (``length`` digits) among ``:codes``."""
    prefix = func.substr(AREAS.c.code, 1, length)
    return (
        select(prefix.label("code"), func.count().label("n"))
        .select_from(q.source.table.join(AREAS, AREAS.c.id == q.source.grid))
        .where(*conditions(q, scope, use_bbox=False), prefix == sa.any_(param("codes")))
        .group_by(prefix)
    )


def row_counts(q: HeatRequest, scope: Scope, length: int, codes: list[str]) -> dict[str, tuple[int, int]]:
    """Rows per area among ``codes`` (``length`` digits): ``{code: (count, 0)}`` (nothing hidden)."""
    rows = STATEMENTS.run(
        shape_key(q, scope, "area_counts", length),
        lambda: _area_counts_select(q, scope, length),
        {**values(q), "codes": codes},
    )
    return {code: (count, 0) for code, count in rows}


# What an area counter returns per area code: (the count shown, the parts of the area hidden in it).
AreaCounter = Callable[[HeatRequest, Scope, int, list[str]], dict[str, tuple[int, int]]]


def _features(areas: list, counts: dict) -> tuple[list, list, int]:
    """GeoJSON features of ``areas`` with count, households and rate. An area with hidden parts (a
    personal source's grids below the small count) is ``suppressed``; its count is that of the parts
    shown, or None ("<5") when no part is shown."""
    features, shown, suppressed = [], [], 0
    for a in areas:
        count, hidden = counts.get(a.code, (0, 0))
        n = None if hidden and not count else count
        suppressed += bool(hidden)
        hh = int(a.households or 0)
        rate = round(n * 1000.0 / hh, 2) if hh and n is not None else None
        features.append(
            {
                "type": "Feature",
                "id": a.code,
                "geometry": json.loads(a.geometry),
                "properties": {
                    "code": a.code,
                    "name": a.name,
                    "n": n,
                    "households": hh,
                    "rate": rate,
                    "suppressed": bool(hidden),
                },
            }
        )
        if n is not None:
            shown.append(n)
    return features, shown, suppressed


def area_counts(q: HeatRequest, scope: Scope, level: str | None = None, counter: AreaCounter = row_counts) -> dict:
    """Per-area choropleth for the areas meeting the bbox: count and rate per 1,000 households.

    ``counter`` counts per area: rows (the default), or people for a personal source
    (:func:`app.heatmaps.people.area_people`)."""
    if q.source.personal and counter is row_counts:
        raise ValueError(f"{q.source.name} is personal: count it with app.heatmaps.people")
    lv = effective_level(q.zoom, scope, level)
    n = LEVEL_LENGTH[lv]
    areas = STATEMENTS.run(
        ("areas", scope.everything),
        lambda: _areas_select(scope.everything),
        {
            "tol": heat.metres_per_pixel(q.zoom) / 111_320 / 2,
            "level": lv,
            "length": n,
            "w": q.bbox[0],
            "s": q.bbox[1],
            "e": q.bbox[2],
            "n": q.bbox[3],
            "scope_prefix": (scope.area_code or "") + "%",
        },
    )
    counts = counter(q, scope, n, [a.code for a in areas]) if areas else {}
    features, shown, suppressed = _features(areas, counts)
    classes = heat.classify(shown)
    for f in features:
        count = f["properties"]["n"]
        f["properties"]["cls"] = classes.index(count) if count else None
    return {
        "level": lv,
        "features": features,
        "suppressed": suppressed,
        "classes": classes.as_dict(),
        "total": sum(shown),
        "unit": str(q.source.people if q.source.personal else q.source.unit),
    }


def _cell_polygon(shape: str, size: float, i: int, j: int):
    """Bin ``(i, j)`` of ``shape`` and ``size`` as a WGS-84 polygon."""
    if shape == "square":
        x0, y0, x1, y1 = heat.square_bounds(i, j, size)
        cell = func.ST_MakeEnvelope(x0, y0, x1, y1, 3857)
    else:
        ring = heat.hex_ring(i, j, size)
        cell = func.ST_GeomFromText("POLYGON((" + ",".join(f"{x:.3f} {y:.3f}" for x, y in ring + ring[:1]) + "))", 3857)
    return func.ST_Transform(cell, 4326)


def drill_rows(
    q: HeatRequest,
    scope: Scope,
    shape: str,
    size: float | None = None,
    i: int | None = None,
    j: int | None = None,
    area_code: str | None = None,
) -> list[dict]:
    """What lies in one bin (``shape`` square/hexagon with ``size``, ``i``, ``j``) or one area."""
    src = q.source
    conds = conditions(q, scope, use_bbox=False)
    if area_code is not None:
        conds.append(src.grid.in_(select(AREAS.c.id).where(AREAS.c.code.startswith(area_code))))
    else:
        cell = _cell_polygon(shape, size, i, j)
        conds += [src.geom.op("&&")(cell), func.ST_Intersects(point(src), cell)]
    stmt = (
        select(*(col.label(label) for label, col in src.drill))
        .where(*conds)
        .order_by(src.drill_order.desc())
        .limit(DRILL_LIMIT)
    )
    index_driven()
    return [
        {k: (v.isoformat() if isinstance(v, (dt.datetime, dt.date)) else v) for k, v in r.items()}
        for r in db.session.execute(stmt, values(q)).mappings()
    ]


def frame_list(start: dt.datetime, end: dt.datetime, step: str) -> list[dict]:
    """The slider's frames for a period."""
    return [{"from": a.isoformat(), "to": b.isoformat()} for a, b in heat.frame_steps(start, end, step)]
