"""Protocols: OGC API - Features pages of 1,000 buildings under gunicorn with 4 concurrent clients,
beside a minimal Flask app (benchmarks/minimal_ogc_app.py) passing the same PostgreSQL-built JSON
through; vector tiles through the app beside the bare ``ST_AsMVT`` SQL. Data: the demo plus
100,000 synthetic buildings (benchmarks/protocols_data.py) in the bench database."""
import json
import math
import threading
import time

import requests
from sqlalchemy import event, text

from benchmarks.common import Result, Server, timings
from benchmarks.protocols_data import ensure_buildings

N_BUILDINGS = 100_000
CLIENTS = 4
SECONDS = 8
CENTER = (103.83, 36.05)
PAGE = "/ogcapi/collections/buildings/items?limit=1000"
LATER_PAGE = PAGE + "&offset=5000"

BARE_TILE = text("""
    SELECT ST_AsMVT(tile, 'buildings', 4096, 'geom', 'id') FROM (
      SELECT id, ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(:z, :x, :y), 4096, 64, true) AS geom,
             name, address, floors
      FROM buildings WHERE geom && ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326) LIMIT 5000) AS tile
    WHERE geom IS NOT NULL""")


def tile_of(lon, lat, z):
    n = 2 ** z
    return z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


class _Client:
    """The app's test client inside the benchmark's app context, which every request shares: drop
    Flask-Login's cached user before each request, or a request would run as the previous user."""

    def __init__(self, app):
        self._client = app.test_client()

    def get(self, url, headers):
        from flask import g
        g.pop("_login_user", None)
        return self._client.get(url, headers=headers)


def _capture_sql(app, client, url, headers) -> dict:
    """The page and count SQL the app runs for ``url``, with parameters filled in."""
    from app.core.extensions import db
    seen = []

    def listen(conn, cursor, statement, params, context, executemany):
        seen.append(cursor.mogrify(statement, params).decode())
    engine = db.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        assert client.get(url, headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return {"setup": [s for s in seen if s.startswith("SET LOCAL")], "all": seen,  # "all": for tiles
            "page": next((s for s in seen if "json_agg" in s), None),
            "count": next((s for s in seen if "count(*)" in s and "buildings" in s and "json_agg" not in s), None)}


def _for_peer(captured: dict) -> str:
    """What the minimal app runs: the session settings, the page and the count."""
    return json.dumps({k: captured[k] for k in ("setup", "page", "count")})


def _throughput(url: str, headers: dict) -> tuple[float, int]:
    """Requests per second with CLIENTS threads for SECONDS, and the response size."""
    done, sizes, stop = [0] * CLIENTS, [0], time.perf_counter() + 1.0

    def client(i, until):
        s = requests.Session()
        while time.perf_counter() < until:
            r = s.get(url, headers=headers)
            r.raise_for_status()
            sizes[0] = len(r.content)
            done[i] += 1
    warm = [threading.Thread(target=client, args=(i, stop)) for i in range(CLIENTS)]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    done = [0] * CLIENTS
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i, t0 + SECONDS)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - t0), sizes[0]


def _run_bare(db, statements):
    for statement in statements:
        result = db.session.execute(statement)
    data = result.scalar()
    db.session.rollback()
    return data


def _bare_tile(db, z, x, y, parallel_off=True):
    if parallel_off:
        db.session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        db.session.execute(text("SET LOCAL jit = off"))
    data = db.session.execute(BARE_TILE, dict(z=z, x=x, y=y)).scalar()
    db.session.rollback()
    return bytes(data or b"")


