"""Vector tiles of 100,000 buildings (``seed scale``) at z12–z16, each zoom's densest tile: the app
(bearer token, the layer's zoom plan, brotli as browsers ask for it, ETag) beside the bare
``ST_AsMVT`` statement a dedicated tile server (Martin, pg_tileserv) would run for the same content —
whole features with no cap at the detail zoom and above, counts per cell below it — timed alternately
in the same process, with the same planner settings. Each app tile is decoded and checked to hold
every building of its bbox (or, as cells, to count every building centred in it)."""
import brotli
import mapbox_vector_tile
from sqlalchemy import text

from benchmarks.common import Result, paired_timings
from benchmarks.protocols_data import densest_tile, ensure_scale

ZOOMS = (12, 13, 14, 15, 16)
W = 20037508.342789244
SETUP = "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off"
FEATURES = """
SELECT ST_AsMVT(tile, 'buildings', 4096, 'geom', 'id') FROM (
  SELECT t.id, ST_AsMVTGeom(ST_Transform(t.geom, 3857), ST_TileEnvelope(:z, :x, :y), 4096, 64, true) AS geom,
         t.name, t.address, t.floors, CASE WHEN t.households >= 5 THEN t.households END AS households,
         CASE WHEN t.ebikes >= 5 THEN t.ebikes END AS ebikes, t.compound_id
  FROM buildings t
  WHERE t.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y,
                    ST_MakeEnvelope(-20037508.342789244, -20037508.342789244, 20037508.342789244,
                                    20037508.342789244, 3857), 64.0 / 4096), 4326)) AS tile
WHERE geom IS NOT NULL"""
CELLS = """
SELECT ST_AsMVT(cells, 'buildings-cells', 4096, 'geom') FROM (
  SELECT ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(avg(cx), avg(cy)), 3857), ST_TileEnvelope(:z, :x, :y), 4096, 0, true)
           AS geom, count(*)::int AS count
  FROM (SELECT (ST_XMin(geom) + ST_XMax(geom)) / 2 * 20037508.342789244 / 180 AS cx,
               ln(tan(radians(45 + (ST_YMin(geom) + ST_YMax(geom)) / 4))) * 20037508.342789244 / pi() AS cy
        FROM buildings WHERE geom && ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326)) c
  WHERE floor((cx + 20037508.342789244) / :size) = :x AND floor((20037508.342789244 - cy) / :size) = :y
  GROUP BY floor((cx - :minx) / (:size / 32)), floor((:maxy - cy) / (:size / 32))) AS cells
WHERE geom IS NOT NULL"""


class _Client:
    """The app's test client sharing the benchmark's app context: Flask-Login's cached user is dropped
    before each request."""

    def __init__(self, app):
        self._client = app.test_client()

    def get(self, url, headers):
        from flask import g
        g.pop("_login_user", None)
        return self._client.get(url, headers=headers)


def _bare(db, sql, params):
    db.session.execute(text(SETUP))
    data = db.session.execute(text(sql), params).scalar()
    db.session.rollback()
    return bytes(data or b"")


def _check(db, mode, raw, z, x, y) -> str:
    """What the decoded tile holds against the database: nothing may be missing."""
    layers = mapbox_vector_tile.decode(raw)
    if mode == "features":
        have = {f["id"] for f in layers.get("buildings", {}).get("features", [])}
        want = set(db.session.execute(text("SELECT id FROM buildings WHERE geom && ST_Transform("
                                           "ST_TileEnvelope(:z, :x, :y), 4326)"), dict(z=z, x=x, y=y)).scalars())
        missing = len(want - have)
        return f"{len(have):,} buildings, {missing} of the tile's {len(want):,} missing"
    counted = sum(f["properties"]["count"] for f in layers.get("buildings-cells", {}).get("features", []))
    size = 2 * W / (1 << z)
    want = db.session.execute(text(
        "SELECT count(*) FROM (SELECT (ST_XMin(geom) + ST_XMax(geom)) / 2 * 20037508.342789244 / 180 AS cx, "
        "ln(tan(radians(45 + (ST_YMin(geom) + ST_YMax(geom)) / 4))) * 20037508.342789244 / pi() AS cy "
        "FROM buildings) c WHERE floor((cx + 20037508.342789244) / :s) = :x "
        "AND floor((20037508.342789244 - cy) / :s) = :y"), dict(s=size, x=x, y=y)).scalar()
    return f"{len(layers.get('buildings-cells', {}).get('features', [])):,} cells counting {counted:,} of {want:,} buildings"


def run(ctx):
    app = ctx.app
    results = []
    with app.app_context():
        from app.auth.services import create_token, find_user
        from app.core.extensions import db
        from app.tiles.sources import get_source
        if find_user("admin") is None:
            return []
        total = ensure_scale(app)
        _, token = create_token("admin", "bench-tiles")
        headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip, deflate, br"}
        plan = get_source("buildings").zoom_plan()
        client = _Client(app)
        for z in ZOOMS:
            _, x, y = densest_tile(db.session, z)
            url = f"/tiles/buildings/{z}/{x}/{y}.mvt"
            resp = client.get(url, headers=headers)
            assert resp.status_code == 200, (url, resp.status_code)
            raw = brotli.decompress(resp.data) if resp.headers.get("Content-Encoding") == "br" else resp.data
            mode = plan.mode(z)
            size = 2 * W / (1 << z)
            sql, params = (FEATURES, dict(z=z, x=x, y=y)) if mode == "features" else \
                (CELLS, dict(z=z, x=x, y=y, size=size, minx=-W + x * size, maxy=W - y * size))
            bare_bytes = _bare(db, sql, params)
            via_app, bare = paired_timings(lambda u=url: client.get(u, headers=headers),
                                           lambda s=sql, p=params: _bare(db, s, p), repeat=25)
            note = (f"{mode}: {_check(db, mode, raw, z, x, y)}; {len(raw) / 1024:,.0f} KB raw, "
                    f"{len(resp.data) / 1024:,.0f} KB br (bare statement {len(bare_bytes) / 1024:,.0f} KB)")
            results.append(Result(f"buildings tile z{z} (densest) through the app, p50", via_app["p50"], "ms",
                                  "bare ST_AsMVT statement p50", bare["p50"], note))
        results.append(Result("buildings zoom plan", plan.detail_zoom, "detail zoom", "", None,
                              f"{total:,} buildings; features from z{plan.detail_zoom}, cells z{plan.min_zoom}–"
                              f"z{plan.detail_zoom - 1}; densest tile per zoom {plan.densest}"))
        db.session.remove()
    return results

