"""Caps on imports, and big imports as background jobs run by the procrastinate worker.

The caps are set low through the app's config; the files hold a few thousand features at most.
The job tests commit (the worker has its own connections): they are ``no_transaction`` and remove
what they stored afterwards.
"""

import io
import os
import threading
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon
from sqlalchemy import delete, func, select, text

from app.audit.models import AuditEntry
from app.auth.models import ApiToken, User, UserSession
from app.basemap.models import Charger
from app.core.extensions import db
from app.core.jobs import run_worker
from app.transfer.models import ImportJob
from gis import fileio

BIG = 2_500  # features in a "big" file; the test app imports synchronously up to SYNC
SYNC = 100


def upload(client, layer, data: bytes, filename: str):
    return client.post(
        f"/api/v1/{layer}/import", data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data"
    )


def charger_rows(n: int, bad_row: int | None = None, lon0: float = 103.8300) -> list[dict]:
    """``n`` chargers on a small grid of points in Chengguan; ``bad_row`` (1-based) has a bad status."""
    return [
        {
            "name": f"批量桩{i}",
            "ports": 4,
            "status": "exploded" if i == bad_row else "planned",
            "lon": lon0 + (i % 50) * 0.0002,
            "lat": 36.0450 + (i // 50) * 0.0002,
        }
        for i in range(1, n + 1)
    ]


def gpkg(rows: list[dict]) -> bytes:
    frame = gpd.GeoDataFrame(
        {k: [r[k] for r in rows] for k in ("name", "ports", "status")},
        geometry=[Point(r["lon"], r["lat"]) for r in rows],
        crs=4326,
    )
    out = io.BytesIO()
    frame.to_file(out, driver="GPKG", layer="chargers")
    return out.getvalue()


def csv_file(rows: list[dict]) -> bytes:
    lines = ["name,ports,status,lon,lat"] + [
        f"{r['name']},{r['ports']},{r['status']},{r['lon']},{r['lat']}" for r in rows
    ]
    return "\n".join(lines).encode()


def zone_csv(vertices: int, n: int = 1) -> bytes:
    """``n`` bike zones, each a polygon of about ``vertices`` vertices (a many-sided circle)."""
    import math

    lines = ["name,capacity,kind,status,wkt"]
    for z in range(n):
        cx, cy = 103.8400 + z * 0.001, 36.0500
        ring = [
            (
                cx + 0.0003 * math.cos(2 * math.pi * k / (vertices - 1)),
                cy + 0.0003 * math.sin(2 * math.pi * k / (vertices - 1)),
            )
            for k in range(vertices - 1)
        ]
        lines.append(f'zone{z},5,mixed,planned,"{Polygon(ring).wkt}"')
    return "\n".join(lines).encode()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def caps(app):
    """Set caps for one test: ``caps(WUWEI_IMPORT_MAX_FEATURES=20)``; the settings are restored after."""
    saved = dict(app.config)

    def set_caps(**settings):
        app.config.update(settings)

    yield set_caps
    for key in [k for k in app.config if k.startswith("WUWEI_IMPORT")]:
        app.config[key] = saved[key]


def stored_uploads(app) -> list[str]:
    folder = Path(app.config["MEDIA_ROOT"]) / "imports"
    return sorted(os.listdir(folder)) if folder.exists() else []


# --------------------------------------------------------------------------- caps, in the request


def test_a_file_over_the_byte_cap_is_413_naming_the_setting(client, auth, app, caps, demo):
    auth.login("planner")
    caps(WUWEI_IMPORT_MAX_BYTES=2_000)
    before = count(Charger)
    r = upload(client, "chargers", csv_file(charger_rows(60)), "many.csv")
    assert r.status_code == 413
    assert (
        "WUWEI_IMPORT_MAX_BYTES" in r.get_json()["error"]["message"]
        and "2,000 bytes" in r.get_json()["error"]["message"]
    )
    assert count(Charger) == before and count(ImportJob) == 0 and stored_uploads(app) == []


@pytest.mark.parametrize("fmt", ["gpkg", "csv"])
def test_a_file_over_the_feature_cap_is_422_naming_the_setting(client, auth, app, caps, demo, fmt):
    auth.login("planner")
    caps(WUWEI_IMPORT_MAX_FEATURES=30)
    rows = charger_rows(31)
    before = count(Charger)
    r = upload(client, "chargers", gpkg(rows) if fmt == "gpkg" else csv_file(rows), f"many.{fmt}")
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert "WUWEI_IMPORT_MAX_FEATURES" in err["message"] and "30" in err["message"]
    assert "nothing imported" in err["message"] and "WUWEI_IMPORT_MAX_FEATURES" in err["fields"]["file"]
    assert count(Charger) == before and count(ImportJob) == 0 and stored_uploads(app) == []
    caps(WUWEI_IMPORT_MAX_FEATURES=31)
    assert upload(client, "chargers", csv_file(rows), "many.csv").status_code == 201


def test_a_feature_over_the_vertex_cap_is_422_naming_its_row_and_the_setting(client, auth, caps, demo):
    auth.login("planner")
    caps(WUWEI_IMPORT_MAX_VERTICES_PER_FEATURE=100)
    before = db.session.scalar(text("SELECT count(*) FROM bike_zones"))
    data = b"\n".join([zone_csv(50), zone_csv(150).split(b"\n", 1)[1]])  # row 2 has 150 vertices
    r = upload(client, "bike-zones", data, "zones.csv")
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert "WUWEI_IMPORT_MAX_VERTICES_PER_FEATURE" in err["message"] and "row 2" in err["fields"]
    assert db.session.scalar(text("SELECT count(*) FROM bike_zones")) == before


def test_a_file_over_the_total_vertex_cap_is_422(client, auth, caps, demo):
    auth.login("planner")
    caps(WUWEI_IMPORT_MAX_VERTICES=200)
    r = upload(client, "bike-zones", zone_csv(60, n=4), "zones.csv")  # 240 vertices in all
    assert r.status_code == 422 and "WUWEI_IMPORT_MAX_VERTICES)" in r.get_json()["error"]["message"]
    # The same through GDAL (a GeoPackage): counted on the geometries before any is turned into GeoJSON.
    table = pd.read_csv(io.BytesIO(zone_csv(60, n=4)))
    frame = gpd.GeoDataFrame(table.drop(columns="wkt"), geometry=gpd.GeoSeries.from_wkt(table["wkt"]), crs=4326)
    out = io.BytesIO()
    frame.to_file(out, driver="GPKG", layer="zones")
    r = upload(client, "bike-zones", out.getvalue(), "zones.gpkg")
    assert r.status_code == 422 and "WUWEI_IMPORT_MAX_VERTICES)" in r.get_json()["error"]["message"]


def test_an_import_over_the_time_cap_is_422_naming_the_setting(client, auth, caps, demo):
    auth.login("planner")
    caps(WUWEI_IMPORT_MAX_SECONDS=0)
    before = count(Charger)
    r = upload(client, "chargers", csv_file(charger_rows(3)), "three.csv")
    assert r.status_code == 422 and "WUWEI_IMPORT_MAX_SECONDS" in r.get_json()["error"]["message"]
    assert count(Charger) == before


def test_counting_stops_at_the_cap_without_reading_the_features():
    rows = charger_rows(500)
    with pytest.raises(fileio.LimitExceededError) as e:
        fileio.count_features(csv_file(rows), "csv", limit=100)
    assert e.value.cap == "features" and "more than 100" in str(e.value)
    assert fileio.count_features(gpkg(rows), "gpkg") == 500
    with pytest.raises(fileio.LimitExceededError):
        fileio.read_features(gpkg(rows), "gpkg", fileio.Limits(features=499))
    assert len(fileio.read_features(gpkg(rows), "gpkg", fileio.Limits(features=500)).features) == 500


def test_a_big_file_is_queued_202_and_nothing_is_imported_in_the_request(client, auth, app, caps, demo):
    """In the test's transaction: the job row and the queued job roll back with it."""
    auth.login("planner")
    caps(WUWEI_IMPORT_SYNC_MAX_FEATURES=SYNC)
    before = count(Charger)
    r = upload(client, "chargers", csv_file(charger_rows(SYNC + 1)), "big.csv")
    assert r.status_code == 202, r.get_json()
    job = r.get_json()
    assert job["state"] == "queued" and job["progress"] == {"done": 0, "total": SYNC + 1}
    assert r.headers["Location"] == job["status_url"] == f"/api/v1/imports/{job['id']}"
    assert count(Charger) == before
    queued = db.session.execute(
        text("SELECT task_name, args FROM procrastinate_jobs WHERE id = :id"),
        {"id": db.session.get(ImportJob, job["id"]).queue_job_id},
    ).one()
    assert queued.task_name == "transfer.import_file" and queued.args == {"import_id": job["id"]}
    assert client.get(job["status_url"]).get_json()["state"] == "queued"
    for name in stored_uploads(app):  # the test's rollback leaves the stored upload behind
        (Path(app.config["MEDIA_ROOT"]) / "imports" / name).unlink()


def test_import_status_is_the_uploaders_only(client, auth, app, caps, demo):
    auth.login("planner")
    caps(WUWEI_IMPORT_SYNC_MAX_FEATURES=SYNC)
    url = upload(client, "chargers", csv_file(charger_rows(SYNC + 1)), "big.csv").get_json()["status_url"]
    assert client.get(url).status_code == 200
    assert client.get("/api/v1/imports/999999").status_code == 404
    other = app.test_client()
    assert other.get(url, headers=auth.token("admin")).status_code == 404  # someone else's: 404
    assert other.get(url, headers=auth.token("leader")).status_code == 403  # may not import at all
    assert other.get(url).status_code == 401
    for name in stored_uploads(app):
        (Path(app.config["MEDIA_ROOT"]) / "imports" / name).unlink()


def test_the_status_endpoint_is_in_openapi(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/imports/{import_id}" in paths
    assert "202" in paths["/api/v1/{layer}/import"]["post"]["responses"]


# --------------------------------------------------------------------------- the worker runs the job


@pytest.fixture
def committed(app):
    """For tests that commit: removes the rows they added (chargers, audit, jobs, sessions, tokens,
    users) and the queue's jobs afterwards."""
    with app.app_context():
        marks = {
            m: db.session.scalar(select(func.coalesce(func.max(m.id), 0)))
            for m in (Charger, AuditEntry, ImportJob, UserSession, ApiToken, User)
        }
        db.session.remove()
    yield
    with app.app_context():
        for model in (Charger, AuditEntry, ImportJob, UserSession, ApiToken, User):
            db.session.execute(delete(model).where(model.id > marks[model]))
        db.session.execute(text("DELETE FROM procrastinate_jobs WHERE queue_name = 'imports'"))
        db.session.commit()
        db.session.remove()


def chargers_named(app, prefix: str) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Charger).where(Charger.name.like(prefix + "%")))
        db.session.remove()
        return n