def run(ctx):
    app = ctx.app
    results = []
    with app.app_context():
        from app.auth.services import create_token, find_user
        from app.core.extensions import db
        if find_user("planner") is None:
            return []
        added = ensure_buildings(db.session, N_BUILDINGS)
        total = db.session.execute(text("SELECT count(*) FROM buildings")).scalar()
        # The admin sees everything: the figures measure the protocol code, not the area scope.
        # Most synthetic buildings lie outside the 16 demo grids, so for an area-scoped user every
        # row falls back to ST_Intersects with the area polygon; that cost is reported separately.
        _, token = create_token("admin", "bench-protocols")
        headers = {"Authorization": f"Bearer {token}"}
        _, planner_token = create_token("planner", "bench-protocols")
        planner = {"Authorization": f"Bearer {planner_token}"}
        client = _Client(app)
        sql_first = _capture_sql(app, client, PAGE, headers)
        sql_later = _capture_sql(app, client, LATER_PAGE, headers)
        sql_scoped = _capture_sql(app, client, PAGE, planner)

        # Tiles, in process: the app's tile endpoint beside the bare SQL on the same connection pool.
        for z in (14, 15):
            zxy = tile_of(*CENTER, z)
            url = "/tiles/buildings/{}/{}/{}.mvt".format(*zxy)
            resp = client.get(url, headers=headers)
            assert resp.status_code == 200, resp.status_code
            via_app = timings(lambda: client.get(url, headers=headers), repeat=30)
            captured = _capture_sql(app, client, url, headers)
            tile_sql = [text(q.replace(":", r"\:")) for q in captured["setup"]] + \
                [text(next(q for q in captured["all"] if "ST_AsMVT(" in q).replace(":", r"\:"))]
            bare = timings(lambda: _run_bare(db, tile_sql), repeat=30)
            if z == 14:
                bare_z14 = bare
            results.append(Result(f"buildings tile z{z} through the app (p50)", via_app["p50"], "ms",
                                  "the same SQL run bare p50", bare["p50"],
                                  f"{len(resp.data):,} bytes; {total:,} buildings in the table"))
        zxy = tile_of(*CENTER, 14)
        url = "/tiles/buildings/{}/{}/{}.mvt".format(*zxy)
        scoped = timings(lambda: client.get(url, headers=planner), repeat=20)
        results.append(Result("buildings tile z14 for an area-scoped planner (p50)", scoped["p50"], "ms",
                              "admin's SQL run bare p50", bare_z14["p50"],
                              "rows outside every grid are matched to the user's area with ST_Intersects"))
        parallel = timings(lambda: _bare_tile(db, *zxy, parallel_off=False), repeat=20)
        serial = timings(lambda: _bare_tile(db, *zxy), repeat=20)
        results.append(Result("bare z14 tile SQL, default (parallel) plan (p50)", parallel["p50"], "ms",
                              "with SET LOCAL max_parallel_workers_per_gather = 0, jit = off", serial["p50"],
                              "why the tile service turns parallel plans off"))
        z12 = tile_of(*CENTER, 12)
        url12 = "/tiles/buildings/{}/{}/{}.mvt".format(*z12)
        assert client.get(url12, headers=headers).status_code == 204
        app12 = timings(lambda: client.get(url12, headers=headers), repeat=20)
        bare12 = timings(lambda: _bare_tile(db, *z12), repeat=10)
        size12 = len(_bare_tile(db, *z12))
        results.append(Result("buildings tile z12 through the app (p50)", app12["p50"], "ms",
                              "bare SQL of every building in the z12 tile", bare12["p50"],
                              f"the app answers 204 below the layer's min zoom 14; the bare tile would be "
                              f"{size12 / 1024:,.0f} KB (capped at 5,000 features)"))
        z12g = tile_of(*CENTER, 12)
        urlg = "/tiles/grids/{}/{}/{}.mvt".format(*z12g)
        appg = timings(lambda: client.get(urlg, headers=headers), repeat=30)
        results.append(Result("grids tile z12 through the app (p50)", appg["p50"], "ms", "", None,
                              f"{len(client.get(urlg, headers=headers).data):,} bytes; demo grids"))
        db.session.remove()

    env = {"DATABASE_URL": ctx.url, "RATELIMIT_ENABLED": "0", "LOG_LEVEL": "WARNING"}
    with Server("app:create_app()", env, workers=2, threads=2) as s:
        app_first, size = _throughput(s.base + PAGE, headers)
        app_later, _ = _throughput(s.base + LATER_PAGE, headers)
    with Server("benchmarks.minimal_ogc_app:app", {**env, "WUWEI_BENCH_SQL": _for_peer(sql_first)},
                workers=2, threads=2) as s:
        bare_first, bare_size = _throughput(s.base + "/items", {})
    with Server("benchmarks.minimal_ogc_app:app", {**env, "WUWEI_BENCH_SQL": _for_peer(sql_later)},
                workers=2, threads=2) as s:
        bare_later, _ = _throughput(s.base + "/items", {})
    with Server("app:create_app()", env, workers=2, threads=2) as s:
        app_scoped, _ = _throughput(s.base + PAGE, planner)
    with Server("benchmarks.minimal_ogc_app:app", {**env, "WUWEI_BENCH_SQL": _for_peer(sql_scoped)},
                workers=2, threads=2) as s:
        bare_scoped, _ = _throughput(s.base + "/items", {})
    note = (f"{CLIENTS} clients, gunicorn 2 workers × 2 threads; {size:,} bytes per page "
            f"(minimal app {bare_size:,}); {added:,} buildings generated this run")
    results.insert(0, Result("OGC items, first page of 1,000 buildings (with count)", app_first, "req/s",
                             "minimal Flask, same SQL", bare_first, note, higher_is_better=True))
    results.insert(1, Result("OGC items, page at offset 5,000 (no count)", app_later, "req/s",
                             "minimal Flask, same SQL", bare_later, "", higher_is_better=True))
    results.insert(2, Result("OGC items, first page, area-scoped planner", app_scoped, "req/s",
                             "minimal Flask, same SQL", bare_scoped,
                             "synthetic rows outside the demo grids need ST_Intersects with the area polygon",
                             higher_is_better=True))
    return results
