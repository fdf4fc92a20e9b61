"""District-scale data for the protocol benchmarks: ``seed scale`` (5,000 grids, 100,000 buildings,
idempotent per seed), and sample places drawn from it so that bbox queries and tiles land on data."""
import random

from sqlalchemy import text

N_BUILDINGS = 100_000
N_GRIDS = 5_000


def ensure_scale(app) -> int:
    """Load the synthetic grids and buildings unless present; returns the buildings in the table."""
    from app.core.extensions import db
    from app.seed.scale import seed_scale
    seed_scale(grids=N_GRIDS, buildings=N_BUILDINGS, incidents=0, positions=0, seed=1, days=365,
               log=lambda *_: None)
    return db.session.execute(text("SELECT count(*) FROM buildings")).scalar()


def building_centres(session, n: int = 400, seed: int = 7) -> list[tuple[float, float]]:
    """``n`` building centres (lon, lat), the same ones on every run."""
    rows = session.execute(text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
                                "ORDER BY id")).all()
    rng = random.Random(seed)
    return [tuple(rows[rng.randrange(len(rows))]) for _ in range(n)]


def densest_tile(session, z: int) -> tuple[int, int, int]:
    """The z/x/y of the tile holding the most building centres at zoom ``z``."""
    row = session.execute(text("""
        SELECT floor((ST_X(c) + 20037508.342789244) / (40075016.68557849 / 2 ^ :z))::int AS x,
               floor((20037508.342789244 - ST_Y(c)) / (40075016.68557849 / 2 ^ :z))::int AS y, count(*) AS n
        FROM (SELECT ST_Transform(ST_Centroid(geom), 3857) AS c FROM buildings) p
        GROUP BY 1, 2 ORDER BY n DESC LIMIT 1"""), {"z": z}).one()
    return z, row.x, row.y
