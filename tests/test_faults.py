"""Faults, as tests: PostgreSQL restarted (crashed) during an import, a gunicorn worker killed in the middle
of a request, the disk full during a photo upload. (The replica stopped: tests/test_replica.py.)

PostgreSQL is restarted only on a throwaway cluster of the test's own (tests/clusters.py), never the
shared one; the disk is a 1 MiB tmpfs mounted for the test (root only, as on these machines).
"""

import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from PIL import Image
from sqlalchemy import text

from app.core.extensions import db
from app.incidents.models import Photo
from tests.clusters import PGBINS, ROOT, LocalCluster, free_port
from tests.conftest import database_url, make_test_app


def _chargers(n: int) -> bytes:
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [103.80 + i / 10000, 36.05]},
            "properties": {"name": f"fault {i}", "ports": 4, "status": "planned"},
        }
        for i in range(n)
    ]
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def _upload(client, headers, data: bytes):
    return client.post(
        "/api/v1/chargers/import",
        headers=headers,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(data), "chargers.geojson")},
    )


@pytest.mark.slow
@pytest.mark.no_transaction
@pytest.mark.skipif(not PGBINS, reason="no PostgreSQL binaries (/usr/lib/postgresql/*/bin)")
def test_postgresql_crashing_during_an_import_stores_all_or_nothing(tmp_path):
    cluster = LocalCluster()
    try:
        cluster.start()
        app = make_test_app(cluster.url(), MEDIA_ROOT=str(tmp_path / "media"))
        with app.app_context():
            from app.auth.services import create_token, create_user

            create_user("importer", "importer-password", "admin", None, "Importer")
            _, token = create_token("importer", "fault test")
            db.session.commit()
            headers = {"Authorization": f"Bearer {token}"}
            data, n = _chargers(500), 500
            side = psycopg2.connect(cluster.url())
            with side.cursor() as cur:  # holds the import at its audit entries, its rows inserted
                cur.execute("LOCK TABLE audit_log IN SHARE MODE")
            answer = {}
            worker = threading.Thread(target=lambda: answer.update(r=_upload(app.test_client(), headers, data)))
            worker.start()
            watch = psycopg2.connect(cluster.url(database="postgres"))
            watch.autocommit = True
            deadline = time.monotonic() + 60
            with watch.cursor() as cur:
                while True:
                    cur.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wuwei' "
                        "AND wait_event_type = 'Lock' AND query ILIKE '%audit_log%'"
                    )
                    if cur.fetchone()[0]:
                        break
                    assert time.monotonic() < deadline, "the import never reached its audit entries"
                    time.sleep(0.1)
            watch.close()
            crash = cluster.pg_ctl(
                "restart", "-m", "immediate", "-w", "-t", "60", "-l", str(cluster.home / "server.log")
            )
            assert crash.returncode == 0, crash.stderr
            worker.join(60)
            side.close()
            assert answer["r"].status_code == 503, answer["r"].get_json()
            count = sa_count(cluster, "SELECT count(*) FROM chargers WHERE name LIKE 'fault %'")
            assert count == 0  # nothing of the cut import
            # The client sends the file again (the first try may meet a pooled connection the crash broke).
            for _ in range(3):
                r = _upload(app.test_client(), headers, data)
                if r.status_code != 503:
                    break
            assert r.status_code == 201, r.get_json()
            assert sa_count(cluster, "SELECT count(*) FROM chargers WHERE name LIKE 'fault %'") == n  # once
            db.session.remove()
            db.engine.dispose()
    finally:
        cluster.destroy()


def sa_count(cluster: LocalCluster, sql: str) -> int:
    conn = psycopg2.connect(cluster.url())
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


