"""Grid assignment of 1,000,000 points end to end, result stored: Wuwei's regrid beside the geopandas round trip.

The points lie in a scratch table made like the production spatial tables (``bench_grid_points``: primary
key, ``grid_id`` referring to areas, GiST index on ``geom``, index on ``grid_id``, the production row
trigger ``wuwei_assign_grid``), spread over the 5,000 synthetic grids of ``seed scale --grids 5000
--seed 1``: 1 in 100 lies exactly on a grid's western edge (shared with its neighbour where grids touch),
1 in 100 is pushed east out of its grid. Each run starts from the same table with every ``grid_id`` NULL,
vacuumed, and ends when the assignment is committed.

* **Wuwei**: ``wuwei_regrid_table(table, region)`` — what redrawing a grid runs on every spatial table
  (migration 0022): one UPDATE joining grids to the rows through the table's GiST index, lowest grid id
  on a shared edge, only changed rows written.
* **geopandas** (the fair fast way): ``read_postgis`` of the points and of the grids, ``sjoin`` with
  ``predicate="within"`` (lowest grid id kept where a point falls in two), the answers written back with
  COPY into a temporary table and one ``UPDATE … FROM`` join (the production trigger disabled for it:
  it would recompute every row itself).

Both results are compared point by point. ``within`` leaves a point on a grid's edge outside every grid;
Wuwei's rule (``ST_Intersects``, the same as ``wuwei_grid_of``) puts it in the lowest-id grid touching it.
So the mismatches are counted, and the ones that are edge points are counted apart; an ``intersects``
``sjoin`` with the same lowest-id rule is also compared (untimed).
"""

import io
import time

from sqlalchemy import text

from benchmarks.common import Result

N_POINTS = 1_000_000
N_GRIDS = 5_000
TABLE = "bench_grid_points"
REGION = "(SELECT ST_SetSRID(ST_Expand(ST_Extent(geom), 0.01)::geometry, 4326) FROM areas WHERE level = 'grid')"

MAKE = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (id bigint PRIMARY KEY, grid_id integer REFERENCES areas(id) ON DELETE SET NULL,
                      geom geometry(Point, 4326) NOT NULL);
SELECT setseed(0.15);
WITH g AS (SELECT row_number() OVER (ORDER BY id) AS k, ST_XMin(geom) x0, ST_YMin(geom) y0, ST_XMax(geom) x1,
                  ST_YMax(geom) y1 FROM areas WHERE level = 'grid'),
     p AS (SELECT i, 1 + floor(random() * (SELECT count(*) FROM g))::int AS k, random() rx, random() ry
           FROM generate_series(1, {N_POINTS}) i)
INSERT INTO {TABLE} (id, geom)
SELECT p.i, ST_SetSRID(ST_MakePoint(CASE p.i % 100 WHEN 0 THEN g.x0 WHEN 1 THEN g.x1 + (g.x1 - g.x0) * 0.3
                                                    ELSE g.x0 + p.rx * (g.x1 - g.x0) END,
                                    g.y0 + p.ry * (g.y1 - g.y0)), 4326)
FROM p JOIN g USING (k);
CREATE INDEX ix_{TABLE}_geom ON {TABLE} USING gist (geom);
CREATE INDEX ix_{TABLE}_grid_id ON {TABLE} (grid_id);
CREATE TRIGGER trg_{TABLE}_assign_grid BEFORE INSERT OR UPDATE OF geom, grid_id ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION wuwei_assign_grid();
"""
RESET = f"""
ALTER TABLE {TABLE} DISABLE TRIGGER trg_{TABLE}_assign_grid;
UPDATE {TABLE} SET grid_id = NULL WHERE grid_id IS NOT NULL;
ALTER TABLE {TABLE} ENABLE TRIGGER trg_{TABLE}_assign_grid;
"""


def _autocommit(engine, sql: str) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(sql))


def _fresh(engine) -> None:
    """Every grid_id NULL, dead rows gone, statistics fresh: the same start for each run."""
    with engine.begin() as c:
        c.execute(text(RESET))
    _autocommit(engine, f"VACUUM (ANALYZE) {TABLE}")


# The spatial join of wuwei_regrid_table alone (migration 0022), without writing.
JOIN_ONLY = f"""
SELECT count(gid) FROM (
    SELECT p.id, min(a.id) AS gid
    FROM areas a CROSS JOIN LATERAL (
        SELECT p.id FROM {TABLE} p
        WHERE p.geom && a.geom AND ST_Intersects(a.geom, ST_PointOnSurface(p.geom))
        OFFSET 0) p
    WHERE a.level = 'grid'
    GROUP BY p.id) h
