"""``seed scale``: synthetic grids nest properly, rows land in the right grid, and a rerun adds nothing."""

from sqlalchemy import text

from app.core.extensions import db


def count(sql, **p):
    return db.session.scalar(text(sql), p)


def test_scale_seed_makes_nested_grids_buildings_and_clustered_incidents(app):
    from app.seed.scale import seed_scale

    out = seed_scale(grids=40, buildings=400, incidents=2000, seed=5, log=lambda *_: None)
    assert out == {"grids": 40, "buildings": 400, "incidents": 2000}
    assert count("SELECT count(*) FROM areas WHERE note = 'seed scale' AND level = 'grid'") == 40
    # Codes nest (grid → community → street) and every child lies inside its parent.
    assert (
        count(
            "SELECT count(*) FROM areas c JOIN areas p ON p.id = c.parent_id WHERE c.note = 'seed scale' "
            "AND (NOT starts_with(c.code, p.code) OR NOT ST_Within(c.geom, p.geom))"
        )
        == 0
    )
    # Synthetic streets keep clear of the demo streets.
    assert (
        count(
            "SELECT count(*) FROM areas s JOIN areas d ON d.level = 'street' AND d.note IS DISTINCT FROM "
            "'seed scale' WHERE s.note = 'seed scale' AND s.level = 'street' "
            "AND ST_Area(ST_Intersection(s.geom, d.geom)) > 0"
        )
        == 0
    )
    assert (
        count(
            "SELECT count(*) FROM buildings b JOIN areas g ON g.id = b.grid_id "
            "WHERE g.note = 'seed scale' AND ST_Within(b.geom, g.geom)"
        )
        == 400
    )
    # The grid of every synthetic incident is the one the trigger would have chosen.
    assert (
        count(
            "SELECT count(*) FROM incidents WHERE description LIKE '模拟事件%' "
            "AND grid_id IS DISTINCT FROM wuwei_grid_of(geom)"
        )
        == 0
    )
    assert count("SELECT count(*) FROM incidents WHERE description LIKE '模拟事件%' AND grid_id IS NOT NULL") > 1500
    # Office hours outnumber the night; closed ones close after they were reported.
    day = count(
        "SELECT count(*) FROM incidents WHERE description LIKE '模拟事件%' "
        "AND extract(hour FROM reported_at AT TIME ZONE 'Asia/Shanghai') BETWEEN 9 AND 17"
    )
    assert day > 1000
    assert count("SELECT count(*) FROM incidents WHERE closed_at < reported_at") == 0


def test_scale_seed_is_idempotent_per_seed(app):
    from app.seed.scale import seed_scale

    seed_scale(grids=20, buildings=100, incidents=300, seed=9, log=lambda *_: None)
    before = (
        count("SELECT count(*) FROM incidents"),
        count("SELECT count(*) FROM buildings"),
        count("SELECT count(*) FROM areas"),
    )
    again = seed_scale(grids=20, buildings=100, incidents=300, seed=9, log=lambda *_: None)
    assert again == {"grids": 0, "buildings": 0, "incidents": 0}
    assert (
        count("SELECT count(*) FROM incidents"),
        count("SELECT count(*) FROM buildings"),
        count("SELECT count(*) FROM areas"),
    ) == before
    # Another size for the same seed replaces that batch instead of adding to it.
    seed_scale(incidents=500, seed=9, log=lambda *_: None)
    assert count("SELECT count(*) FROM incidents") == before[0] + 200


def test_scale_command_needs_a_size(runner):
    result = runner.invoke(args=["seed", "scale"])
    assert result.exit_code != 0 and "--incidents" in result.output


def test_scale_seed_positions_fill_monthly_partitions_once_per_seed(app):
    from app.seed.scale import seed_scale

    out = seed_scale(positions=5000, seed=11, days=20, log=lambda *_: None)
    assert out == {"positions": 5000}
    assert count("SELECT count(*) FROM positions WHERE source = 'scale'") == 5000
    # Routed into monthly partitions, none into the default safety net; none in the future.
    assert count("SELECT count(*) FROM positions_default") == 0
    assert count("SELECT count(*) FROM positions WHERE source = 'scale' AND fixed_at > now()") == 0
    assert count("SELECT count(*) FROM positions WHERE source = 'scale' AND fixed_at < now() - interval '22 days'") == 0
    # Walks start at buildings: every fix stays within a couple of kilometres of one.
    assert (
        count(
            "SELECT count(*) FROM positions p WHERE source = 'scale' AND NOT EXISTS "
            "(SELECT 1 FROM buildings b WHERE ST_DWithin(b.geom::geography, p.geom::geography, 3000))"
        )
        == 0
    )
    # A 5 s rhythm: consecutive fixes of one phone are 5 s apart inside a shift.
    assert (
        count(
            "SELECT count(*) FROM (SELECT fixed_at - lag(fixed_at) OVER (PARTITION BY device_id "
            "ORDER BY fixed_at) AS gap FROM positions WHERE source = 'scale') g "
            "WHERE gap = interval '5 seconds'"
        )
        > 4000
    )
    assert seed_scale(positions=5000, seed=11, days=20, log=lambda *_: None) == {"positions": 0}
    assert count("SELECT count(*) FROM positions WHERE source = 'scale'") == 5000


def test_bulk_load_rebuilds_a_partitioned_tables_indexes_valid_on_every_partition(app):
    from app.seed.scale import bulk_load

    with bulk_load("positions"):
        assert count("SELECT count(*) FROM pg_index WHERE indrelid = 'positions'::regclass") == 1  # the key
    assert count("SELECT count(*) FROM pg_index WHERE indrelid = 'positions'::regclass AND NOT indisvalid") == 0
    assert count("SELECT count(*) FROM pg_index WHERE indrelid = 'positions'::regclass") == 5
    # Every monthly partition got its GiST index back.
    assert (
        count(
            "SELECT count(*) FROM pg_inherits i WHERE i.inhparent = 'positions'::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am a ON a.oid = c.relam "
            "WHERE x.indrelid = i.inhrelid AND a.amname = 'gist')"
        )
        == 0
    )