@pytest.mark.no_transaction
def test_a_big_import_completes_in_the_worker_with_progress_and_audit(client, auth, app, caps, committed, monkeypatch):
    from app.transfer import jobs as transfer_jobs

    auth.login("planner")
    caps(WUWEI_IMPORT_SYNC_MAX_FEATURES=SYNC)
    r = upload(client, "chargers", gpkg(charger_rows(BIG)), "big.gpkg")
    assert r.status_code == 202, r.get_json()
    url = r.get_json()["status_url"]
    assert len(stored_uploads(app)) == 1 and chargers_named(app, "批量桩") == 0

    seen = []  # the status as a client sees it while the worker checks the rows

    def watch(self, phase, done, total, _original=transfer_jobs._Progress.__call__):
        _original(self, phase, done, total)
        if phase == "checking" and not seen:  # asked from another thread: a request of its own
            asking = threading.Thread(target=lambda: seen.append(client.get(url).get_json()))
            asking.start()
            asking.join(30)

    monkeypatch.setattr(transfer_jobs._Progress, "__call__", watch)

    run_worker(app, wait=False)

    assert seen and seen[0]["state"] == "running" and seen[0]["phase"] == "checking"
    assert 0 < seen[0]["progress"]["done"] < BIG and seen[0]["progress"]["total"] == BIG
    done = client.get(url).get_json()
    assert done["state"] == "done", done
    assert done["progress"] == {"done": BIG, "total": BIG} and done["finished_at"]
    assert done["report"]["imported"] == done["report"]["rows"] == BIG and done["report"]["format"] == "gpkg"
    assert chargers_named(app, "批量桩") == BIG
    assert stored_uploads(app) == []
    with app.app_context():
        planner = db.session.scalar(select(User.id).where(User.username == "planner"))
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "import").order_by(AuditEntry.id.desc())
        ).first()
        assert entry.user_id == planner and entry.after["imported"] == BIG
        inserts = db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "insert",
                AuditEntry.table_name == "chargers",
                AuditEntry.user_id == planner,
                AuditEntry.id > entry.id - BIG - 1,
            )
        )
        assert inserts == BIG
        db.session.remove()