"""
# wuwei_regrid's statement before migration 0022: wuwei_grid_of twice per row, and the row trigger a third time.
BEFORE_0022 = f"""
UPDATE {TABLE} SET grid_id = wuwei_grid_of(geom)
WHERE geom && {REGION} AND ST_Intersects(geom, {REGION}) AND grid_id IS DISTINCT FROM wuwei_grid_of(geom)
"""


def _timed_commit(engine, sql: str) -> float:
    t0 = time.perf_counter()
    with engine.begin() as c:
        c.execute(text(sql))
    return time.perf_counter() - t0


def _wuwei(engine) -> tuple[float, float, float]:
    """(regrid now, the same regrid before 0022, the spatial join alone without writing)."""
    _fresh(engine)
    join_only = _timed_commit(engine, JOIN_ONLY)
    took = _timed_commit(engine, f"SELECT wuwei_regrid_table('{TABLE}', {REGION})")
    with engine.begin() as c:
        c.execute(
            text(f"DROP TABLE IF EXISTS {TABLE}_wuwei; CREATE TABLE {TABLE}_wuwei AS SELECT id, grid_id FROM {TABLE}")
        )
    _fresh(engine)
    before = _timed_commit(engine, BEFORE_0022)
    return took, before, join_only


def _assign(points, grids, predicate: str):
    """grid id per point id (lowest grid id where a point falls in several; NA outside every grid)."""
    import geopandas as gpd

    joined = gpd.sjoin(points, grids, how="left", predicate=predicate)
    return joined.groupby("id")["grid"].min()


def _copy(conn, table: str, series) -> None:
    buf = io.StringIO()
    series.astype("Int64").reset_index().to_csv(buf, header=False, index=False)  # NA: outside every grid
    buf.seek(0)
    conn.connection.cursor().copy_expert(f"COPY {table} (id, grid_id) FROM STDIN WITH CSV", buf)


def _geopandas(engine) -> tuple[float, dict, object]:
    import geopandas as gpd

    _fresh(engine)
    phases = {}
    t0 = time.perf_counter()
    with engine.connect() as c:
        points = gpd.read_postgis(f"SELECT id, geom FROM {TABLE}", c, geom_col="geom")
        grids = gpd.read_postgis("SELECT id AS grid, geom FROM areas WHERE level = 'grid'", c, geom_col="geom")
    phases["read"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    answer = _assign(points, grids, "within")
    phases["sjoin"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    with engine.begin() as c:
        c.execute(text("CREATE TEMP TABLE gp_answer (id bigint PRIMARY KEY, grid_id integer) ON COMMIT DROP"))
        _copy(c, "gp_answer", answer)
        phases["copy"] = time.perf_counter() - t2
        c.execute(text(f"ALTER TABLE {TABLE} DISABLE TRIGGER trg_{TABLE}_assign_grid"))
        c.execute(
            text(
                f"UPDATE {TABLE} t SET grid_id = a.grid_id FROM gp_answer a "
                "WHERE a.id = t.id AND t.grid_id IS DISTINCT FROM a.grid_id"
            )
        )
        c.execute(text(f"ALTER TABLE {TABLE} ENABLE TRIGGER trg_{TABLE}_assign_grid"))
    phases["update"] = time.perf_counter() - t2 - phases["copy"]
    took = time.perf_counter() - t0
    return took, phases, (points, grids)


def _compare(engine, frames) -> dict:
    """Mismatches of the geopandas result against Wuwei's, the edge points among them, and the
    mismatches of an ``intersects`` sjoin with the lowest-id rule (untimed)."""
    import pandas as pd

    with engine.connect() as c:
        row = c.execute(
            text(f"""
            SELECT count(*) FILTER (WHERE w.grid_id IS DISTINCT FROM g.grid_id),
                   count(*) FILTER (WHERE w.grid_id IS DISTINCT FROM g.grid_id AND EXISTS (
                       SELECT 1 FROM areas a WHERE a.level = 'grid' AND a.geom && g.geom
                       AND ST_Intersects(ST_Boundary(a.geom), g.geom))),
                   count(*) FILTER (WHERE w.grid_id IS NULL)
            FROM {TABLE}_wuwei w JOIN {TABLE} g USING (id)""")
        ).one()
        wuwei = dict(c.execute(text(f"SELECT id, grid_id FROM {TABLE}_wuwei")).all())
    inter = _assign(*frames, "intersects")
    mism = sum(
        1 for pid, gid in inter.astype("Int64").items() if (None if gid is pd.NA else int(gid)) != wuwei.get(pid)
    )
    return {"within": row[0], "within_edge": row[1], "outside": row[2], "intersects": mism}


def run(ctx):
    from app.core.extensions import db
    from app.seed.scale import seed_scale

    with ctx.app.app_context():
        seed_scale(grids=N_GRIDS, seed=1, log=lambda *_: None)
        engine = db.engine
        grids = db.session.scalar(text("SELECT count(*) FROM areas WHERE level = 'grid'"))
        db.session.commit()
        with engine.begin() as c:
            c.execute(text(MAKE))
        try:
            wuwei, before, join_only = _wuwei(engine)
            gp, phases, frames = _geopandas(engine)
            m = _compare(engine, frames)
        finally:
            _autocommit(engine, f"DROP TABLE IF EXISTS {TABLE}; DROP TABLE IF EXISTS {TABLE}_wuwei")
    split = ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())
    gp_compute = phases["read"] + phases["sjoin"] + phases["copy"]
    return [
        Result(
            f"assign {N_POINTS:,} points to {grids:,} grids, stored (wuwei_regrid_table)",
            wuwei,
            "s",
            "geopandas round trip (read_postgis, sjoin within, COPY + UPDATE join)",
            gp,
            f"geopandas: {split}; {m['outside']:,} points outside every grid (NULL in both)",
        ),
        Result(
            "the same, Wuwei's regrid statement before migration 0022",
            wuwei,
            "s",
            "wuwei_grid_of per row (twice, and the row trigger a third time)",
            before,
            "the row trigger recomputes grid_id on every row the UPDATE writes",
        ),
        Result(
            "the assignment without writing it: Wuwei's spatial join (SELECT)",
            join_only,
            "s",
            "geopandas read_postgis + sjoin + COPY of the answers",
            gp_compute,
            "what is left of both end-to-end times is the UPDATE of the table's rows (geopandas' update phase)",
        ),
        Result(
            "points assigned differently by geopandas (sjoin within)",
            m["within"],
            "points",
            "",
            None,
            f"{m['within_edge']:,} of them lie on a grid's edge: within puts them in no grid, Wuwei in the "
            f"lowest-id grid touching them; an intersects sjoin keeping the lowest grid id differs on "
            f"{m['intersects']:,} points",
        ),
    ]
