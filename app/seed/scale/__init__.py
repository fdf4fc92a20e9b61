"""Synthetic district-scale data for benchmarks: ``flask seed scale --incidents N --grids N --buildings N``.

DESIGN's scale is ~5,000 grids, ~100,000 buildings and ~1,000,000 incidents a year. This makes
such a district beside the demo: synthetic streets → communities → grids with proper nested
codes filling the demo districts around the demo streets, buildings inside the grids, and
incidents clustered around buildings (weighted by households) with a weekly and daily rhythm.

It is fast because the rows never pass through the ORM: grids and incidents go in with COPY
into a staging table and one set-based ``INSERT … SELECT`` that assigns the grid with the GiST
index while the per-row trigger is disabled; buildings are generated inside PostgreSQL.
Every batch is recorded in ``seed_scale_runs`` (kind, seed, rows, id range): the same seed and
size again adds nothing; another size replaces that batch. The same seed gives the same data.
"""

import time

import sqlalchemy as sa

from app.core.extensions import db
from app.seed.scale.bulk import BULK_ROWS, PHASES, bulk_load  # noqa: F401  (used by benchmarks and tests)
from app.seed.scale.incidents import ensure_categories, seed_incidents  # noqa: F401
from app.seed.scale.places import seed_areas, seed_buildings
from app.seed.scale.positions import seed_positions


def seed_scale(
    incidents: int = 0,
    positions: int = 0,
    grids: int = 0,
    buildings: int = 0,
    seed: int = 1,
    days: int = 365,
    log=print,
) -> dict:
    """Everything asked for, each part in its own transaction, with timings."""
    out = {}
    for name, fn, arg in (
        ("grids", seed_areas, grids),
        ("buildings", seed_buildings, buildings),
        ("incidents", seed_incidents, incidents),
    ):
        if not arg:
            continue
        t0 = time.perf_counter()
        added = fn(arg, seed) if name != "incidents" else fn(arg, seed, days)
        db.session.commit()
        out[name] = added
        log(
            f"seed scale: {name}: {added:,} added in {time.perf_counter() - t0:.1f} s"
            + ("" if added else " (already present for this seed)")
        )
        if name == "incidents" and added:
            log("  " + ", ".join(f"{k} {v:.1f} s" for k, v in PHASES.items()))
    if positions:
        t0 = time.perf_counter()
        added = seed_positions(positions, seed, min(days, 30))
        db.session.commit()
        out["positions"] = added
        log(
            f"seed scale: positions: {added:,} added in {time.perf_counter() - t0:.1f} s"
            + ("" if added else " (already present for this seed)")
        )
        if added:
            log("  " + ", ".join(f"{k} {v:.1f} s" for k, v in PHASES.items()))
            db.session.execute(sa.text("ANALYZE positions"))
            db.session.commit()
    if out.get("incidents", 0) + out.get("buildings", 0) >= BULK_ROWS:
        # VACUUM as well as ANALYZE after a bulk load: it marks the pages all-visible, so that the
        # dashboard's covering indexes answer from the index alone from the first request on
        # (autovacuum would get there later). VACUUM cannot run inside a transaction.
        t0 = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in ("VACUUM (ANALYZE) incidents", "VACUUM (ANALYZE) buildings", "VACUUM (ANALYZE) areas"):
                conn.execute(sa.text(statement))
        log(f"seed scale: VACUUM (ANALYZE) in {time.perf_counter() - t0:.1f} s")
    elif out.get("incidents") or out.get("buildings"):
        db.session.execute(sa.text("ANALYZE incidents"))
        db.session.execute(sa.text("ANALYZE buildings"))
        db.session.execute(sa.text("ANALYZE areas"))
        db.session.commit()
    return out
