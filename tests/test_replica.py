"""A real streaming replica (``scripts/replica.sh``, ``make replica``) and read routing (``DATABASE_READ_URL``).

A throwaway primary is made with ``scripts/db.sh`` on a free port (the shared cluster is never touched),
the replica with ``scripts/replica.sh`` beside it; both are deleted afterwards, the slot with them.
Shown: read-only views are served by the replica (``pg_is_in_recovery()``), a leader's heat map is at most
a few seconds behind a write on the primary, and the app answers within a second, from the primary,
when the replica is stopped — and goes back to the replica once it runs again.
"""

import datetime as dt
import time
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from sqlalchemy import event, text

from app.core.extensions import db
from app.core.replica import read_only, replica_of
from app.core.time import TZ
from tests.clusters import PGBINS, LocalCluster
from tests.conftest import make_test_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.no_transaction,
    pytest.mark.skipif(not PGBINS, reason="no PostgreSQL binaries (/usr/lib/postgresql/*/bin)"),
]

BBOX = "103.70,36.00,103.95,36.10"
DAY = dt.datetime.now(TZ).replace(hour=10, minute=0, second=0, microsecond=0)
CELLS = {
    "source": "incidents",
    "bbox": BBOX,
    "zoom": 12,
    "from": (DAY - dt.timedelta(days=3)).date().isoformat(),
    "to": DAY.date().isoformat(),
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = LocalCluster()
    try:
        c.start()
        primary = make_test_app(c.url(), MEDIA_ROOT=str(tmp_path_factory.mktemp("media")))
        with primary.app_context():
            from app.seed.demo import seed_demo

            seed_demo()
            db.session.remove()
            db.engine.dispose()
        c.start_replica()  # after the demo: the copy starts with it
        yield c
    finally:
        c.destroy()


@pytest.fixture(scope="module")
def app(cluster, tmp_path_factory):
    application = make_test_app(
        cluster.url(),
        DATABASE_READ_URL=cluster.url(cluster.replica_port),
        WUWEI_REPLICA_RETRY=1,
        MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
    )
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()
        replica_of(application).dispose()


@pytest.fixture(scope="module")
def leader(app):
    from app.auth.services import create_token

    _, token = create_token("leader", "replica test")
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


class Statements:
    """SQL sent through each engine while the block runs."""

    def __init__(self, app):
        self.engines = {"primary": db.engine, "replica": replica_of(app).engine}
        self.seen = {name: [] for name in self.engines}

    def __enter__(self):
        for name, engine in self.engines.items():
            event.listen(engine, "before_cursor_execute", self._on(name))
        return self

    def _on(self, name):
        def on(conn, cursor, statement, params, context, executemany):
            self.seen[name].append(statement)

        on.__name__ = f"capture_{name}"
        self._listeners = getattr(self, "_listeners", []) + [(name, on)]
        return on

    def __exit__(self, *exc):
        for name, on in self._listeners:
            event.remove(self.engines[name], "before_cursor_execute", on)

    def touching(self, name: str, table: str) -> list[str]:
        return [s for s in self.seen[name] if table in s]


def add_incident(lon: float, lat: float) -> None:
    cat = db.session.execute(text("SELECT id FROM incident_categories ORDER BY id LIMIT 1")).scalar()
    db.session.execute(
        text(
            "INSERT INTO incidents (category_id, source, state, description, reported_at, geom) "
            "VALUES (:c, 'hotline', 'filed', 'replica test', :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
        ),
        {"c": cat, "t": DAY, "x": lon, "y": lat},
    )
    db.session.commit()


def cells_total(client, headers) -> int:
    r = client.get("/api/v1/heat/cells?" + urlencode(CELLS), headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["total"]


def test_make_replica_made_a_hot_standby_with_its_own_slot(cluster):
    status = cluster.script("replica.sh", "status")
    assert f"running on 127.0.0.1:{cluster.replica_port}" in status.stdout
    eng = sa.create_engine(cluster.url(database="postgres"))
    with eng.connect() as conn:
        slots = conn.execute(text("SELECT slot_name, active FROM pg_replication_slots")).all()
        assert len(slots) == 1 and slots[0][0].startswith("wuwei_replica_") and slots[0][1]
        # scripts/db.sh writes slow-query logging into a new cluster's configuration
        assert conn.execute(text("SHOW log_min_duration_statement")).scalar() == "250ms"
    eng.dispose()


def test_read_only_views_are_served_by_the_replica(app):
    with read_only() as where:
        assert where == "replica"
        assert db.session.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
    assert db.session.execute(text("SELECT pg_is_in_recovery()")).scalar() is False  # outside: the primary
    db.session.rollback()


def test_heat_dashboard_and_export_read_from_the_replica(app, leader):
    client = app.test_client()
    from app.auth.services import create_token

    _, token = create_token("planner", "replica test")
    db.session.commit()
    planner = {"Authorization": f"Bearer {token}"}
    with Statements(app) as seen:
        assert client.get("/api/v1/heat/cells?" + urlencode(CELLS), headers=leader).status_code == 200
        assert client.get("/api/v1/heat/areas?" + urlencode(CELLS), headers=leader).status_code == 200
    assert seen.touching("replica", "incidents") and not seen.touching("primary", "incidents")
    with Statements(app) as seen:
        assert client.get("/api/v1/buildings/export?format=geojson", headers=planner).status_code == 200
    assert seen.touching("replica", "buildings") and not seen.touching("primary", "buildings")
    with Statements(app) as seen:  # OGC API clients (QGIS, GDAL) page through whole layers
        r = client.get("/ogcapi/collections/buildings/items?limit=5&f=json", headers=planner)
        assert r.status_code == 200 and r.json["features"]
    assert seen.touching("replica", "buildings") and not seen.touching("primary", "buildings")
    client.post("/login", data={"username": "leader", "password": "wuwei-leader"})
    with Statements(app) as seen:
        r = client.get("/dashboard")
        assert r.status_code == 200
    assert seen.touching("replica", "incidents") and not seen.touching("primary", "incidents")


def test_a_leaders_view_is_at_most_a_few_seconds_behind(app, leader):
    client = app.test_client()
    before = cells_total(client, leader)
    add_incident(103.84, 36.05)  # written on the primary
    started = time.monotonic()
    while cells_total(client, leader) == before:
        assert time.monotonic() - started < 5, "the replica did not show a write within 5 s"
        time.sleep(0.05)
    assert cells_total(client, leader) == before + 1


def test_the_app_answers_from_the_primary_when_the_replica_is_stopped(app, cluster, leader):
    client = app.test_client()
    cells_total(client, leader)  # a pooled connection to the replica exists
    cluster.script("replica.sh", "stop")
    try:
        with Statements(app) as seen:
            started = time.monotonic()
            total = cells_total(client, leader)
            assert time.monotonic() - started < 1.0
        assert seen.touching("primary", "incidents") and total >= 1
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.get_json()["replica"]["status"] == "down" and ready.get_json()["status"] == "degraded"
        with read_only() as where:
            assert where == "primary"
    finally:
        cluster.script("replica.sh", "start")  # on its port again (the app's DATABASE_READ_URL)
    time.sleep(1.1)  # WUWEI_REPLICA_RETRY
    deadline = time.monotonic() + 30
    while True:
        with read_only() as where:
            if where == "replica":
                break
        assert time.monotonic() < deadline, "reads did not go back to the replica"
        time.sleep(0.5)
    ready = client.get("/readyz").get_json()
    assert ready["replica"]["status"] == "ok" and ready["status"] == "ready", ready
