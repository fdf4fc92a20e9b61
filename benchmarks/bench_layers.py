"""Layer API (``/api/v1/<layer>``) on the bench database's buildings (demo + synthetic, ~200,000).

Each request goes through Flask (bearer token, parsing, area scope, JSON built in SQL) and is
timed beside the *same statements* replayed bare on a raw connection in the same run.
"""

from benchmarks.common import Capture, Result, replay_bare, timings

# The map's typical request: one screen around Zhangjiayuan at zoom 15.
SCREEN = "103.8230,36.0425,103.8530,36.0555"


def run(ctx):
    app = ctx.app
    results = []
    with app.app_context():
        from app.auth.services import create_token, find_user
        from app.core.extensions import db

        if find_user("planner") is None:
            return []
        _, token = create_token("planner", "bench")
        headers = {"Authorization": f"Bearer {token}"}
        client = app.test_client()
        total = db.session.execute(db.text("SELECT count(*) FROM buildings")).scalar()
        for name, url in (
            ("buildings, first page of 1,000 (with count)", "/api/v1/buildings?limit=1000"),
            ("buildings, one map screen (bbox)", f"/api/v1/buildings?bbox={SCREEN}&limit=5000"),
            ("chargers, one map screen (bbox)", f"/api/v1/chargers?bbox={SCREEN}&limit=5000"),
        ):
            resp = client.get(url, headers=headers)
            assert resp.status_code == 200, resp.data[:300]
            with Capture(db.engine) as cap:
                client.get(url, headers=headers)
            app_t = timings(lambda url=url: client.get(url, headers=headers), repeat=20)
            bare_t = timings(lambda: replay_bare(db.engine, cap.statements), repeat=20)
            results.append(
                Result(
                    f"{name} (p50)",
                    app_t["p50"],
                    "ms",
                    "same SQL bare p50",
                    bare_t["p50"],
                    f"{len(resp.data):,} bytes; {len(cap.statements)} statements; "
                    f"{total:,} buildings; planner (whole city)",
                )
            )
    return results
