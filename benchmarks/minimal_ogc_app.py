"""The baseline peer of the OGC benchmark: a minimal Flask app with hand-written SQL that builds the
same GeoJSON as Wuwei (the same public properties) in PostgreSQL and passes it through — no auth,
no area scope, no parameter checks, no links. What a thin layer over PostGIS can reach.

Run by gunicorn as ``benchmarks.minimal_ogc_app:app``:
``/page?offset=N`` (1,000 buildings by id), ``/bbox?bbox=a,b,c,d`` and ``/filter?bbox=a,b,c,d``
(floors >= 20 inside the box), each limited to 1,000.
"""
import os

import psycopg2.pool
from flask import Flask, Response, request

app = Flask(__name__)
_pool = psycopg2.pool.ThreadedConnectionPool(1, 8, os.environ["DATABASE_URL"])

_FEATURE = """concat('{"type":"Feature","id":', t.id, ',"geometry":', ST_AsGeoJSON(t.geom, 7), ',"properties":',
  json_build_object('name', t.name, 'address', t.address, 'floors', t.floors,
    'households', CASE WHEN t.households >= 5 THEN t.households END,
    'ebikes', CASE WHEN t.ebikes >= 5 THEN t.ebikes END, 'compound_id', t.compound_id,
    'compound', (SELECT c.name FROM compounds c WHERE c.id = t.compound_id),
    'grid_code', (SELECT g.code FROM areas g WHERE g.id = t.grid_id))::text, '}')"""
_PAGE = f"""SELECT '[' || coalesce(string_agg((SELECT {_FEATURE} FROM buildings t WHERE t.id = p.id), ','
                                   ORDER BY p.id), '') || ']', count(*)
            FROM (SELECT id FROM buildings ORDER BY id LIMIT 1000 OFFSET %s) p"""
_WHERE = "SELECT id FROM buildings WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) {extra} ORDER BY id LIMIT 1000"
_BOXED = """SELECT '[' || coalesce(string_agg((SELECT {feature} FROM buildings t WHERE t.id = p.id), ','
                                   ORDER BY p.id), '') || ']', count(*) FROM ({ids}) p"""


def _run(sql: str, params) -> Response:
    conn = _pool.getconn()
    try:
        with conn.cursor() as cur:
            cur.execute("SET max_parallel_workers_per_gather = 0")
            cur.execute(sql, params)
            features, returned = cur.fetchone()
        conn.rollback()
    finally:
        _pool.putconn(conn)
    head = f'{{"type":"FeatureCollection","numberReturned":{returned},"features":'
    return Response(head + features + "}", mimetype="application/geo+json")


@app.get("/page")
def page():
    return _run(_PAGE, (int(request.args.get("offset", 0)),))


def _bbox() -> list[float]:
    return [float(v) for v in request.args["bbox"].split(",")]


@app.get("/bbox")
def bbox():
    return _run(_BOXED.format(feature=_FEATURE, ids=_WHERE.format(extra="")), _bbox())


@app.get("/filter")
def filtered():
    ids = _WHERE.format(extra="AND floors >= 20 AND ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))")
    box = _bbox()
    return _run(_BOXED.format(feature=_FEATURE, ids=ids), box + box)
