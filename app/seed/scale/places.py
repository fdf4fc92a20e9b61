"""Synthetic streets, communities, grids and buildings for ``seed scale``.

Streets fill the demo districts around the demo streets, with properly nested DB11/T 2157 codes
(101… are synthetic); buildings are generated inside PostgreSQL.
"""
import io
import math

import numpy as np
import sqlalchemy as sa
from shapely.geometry import box

from app.core.extensions import db
from app.core.sql import index_driven
from app.seed.scale import bulk

SYNTHETIC_STREET_FROM = 101           # street codes 101… are synthetic; the demo uses 002–011
COMMUNITIES_PER_STREET = (3, 3)
GRIDS_PER_COMMUNITY = (4, 4)


def _street_cells(needed: int) -> list[tuple[str, tuple[float, float, float, float]]]:
    """``needed`` street rectangles (district code, bbox) inside the districts, clear of existing streets."""
    districts = db.session.execute(sa.text(
        "SELECT code, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM areas "
        "WHERE level = 'district' ORDER BY code")).all()
    taken = [box(*r[1:]) for r in db.session.execute(sa.text(
        "SELECT code, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM areas "
        "WHERE level = 'street' AND substr(code, 7, 3)::int < :first"), {"first": SYNTHETIC_STREET_FROM})]
    if not districts:
        raise RuntimeError("no districts: run `flask seed demo` first")
    total = sum((d[3] - d[1]) * (d[4] - d[2]) for d in districts)
    side = math.sqrt(total / max(1, needed))
    while True:
        cells = []
        for code, x0, y0, x1, y1 in districts:
            nx, ny = int((x1 - x0) // side), int((y1 - y0) // side)
            for a in range(nx):
                for b in range(ny):
                    bb = (x0 + a * side, y0 + b * side, x0 + (a + 1) * side, y0 + (b + 1) * side)
                    if not any(t.intersects(box(*bb)) and t.intersection(box(*bb)).area > 0 for t in taken):
                        cells.append((code, tuple(round(v, 7) for v in bb)))
        if len(cells) >= needed:
            return cells[:needed]
        side *= 0.93


def _split(bb, nx, ny):
    x0, y0, x1, y1 = bb
    w, h = (x1 - x0) / nx, (y1 - y0) / ny
    # North-west first, as in the demo (001 NW, 002 NE, …).
    return [(round(x0 + a * w, 7), round(y1 - (b + 1) * h, 7), round(x0 + (a + 1) * w, 7), round(y1 - b * h, 7))
            for b in range(ny) for a in range(nx)]


def seed_areas(grids: int, seed: int) -> int:
    """About ``grids`` synthetic grids in synthetic streets/communities; returns grids made (0 if present)."""
    done, prev = bulk.already_there("areas", seed, grids)
    if done:
        return 0
    if prev:
        delete_areas()
    per_street = COMMUNITIES_PER_STREET[0] * COMMUNITIES_PER_STREET[1] * \
        GRIDS_PER_COMMUNITY[0] * GRIDS_PER_COMMUNITY[1]
    streets = _street_cells(math.ceil(grids / per_street))
    rows, made, counter = [], 0, {}
    for district, bb in streets:
        counter[district] = counter.get(district, SYNTHETIC_STREET_FROM - 1) + 1
        scode = f"{district}{counter[district]:03d}"
        rows.append(("street", scode, f"模拟街道{scode[6:]}", district, bb))
        for ci, cbb in enumerate(_split(bb, *COMMUNITIES_PER_STREET), start=1):
            if made >= grids:
                break
            ccode = f"{scode}{ci:03d}"
            rows.append(("community", ccode, f"模拟街道{scode[6:]}第{ci}社区", scode, cbb))
            for gi, gbb in enumerate(_split(cbb, *GRIDS_PER_COMMUNITY), start=1):
                if made >= grids:
                    break
                rows.append(("grid", f"{ccode}{gi:03d}", f"模拟社区{ccode[6:]}第{gi}网格", ccode, gbb))
                made += 1
    buf = io.StringIO()
    for level, code, name, parent, (x0, y0, x1, y1) in rows:
        buf.write(f"{level},{code},{name},{parent},{x0},{y0},{x1},{y1}\n")
    db.session.execute(sa.text("DROP TABLE IF EXISTS scale_areas"))
    db.session.execute(sa.text("CREATE TEMP TABLE scale_areas (level text, code text, name text, parent text, "
                               "x0 float8, y0 float8, x1 float8, y1 float8) ON COMMIT DROP"))
    bulk.copy_csv("scale_areas", ["level", "code", "name", "parent", "x0", "y0", "x1", "y1"], buf.getvalue())
    # A new grid regrids the rows under it (trigger trg_areas_regrid, one UPDATE per table per grid):
    # for thousands of grids, do it once for the whole synthetic footprint instead.
    regrid = bool(db.session.scalar(sa.text(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'areas'::regclass AND tgname = 'trg_areas_regrid'")))
    if regrid:
        db.session.execute(sa.text("ALTER TABLE areas DISABLE TRIGGER trg_areas_regrid"))
    for level in ("street", "community", "grid"):
        db.session.execute(sa.text(
            "INSERT INTO areas (level, code, name, parent_id, note, geom) "
            "SELECT s.level, s.code, s.name, p.id, 'seed scale', ST_Multi(ST_MakeEnvelope(s.x0, s.y0, s.x1, s.y1, 4326)) "
            "FROM scale_areas s JOIN areas p ON p.code = s.parent WHERE s.level = :level ORDER BY s.code"),
            {"level": level})
    if regrid:
        db.session.execute(sa.text("ALTER TABLE areas ENABLE TRIGGER trg_areas_regrid"))
        db.session.execute(sa.text("SELECT wuwei_regrid(ST_Union(geom)) FROM areas "
                                   "WHERE note = 'seed scale' AND level = 'street'"))
    bulk.record_run("areas", seed, grids, None, None)
    return made


def delete_areas() -> None:
    """Remove every synthetic area (and so detach rows from synthetic grids)."""
    db.session.execute(sa.text("DELETE FROM areas WHERE note = 'seed scale' AND level = 'grid'"))
    db.session.execute(sa.text("DELETE FROM areas WHERE note = 'seed scale' AND level = 'community'"))
    db.session.execute(sa.text("DELETE FROM areas WHERE note = 'seed scale' AND level = 'street'"))
    db.session.execute(sa.text("DELETE FROM seed_scale_runs WHERE kind = 'areas'"))


BUILDINGS_SQL = sa.text("""
    WITH g AS (
        SELECT id, code, ST_XMin(geom) x0, ST_YMin(geom) y0, ST_XMax(geom) x1, ST_YMax(geom) y1,
               row_number() OVER (ORDER BY code) - 1 AS k, count(*) OVER () AS m
          FROM areas WHERE level = 'grid' AND (NOT :synthetic OR note = 'seed scale')
    ), b AS (
        SELECT g.*, n, random() rx, random() ry, random() rf, random() rh
          FROM g, generate_series(1, :n / g.m + CASE WHEN g.k < :n % g.m THEN 1 ELSE 0 END) n
    ), ins AS (
        INSERT INTO buildings (name, address, floors, households, ebikes, grid_id, geom)
        SELECT '模拟楼' || code || '-' || n, NULL, f, f * (2 + (rh * 4)::int), (f * rh * 3)::int, id,
               ST_Multi(ST_MakeEnvelope(bx, by, bx + (x1 - x0) * 0.08, by + (y1 - y0) * 0.05, 4326))
          FROM (SELECT b.*, 2 + (rf * rf * 28)::int AS f,
                       x0 + rx * (x1 - x0) * 0.9 AS bx, y0 + ry * (y1 - y0) * 0.93 AS by FROM b) q
        RETURNING id
    )
    SELECT count(*), min(id), max(id) FROM ins
""")


def seed_buildings(n: int, seed: int) -> int:
    """``n`` synthetic buildings spread over the grids (the synthetic ones when present)."""
    done, prev = bulk.already_there("buildings", seed, n)
    if done:
        return 0
    if prev:
        db.session.execute(sa.text("DELETE FROM buildings WHERE id BETWEEN :a AND :b"),
                           {"a": prev.first_id, "b": prev.last_id})
    synthetic = bool(db.session.scalar(sa.text("SELECT count(*) FROM areas WHERE note = 'seed scale'")))
    index_driven()
    db.session.execute(sa.text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000.0})
    db.session.execute(sa.text("ALTER TABLE buildings DISABLE TRIGGER trg_buildings_assign_grid"))
    count, first, last = db.session.execute(BUILDINGS_SQL, {"n": n, "synthetic": synthetic}).one()
    db.session.execute(sa.text("ALTER TABLE buildings ENABLE TRIGGER trg_buildings_assign_grid"))
    bulk.record_run("buildings", seed, n, first, last)
    return count


def assign_grids(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The grid id of each point (-1 outside every grid), as ``wuwei_grid_of`` would choose it.

    One STRtree query over all points instead of a GiST probe per row: at a million points
    this is seconds instead of minutes, and the result is the same (exact polygon test; on a
    shared edge the lowest id wins).
    """
    import shapely
    rows = db.session.execute(sa.text(
        "SELECT id, ST_AsBinary(geom) FROM areas WHERE level = 'grid' ORDER BY id")).all()
    out = np.full(len(lon), -1, dtype=np.int64)
    if not rows:
        return out
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    tree = shapely.STRtree(shapely.from_wkb([bytes(r[1]) for r in rows]))
    pts, hit = tree.query(shapely.points(lon, lat), predicate="intersects")
    best = np.full(len(lon), len(ids), dtype=np.int64)
    np.minimum.at(best, pts, hit)
    found = best < len(ids)
    out[found] = ids[best[found]]
    return out
