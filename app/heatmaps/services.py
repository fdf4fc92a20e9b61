"""Heat maps computed in PostGIS: bins for the visible bbox, per-area choropleths, drill-down lists.

Only aggregates leave the database: ``[i, j, count]`` per bin (the browser draws the
cell from ``i``, ``j`` and the size, see :mod:`gis.heat`) or one simplified polygon per
area with its count and rate per 1,000 households. Every query is limited to the visible
bbox (GiST index) and to the user's area, and runs with parallel workers off, which on
these bbox-limited plans is what keeps the index scan (DESIGN: 12× faster than parallel).
"""
import datetime as dt
import json
import math
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import Integer, case, cast, func, select

from app.auth.access import Scope, grid_clause
from app.core.extensions import db
from app.heatmaps.sources import HeatSource
from app.core.sql import StatementCache, param as _param
from gis import heat

MAX_CELLS = 6000          # bins per answer: [i,j,n] ≈ 20 bytes each → ≤ 120 KB
MAX_AREAS = 1200          # polygons per choropleth answer
DRILL_LIMIT = 200
LEVEL_LENGTH = {"street": 9, "community": 12, "grid": 15}
LEVEL_ORDER = ("city", "district", "street", "community", "grid", "micro_grid")


@dataclass
class HeatQuery:
    """What the user asked for: a source, a bbox, a zoom, a period and filters (already validated)."""
    source: HeatSource
    bbox: tuple[float, float, float, float]
    zoom: int
    shape: str = "square"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    filters: dict[str, list] = field(default_factory=dict)


# Bbox-limited aggregates keep their index scan only without parallel workers (see the module doc).
NO_PARALLEL = "SET LOCAL max_parallel_workers_per_gather = 0"


def _no_parallel() -> None:
    """Plan settings for bbox-limited aggregates: no parallel scan, and no JIT.

    PostGIS functions carry high cost estimates, so PostgreSQL JIT-compiles these queries;
    measured here, compiling took 2.5 s of a 3.6 s heat request that runs in 0.3 s without it.
    """
    db.session.execute(sa.text(NO_PARALLEL + "; SET LOCAL jit = off"))


def _conditions(q: HeatQuery, t: sa.TableClause, scope: Scope, use_bbox: bool = True) -> list:
    """Bbox, period, filters, fixed source condition and area scope as Core conditions.

    What changes from one request to the next is a named parameter (``w s e n``, ``t0 t1``,
    ``f_<filter>`` as arrays); everything else is fixed by :func:`_shape_key`, so the compiled
    SQL can be reused (:class:`app.core.sql.StatementCache`).
    """
    src = q.source
    conds = []
    if use_bbox and src.geom:
        conds.append(t.c[src.geom].op("&&")(func.ST_MakeEnvelope(*(_param(k) for k in "wsen"), 4326)))
    if src.time and q.start is not None:
        conds.append(t.c[src.time] >= _param("t0"))
    if src.time and q.end is not None:
        conds.append(t.c[src.time] < _param("t1"))
    for f in src.filters:
        if q.filters.get(f.name):
            conds.append(t.c[f.column] == sa.any_(_param(f"f_{f.name}")))
    if src.where is not None:
        conds.append(src.where(t))
    if src.grid:
        conds.append(grid_clause(scope, t.c[src.grid], t.c[src.geom] if src.geom else None))
    elif not scope.everything:
        area_geom = select(sa.column("geom")).select_from(sa.table("areas", sa.column("id"), sa.column("geom"))) \
            .where(sa.column("id") == scope.area_id).scalar_subquery()
        conds.append(func.ST_Intersects(t.c[src.geom], area_geom))
    return conds


def _values(q: HeatQuery) -> dict:
    """The named parameters of :func:`_conditions` for this request."""
    v = {"w": q.bbox[0], "s": q.bbox[1], "e": q.bbox[2], "n": q.bbox[3], "t0": q.start, "t1": q.end}
    for f in q.source.filters:
        if q.filters.get(f.name):
            v[f"f_{f.name}"] = list(q.filters[f.name])
    return v


def _shape_key(q: HeatQuery, scope: Scope, *extra) -> tuple:
    """What fixes the SQL of a heat query (not the values of its parameters)."""
    return (q.source.name, q.start is None, q.end is None,
            tuple(f.name for f in q.source.filters if q.filters.get(f.name)),
            scope.everything, scope.area_id, scope.area_code, scope.area_level) + extra


# The per-request values are _values()'s: bbox, period bounds and f_<filter> arrays (and the area codes
# of a choropleth).
_STATEMENTS = StatementCache(lambda name: name in ("w", "s", "e", "n", "t0", "t1", "codes") or name.startswith("f_"),
                             prefix=NO_PARALLEL + "; ")


