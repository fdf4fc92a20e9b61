"""GIS import and grid redraws: set-based import vs. row by row; regrid of one grid vs. regridding a table."""

import random
import time

from sqlalchemy import text

from benchmarks.common import Result

N_ROWS = 2000
N_BUILDINGS = 20000


def _csv(n: int) -> bytes:
    rnd = random.Random(7)
    lines = ["name,ports,status,lon,lat"]
    for i in range(n):  # inside Zhangjiayuan Community
        lines.append(
            f"bench{i},{rnd.randint(1, 20)},planned,{103.833 + rnd.random() * 0.01:.6f},"
            f"{36.045 + rnd.random() * 0.009:.6f}"
        )
    return "\n".join(lines).encode()


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def run(ctx):
    with ctx.app.app_context():
        from app.auth.policy import Scope
        from app.basemap.layers import get_layer
        from app.core.extensions import db
        from app.transfer import services

        layer = get_layer("chargers")
        everything = Scope(everything=True)
        data = _csv(N_ROWS)
        _, result = services.read_file(data, "bench.csv")

        def set_based():
            services.import_layer(layer, everything, data, "bench.csv")

        def row_by_row():
            parsed = []
            for f in result.features:
                body = {"type": "Feature", "geometry": f["geometry"], "properties": f["properties"]}
                values, geom = services.layer_services.parse_feature(layer, body)
                parsed.append((f["row"], values, geom))
            report = {"errors": []}
            services._insert_row_by_row(layer, everything, parsed, report)
            db.session.flush()

        def clean():
            db.session.rollback()
            db.session.execute(
                text(
                    "DELETE FROM audit_log WHERE table_name = 'chargers' AND"
                    " (row_id IN (SELECT id::text FROM chargers WHERE name LIKE 'bench%')"
                    " OR (action = 'import' AND after->>'file' = 'bench.csv'))"
                )
            )
            db.session.execute(text("DELETE FROM chargers WHERE name LIKE 'bench%'"))
            db.session.commit()

        clean()
        results = []
        for label, fn in (("set", set_based), ("rows", row_by_row)):
            results.append((label, _timed(fn)))
            clean()
        imp = dict(results)

        # Regrid: move one grid's outline among N_BUILDINGS synthetic buildings, vs. recomputing the table.
        with db.engine.connect() as c:
            trans = c.begin()
            c.execute(
                text(
                    "INSERT INTO buildings (name, geom) SELECT 'bench' || i, ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint("
                    "103.833 + random() * 0.01, 36.045 + random() * 0.009), 4326), 0.00002))"
                    " FROM generate_series(1, :n) i"
                ),
                {"n": N_BUILDINGS},
            )
            grid_move = _timed(
                lambda: c.execute(
                    text(
                        "UPDATE areas SET geom = ST_Multi(ST_Translate(geom, 0.0003, 0)) WHERE code = '620102005003001'"
                    )
                )
            )
            whole = _timed(lambda: c.execute(text("UPDATE buildings SET grid_id = wuwei_grid_of(geom)")))
            trans.rollback()
    return [
        Result(
            f"import {N_ROWS} chargers from CSV, set-based",
            imp["set"],
            "ms",
            "row by row",
            imp["rows"],
            "parse + insert + scope check + audit, one transaction (removed afterwards)",
        ),
        Result(
            f"redraw one grid among {N_BUILDINGS:,} buildings (trigger regrid)",
            grid_move,
            "ms",
            "recompute grid_id of the whole table",
            whole,
            "AFTER UPDATE trigger on areas: one UPDATE per spatial table over old ∪ new outline",
        ),
    ]
