"""Layer API: a page of 1,000 buildings as GeoJSON, through Flask, beside the same SQL run bare."""
from sqlalchemy import text

from benchmarks.common import Result, timings


def run(ctx):
    app = ctx.app
    with app.app_context():
        from app.auth.services import create_token, find_user
        from app.extensions import db
        if find_user("planner") is None:
            return []
        _, token = create_token("planner", "bench")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        url = "/api/v1/buildings?limit=1000"
        api = timings(lambda: client.get(url, headers=headers), repeat=30)
        sql = text("SELECT json_agg(json_build_object('type','Feature','id',id,"
                   "'geometry',ST_AsGeoJSON(geom,7)::json,'properties',json_build_object('name',name)))"
                   " FROM (SELECT * FROM buildings ORDER BY id LIMIT 1000) t")
        bare = timings(lambda: db.session.execute(sql).scalar(), repeat=30)
        size = len(client.get(url, headers=headers).data)
    return [Result("buildings page (p50)", api["p50"], "ms", "bare SQL p50", bare["p50"],
                   f"{size:,} bytes; demo data"),
            Result("buildings page (p95)", api["p95"], "ms", "bare SQL p95", bare["p95"])]
