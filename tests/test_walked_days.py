"""The days each grid was walked (migration 0026): kept by the database as fixes arrive, whichever path
stores them, on the local day, and again when a grid is redrawn; the dashboard's "grids not walked" reads
them (tests/test_dashboard.py has the figure per period)."""

import datetime as dt

import flask_migrate
import pytest
from sqlalchemy import text

from app.core.extensions import db
from app.core.time import TZ
from app.patrols.devices import register_device
from app.patrols.ingest import store_fixes
from gis.tracks import MAX_ACCURACY_M, Fix
from tests.test_migrations import demo_at

NW = (103.7820, 36.0500)  # Hualinshan grid 001
SE = (103.7880, 36.0450)  # Hualinshan grid 004
FAR = (103.95, 36.30)  # north of every grid of the demo
GRID_NW, GRID_SE = "620103002001001", "620103002001004"


def _insert(device, when, lon, lat, accuracy=None):
    db.session.execute(
        text(
            "INSERT INTO positions (device_id, user_id, fixed_at, geom, accuracy, source) VALUES "
            "(:d, :u, :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :a, 'csv')"
        ),
        {"d": device.id, "u": device.user_id, "t": when, "x": lon, "y": lat, "a": accuracy},
    )


def _walked(code, year=2021):
    """The local days of ``year`` the grid ``code`` is marked walked (the demo's own fixes are recent)."""
    sql = (
        "SELECT w.day FROM grid_walked_days w JOIN areas a ON a.id = w.grid_id "
        "WHERE a.code = :c AND extract(year FROM w.day) = :y ORDER BY 1"
    )
    return db.session.execute(text(sql), {"c": code, "y": year}).scalars().all()


@pytest.fixture
def phone(app, demo):
    device, secret = register_device("patrol", "walked-days phone", "traccar", identifier="walked-days-1")
    return device, secret


def test_a_fix_marks_its_grid_on_the_local_day_not_the_utc_one(phone):
    device, _ = phone
    _insert(device, dt.datetime(2021, 3, 5, 23, 30, tzinfo=TZ), *NW)  # 15:30 UTC the same day
    _insert(device, dt.datetime(2021, 3, 6, 0, 10, tzinfo=TZ), *NW)  # 16:10 UTC on the 5th
    _insert(device, dt.datetime(2021, 3, 6, 0, 20, tzinfo=TZ), *NW)  # the same grid and day again: one row
    assert _walked(GRID_NW) == [dt.date(2021, 3, 5), dt.date(2021, 3, 6)]
    assert _walked(GRID_SE) == []


def test_only_usable_fixes_walk_a_grid_and_a_fix_outside_every_grid_walks_none(phone):
    device, _ = phone
    day = dt.datetime(2021, 3, 9, 10, tzinfo=TZ)
    _insert(device, day, *NW, accuracy=MAX_ACCURACY_M)  # just good enough
    _insert(device, day + dt.timedelta(seconds=30), *SE, accuracy=MAX_ACCURACY_M + 0.1)  # too vague to say which grid
    _insert(device, day + dt.timedelta(minutes=1), *FAR)
    assert _walked(GRID_NW) == [dt.date(2021, 3, 9)]
    assert _walked(GRID_SE) == []
    assert (
        db.session.execute(
            text("SELECT count(*) FROM grid_walked_days WHERE day = :d"), {"d": dt.date(2021, 3, 9)}
        ).scalar()
        == 1
    )


def test_fixes_from_a_phone_and_from_a_file_and_a_late_fix_mark_their_days(client, phone):
    device, secret = phone
    now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    ts = int(now.timestamp())
    # The phone's path (the tracking ingest's prepared INSERT).
    assert client.get(f"/track/osmand?id={secret}&timestamp={ts}&lat={SE[1]}&lon={SE[0]}").status_code == 200
    today = dt.datetime.fromtimestamp(ts, TZ).date()
    assert today in _walked(GRID_SE, today.year)
    # The bulk path (COPY: GPX/CSV imports, phone batches), with a fix a week late.
    week_ago = now - dt.timedelta(days=7)
    assert store_fixes(device, [Fix(fixed_at=week_ago, lon=NW[0], lat=NW[1])], "gpx", None) == 1
    late = week_ago.astimezone(TZ).date()
    assert late in _walked(GRID_NW, late.year)


def test_a_redrawn_grid_is_walked_where_its_new_outline_was_walked(phone):
    device, _ = phone
    _insert(device, dt.datetime(2021, 3, 12, 10, tzinfo=TZ), *NW)
    _insert(device, dt.datetime(2021, 3, 13, 10, tzinfo=TZ), *SE)
    assert _walked(GRID_SE) == [dt.date(2021, 3, 13)]
    # Grid 004 redrawn as a small square around the fix of the 12th (in grid 001's old place).
    square = "ST_MakeEnvelope(:x - 0.0005, :y - 0.0005, :x + 0.0005, :y + 0.0005, 4326)"
    db.session.execute(
        text(f"UPDATE areas SET geom = ST_Multi({square}) WHERE code = :c"),  # nosec B608 (a constant)
        {"x": NW[0], "y": NW[1], "c": GRID_SE},
    )
    assert _walked(GRID_SE) == [dt.date(2021, 3, 12)]


def test_a_corrected_fix_walks_its_new_grid_too(phone):
    device, _ = phone
    when = dt.datetime(2021, 3, 15, 10, tzinfo=TZ)
    _insert(device, when, *FAR)
    assert _walked(GRID_SE) == []
    db.session.execute(
        text(
            "UPDATE positions SET geom = ST_SetSRID(ST_MakePoint(:x, :y), 4326) WHERE device_id = :d AND fixed_at = :t"
        ),
        {"x": SE[0], "y": SE[1], "d": device.id, "t": when},
    )
    assert _walked(GRID_SE) == [dt.date(2021, 3, 15)]


@pytest.mark.no_transaction
@pytest.mark.slow
def test_the_migration_marks_the_fixes_stored_before_it():
    """Downgrade to 0025 (the table goes), store fixes as that version would, upgrade: their days are there."""
    with demo_at("walked", "0025_open_covering"):
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO positions (device_id, user_id, fixed_at, geom, source) "
                    "SELECT id, user_id, :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'csv' FROM devices LIMIT 1"
                ),
                {"t": dt.datetime(2021, 3, 20, 10, tzinfo=TZ), "x": SE[0], "y": SE[1]},
            )
        flask_migrate.upgrade(revision="head")
        with db.engine.connect() as conn:
            walked, expected = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM grid_walked_days), "
                    "(SELECT count(DISTINCT (g.id, timezone('Asia/Shanghai', p.fixed_at)::date)) "
                    " FROM positions p JOIN areas g ON g.level = 'grid' AND ST_Intersects(p.geom, g.geom) "
                    " WHERE p.accuracy IS NULL OR p.accuracy <= :acc)"
                ),
                {"acc": MAX_ACCURACY_M},
            ).one()
            se_days = (
                conn.execute(
                    text("SELECT w.day FROM grid_walked_days w JOIN areas a ON a.id = w.grid_id WHERE a.code = :c"),
                    {"c": GRID_SE},
                )
                .scalars()
                .all()
            )
        assert walked == expected > 0
        assert dt.date(2021, 3, 20) in se_days
