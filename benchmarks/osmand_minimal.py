"""The baseline for the ingest benchmark: a minimal OsmAnd endpoint, a few lines of Flask + psycopg2.

It does what Wuwei's ``/track/osmand`` must do at the least — look the device up (cached), insert
one row ignoring resends — with no validation, no patrol link, no error envelope. Served by the
same gunicorn settings as Wuwei (``benchmarks/bench_patrols.py``): ``osmand_minimal:app``.
"""

import datetime as dt
import os

import psycopg2
from flask import Flask, request

app = Flask(__name__)
_conn = None
_devices: dict = {}


def conn():
    global _conn
    if _conn is None:
        _conn = psycopg2.connect(os.environ["DATABASE_URL"])
        _conn.autocommit = True
    return _conn


@app.route("/", methods=["GET", "POST"])
def osmand():
    a = request.values
    ident = a.get("id")
    cur = conn().cursor()
    if ident not in _devices:
        cur.execute("SELECT id, user_id FROM devices WHERE identifier = %s", (ident,))
        _devices[ident] = cur.fetchone()
    dev = _devices[ident]
    if dev is None:
        return "unknown device", 400
    cur.execute(
        "INSERT INTO positions (device_id, user_id, fixed_at, geom, accuracy, source) VALUES "
        "(%s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s, 'osmand') ON CONFLICT DO NOTHING",
        (
            dev[0],
            dev[1],
            dt.datetime.fromtimestamp(float(a["timestamp"]), dt.UTC),
            float(a["lon"]),
            float(a["lat"]),
            a.get("accuracy"),
        ),
    )
    return ""
