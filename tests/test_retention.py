"""``flask retention plan|run``: positions partitions, device events and audit entries older than
13 months go to (Geo)Parquet files that geopandas/pyarrow read back, then leave the database; what is
kept stays. On a database of its own (partitions are dropped), with a few rows."""

import datetime as dt

import flask_migrate
import geopandas
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from app.core.extensions import db
from app.core.time import TZ
from app.ops.retention import cutoff, month_start
from tests.conftest import database_url, make_test_app, recreate_database

pytestmark = pytest.mark.no_transaction
TODAY = dt.datetime.now(TZ).date()


def month(back: int) -> dt.datetime:
    return month_start(TODAY, back)


@pytest.fixture(scope="module")
def retention_app(tmp_path_factory):
    url = database_url("retention")
    recreate_database(url)
    application = make_test_app(url, MEDIA_ROOT=str(tmp_path_factory.mktemp("media")))
    with application.app_context():
        flask_migrate.upgrade(revision="head")
        from app.auth.services import create_user

        create_user("walker", "walker-password", "admin", None, "Walker")
        db.session.commit()
        yield application
        db.session.remove()
        db.engine.dispose()


def add_positions(device: int, user: int, start: dt.datetime, n: int) -> list[tuple]:
    rows = [
        (device, start + dt.timedelta(days=1, minutes=i), user, 103.80 + i / 1000, 36.05 + i / 2000) for i in range(n)
    ]
    for d, t, u, x, y in rows:
        db.session.execute(
            text(
                "INSERT INTO positions (device_id, fixed_at, user_id, geom, source) "
                "VALUES (:d, :t, :u, ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'osmand')"
            ),
            dict(d=d, t=t, u=u, x=x, y=y),
        )
    return rows


def add_audit(at: dt.datetime, n: int) -> None:
    for i in range(n):
        db.session.execute(
            text(
                "INSERT INTO audit_log (at, action, table_name, row_id, after) "
                "VALUES (:at, 'update', 'buildings', :r, CAST(:a AS jsonb))"
            ),
            {"at": at + dt.timedelta(days=2, hours=i), "r": str(i), "a": f'{{"name": "楼 {i}"}}'},
        )


def tables(pattern: str) -> set[str]:
    return set(
        db.session.execute(
            text("SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ :p"), {"p": pattern}
        ).scalars()
    )


def test_cutoff_keeps_this_month_and_the_twelve_before():
    assert cutoff(13, dt.date(2026, 12, 2)) == dt.datetime(2025, 12, 1, tzinfo=TZ)
    assert cutoff(1, dt.date(2026, 1, 31)) == dt.datetime(2026, 1, 1, tzinfo=TZ)
    assert month_start(dt.date(2026, 1, 15), 1) == dt.datetime(2025, 12, 1, tzinfo=TZ)


def test_old_positions_and_audit_entries_are_archived_then_removed(retention_app, tmp_path):
    user = db.session.execute(text("SELECT id FROM users WHERE username = 'walker'")).scalar()
    device = db.session.execute(
        text(
            "INSERT INTO devices (identifier, user_id, name, kind, active) VALUES ('retention-phone', :u, 'phone', "
            "'traccar', true) RETURNING id"
        ),
        {"u": user},
    ).scalar()
    old, leftover, late = month(20), month(25), month(30)
    for m in (old, leftover):
        db.session.execute(text("SELECT wuwei_position_partition(CAST(:m AS date))"), {"m": m.date()})
    old_rows = add_positions(device, user, old, 50)
    add_positions(device, user, leftover, 7)
    add_positions(device, user, late, 5)  # no partition of its own: positions_default
    add_positions(device, user, month(2), 10)  # kept
    add_audit(month(15), 3)
    add_audit(month(14), 2)
    add_audit(month(0), 1)  # kept
    db.session.commit()
    db.session.execute(text(f"ALTER TABLE positions DETACH PARTITION positions_{leftover:%Y%m}"))  # a run cut short
    db.session.commit()
    kept_positions = db.session.execute(
        text("SELECT count(*) FROM positions WHERE fixed_at >= :c"), {"c": cutoff(13)}
    ).scalar()
    kept_audit = db.session.execute(text("SELECT count(*) FROM audit_log WHERE at >= :c"), {"c": cutoff(13)}).scalar()
    db.session.rollback()  # an open transaction that read positions would hold off the detach

    runner = retention_app.test_cli_runner()
    plan = runner.invoke(args=["retention", "plan", "--archive", str(tmp_path)])
    assert plan.exit_code == 0, plan.output
    assert f"positions_{old:%Y%m}: attached" in plan.output and f"positions_{leftover:%Y%m}: detached" in plan.output
    assert "positions_default: 5 rows" in plan.output and f"audit_log {month(15):%Y-%m}: 3 rows" in plan.output

    r = runner.invoke(args=["retention", "run", "--archive", str(tmp_path)])
    assert r.exit_code == 0, r.output
    db.session.rollback()

    # GeoParquet, read back by geopandas with its CRS, point for point
    archived = geopandas.read_parquet(tmp_path / "positions" / f"positions_{old:%Y%m}.parquet")
    assert len(archived) == 50 and archived.crs.to_epsg() == 4326
    assert set(archived.geom_type) == {"Point"}
    got = sorted(
        (int(r.device_id), r.fixed_at.to_pydatetime(), round(r.geom.x, 6), round(r.geom.y, 6))
        for r in archived.itertuples()
    )
    assert got == sorted((d, t, round(x, 6), round(y, 6)) for d, t, _, x, y in old_rows)
    assert len(geopandas.read_parquet(tmp_path / "positions" / f"positions_{leftover:%Y%m}.parquet")) == 7
    default_file = next((tmp_path / "positions").glob("positions_default_before_*.parquet"))
    assert len(geopandas.read_parquet(default_file)) == 5

    # gone from the database; what is kept stays
    assert not tables(f"^positions_({old:%Y%m}|{leftover:%Y%m})$")
    assert (
        db.session.execute(text("SELECT count(*) FROM positions WHERE fixed_at < :c"), {"c": cutoff(13)}).scalar() == 0
    )
    assert db.session.execute(text("SELECT count(*) FROM positions")).scalar() == kept_positions == 10
    assert db.session.execute(text("SELECT count(*) FROM audit_log")).scalar() == kept_audit

    audit = pq.read_table(tmp_path / "audit_log" / f"audit_log_{month(15):%Y%m}.parquet").to_pylist()
    assert len(audit) == 3 and {a["table_name"] for a in audit} == {"buildings"}
    assert '"楼 0"' in next(a["after"] for a in audit if a["row_id"] == "0")
    assert pq.read_metadata(tmp_path / "audit_log" / f"audit_log_{month(14):%Y%m}.parquet").num_rows == 2

    again = runner.invoke(args=["retention", "run", "--archive", str(tmp_path)])
    assert again.exit_code == 0 and "nothing older than the retention" in again.output


