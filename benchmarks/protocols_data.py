"""Synthetic buildings for the protocol benchmarks (used until ``seed scale`` provides them).

Puts ``n`` small square footprints on a regular lattice over the demo district, in SQL,
so that tiles and OGC pages are measured on district-sized data (~100,000 buildings).
Idempotent: the rows are named ``bench-<n>`` and only the missing ones are added.
"""
from sqlalchemy import text

# Over the demo city polygon (Lanzhou demo extent), in lon/lat.
MINX, MINY, MAXX, MAXY = 103.72, 36.01, 103.94, 36.09


def ensure_buildings(session, n: int = 100_000) -> int:
    """Add synthetic buildings until ``n`` exist; returns how many were added."""
    have = session.execute(text("SELECT count(*) FROM buildings WHERE name LIKE 'bench-%'")).scalar()
    if have >= n:
        return 0
    cols = 400
    rows = -(-n // cols)
    dx, dy = (MAXX - MINX) / cols, (MAXY - MINY) / rows
    session.execute(text("""
        INSERT INTO buildings (name, address, floors, households, ebikes, geom)
        SELECT 'bench-' || i, 'bench street ' || i, 1 + i % 30, (i * 7) % 120, (i * 3) % 40,
               ST_Multi(ST_MakeEnvelope(:minx + (i % :cols) * :dx, :miny + (i / :cols) * :dy,
                                        :minx + (i % :cols) * :dx + :dx * 0.6,
                                        :miny + (i / :cols) * :dy + :dy * 0.6, 4326))
        FROM generate_series(:start, :n - 1) AS i
    """), dict(minx=MINX, miny=MINY, cols=cols, dx=dx, dy=dy, start=have, n=n))
    session.execute(text("ANALYZE buildings"))
    session.commit()
    return n - have
