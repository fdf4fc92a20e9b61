"""Heat maps and the dashboard on a synthetic district (5,000 grids, 100,000 buildings, 1,000,000 incidents).

Each request is timed through Flask (bearer token, parsing, scope, SQL, JSON) beside the *same SQL*
replayed bare on a psycopg2 connection in the same run: every statement the request sent
(captured with a SQLAlchemy event) is executed again without Flask. Goal: app ≤ 1.5× bare SQL.
Each request runs in its own application context, as under a server (token lookup, session and
transaction per request); app and bare runs alternate, so that both see the same machine load.
Payload bytes are what the browser downloads for one view. The data come from
``seed scale --grids 5000 --buildings 100000 --incidents 1000000 --seed 1`` (made once, then reused).
"""

import datetime as dt
import os
import time

from benchmarks.common import Capture, Result, paired_timings, replay_bare

GRIDS = int(os.environ.get("WUWEI_BENCH_GRIDS", "5000"))
BUILDINGS = int(os.environ.get("WUWEI_BENCH_BUILDINGS", "100_000"))
INCIDENTS = int(os.environ.get("WUWEI_BENCH_INCIDENTS", "1_000_000"))
REPEAT = int(os.environ.get("WUWEI_BENCH_REPEAT", "15"))

# One screen (≈1400×800 px) at each zoom, centred on the Zhangjiayuan community (a demo street: few
# incidents of its own) or on the busiest synthetic grid (≈30 incidents a month, 2,000 in its street).
CENTRE = (103.838, 36.049)
BUSY = (103.921, 36.031)
BUSY_STREET = "620102120"
VIEWS = {12: (0.24, 0.10), 14: (0.060, 0.026), 15: (0.030, 0.013), 16: (0.015, 0.0065)}


def bbox(zoom: int, centre=CENTRE) -> str:
    w, h = VIEWS[zoom]
    return f"{centre[0] - w / 2:.5f},{centre[1] - h / 2:.5f},{centre[0] + w / 2:.5f},{centre[1] + h / 2:.5f}"


def run(ctx):
    app = ctx.app
    results = []
    with app.app_context():
        from app.auth.services import create_token, find_user
        from app.core.extensions import db
        from app.seed.scale import PHASES, seed_scale

        if find_user("leader") is None:
            return []
        t0 = time.perf_counter()
        made = seed_scale(grids=GRIDS, buildings=BUILDINGS, incidents=INCIDENTS, seed=1, log=print)
        seeded = time.perf_counter() - t0
        _, token = create_token("leader", "bench")
        db.session.commit()
        headers = {"Authorization": f"Bearer {token}"}
        client = app.test_client()
        engine = db.engine
        counts = db.session.execute(
            db.text(
                "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM areas WHERE level = 'grid'), "
                "(SELECT count(*) FROM buildings)"
            )
        ).one()
        data_note = f"{counts[0]:,} incidents, {counts[1]:,} grids, {counts[2]:,} buildings"
        if made.get("incidents"):
            results.append(
                Result(
                    "seed scale: 1M incidents (COPY, indexes rebuilt)",
                    PHASES and sum(PHASES.values()),
                    "s",
                    "",
                    None,
                    ", ".join(f"{k} {v:.1f} s" for k, v in PHASES.items()),
                )
            )
        db.session.remove()

    # Requests run with no application context held open, as under a server: each one gets its own
    # session, looks its bearer token up and ends its transaction (those statements are captured
    # and replayed bare too).
    def measure(name, url):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, (url, resp.status_code, resp.data[:300])
        with Capture(engine) as cap:
            client.get(url, headers=headers)
        statements = cap.statements
        # A view answered in milliseconds is timed more often: its p50 is otherwise mostly noise.
        t0 = time.perf_counter()
        replay_bare(engine, statements)
        repeat = REPEAT * 4 if time.perf_counter() - t0 < 0.05 else REPEAT
        app_t, bare_t = paired_timings(
            lambda: client.get(url, headers=headers), lambda: replay_bare(engine, statements), repeat=repeat, warmup=2
        )
        results.append(
            Result(
                f"{name} (p50)",
                app_t["p50"],
                "ms",
                "same SQL bare p50",
                bare_t["p50"],
                f"{len(resp.data):,} bytes; {len(statements)} statements",
            )
        )
        return resp

    for zoom in (12, 14, 16):
        measure(f"heat squares z{zoom}, last 30 days", f"/api/v1/heat/cells?bbox={bbox(zoom)}&zoom={zoom}")
    measure(
        "heat squares z16, last 30 days, busiest grid's screen", f"/api/v1/heat/cells?bbox={bbox(16, BUSY)}&zoom=16"
    )
    measure("heat hexagons z14, last 30 days", f"/api/v1/heat/cells?bbox={bbox(14)}&zoom=14&shape=hexagon")
    measure(
        "heat squares z14, one category, 90 days",
        f"/api/v1/heat/cells?bbox={bbox(14)}&zoom=14&category=env.litter"
        f"&from={dt.date.today() - dt.timedelta(days=89)}",
    )
    measure("choropleth grids z15", f"/api/v1/heat/areas?bbox={bbox(15)}&zoom=15")
    measure("choropleth streets z12", f"/api/v1/heat/areas?bbox={bbox(12)}&zoom=12")
    measure("dashboard: a demo street's communities (few incidents), 30 days", "/dashboard?area=620102005")
    measure(
        "dashboard: a synthetic street's communities (~2,000 incidents a month), 30 days",
        f"/dashboard?area={BUSY_STREET}",
    )
    measure("dashboard: whole city (all streets), 30 days", "/dashboard?area=6201")
    page = client.get("/heat", headers=headers)
    results.append(
        Result("heat page HTML", len(page.data) / 1024, "KB", "", None, "the page carries no data; bins come per view")
    )
    if made.get("incidents") or made.get("grids"):
        results.append(Result("seed scale total (this run)", seeded, "s", "", None, data_note))
    first = next((r for r in results if "statements" in r.note), None)
    if first is not None:
        first.note += f"; {data_note}"
    return results