def add_events(device: int, user: int, start: dt.datetime, n: int, kind: str = "alarm") -> None:
    for i in range(n):
        db.session.execute(
            text(
                "INSERT INTO device_events (device_id, user_id, happened_at, kind, detail, geom, source, "
                "acknowledged_at, acknowledged_by) VALUES (:d, :u, :t, :k, :detail, "
                "CASE WHEN :k = 'alarm' THEN ST_SetSRID(ST_MakePoint(103.89, 36.077), 4326) END, 'osmand', "
                "CASE WHEN :k = 'alarm' THEN CAST(:t AS timestamptz) + interval '5 minutes' END, "
                "CASE WHEN :k = 'alarm' THEN :u END)"
            ),
            {"d": device, "u": user, "t": start + dt.timedelta(days=3, hours=i), "k": kind, "detail": f"{kind}-{i}"},
        )


def test_old_device_events_are_archived_like_positions_then_removed(retention_app, tmp_path):
    user = db.session.execute(text("SELECT id FROM users WHERE username = 'walker'")).scalar()
    device = db.session.execute(
        text(
            "INSERT INTO devices (identifier, user_id, name, kind, active) VALUES ('events-phone', :u, 'phone', "
            "'traccar', true) RETURNING id"
        ),
        {"u": user},
    ).scalar()
    add_events(device, user, month(15), 3)  # alarms, acknowledged, with a place
    add_events(device, user, month(14), 2, "heartbeat")  # no place
    add_events(device, user, month(4), 1, "heartbeat")  # kept by default (13 months), not with 3
    add_events(device, user, month(0), 1)  # kept
    db.session.commit()

    runner = retention_app.test_cli_runner()
    plan = runner.invoke(args=["retention", "plan", "--archive", str(tmp_path)])
    assert f"device_events {month(15):%Y-%m}: 3 rows" in plan.output
    assert f"device_events {month(4):%Y-%m}" not in plan.output
    r = runner.invoke(args=["retention", "run", "--archive", str(tmp_path)])
    assert r.exit_code == 0, r.output
    db.session.rollback()

    alarms = geopandas.read_parquet(tmp_path / "device_events" / f"device_events_{month(15):%Y%m}.parquet")
    assert len(alarms) == 3 and alarms.crs.to_epsg() == 4326 and set(alarms.geom_type) == {"Point"}
    assert set(alarms.kind) == {"alarm"} and set(alarms.acknowledged_by) == {user}
    heartbeats = pq.read_table(tmp_path / "device_events" / f"device_events_{month(14):%Y%m}.parquet").to_pylist()
    assert sorted(h["detail"] for h in heartbeats) == ["heartbeat-0", "heartbeat-1"]
    assert {h["geom"] for h in heartbeats} == {None}
    left = db.session.execute(text("SELECT count(*) FROM device_events WHERE device_id = :d"), {"d": device}).scalar()
    assert left == 2

    # A shorter retention of their own (positions keep 13 months).
    before = retention_app.config.get("WUWEI_DEVICE_EVENTS_RETENTION_MONTHS")
    retention_app.config["WUWEI_DEVICE_EVENTS_RETENTION_MONTHS"] = 3
    try:
        r = runner.invoke(args=["retention", "run", "--archive", str(tmp_path)])
    finally:
        retention_app.config["WUWEI_DEVICE_EVENTS_RETENTION_MONTHS"] = before
    assert r.exit_code == 0 and f"device_events {month(4):%Y-%m}" in r.output
    db.session.rollback()
    kept = db.session.execute(text("SELECT kind FROM device_events WHERE device_id = :d"), {"d": device}).scalars()
    assert list(kept) == ["alarm"]
