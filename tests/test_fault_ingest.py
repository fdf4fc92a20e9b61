"""PostgreSQL stopped in the middle of position ingest (issue 14): while it is down every route family
answers 503 in its own error shape, it recovers fully once PostgreSQL is back, and no fix that was
answered 200 is missing afterwards — the apps resend what was refused, and nothing is doubled.

The server stopped is a throwaway cluster of the test's own (``tests/clusters.py``), never the shared
one. Each family answers in its own error shape: the API's envelope, OGC API's exception, Open311's error
array, an HTML page. The app is composed as ``app/wsgi.py`` composes the served one: the tracking gateway in front of
Flask, on autocommitted pooled connections. Phones send through the real clients' request forms:
Traccar Client for Android's query (``ProtocolFormatter.kt``), the Traccar Client JSON body, and
OwnTracks' HTTP-mode ``location`` message with Basic auth (OwnTracks booklet, ``docs/tech/http.md``).
"""

import base64
import datetime as dt
import json
import threading
import time

import psycopg2
import pytest

from app.core.extensions import db
from app.tracking.gateway import autocommit_connections, install
from tests.clusters import PGBINS, LocalCluster
from tests.conftest import make_test_app

LON, LAT = 103.8925, 36.0770


class Phones:
    """A sender thread: one fix at a time, alternating the three request forms, each fix at its own second."""

    def __init__(self, app, osmand_secret: str, owntracks_auth: str):
        self.client = app.test_client()
        self.secret = osmand_secret
        self.auth = owntracks_auth
        self.t0 = int(time.time()) - 6 * 3600
        self.answers: list[tuple[str, int, int]] = []  # (form, fix time, status)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def send(self, form: str, ts: int) -> int:
        c = self.client
        if form == "osmand":
            url = (
                f"/track/osmand?id={self.secret}&timestamp={ts}&lat={LAT}&lon={LON}&speed=0.0&bearing=0.0"
                f"&altitude=1520.0&accuracy=5.0&batt=87.0"
            )
            return c.post(url).status_code
        if form == "traccar_json":
            iso = dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            body = {
                "location": {"timestamp": iso, "coords": {"latitude": LAT, "longitude": LON, "accuracy": 5}},
                "device_id": self.secret,
            }
            return c.post("/track/osmand", data=json.dumps(body), content_type="application/json").status_code
        msg = {"_type": "location", "lat": LAT, "lon": LON, "tst": ts, "acc": 8, "tid": "zq", "batt": 80}
        headers = {"Authorization": self.auth, "X-Limit-U": "phone", "X-Limit-D": "ot"}
        return c.post(
            "/track/owntracks", data=json.dumps(msg), content_type="application/json", headers=headers
        ).status_code

    def run(self):
        forms = ("osmand", "traccar_json", "owntracks")
        i = 0
        while not self.stop.is_set():
            form = forms[i % 3]
            ts = self.t0 + i
            self.answers.append((form, ts, self.send(form, ts)))
            i += 1
            time.sleep(0.005)

    def count(self, status: int) -> int:
        return sum(1 for a in self.answers if a[2] == status)

    def wait_for(self, status: int, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.count(status) < n:
            assert time.monotonic() < deadline, f"only {self.count(status)} answers {status} in {timeout} s"
            time.sleep(0.05)


def families(app, bearer: str, page_client):
    """One request per route family, each as its client sends it."""
    api = app.test_client()
    h = {"Authorization": f"Bearer {bearer}"}
    return {
        "api": lambda: api.get("/api/v1/incidents", headers=h),
        "api write": lambda: api.post("/api/v1/incidents", json={"category": "x"}, headers=h),
        "ogcapi": lambda: api.get("/ogcapi/collections/chargers/items", headers=h),
        "tiles": lambda: api.get("/tiles/buildings/15/26400/12600.mvt", headers=h),
        "open311": lambda: api.get("/open311/v2/services.json"),
        "healthz": lambda: api.get("/healthz"),
        "page": lambda: page_client.get("/patrols/", headers={"Accept": "text/html"}),
    }


def assert_down_shape(name: str, r) -> None:
    assert r.status_code == 503, (name, r.status_code, r.get_data(as_text=True)[:300])
    if name == "page":
        assert "text/html" in r.content_type and r.headers.get("Retry-After")
    elif name == "open311":
        assert r.get_json()[0]["code"] == 503
    elif name == "ogcapi":  # OGC API's own exception shape
        assert r.get_json()["code"] == "ServiceUnavailable"
    elif name == "healthz":
        assert r.get_json()["database"] != "ok"
    else:
        assert r.get_json()["error"]["code"] == "unavailable", (name, r.get_json())


def stored_times(cluster: LocalCluster) -> list[int]:
    conn = psycopg2.connect(cluster.url())
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT extract(epoch FROM fixed_at)::bigint FROM positions ORDER BY 1")
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def _setup(app):
    from app.auth.services import create_token, create_user
    from app.patrols.devices import register_device

    create_user("phone", "phone-password-1", "admin", None, "Phone")
    _, token = create_token("phone", "fault test")
    db.session.commit()
    _, osmand_secret = register_device("phone", "traccar", "traccar")
    _, owntracks_secret = register_device("phone", "ot", "owntracks")
    auth = "Basic " + base64.b64encode(f"phone:{owntracks_secret}".encode()).decode()
    return token, osmand_secret, auth


@pytest.mark.slow
@pytest.mark.no_transaction
@pytest.mark.skipif(not PGBINS, reason="no PostgreSQL binaries (/usr/lib/postgresql/*/bin)")
def test_postgresql_stopped_during_ingest_503s_everywhere_recovers_and_loses_no_acknowledged_fix(tmp_path):
    cluster = LocalCluster()
    try:
        cluster.start()
        app = make_test_app(
            cluster.url(),
            MEDIA_ROOT=str(tmp_path / "media"),
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 3}, "pool_recycle": 1800},
        )
        install(app, autocommit_connections(app))  # as app/wsgi.py serves it
        with app.app_context():
            token, osmand_secret, owntracks_auth = _setup(app)
            db.session.remove()
        pages = app.test_client()
        assert pages.post("/login", data={"username": "phone", "password": "phone-password-1"}).status_code == 302
        route = families(app, token, pages)
        phones = Phones(app, osmand_secret, owntracks_auth)
        phones.thread.start()
        try:
            phones.wait_for(200, 150)
            stopped = cluster.pg_ctl("stop", "-m", "immediate", "-w", "-t", "60")
            assert stopped.returncode == 0, stopped.stderr
            acked_before = phones.count(200)
            phones.wait_for(503, 30)
            with app.app_context():
                for name, call in route.items():
                    assert_down_shape(name, call())
            started = cluster.pg_ctl(
                "start", "-o", f"-p {cluster.port}", "-w", "-t", "60", "-l", str(cluster.home / "server.log")
            )
            assert started.returncode == 0, started.stderr
            phones.wait_for(200, acked_before + 150)
        finally:
            phones.stop.set()
            phones.thread.join(30)
        statuses = {a[2] for a in phones.answers}
        assert statuses <= {200, 503}, statuses  # never a 500, never a 4xx for a good fix
        acked = {a[1] for a in phones.answers if a[2] == 200}
        stored = stored_times(cluster)
        assert len(stored) == len(set(stored))  # nothing doubled
        assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged fixes lost"
        # The apps send the refused fixes again: then everything sent is stored, once.
        for form, ts, status in phones.answers:
            if status != 200:
                assert phones.send(form, ts) == 200
        stored = stored_times(cluster)
        assert stored == sorted({a[1] for a in phones.answers})
        # Full recovery: every family answers as usual again.
        with app.app_context():
            answers = {name: call().status_code for name, call in route.items()}
        assert all(s < 500 for s in answers.values()), answers
        assert answers["healthz"] == 200 and answers["api"] == 200 and answers["page"] == 200, answers
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        cluster.destroy()
