"""Households: the overdue-visit list of one grid worker and the visits-due map overlay, on
20,000 synthetic households with weekly-to-monthly care plans and 200,000 visits.

Baseline: the bare due query (:func:`app.households.care.due_subquery`, compiled to SQL, filtered to
the same grids) through psycopg2, without access rules, audit entry, ORM loading or serialisation.
Synthetic rows (flat numbers starting ``bench-``) are removed afterwards.
"""

import datetime as dt

import psycopg2
from sqlalchemy import text

from benchmarks.common import Result, timings

HOUSEHOLDS = 20_000
VISITS_PER_HOUSEHOLD = 10


def _fill(db) -> None:
    db.session.execute(
        text("""
        INSERT INTO households (building_id, flat_no, head_name, grid_id)
        SELECT b.id, 'bench-' || g, '住户' || g, b.grid_id
        FROM generate_series(1, :n) g
        JOIN LATERAL (SELECT id, grid_id FROM buildings WHERE grid_id IS NOT NULL
                      ORDER BY id OFFSET (g % (SELECT count(*) FROM buildings WHERE grid_id IS NOT NULL))
                      LIMIT 1) b ON true"""),
        {"n": HOUSEHOLDS},
    )
    db.session.execute(
        text("""
        INSERT INTO care_plans (household_id, frequency_days, start_date, purpose, active)
        SELECT id, (ARRAY[7, 14, 30])[1 + id % 3], current_date - 200, 'care_visit', true
        FROM households WHERE flat_no LIKE 'bench-%'""")
    )
    db.session.execute(
        text("""
        INSERT INTO visits (household_id, building_id, grid_id, visited_at, purpose, follow_up_done)
        SELECT h.id, h.building_id, h.grid_id, now() - ((h.id % 40) + k * 9) * interval '1 day', 'care_visit', false
        FROM households h, generate_series(0, :k - 1) k WHERE h.flat_no LIKE 'bench-%'"""),
        {"k": VISITS_PER_HOUSEHOLD},
    )
    db.session.execute(text("ANALYZE households; ANALYZE care_plans; ANALYZE visits"))
    db.session.commit()


def _clean(db) -> None:
    db.session.execute(text("DELETE FROM households WHERE flat_no LIKE 'bench-%'"))
    db.session.execute(
        text(
            "DELETE FROM audit_log WHERE action = 'list' AND table_name = 'care_plans'"
            " AND at > now() - interval '1 hour'"
        )
    )
    db.session.commit()


def run(ctx) -> list[Result]:
    from sqlalchemy.dialects import postgresql

    from app.auth.services import find_user
    from app.core.extensions import db
    from app.households import care

    due_sql = str(
        care.due_subquery().element.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )
    results = []
    with ctx.app.app_context():
        _clean(db)
        _fill(db)
        try:
            worker = find_user("hls4")
            grid_ids = [a.id for a in worker.area and [worker.area]]
            n_due = len(care.due_plans(worker, on=dt.date.today()))
            service = timings(lambda: care.due_plans(worker, on=dt.date.today()), repeat=15)
            conn = psycopg2.connect(ctx.url)
            cur = conn.cursor()

            def bare():
                cur.execute(
                    "SELECT * FROM (" + due_sql + ") d WHERE d.grid_id = ANY(%s) AND d.next_due <= %s",
                    (grid_ids, dt.date.today()),
                )
                cur.fetchall()

            base = timings(bare, repeat=15)
            results.append(
                Result(
                    "due list of one grid worker (p50)",
                    service["p50"],
                    "ms",
                    "bare due SQL, same grid",
                    base["p50"],
                    f"{n_due} households due among {HOUSEHOLDS:,} files / {HOUSEHOLDS * VISITS_PER_HOUSEHOLD:,} visits",
                )
            )
            leader = find_user("leader")
            bbox = (103.70, 36.00, 103.95, 36.10)
            overlay = timings(lambda: care.visits_due_geojson(leader, bbox, 1000), repeat=15)

            def bare_overlay():
                cur.execute(
                    "SELECT building_id, count(*) FROM (" + due_sql + ") d WHERE d.next_due <= %s GROUP BY building_id",
                    (dt.date.today(),),
                )
                cur.fetchall()

            base2 = timings(bare_overlay, repeat=15)
            results.append(
                Result(
                    "visits-due overlay, whole city, leader (p50)",
                    overlay["p50"],
                    "ms",
                    "bare due counts per building",
                    base2["p50"],
                    "GeoJSON built in SQL, suppressed counts",
                )
            )
            conn.close()
        finally:
            _clean(db)
    return results
