"""The baseline peer of the OGC items benchmark: a minimal Flask app that runs the SQL the
Wuwei app runs for the same page (captured by the benchmark, in ``WUWEI_BENCH_SQL``) and
passes the JSON PostgreSQL built through, with no auth, scope parsing or link building.

Run by gunicorn as ``benchmarks.minimal_ogc_app:app``.
"""
import json
import os

import psycopg2.pool
from flask import Flask, Response

app = Flask(__name__)
_pool = psycopg2.pool.ThreadedConnectionPool(1, 8, os.environ["DATABASE_URL"])
_SQL = json.loads(os.environ["WUWEI_BENCH_SQL"])   # {"setup": [...], "page": SQL, "count": SQL or null}


@app.get("/items")
def items():
    conn = _pool.getconn()
    try:
        with conn.cursor() as cur:
            for statement in _SQL["setup"]:
                cur.execute(statement)
            cur.execute(_SQL["page"])
            features, returned = cur.fetchone()
            matched = returned
            if _SQL["count"]:
                cur.execute(_SQL["count"])
                matched = cur.fetchone()[0]
        conn.rollback()
    finally:
        _pool.putconn(conn)
    head = json.dumps({"type": "FeatureCollection", "numberMatched": matched, "numberReturned": returned})
    return Response(head[:-1] + ',"features":' + features + "}", mimetype="application/geo+json")
