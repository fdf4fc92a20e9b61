"""The distribution column (issue 21, migration 0023): every incident and every fix carries its street code,
written by the application in the INSERT and kept true by the database (docs/scaling.md)."""

import datetime as dt
import json

import flask_migrate
import pytest
from sqlalchemy import select, text

from app.auth.models import User
from app.auth.policy import grid_clause, scope_of, street_clause
from app.core.extensions import db
from app.incidents.models import Incident
from app.patrols.devices import register_device
from app.patrols.ingest import store_fixes
from app.patrols.models import Device, Position
from gis.tracks import Fix
from tests.test_migrations import demo_at

XIJIN = (103.78865, 36.05085)  # Hualinshan grid 2, street 西园街道 620103002
SONGJIATAN = (103.8925, 36.0770)  # 宋家滩村 grid 1, street 雁北街道 620102011
ZJY = (103.8360, 36.0480)  # Zhangjiayuan, street 酒泉路街道 620102005
FAR = (103.95, 36.30)  # north of every street of the demo


def _report(client, headers, at, **kw):
    body = {"category": "drainage.sewage", "description": "污水外溢", "lon": at[0], "lat": at[1], **kw}
    return client.post("/api/v1/incidents", data=json.dumps(body), content_type="application/json", headers=headers)


def _street(table, key, value):
    return db.session.execute(text(f"SELECT street_code FROM {table} WHERE {key} = :v"), {"v": value}).scalar()  # nosec B608


def test_a_reported_incident_carries_the_street_of_its_grid(client, auth, demo):
    r = _report(client, auth.token("staff"), XIJIN)
    assert r.status_code == 201, r.get_json()
    incident = Incident.by_id(r.get_json()["id"])
    grid_code = db.session.execute(text("SELECT code FROM areas WHERE id = :g"), {"g": incident.grid_id}).scalar()
    assert incident.street_code == grid_code[:9] == "620103002"


def test_the_street_follows_a_corrected_location_and_a_typed_code_does_not_stick(client, auth, demo):
    incident = Incident.by_id(_report(client, auth.token("admin"), XIJIN).get_json()["id"])
    db.session.execute(
        text("UPDATE incidents SET geom = ST_SetSRID(ST_MakePoint(:x, :y), 4326) WHERE id = :i"),
        {"x": SONGJIATAN[0], "y": SONGJIATAN[1], "i": incident.id},
    )
    assert _street("incidents", "id", incident.id) == "620102011"
    db.session.execute(text("UPDATE incidents SET street_code = '999999999' WHERE id = :i"), {"i": incident.id})
    assert _street("incidents", "id", incident.id) == "620102011"


def test_outside_every_grid_the_street_polygon_then_the_nearest_street(app, demo):
    at = db.session.execute(
        text(
            "SELECT wuwei_street_of(ST_SetSRID(ST_MakePoint(:x, :y), 4326)), "
            "(SELECT code FROM areas WHERE level = 'street' "
            " ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326) LIMIT 1)"
        ),
        {"x": FAR[0], "y": FAR[1]},
    ).one()
    assert at[0] is not None and at[0] == at[1]  # no grid, no polygon: the nearest street office
    assert (
        db.session.execute(
            text("SELECT wuwei_street_of(ST_SetSRID(ST_MakePoint(:x, :y), 4326))"), {"x": ZJY[0], "y": ZJY[1]}
        ).scalar()
        == "620102005"
    )


def _recent(seconds_ago=60):
    return int((dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)).timestamp())


def test_fixes_from_a_phone_and_from_a_file_carry_the_street_they_lie_in(client, app, demo):
    device, secret = register_device("patrol", "street test phone", "traccar")
    ts = _recent()
    r = client.get(f"/track/osmand?id={secret}&timestamp={ts}&lat={SONGJIATAN[1]}&lon={SONGJIATAN[0]}")
    assert r.status_code == 200
    fixed = dt.datetime.fromtimestamp(ts, dt.UTC)
    stored = db.session.scalars(select(Position).where(Position.device_id == device.id, Position.fixed_at == fixed))
    assert [p.street_code for p in stored] == ["620102011"]
    # The bulk path (COPY, as GPX/CSV imports and phone batches use): one fix in each of two streets.
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    fixes = [
        Fix(fixed_at=t0, lon=XIJIN[0], lat=XIJIN[1]),
        Fix(fixed_at=t0 + dt.timedelta(seconds=5), lon=FAR[0], lat=FAR[1]),
    ]
    assert store_fixes(device, fixes, "gpx", None) == 2
    rows = db.session.execute(
        select(Position.fixed_at, Position.street_code)
        .where(
            Position.device_id == device.id, Position.fixed_at >= t0, Position.fixed_at < t0 + dt.timedelta(minutes=1)
        )
        .order_by(Position.fixed_at)
    ).all()
    nearest = db.session.execute(
        text("SELECT wuwei_street_of(ST_SetSRID(ST_MakePoint(:x, :y), 4326))"), {"x": FAR[0], "y": FAR[1]}
    ).scalar()
    assert [r.street_code for r in rows] == ["620103002", nearest]


def test_a_street_users_scope_names_its_street_and_a_districts_its_streets(app, demo):
    community = db.session.scalar(select(User).where(User.username == "staff"))
    leader = db.session.scalar(select(User).where(User.username == "leader"))
    admin = db.session.scalar(select(User).where(User.username == "admin"))

    def sql(clause):
        return str(clause.compile(compile_kwargs={"literal_binds": True}))

    assert "incidents.street_code = '620103002'" in sql(grid_clause(scope_of(community), Incident.grid_id))
    city = sql(street_clause(scope_of(leader), Incident.street_code))
    assert "incidents.street_code IN (SELECT areas.code" in city and "areas.level = 'street'" in city
    assert sql(grid_clause(scope_of(admin), Incident.grid_id)) == "true"  # the whole city fans out, as planned
    # Tables without the column keep the grid condition alone.
    assert "street_code" not in sql(grid_clause(scope_of(community), Device.id))
    # What each user sees is unchanged: every incident the grid condition lets through lies in their streets.
    for user in (community, leader):
        scope = scope_of(user)
        seen = db.session.execute(
            select(Incident.street_code).where(grid_clause(scope, Incident.grid_id, Incident.geom)).distinct()
        ).scalars()
        assert set(seen) <= set(
            db.session.execute(
                select(text("code")).select_from(text("areas")).where(text("level = 'street'"))
            ).scalars()
        )


@pytest.mark.no_transaction
@pytest.mark.slow
def test_the_migration_fills_existing_rows_in_batches():
    """Downgrade to 0022 (the column goes), add rows as that version would, upgrade: every row is filled."""
    with demo_at("street", "0022_gridbench"):
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO incidents (category_id, source, state, description, geom) "
                    "SELECT category_id, source, 'reported', 'old', geom FROM incidents LIMIT 5"
                )
            )
        flask_migrate.upgrade(revision="head")
        with db.engine.connect() as conn:
            missing = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM incidents WHERE street_code IS NULL), "
                    "(SELECT count(*) FROM positions WHERE street_code IS NULL), "
                    "(SELECT count(*) FROM positions), "
                    "(SELECT count(*) FROM incidents i JOIN areas a ON a.id = i.grid_id "
                    " WHERE i.street_code <> left(a.code, 9))"
                )
            ).one()
        assert missing[0] == missing[1] == missing[3] == 0 and missing[2] > 0