def bin_size(q: HeatQuery) -> float:
    """The cell size for the query's zoom and shape, coarsened until the bbox holds ≤ MAX_CELLS bins."""
    size = heat.cell_size(q.zoom)
    x0, y0 = heat.lonlat_to_mercator(q.bbox[0], max(-85.0, q.bbox[1]))
    x1, y1 = heat.lonlat_to_mercator(q.bbox[2], min(85.0, q.bbox[3]))
    while (x1 - x0) * (y1 - y0) / (size * size) > MAX_CELLS:
        size *= 2
    return size if q.shape == "square" else size * math.sqrt(2.0 / (3.0 * heat.SQRT3))


def _bin_select(q: HeatQuery, scope: Scope, size: float):
    """SELECT i, j, n: the query's points binned into squares or ST_HexagonGrid hexagons of ``size``."""
    src = q.source
    t = src.table_clause()
    g = func.ST_Transform(t.c[src.geom], 3857)
    pts = select(func.ST_X(g).label("x"), func.ST_Y(g).label("y")) \
        .where(*_conditions(q, t, scope)).subquery("pts")
    if q.shape == "square":
        i = cast(func.floor(pts.c.x / size), Integer)
        j = cast(func.floor(pts.c.y / size), Integer)
        return select(i.label("i"), j.label("j"), func.count().label("n")).group_by(i, j)
    # Hexagon: of the two candidate columns, the nearer centre holds the point (gis.heat.hex_of).
    h = heat.SQRT3 * size
    c = select(pts.c.x, pts.c.y, cast(func.floor(pts.c.x / (1.5 * size)), Integer).label("i0")).subquery("c")
    cand = []
    for di in (0, 1):
        i = c.c.i0 + di
        off = (i % 2) * (h / 2)
        jj = cast(func.round((c.c.y - off) / h), Integer)
        d = func.power(c.c.x - 1.5 * size * i, 2) + func.power(c.c.y - h * jj - off, 2)
        cand.append((i, jj, d))
    (ia, ja, da), (ib, jb, db_) = cand
    hx = select(case((da <= db_, ia), else_=ib).label("i"), case((da <= db_, ja), else_=jb).label("j")) \
        .subquery("hx")
    return select(hx.c.i, hx.c.j, func.count().label("n")).group_by(hx.c.i, hx.c.j)


def heat_cells(q: HeatQuery, scope: Scope) -> dict:
    """Binned counts for the visible bbox: ``{"size", "cells": [[i, j, n], …], "classes", …}``."""
    size = bin_size(q)
    rows = _STATEMENTS.run(_shape_key(q, scope, "cells", q.shape, size), lambda: _bin_select(q, scope, size),
                           _values(q))
    cells = [{"i": i, "j": j, "n": n} for i, j, n in rows]
    suppressed = 0
    if q.source.personal:
        cells, suppressed = heat.suppress(cells)
    classes = heat.classify([c["n"] for c in cells])
    lat = (q.bbox[1] + q.bbox[3]) / 2
    return {"source": q.source.name, "shape": q.shape, "zoom": q.zoom, "size": size,
            "ground_m": round(heat.ground_metres(size, lat)),
            "total": sum(c["n"] for c in cells), "suppressed": suppressed,
            "classes": classes.as_dict(),
            "cells": [[c["i"], c["j"], c["n"]] for c in cells]}


def effective_level(zoom: int, scope: Scope, level: str | None = None) -> str:
    """The area level to colour: by zoom unless given, never above the user's own area."""
    lv = level or heat.choropleth_level(zoom)
    if not scope.everything and scope.area_level in LEVEL_ORDER and \
            LEVEL_ORDER.index(lv) < LEVEL_ORDER.index(scope.area_level):
        lv = scope.area_level if scope.area_level in LEVEL_LENGTH else "grid"
    return lv


# The areas meeting the bbox, simplified to the pixel, with the households living in each (the sum over
# the buildings of its grids, through buildings (grid_id) INCLUDE (households)). The no-parallel
# setting rides in the same round trip.
AREA_SQL = NO_PARALLEL + """;
    WITH a AS (
        SELECT a.code, a.name, a.geom FROM areas a
         WHERE a.level = %(level)s AND a.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
           AND (%(everything)s OR a.code LIKE %(scope_prefix)s)
         ORDER BY a.code LIMIT %(limit)s),
    hh AS (
        SELECT substr(g.code, 1, %(length)s) AS code, sum(b.households)::bigint AS households
          FROM areas g JOIN buildings b ON b.grid_id = g.id
         WHERE substr(g.code, 1, %(length)s) IN (SELECT code FROM a) GROUP BY 1)
    SELECT a.code, a.name, ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.geom, %(tol)s), 5) AS geometry,
           coalesce(hh.households, 0) AS households
      FROM a LEFT JOIN hh ON hh.code = a.code
     ORDER BY a.code
"""