@pytest.mark.no_transaction
def test_a_failing_job_reports_the_row_errors_and_stores_nothing(client, auth, app, runner, caps, committed):
    auth.login("planner")
    caps(WUWEI_IMPORT_SYNC_MAX_FEATURES=SYNC)
    r = upload(client, "chargers", csv_file(charger_rows(BIG, bad_row=1800)), "big.csv")
    assert r.status_code == 202
    result = runner.invoke(args=["jobs", "worker", "--once"])  # what `make worker` runs, until the queue is empty
    assert result.exit_code == 0, result.output
    failed = client.get(r.get_json()["status_url"]).get_json()
    assert failed["state"] == "failed", failed
    err = failed["error"]
    assert err["status"] == 422 and err["code"] == "invalid"
    assert [row["row"] for row in err["rows"]] == [1800] and "status" in err["rows"][0]["fields"]
    assert "nothing imported" in err["message"] and err["report"]["rows"] == BIG
    assert chargers_named(app, "批量桩") == 0 and stored_uploads(app) == []


@pytest.mark.no_transaction
def test_the_job_applies_the_uploaders_area_and_permission_again(client, auth, app, caps, committed):
    from app.auth.services import create_user

    with app.app_context():
        create_user("xyjobs", "wuwei-planner", "planner", "620103002", "西园规划")
        db.session.remove()
    caps(WUWEI_IMPORT_SYNC_MAX_FEATURES=SYNC)
    headers = auth.token("xyjobs")

    def big_upload(name):
        r = client.post(
            "/api/v1/chargers/import",
            headers=headers,
            content_type="multipart/form-data",
            data={"file": (io.BytesIO(csv_file(charger_rows(SYNC + 5))), name)},
        )
        assert r.status_code == 202, r.get_json()
        return r.get_json()["status_url"]

    # Points in Chengguan, outside 西园街道: refused by the job as they would be in the request.
    url = big_upload("outside.csv")
    run_worker(app, wait=False)
    err = client.get(url, headers=headers).get_json()["error"]
    assert err["status"] == 403 and len(err["rows"]) == SYNC + 5
    assert "outside your area" in err["rows"][0]["message"]
    assert chargers_named(app, "批量桩") == 0

    # The uploader is deactivated before the worker runs: the job refuses, nothing is stored.
    url = big_upload("later.csv")
    with app.app_context():
        db.session.execute(text("UPDATE users SET active = false WHERE username = 'xyjobs'"))
        db.session.commit()
        run_worker(app, wait=False)
        job = db.session.get(ImportJob, int(url.rsplit("/", 1)[1]))
        assert job.state == "failed" and job.error["status"] == 403 and "may no longer import" in job.error["message"]
        db.session.remove()
    assert chargers_named(app, "批量桩") == 0 and stored_uploads(app) == []
