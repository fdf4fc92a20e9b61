"""A quick probe for one change at a time: time a few views through Flask and count their statements.

``python -m benchmarks.probe [name ...]`` against ``DATABASE_URL`` (a ``seed scale`` database); prints
p50/p95 in ms, statement count and information_schema look-ups per request. Not part of ``make bench``:
it is how each step of issue 18 was measured before and after (docs/scaling.md).
"""

import os
import sys
import time

from benchmarks.common import Capture, timings

CITY = os.environ.get("WUWEI_PROBE_CITY", "6201")
Z14 = "103.80800,36.03600,103.86800,36.06200"
Z12 = "103.71800,35.99900,103.95800,36.09900"
VIEWS = {
    "dashboard_city": f"/dashboard?area={CITY}",
    "dashboard_street": "/dashboard?area=620102120",
    "heat_squares_z14": f"/api/v1/heat/cells?bbox={Z14}&zoom=14",
    "heat_hex_z14": f"/api/v1/heat/cells?bbox={Z14}&zoom=14&shape=hexagon",
    "heat_squares_z12": f"/api/v1/heat/cells?bbox={Z12}&zoom=12",
    "heat_hex_z12": f"/api/v1/heat/cells?bbox={Z12}&zoom=12&shape=hexagon",
    "tile_z14": "/tiles/buildings/14/12917/6431.mvt",
    "tile_z16": "/tiles/buildings/16/51671/25724.mvt",
    "tile_z15": "/tiles/buildings/15/25835/12862.mvt",
    "layer_buildings_5000": f"/api/v1/buildings?bbox={Z14}&limit=5000",
    "layer_buildings_5000_count": f"/api/v1/buildings?bbox={Z14}&limit=5000&count=true",
    "layer_buildings_100_count": f"/api/v1/buildings?bbox={Z12}&limit=100&count=true",
    "layer_buildings_100": f"/api/v1/buildings?bbox={Z12}&limit=100",
    "incidents_list": "/api/v1/incidents?state=dispatched&limit=50",
    "incidents_overlay": f"/api/v1/incidents?open=true&bbox={Z14}&limit=5000",
}
ROLE = {"incidents_list": "staff", "incidents_overlay": "staff"}  # as the load bench's incident desk


def main(argv):
    from app import create_app
    from app.auth.services import create_token
    from app.core.extensions import db

    app = create_app({"RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING"})
    repeat = int(os.environ.get("WUWEI_PROBE_REPEAT", "10"))
    with app.app_context():
        tokens = {u: create_token(u, "probe")[1] for u in ("leader", "staff")}
        db.session.commit()
        engine = db.engine
    client = app.test_client()
    for name, url in VIEWS.items():
        if argv and name not in argv:
            continue
        headers = {"Authorization": f"Bearer {tokens[ROLE.get(name, 'leader')]}"}
        r = client.get(url, headers=headers)
        with Capture(engine) as cap:
            client.get(url, headers=headers)
        info = sum("information_schema" in s for s, _ in cap.statements)
        t = timings(lambda u=url, h=headers: client.get(u, headers=h), repeat=repeat, warmup=1)
        print(
            f"{name:24} {r.status_code} p50 {t['p50']:8.1f} p95 {t['p95']:8.1f} ms  "
            f"{len(r.data):>9,} B  {len(cap.statements)} stmts  {info} information_schema",
            flush=True,
        )


if __name__ == "__main__":
    t0 = time.perf_counter()
    main(sys.argv[1:])
    print(f"probe: {time.perf_counter() - t0:.1f} s")
