"""PUT /api/v1/grids/<id>/workers: who walks a grid, set by admins and by planners/staff above it."""

import json

import pytest
from sqlalchemy import select

from app.areas.models import Area
from app.audit.models import AuditEntry
from app.core.extensions import db

HLS_GRID_2 = "620103002001002"
ZJY_GRID_1 = "620102005003001"


def grid(code):
    return db.session.scalar(select(Area).where(Area.code == code))


def put(client, grid_id, body, headers=None):
    return client.put(
        f"/api/v1/grids/{grid_id}/workers",
        data=json.dumps(body),
        content_type="application/json",
        headers=headers or {},
    )


def worker_names(code):
    db.session.expire_all()
    return sorted(u.username for u in grid(code).workers)


@pytest.mark.parametrize("user", ["admin", "planner", "staff"])
def test_admin_planner_and_community_staff_assign_workers(client, auth, demo, user):
    auth.login(user)
    g = grid(HLS_GRID_2)
    r = put(client, g.id, {"usernames": ["hls2", "hls3"]})
    assert r.status_code == 200, r.get_json()
    assert [w["username"] for w in r.get_json()["workers"]] == ["hls2", "hls3"]
    assert worker_names(HLS_GRID_2) == ["hls2", "hls3"]
    assert client.get(f"/api/v1/grids/{g.id}/workers").get_json()["workers"][1]["username"] == "hls3"


def test_assignment_is_audited_with_before_and_after(client, auth, demo):
    auth.login("staff")
    g = grid(HLS_GRID_2)
    before = worker_names(HLS_GRID_2)
    put(client, g.id, {"usernames": ["hls4"]})
    entry = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.table_name == "grid_workers", AuditEntry.row_id == str(g.id))
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry.action == "update" and entry.user_id is not None
    assert len(entry.before["user_ids"]) == len(before) and len(entry.after["user_ids"]) == 1


def test_empty_list_clears_the_grid(client, auth, demo):
    auth.login("admin")
    assert put(client, grid(HLS_GRID_2).id, {"usernames": []}).status_code == 200
    assert worker_names(HLS_GRID_2) == []


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({"usernames": ["nobody"]}, 422, "no such user"),
        ({"usernames": ["staff"]}, 422, "not grid workers"),
        ({"usernames": "hls2"}, 422, "usernames: must be a list"),
        ({"usernames": [1, 2]}, 422, "usernames.0: must be a string"),
        ({"workers": ["hls2"]}, 422, "workers: unknown field"),
        ([], 400, "JSON object"),
        ({"usernames": ["hls2"] * 51}, 422, "at most"),
    ],
)
def test_bad_bodies_are_refused_and_change_nothing(client, auth, demo, body, status, fragment):
    auth.login("admin")
    before = worker_names(HLS_GRID_2)
    r = put(client, grid(HLS_GRID_2).id, body)
    assert r.status_code == status and fragment in r.get_json()["error"]["message"]
    assert worker_names(HLS_GRID_2) == before


def test_staff_of_another_community_and_read_only_roles_are_refused(client, auth, demo):
    g = grid(HLS_GRID_2)
    before = worker_names(HLS_GRID_2)
    auth.login("zjystaff")  # Zhangjiayuan staff
    assert put(client, g.id, {"usernames": ["zjy1"]}).status_code == 403
    auth.logout()
    for user in ("leader", "gridworker", "patrol"):
        auth.login(user)
        assert put(client, g.id, {"usernames": ["hls2"]}).status_code == 403
        auth.logout()
    assert worker_names(HLS_GRID_2) == before


def test_unknown_grid_or_a_community_is_404(client, auth, demo):
    auth.login("admin")
    assert put(client, 987654, {"usernames": []}).status_code == 404
    assert put(client, grid("620103002001").id if grid("620103002001") else 1, {"usernames": []}).status_code == 404
    r = client.put(
        f"/api/v1/grids/{grid(HLS_GRID_2).id}/workers",
        data="usernames=hls2",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 415


def test_reading_workers_of_a_grid_elsewhere_is_404(client, auth, demo):
    auth.login("gridworker")
    assert client.get(f"/api/v1/grids/{grid(ZJY_GRID_1).id}/workers").status_code == 404
    assert client.get(f"/api/v1/grids/{grid('620103002001001').id}/workers").status_code == 200


def test_endpoint_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    path = doc["paths"]["/api/v1/grids/{grid_id}/workers"]
    assert "put" in path and "422" in path["put"]["responses"]