def _get(port: int, path: str, timeout: float = 10) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.no_transaction
def test_a_gunicorn_worker_killed_mid_request_leaves_nothing_half_written(app, tmp_path):
    url = database_url("test")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "DATABASE_READ_URL")}
    env.update(
        DATABASE_URL=url,
        WUWEI_FAULT_DIR=str(tmp_path),
        PYTHONPATH=str(ROOT),
        LOG_FORMAT="json",
        WUWEI_VAR=str(tmp_path / "var"),
    )
    errors = open(tmp_path / "gunicorn.err", "wb")  # noqa: SIM115  (closed in finally)
    server = subprocess.Popen(
        [
            str(Path(sys.prefix) / "bin" / "gunicorn"),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "--control-socket",
            str(tmp_path / "gunicorn.ctl"),
            "--access-logfile",
            str(tmp_path / "access.log"),
            "tests.fault_app:create()",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(port, "/healthz", 2)[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "gunicorn.err").read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.3)

        outcome = {}

        def slow():
            try:
                outcome["answer"] = _get(port, "/_fault/slow-write", 60)
            except (OSError, http.client.HTTPException) as e:
                outcome["error"] = e

        t = threading.Thread(target=slow)
        t.start()
        pid_file = tmp_path / "pid"
        while not pid_file.exists():
            assert time.monotonic() < deadline + 30, "the slow request never started"
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        t.join(30)
        assert "error" in outcome, outcome  # the client sees the connection cut, no half answer

        conn = psycopg2.connect(url)
        conn.autocommit = True
        with conn.cursor() as cur:  # PostgreSQL notices the dead client and rolls back
            deadline = time.monotonic() + 15
            while True:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' "
                    "AND pid <> pg_backend_pid()"
                )
                if cur.fetchone()[0] == 0:
                    break
                assert time.monotonic() < deadline, "the killed worker's transaction is still open"
                time.sleep(0.2)
            cur.execute("SELECT count(*) FROM audit_log WHERE action = 'fault-test'")
            assert cur.fetchone()[0] == 0
        conn.close()

        # gunicorn replaced the worker: every request is answered, and the counters add up over workers
        assert all(_get(port, "/healthz")[0] == 200 for _ in range(20))
        status, body = _get(port, "/metrics")
        assert status == 200
        line = next(
            x
            for x in body.decode().splitlines()
            if x.startswith('wuwei_http_requests_total{endpoint="health.healthz",method="GET",status="200"}')
        )
        assert float(line.rsplit(" ", 1)[1]) >= 21
        assert "rid=" in (tmp_path / "access.log").read_text()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        errors.close()


def _noise_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (640, 480), os.urandom(640 * 480 * 3)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "media"
    mount.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        pytest.skip(f"mounting a small tmpfs needs root: {r.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_photo_upload_on_a_full_disk_is_refused_clearly_and_leaves_nothing(client, auth, app, tiny_disk):
    staff = auth.token("staff")
    body = {"category": "drainage.sewage", "description": "磁盘满测试", "lon": 103.7855, "lat": 36.0480}
    iid = client.post(
        "/api/v1/incidents", data=json.dumps(body), content_type="application/json", headers=staff
    ).get_json()["id"]
    (tiny_disk / "incidents").mkdir()
    photo = _noise_jpeg()
    assert 100 * 1024 < len(photo) < 600 * 1024
    filler = tiny_disk / "filler"
    filler.write_bytes(b"\0" * (1024 * 1024 - len(photo) // 2))  # room for half the photo
    old = app.config["MEDIA_ROOT"]
    app.config["MEDIA_ROOT"] = str(tiny_disk)
    try:
        r = client.post(
            f"/api/v1/incidents/{iid}/photos",
            headers=staff,
            content_type="multipart/form-data",
            data={"photo": (io.BytesIO(photo), "site.jpg")},
        )
        assert r.status_code == 507, r.get_data(as_text=True)
        assert "disk is full" in r.get_json()["error"]["message"]
        assert [p for p in (tiny_disk / "incidents").rglob("*") if p.is_file()] == []  # nothing half-written
        assert db.session.query(Photo).filter_by(incident_id=iid).count() == 0
        filler.unlink()  # space again: the same upload is stored
        r = client.post(
            f"/api/v1/incidents/{iid}/photos",
            headers=staff,
            content_type="multipart/form-data",
            data={"photo": (io.BytesIO(photo), "site.jpg")},
        )
        assert r.status_code == 201, r.get_json()
        assert (
            db.session.execute(text("SELECT count(*) FROM incident_photos WHERE incident_id = :i"), {"i": iid}).scalar()
            == 1
        )
    finally:
        app.config["MEDIA_ROOT"] = old
        shutil.rmtree(tiny_disk / "incidents", ignore_errors=True)