def area_counts(q: HeatQuery, scope: Scope, level: str | None = None) -> dict:
    """Per-area choropleth for the areas meeting the bbox: count and rate per 1,000 households."""
    lv = effective_level(q.zoom, scope, level)
    n = LEVEL_LENGTH[lv]
    tol = heat.metres_per_pixel(q.zoom) / 111_320 / 2
    areas = db.session.connection().exec_driver_sql(AREA_SQL, {
        "tol": tol, "level": lv, "w": q.bbox[0], "s": q.bbox[1], "e": q.bbox[2], "n": q.bbox[3],
        "everything": scope.everything, "scope_prefix": (scope.area_code or "") + "%",
        "limit": MAX_AREAS, "length": n}).all()
    counts = {}
    households = {a.code: int(a.households or 0) for a in areas}
    if areas:
        def build():
            src = q.source
            t = src.table_clause()
            grids = sa.table("areas", sa.column("id"), sa.column("code"))
            prefix = func.substr(grids.c.code, 1, n)
            return select(prefix.label("code"), func.count().label("n")) \
                .select_from(t.join(grids, grids.c.id == t.c[src.grid])) \
                .where(*_conditions(q, t, scope, use_bbox=False), prefix == sa.any_(_param("codes"))) \
                .group_by(prefix)
        rows = _STATEMENTS.run(_shape_key(q, scope, "areas", n), build,
                               {**_values(q), "codes": [a.code for a in areas]})
        counts = {code: count for code, count in rows}
    features, suppressed, values = [], 0, []
    for a in areas:
        count = counts.get(a.code, 0)
        hidden = q.source.personal and 0 < count < heat.SUPPRESS_BELOW
        if hidden:
            suppressed += 1
        hh = households.get(a.code, 0)
        rate = round(count * 1000.0 / hh, 2) if hh and not hidden else None
        features.append({"type": "Feature", "id": a.code, "geometry": json.loads(a.geometry),
                         "properties": {"code": a.code, "name": a.name, "n": None if hidden else count,
                                        "households": hh, "rate": rate,
                                        "suppressed": hidden}})
        if not hidden:
            values.append(count)
    classes = heat.classify(values)
    for f in features:
        n = f["properties"]["n"]
        f["properties"]["cls"] = classes.index(n) if n else None
    return {"level": lv, "features": features, "suppressed": suppressed, "classes": classes.as_dict(),
            "total": sum(values)}


def drill_rows(q: HeatQuery, scope: Scope, shape: str, size: float | None = None, i: int | None = None,
               j: int | None = None, area_code: str | None = None) -> list[dict]:
    """What lies in one bin (``shape`` square/hexagon with ``size``, ``i``, ``j``) or one area."""
    src = q.source
    t = src.table_clause()
    conds = _conditions(q, t, scope, use_bbox=False)
    if area_code is not None:
        grids = sa.table("areas", sa.column("id"), sa.column("code"))
        conds.append(t.c[src.grid].in_(select(grids.c.id).where(grids.c.code.startswith(area_code))))
    else:
        if shape == "square":
            x0, y0, x1, y1 = heat.square_bounds(i, j, size)
            cell = func.ST_MakeEnvelope(x0, y0, x1, y1, 3857)
        else:
            ring = heat.hex_ring(i, j, size)
            wkt = "POLYGON((" + ",".join(f"{x:.3f} {y:.3f}" for x, y in ring + ring[:1]) + "))"
            cell = func.ST_GeomFromText(wkt, 3857)
        cell4326 = func.ST_Transform(cell, 4326)
        conds += [t.c[src.geom].op("&&")(cell4326), func.ST_Intersects(t.c[src.geom], cell4326)]
    cols = [t.c[c].label(label) for label, c in src.drill]
    stmt = select(*cols).where(*conds).order_by(t.c[src.drill_order].desc()).limit(DRILL_LIMIT)
    _no_parallel()
    out = []
    names = None
    for r in db.session.execute(stmt, _values(q)).mappings():
        row = {k: (v.isoformat() if isinstance(v, (dt.datetime, dt.date)) else v) for k, v in r.items()}
        if "category_id" in row:
            if names is None:
                names = dict(db.session.execute(sa.text("SELECT id, name FROM incident_categories")).all())
            row["category"] = names.get(row["category_id"])
        out.append(row)
    return out


def frame_list(start: dt.datetime, end: dt.datetime, step: str) -> list[dict]:
    """The slider's frames for a period."""
    return [{"from": a.isoformat(), "to": b.isoformat()} for a, b in heat.frame_steps(start, end, step)]

