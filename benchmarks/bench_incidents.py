"""Incidents over 1,000,000 synthetic rows: filtered list pages through Flask beside the bare SQL of the
same page, the map overlay for a community-sized bbox, and an Open311 ``requests.json`` page."""

import time

from sqlalchemy import text

from benchmarks.common import Result, timings
from benchmarks.incidents_synth import ensure_incidents

N = 1_000_000

BARE_LIST = text("""
    SELECT coalesce(json_agg(f), '[]'::json) FROM (
      SELECT json_build_object('type', 'Feature', 'id', i.id, 'geometry', ST_AsGeoJSON(i.geom, 7)::json,
             'properties', json_build_object('state', i.state, 'category', c.code, 'reported_at', i.reported_at,
                                             'grid_code', g.code)) AS f
      FROM incidents i JOIN incident_categories c ON c.id = i.category_id LEFT JOIN areas g ON g.id = i.grid_id
      WHERE i.state IN ('dispatched', 'in_progress') AND c.code LIKE 'bikes%'
      ORDER BY i.reported_at DESC LIMIT 50) t""")
BARE_OVERDUE = text("""
    SELECT coalesce(json_agg(f), '[]'::json) FROM (
      SELECT json_build_object('id', i.id, 'state', i.state, 'reported_at', i.reported_at) AS f
      FROM incidents i JOIN incident_categories c ON c.id = i.category_id
      WHERE i.state IN ('reported', 'filed', 'dispatched', 'in_progress', 'responded', 'consultation')
        AND i.state_changed_at + make_interval(secs => coalesce((c.deadlines ->> i.state)::float, 24) * 3600) < now()
      ORDER BY i.reported_at DESC LIMIT 50) t""")
BARE_OPEN311 = text("""
    SELECT json_agg(json_build_object('service_request_id', i.id, 'status', i.state, 'service_code', c.code,
                    'description', i.description, 'requested_datetime', i.reported_at,
                    'lat', ST_Y(i.geom), 'long', ST_X(i.geom)))
    FROM (SELECT * FROM incidents WHERE reported_at >= now() - interval '90 days'
          ORDER BY reported_at DESC, id DESC LIMIT 1000) i JOIN incident_categories c ON c.id = i.category_id""")


def run(ctx):
    t0 = time.perf_counter()
    added = ensure_incidents(ctx.url, N)
    load_s = time.perf_counter() - t0
    app = ctx.app
    with app.app_context():
        from app.auth.services import create_token, find_user
        from app.core.extensions import db

        if find_user("planner") is None:
            return []
        total = db.session.execute(text("SELECT count(*) FROM incidents")).scalar()
        _, token = create_token("planner", "bench")
        headers = {"Authorization": f"Bearer {token}"}
        client = app.test_client()

        def get(url):
            r = client.get(url, headers=headers)
            assert r.status_code == 200, (url, r.status_code, r.data[:200])
            return r

        results = []
        cases = [
            (
                "list: state+category filter, 50 rows",
                "/api/v1/incidents?state=dispatched,in_progress&category=bikes&limit=50",
                BARE_LIST,
            ),
            ("list: overdue, 50 rows", "/api/v1/incidents?overdue=true&limit=50", BARE_OVERDUE),
        ]
        for name, url, bare_sql in cases:
            api = timings(lambda url=url: get(url), repeat=20)
            bare = timings(lambda sql=bare_sql: db.session.execute(sql).scalar(), repeat=20)
            results.append(
                Result(
                    f"{name} (p50)",
                    api["p50"],
                    "ms",
                    "bare SQL p50",
                    bare["p50"],
                    f"{total:,} incidents; planner scope (whole city); no count (?count=true asks for one)",
                )
            )
            results.append(Result(f"{name} (p95)", api["p95"], "ms", "bare SQL p95", bare["p95"]))
        bbox = "/api/v1/incidents?bbox=103.779,36.043,103.791,36.053&limit=500&count=0&open=true"
        api = timings(lambda: get(bbox), repeat=20)
        bare = timings(
            lambda: db.session.execute(
                text(
                    "SELECT json_agg(id) FROM (SELECT id FROM incidents WHERE geom && ST_MakeEnvelope(103.779, 36.043, "
                    "103.791, 36.053, 4326) AND state IN ('reported','filed','dispatched','in_progress','responded',"
                    "'consultation') ORDER BY reported_at DESC LIMIT 500) t"
                )
            ).scalar(),
            repeat=20,
        )
        size = len(get(bbox).data)
        results.append(
            Result(
                "map overlay: community bbox, 500 open (p50)",
                api["p50"],
                "ms",
                "bare SQL p50",
                bare["p50"],
                f"{size:,} bytes",
            )
        )
        o311 = "/open311/v2/requests.json"
        api = timings(lambda: client.get(o311), repeat=15)
        bare = timings(lambda: db.session.execute(BARE_OPEN311).scalar(), repeat=15)
        size = len(client.get(o311).data)
        results.append(
            Result(
                "Open311 requests.json, 1000 rows (p50)",
                api["p50"],
                "ms",
                "bare SQL p50",
                bare["p50"],
                f"{size:,} bytes; default 90-day window",
            )
        )
        results.append(Result("Open311 requests.json, 1000 rows (p95)", api["p95"], "ms", "bare SQL p95", bare["p95"]))
        if added:
            results.append(Result("synthetic load (COPY + grid join)", load_s, "s", note=f"{added:,} rows added"))
    return results
