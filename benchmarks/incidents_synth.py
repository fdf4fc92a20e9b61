"""Synthetic incidents for benchmarks, loaded with COPY (until ``seed scale --incidents`` lands on main).

``ensure_incidents(url, n)`` tops the bench database up to ``n`` incidents: 70 % inside the demo
communities (where grids exist), the rest spread over the city, over the past year, in every
workflow state. Rows go through a staging table and get their grid in one SQL statement, which
is much faster than the per-row trigger.
"""

import io
import random

import psycopg2
from sqlalchemy.engine import make_url

COMMUNITIES = [
    (103.779, 36.043, 103.791, 36.053),
    (103.833, 36.045, 103.843, 36.054),
    (103.876, 36.054, 103.892, 36.063),
    (103.889, 36.070, 103.901, 36.080),
]
CITY = (103.70, 36.00, 103.95, 36.10)
STATES = (
    ["reported"] * 3
    + ["filed"] * 3
    + ["dispatched"] * 4
    + ["in_progress"] * 5
    + ["responded"] * 2
    + ["closed"] * 40
    + ["evaluated"] * 30
    + ["rejected"] * 5
    + ["duplicate"] * 5
    + ["consultation"]
)
SOURCES = ["hotline", "walk_in", "grid_worker", "patrol", "web", "open311", "other_system"]
CLOSED = {"closed", "evaluated", "rejected", "duplicate"}


def _connect(url: str):
    u = make_url(url)
    return psycopg2.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database)


def ensure_incidents(url: str, n: int = 1_000_000, seed: int = 311) -> int:
    """Add synthetic incidents until the table holds ``n``; returns how many were added."""
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM incidents")
            have = cur.fetchone()[0]
            if have >= n:
                return 0
            cur.execute(
                "SELECT id FROM incident_categories c WHERE NOT EXISTS "
                "(SELECT 1 FROM incident_categories k WHERE k.parent_id = c.id)"
            )
            categories = [r[0] for r in cur.fetchall()]
            rng = random.Random(seed + have)
            cur.execute(
                "CREATE TEMP TABLE synth (category_id int, source text, state text, description text,"
                " lon float8, lat float8, age_s int, stage_s int)"
            )
            todo, batch = n - have, 200_000
            while todo > 0:
                k = min(batch, todo)
                buf = io.StringIO()
                for _ in range(k):
                    x0, y0, x1, y1 = rng.choice(COMMUNITIES) if rng.random() < 0.7 else CITY
                    state = rng.choice(STATES)
                    age = rng.randrange(60, 365 * 86400)
                    buf.write(
                        f"{rng.choice(categories)}\t{rng.choice(SOURCES)}\t{state}\t合成事件 {rng.randrange(10**6)}\t"
                        f"{rng.uniform(x0, x1):.7f}\t{rng.uniform(y0, y1):.7f}\t{age}\t{rng.randrange(0, age)}\n"
                    )
                buf.seek(0)
                cur.copy_expert("COPY synth FROM STDIN", buf)
                todo -= k
            cur.execute("ALTER TABLE incidents DISABLE TRIGGER trg_incidents_assign_grid")
            cur.execute("""
                INSERT INTO incidents (category_id, source, state, description, reported_at, state_changed_at,
                                       closed_at, grid_id, geom, attributes)
                SELECT s.category_id, s.source, s.state, s.description,
                       now() - make_interval(secs => s.age_s),
                       now() - make_interval(secs => s.age_s - s.stage_s),
                       CASE WHEN s.state IN ('closed', 'evaluated', 'rejected', 'duplicate')
                            THEN now() - make_interval(secs => s.age_s - s.stage_s) END,
                       g.id, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), '{}'
                FROM synth s
                LEFT JOIN LATERAL (SELECT a.id FROM areas a WHERE a.level = 'grid'
                                   AND ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
                                   LIMIT 1) g ON true""")
            cur.execute("ALTER TABLE incidents ENABLE TRIGGER trg_incidents_assign_grid")
        conn.commit()
        with conn.cursor() as cur:
            conn.autocommit = True
            cur.execute("VACUUM ANALYZE incidents")
        return n - have
    finally:
        conn.close()
