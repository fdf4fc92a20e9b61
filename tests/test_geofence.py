"""Geofences: a patrol out of its grid, a phone silent during an active patrol, a grid not walked for days —
each an alert to the area's staff, told once per episode; the periodic job, the CLI and the thresholds."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.areas.models import Area
from app.auth.models import User
from app.core import jobs
from app.core.extensions import db
from app.core.time import now
from app.notices.models import Notice
from app.patrols import geofence
from app.patrols.geofence import LEFT, SILENT, UNWALKED, GeofenceAlert
from app.patrols.models import Device, Patrol, Position

GRID = "620103002001001"


def user(name):
    return db.session.scalar(select(User).where(User.username == name))


def told(kind, username="staff"):
    return db.session.scalar(
        select(func.count()).select_from(Notice).where(Notice.kind == kind, Notice.user_id == user(username).id)
    )


def open_episodes(kind, **subject):
    stmt = select(GeofenceAlert).where(GeofenceAlert.kind == kind, GeofenceAlert.ended_at.is_(None))
    for k, v in subject.items():
        stmt = stmt.where(getattr(GeofenceAlert, k) == v)
    return list(db.session.scalars(stmt))


@pytest.fixture
def walk(app):
    """An active patrol of the grid worker in their grid, started half an hour ago, and a way to add fixes
    (inside the grid, or ``metres`` east of its eastern edge)."""
    worker = user("gridworker")
    grid = db.session.scalar(select(Area).where(Area.code == GRID))
    x, y = db.session.execute(
        select(func.ST_X(func.ST_PointOnSurface(grid.geom)), func.ST_Y(func.ST_PointOnSurface(grid.geom)))
    ).one()
    east = db.session.scalar(select(func.ST_XMax(grid.geom)))
    t0 = now() - dt.timedelta(minutes=30)
    device = Device(identifier="geofence-test", user_id=worker.id, name="phone", kind="web")
    patrol = Patrol(
        kind="grid_walk", title="围栏测试", state="active", area_id=grid.id, created_by=worker.id, started_at=t0
    )
    db.session.add_all([device, patrol])
    db.session.flush()

    def fix(minutes_ago, metres=None, accuracy=5.0):
        lon = x if metres is None else east + metres / 90000.0
        db.session.add(
            Position(
                device_id=device.id,
                fixed_at=now() - dt.timedelta(minutes=minutes_ago),
                user_id=worker.id,
                patrol_id=patrol.id,
                geom=f"SRID=4326;POINT({lon} {y})",
                accuracy=accuracy,
                source="web",
            )
        )
        db.session.flush()

    fix.patrol, fix.grid, fix.worker = patrol, grid, worker
    geofence.check(app)  # the demo's own episodes first: the test looks at its patrol and grid only
    return fix


def test_a_patrol_leaving_its_grid_is_told_once_per_episode(app, client, auth, walk):
    walk(20)
    walk(2, metres=500)
    before = told(LEFT)
    geofence.check(app)
    [episode] = open_episodes(LEFT, patrol_id=walk.patrol.id)
    assert episode.user_id == walk.worker.id and episode.told >= 1
    assert told(LEFT) == before + 1
    notice = db.session.scalar(
        select(Notice).where(Notice.kind == LEFT, Notice.user_id == user("staff").id).order_by(Notice.id.desc())
    )
    assert notice.params["patrol"] == "围栏测试" and notice.params["metres"] >= 450
    assert notice.link == f"/patrols/{walk.patrol.id}"
    # The same episode, checked again and again: nothing more.
    geofence.check(app)
    geofence.check(app)
    assert told(LEFT) == before + 1 and len(open_episodes(LEFT, patrol_id=walk.patrol.id)) == 1
    # Back inside: the episode ends; out again: a new episode, told again.
    walk(1)
    geofence.check(app)
    assert open_episodes(LEFT, patrol_id=walk.patrol.id) == []
    walk(0, metres=800)
    geofence.check(app)
    assert told(LEFT) == before + 2
    # The grid worker is not told of their own walk.
    assert told(LEFT, "gridworker") == 0
    auth.login("staff")
    assert "的巡查「围栏测试」离开了" in client.get("/notices/").get_data(as_text=True)
    assert "patrol “围栏测试” left" in client.get("/notices/?lang=en").get_data(as_text=True)


def test_a_poor_fix_or_one_within_the_margin_is_no_breach(app, walk):
    walk(5)
    walk(3, metres=10)  # within the 30 m margin
    walk(1, metres=2000, accuracy=400)  # too imprecise to count
    geofence.check(app)
    assert open_episodes(LEFT, patrol_id=walk.patrol.id) == []


def test_a_silent_phone_is_told_after_the_threshold_and_the_threshold_is_configurable(app, walk):
    walk(10)
    before = told(SILENT)
    geofence.check(app)  # ten minutes: under the default fifteen
    assert open_episodes(SILENT, patrol_id=walk.patrol.id) == []
    geofence.check(app, at=now() + dt.timedelta(minutes=10))
    assert len(open_episodes(SILENT, patrol_id=walk.patrol.id)) == 1
    assert told(SILENT) == before + 1
    geofence.check(app, at=now() + dt.timedelta(minutes=12))
    assert told(SILENT) == before + 1
    # Thresholds come from the config: an hour's silence allowed ends the episode.
    app.config["WUWEI_GEOFENCE_SILENT_MINUTES"] = 60
    try:
        geofence.check(app, at=now() + dt.timedelta(minutes=12))
        assert open_episodes(SILENT, patrol_id=walk.patrol.id) == []
        assert geofence.thresholds(app)["WUWEI_GEOFENCE_SILENT_MINUTES"] == 60
    finally:
        del app.config["WUWEI_GEOFENCE_SILENT_MINUTES"]


def test_a_grid_not_walked_for_days_is_told_to_its_staff(app, walk):
    walk(5)
    geofence.check(app)
    assert open_episodes(UNWALKED, area_id=walk.grid.id) == []
    before = told(UNWALKED)
    geofence.check(app, at=now() + dt.timedelta(days=8))
    [episode] = open_episodes(UNWALKED, area_id=walk.grid.id)
    assert told(UNWALKED) >= before + 1
    n = db.session.scalar(
        select(Notice).where(Notice.key == f"geofence.{episode.id}", Notice.user_id == user("staff").id)
    )
    assert n.params["days"] == 7 and GRID in n.params["area"]
    # Staff of another community are not told.
    assert (
        db.session.scalar(
            select(Notice).where(Notice.key == f"geofence.{episode.id}", Notice.user_id == user("zjystaff").id)
        )
        is None
    )


def test_the_periodic_job_and_the_command(app, runner, walk):
    assert "patrols.geofence" in jobs.queue.tasks
    assert any(p.periodic_id == "patrols.geofence" for p in jobs.queue.periodic_registry.periodic_tasks.values())
    walk(2, metres=600)
    result = runner.invoke(args=["geofence", "check"])
    assert result.exit_code == 0, result.output
    assert "opened 1 episodes" in result.output and "margin 30 m" in result.output
    result = runner.invoke(args=["geofence", "check"])
    assert "opened 0 episodes" in result.output
