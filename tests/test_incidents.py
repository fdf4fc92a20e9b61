"""Incidents: the seed story end to end, the workflow rules, routing, duplicates, lists, photos, bad input."""

import io
import json

import pytest
from PIL import Image
from sqlalchemy import func, select, text

from app.audit.models import AuditEntry
from app.auth.models import User
from app.core.extensions import db
from app.incidents.models import OPEN_STATES, STATES, Incident, Offer, Photo, Transition
from app.incidents.workflow import TRANSITIONS

XIJIN = (103.78865, 36.05085)  # Xijin East Road housing office, Hualinshan grid 2
HLS_GRID1 = (103.7815, 36.0510)  # Hualinshan grid 1 (gridworker's grid)
ZJY = (103.8360, 36.0480)  # Zhangjiayuan


def post_json(client, url, body, headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def report(client, headers, **kw):
    body = {"category": "drainage.sewage", "description": "污水外溢", "lon": XIJIN[0], "lat": XIJIN[1], **kw}
    return post_json(client, "/api/v1/incidents", body, headers)


def move(client, headers, iid, to, **kw):
    return post_json(client, f"/api/v1/incidents/{iid}/transitions", {"to": to, **kw}, headers)


def jpeg_bytes(size=(640, 480), color=(200, 80, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return buf.getvalue()


def test_seed_story_replayed_from_hotline_call_to_evaluation(client, auth, demo):
    """幸福号 call → Li Ailan on site → round-table council → repair → check → close → evaluation."""
    staff, liailan = auth.token("staff"), auth.token("liailan")
    grid = auth.token("hls2")  # the worker of grid 2, where the housing office stands
    r = report(
        client,
        staff,
        source="hotline",
        address="西津东路房管所门前",
        reporter_name="王女士",
        reporter_phone="13800000009",
        description="西津东路房管所门前又有污水外溢（幸福号来电）",
    )
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    props = r.get_json()["properties"]
    assert props["state"] == "reported" and props["grid_code"].startswith("620103002001")
    # Routing: offered to the grid's workers and to the drainage department.
    offered = props["offered_to"]
    assert any(o["department"] == "区排水管理所" for o in offered)
    assert any(o["user"] for o in offered)

    assert move(client, liailan, iid, "filed", note="李爱兰到现场查看，已向社区报告").status_code == 200
    council = client.get("/api/v1/councils", headers=staff).get_json()["councils"]
    roundtable = next(c for c in council if c["name"] == "楼院圆桌议事厅")
    members = [m["id"] for m in roundtable["members"]]
    r = post_json(
        client,
        f"/api/v1/councils/{roundtable['id']}/meetings",
        {
            "held_at": "2026-04-14T09:30:00+08:00",
            "topic": "西津东路污水外溢",
            "place": "社区议事厅",
            "participant_ids": members,
            "incident_ids": [iid],
            "minutes": "房管所同意更换管道",
            "decisions": [
                {"text": "房管所更换排污管道", "owner": "西津东路房管所", "due_on": "2026-04-21", "incident_id": iid}
            ],
        },
        liailan,
    )
    assert r.status_code == 201, r.get_json()
    meeting = r.get_json()
    assert client.get(f"/api/v1/incidents/{iid}", headers=staff).get_json()["properties"]["state"] == "consultation"

    cats = client.get("/api/v1/incident-categories", headers=staff).get_json()
    housing = next(d["id"] for d in cats["departments"] if d["code"] == "housing")
    assert move(client, staff, iid, "dispatched", department_id=housing).status_code == 200
    assert move(client, grid, iid, "in_progress", note="施工队进场").status_code == 200
    assert move(client, grid, iid, "responded", note="管道已更换").status_code == 200
    assert move(client, staff, iid, "closed", note="核查无积水").status_code == 200
    decision = meeting["decisions"][0]["id"]
    r = client.patch(
        f"/api/v1/decisions/{decision}",
        data=json.dumps({"status": "done", "note": "已更换"}),
        content_type="application/json",
        headers=staff,
    )
    assert r.status_code == 200
    r = move(client, staff, iid, "evaluated", rating=5)
    assert r.status_code == 200
    final = client.get(f"/api/v1/incidents/{iid}", headers=staff).get_json()["properties"]
    assert final["state"] == "evaluated" and final["closed_at"] and final["meeting_id"] == meeting["id"]
    assert [t["to"] for t in final["timeline"]] == [
        "reported",
        "filed",
        "consultation",
        "dispatched",
        "in_progress",
        "responded",
        "closed",
        "evaluated",
    ]
    assert final["timeline"][1]["by"] == "调解员 李爱兰"
    ledger = client.get(
        "/api/v1/consultation-ledger?community=620103002001&from=2026-04-01&to=2026-04-30", headers=staff
    ).get_json()["rows"]
    row = next(r for r in ledger if r["meeting_id"] == meeting["id"])
    assert row["status"] == "done" and f"#{iid}" in row["incidents"] and "西津东路房管所" in row["owner"]
    # The pages a user reads show the same story.
    auth.login("staff")
    page = client.get(f"/incidents/{iid}").get_data(as_text=True)
    assert "李爱兰到现场查看" in page and "西津东路污水外溢" in page
    assert f'href="/consultations/meetings/{meeting["id"]}"' in page  # consultations' related-records hook


def test_demo_holds_the_seed_story_and_overdue_incidents(client, auth, demo):
    headers = auth.token("admin")
    story = client.get("/api/v1/incidents/1", headers=headers).get_json()["properties"]
    assert story["source"] == "hotline" and story["state"] == "evaluated"
    assert story["meeting_id"] is not None
    overdue = client.get("/api/v1/incidents?overdue=true&count=true", headers=headers).get_json()
    assert overdue["numberMatched"] >= 3
    assert all(f["properties"]["overdue"] for f in overdue["features"])
    songjiatan = client.get("/api/v1/incidents?grid=620102011002&category=bikes&count=true", headers=headers).get_json()
    assert songjiatan["numberMatched"] >= 4


@pytest.mark.parametrize("from_state", STATES)
def test_every_disallowed_transition_is_409_and_changes_nothing(client, auth, demo, from_state):
    headers = auth.token("admin")
    iid = report(client, headers).get_json()["id"]
    db.session.execute(text("UPDATE incidents SET state = :s WHERE id = :i"), {"s": from_state, "i": iid})
    db.session.commit()
    steps = db.session.scalar(select(func.count()).select_from(Transition).where(Transition.incident_id == iid))
    for to in STATES:
        if to in TRANSITIONS[from_state]:
            continue
        r = move(client, headers, iid, to, note="x")
        assert r.status_code == 409, (from_state, to, r.get_json())
        assert r.get_json()["error"]["code"] == "conflict"
    assert Incident.by_id(iid).state == from_state
    assert db.session.scalar(select(func.count()).select_from(Transition).where(Transition.incident_id == iid)) == steps


def test_roles_outside_the_workflow_step_get_403(client, auth, demo):
    iid = report(client, auth.token("staff")).get_json()["id"]
    for user in ("gridworker", "leader", "planner"):
        r = move(client, auth.token(user), iid, "filed")
        assert r.status_code in (403, 404), user
    assert move(client, auth.token("hls2"), iid, "filed").status_code == 403
    assert Incident.by_id(iid).state == "reported"


def test_dispatch_needs_a_target_and_duplicate_needs_the_original(client, auth, demo):
    staff = auth.token("staff")
    iid = report(client, staff).get_json()["id"]
    other = report(client, staff, description="同一处污水").get_json()["id"]
    assert move(client, staff, iid, "filed").status_code == 200
    r = move(client, staff, iid, "dispatched")
    assert r.status_code == 422 and "target" in r.get_json()["error"]["fields"]
    assert move(client, staff, iid, "dispatched", department_id=999999).status_code == 422
    assert move(client, staff, other, "duplicate").status_code == 422
    assert move(client, staff, other, "duplicate", duplicate_of=other).status_code == 422
    r = move(client, staff, other, "duplicate", duplicate_of=iid)
    assert r.status_code == 200 and r.get_json()["properties"]["duplicate_of"] == iid
    assert move(client, staff, iid, "rejected", note="x").status_code == 200


def test_duplicate_suggestion_lists_open_same_category_incidents_within_100_m(client, auth, demo):
    staff = auth.token("staff")
    near = report(client, staff).get_json()["id"]
    far = report(client, staff, lon=XIJIN[0] - 0.004).get_json()["id"]  # ~360 m west
    other_cat = report(client, staff, category="env.litter").get_json()["id"]
    r = client.get(
        f"/api/v1/incidents/duplicates?category=drainage.sewage&lon={XIJIN[0] + 0.0005}&lat={XIJIN[1]}", headers=staff
    )
    ids = [i["id"] for i in r.get_json()["incidents"]]
    assert near in ids and far not in ids and other_cat not in ids
    # The reporter attaches instead of opening a new incident.
    before = db.session.scalar(select(func.count()).select_from(Incident))
    r = post_json(client, "/api/v1/incidents", {"attach_to": near, "description": "我也看到了"}, staff)
    assert r.status_code == 200 and r.get_json()["attached_to"] == near
    assert db.session.scalar(select(func.count()).select_from(Incident)) == before


def test_list_filters_and_csv_export(client, auth, demo):
    staff = auth.token("staff")
    iid = report(client, staff, source="hotline", description="筛选测试 独特文字").get_json()["id"]
    fc = client.get("/api/v1/incidents?q=独特文字&source=hotline&state=reported&category=drainage", headers=staff)
    assert [f["id"] for f in fc.get_json()["features"]] == [iid]
    assert client.get("/api/v1/incidents?q=独特文字&state=closed", headers=staff).get_json()["features"] == []
    assert (
        client.get("/api/v1/incidents?q=独特文字&grid=620103002001002&count=true", headers=staff).get_json()[
            "numberMatched"
        ]
        == 1
    )
    assert (
        client.get("/api/v1/incidents?q=独特文字&grid=620103002001001&count=true", headers=staff).get_json()[
            "numberMatched"
        ]
        == 0
    )
    auth.login("staff")
    csv_text = client.get("/incidents/?q=独特文字&format=csv").get_data(as_text=True)
    assert "筛选测试 独特文字" in csv_text and "13800" not in csv_text
    page = client.get("/incidents/?overdue=true").get_data(as_text=True)
    assert "超时" in page


def test_csv_export_cells_never_start_a_formula(client, auth, demo):
    staff = auth.token("staff")
    report(client, staff, description='=HYPERLINK("http://evil.example","点我") 公式测试')
    auth.login("staff")
    r = client.get("/incidents/?q=公式测试&format=csv")
    assert r.mimetype == "text/csv"
    row = next(line for line in r.get_data(as_text=True).splitlines() if "公式测试" in line)
    assert "'=HYPERLINK(" in row and ",=HYPERLINK" not in row and ',"=HYPERLINK' not in row


def test_dispatch_and_consultation_steps_check_their_targets(client, auth, demo):
    staff = auth.token("staff")
    iid = report(client, staff).get_json()["id"]
    assert move(client, staff, iid, "filed").status_code == 200
    leader = db.session.scalar(select(User.id).where(User.username == "leader"))
    r = move(client, staff, iid, "dispatched", assignee_id=leader)  # leaders are not dispatched to
    assert r.status_code == 422 and "assignee_id" in r.get_json()["error"]["fields"]
    r = move(client, staff, iid, "consultation", meeting_id=999999)
    assert r.status_code == 422 and "meeting_id" in r.get_json()["error"]["fields"]
    worker = db.session.scalar(select(User.id).where(User.username == "gridworker"))
    r = move(client, staff, iid, "dispatched", assignee_id=worker)
    assert r.status_code == 200 and r.get_json()["properties"]["assignee_id"] == worker


@pytest.mark.parametrize("url", ["/api/v1/incidents", "/api/v1/incidents/1/transitions", "/api/v1/incident-categories"])
def test_a_body_that_is_not_an_object_is_400(client, auth, demo, url):
    r = client.post(url, data="[1, 2]", content_type="application/json", headers=auth.token("admin"))
    assert r.status_code == 400 and r.get_json()["error"]["fields"] == {"body": "not an object"}


def test_openapi_paths_of_incidents_consultations_and_open311_keys_validate(client):
    from openapi_spec_validator import OpenAPIV31SpecValidator

    doc = client.get("/api/v1/openapi.json").get_json()
    mine = (
        "/api/v1/incident",
        "/api/v1/councils",
        "/api/v1/meetings",
        "/api/v1/decisions",
        "/api/v1/consultation-ledger",
        "/api/v1/open311-keys",
    )
    doc["paths"] = {p: v for p, v in doc["paths"].items() if p.startswith(mine)}
    assert {
        "/api/v1/incidents",
        "/api/v1/councils/{council_id}/meetings",
        "/api/v1/decisions/{decision_id}",
        "/api/v1/open311-keys/{key_id}",
    } <= set(doc["paths"])
    assert list(OpenAPIV31SpecValidator(doc).iter_errors()) == []
    listing = {p["name"] for p in doc["paths"]["/api/v1/incidents"]["get"]["parameters"]}
    assert {"bbox", "state", "category", "from", "to", "overdue", "mine", "limit", "offset"} <= listing


@pytest.mark.parametrize(
    "query",
    [
        "state=lost",
        "source=pigeon",
        "overdue=maybe",
        "from=yesterday",
        "bbox=1,2,3",
        "limit=0",
        "limit=100000",
        "colour=red",
        "grid=abc",
        "from=2026-05-01&to=2026-04-01",
        "sort=secret",
    ],
)
def test_bad_list_queries_are_400(client, auth, demo, query):
    r = client.get(f"/api/v1/incidents?{query}", headers=auth.token("staff"))
    assert r.status_code == 400 and r.get_json()["error"]["message"]


def test_map_geojson_has_no_personal_data_and_respects_area(client, auth, demo):
    # Tokens first: an error response rolls back the test's open savepoint, tokens made later with it.
    staff, zjy = auth.token("staff"), auth.token("zjystaff")
    iid = report(client, staff, reporter_name="王女士", reporter_phone="13800000009").get_json()["id"]
    for user in ("leader", "staff", "planner"):
        body = json.dumps(
            client.get("/api/v1/incidents?bbox=103.7,36.0,103.95,36.1&limit=1000", headers=auth.token(user)).get_json(),
            ensure_ascii=False,
        )
        assert "13800000009" not in body and "王女士" not in body
    # Zhangjiayuan staff do not see a Hualinshan incident.
    assert client.get(f"/api/v1/incidents/{iid}", headers=zjy).status_code == 404
    assert move(client, zjy, iid, "filed").status_code == 404
    ids = [f["id"] for f in client.get("/api/v1/incidents?limit=1000", headers=zjy).get_json()["features"]]
    assert iid not in ids


def test_reporter_contact_only_for_staff_and_read_is_audited(client, auth, demo):
    iid = report(client, auth.token("staff"), reporter_name="王女士", reporter_phone="13800000009").get_json()["id"]
    staff_view = client.get(f"/api/v1/incidents/{iid}", headers=auth.token("staff")).get_json()["properties"]
    assert staff_view["reporter"]["phone"] == "13800000009"
    leader_view = json.dumps(
        client.get(f"/api/v1/incidents/{iid}", headers=auth.token("leader")).get_json(), ensure_ascii=False
    )
    assert "13800000009" not in leader_view
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "read_personal", AuditEntry.row_id == str(iid))
        )
        == 1
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"lat": 91}, "lat"),
        ({"lon": 200}, "lon"),
        ({"lat": None}, "location"),
        ({"description": "x" * 5000}, "description"),
        ({"category": "nonsense"}, "category"),
        ({"category": None}, "category"),
        ({"description": ""}, "description"),
        ({"source": "pigeon"}, "source"),
        ({"lat": "north"}, "lat"),
        ({"address": 12}, "address"),
        ({"attributes": {"colour": "red"}}, "attribute[colour]"),
    ],
)
def test_bad_reports_are_422_and_store_nothing(client, auth, demo, body, field):
    before = db.session.scalar(select(func.count()).select_from(Incident))
    r = report(client, auth.token("staff"), **body)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Incident)) == before


def test_malformed_json_wrong_type_and_outside_area(client, auth, demo):
    staff = auth.token("staff")
    r = client.post("/api/v1/incidents", data="{not json", content_type="application/json", headers=staff)
    assert r.status_code == 400
    r = client.post(
        "/api/v1/incidents", data="category=x", content_type="application/x-www-form-urlencoded", headers=staff
    )
    assert r.status_code == 415
    r = report(client, staff, lon=ZJY[0], lat=ZJY[1])
    assert r.status_code == 403
    assert (
        client.post(
            "/api/v1/incidents/999999/transitions",
            data=json.dumps({"to": "filed"}),
            content_type="application/json",
            headers=staff,
        ).status_code
        == 404
    )
    assert move(client, staff, 1, "teleported").status_code in (404, 422)


def test_photo_upload_makes_a_thumbnail_and_refuses_non_images(client, auth, demo, app):
    staff = auth.token("staff")
    iid = report(client, staff).get_json()["id"]
    r = client.post(
        f"/api/v1/incidents/{iid}/photos",
        headers=staff,
        data={"photo": (io.BytesIO(jpeg_bytes()), "site.jpg")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    thumb = client.get(r.get_json()["thumbnail"], headers=staff)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.data)).size) <= 320
    full = client.get(r.get_json()["url"], headers=staff)
    assert Image.open(io.BytesIO(full.data)).size == (640, 480)
    # Another community's staff cannot fetch it.
    assert client.get(r.get_json()["url"], headers=auth.token("zjystaff")).status_code == 404

    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 2000
    cases = [
        ({"photo": (io.BytesIO(elf), "photo.jpg")}, 415),
        ({"photo": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 500), "virus.jpg")}, 415),
        ({"photo": (io.BytesIO(b""), "empty.jpg")}, 422),
        ({"note": "no file"}, 422),
    ]
    for data, status in cases:
        r = client.post(f"/api/v1/incidents/{iid}/photos", headers=staff, data=data, content_type="multipart/form-data")
        assert r.status_code == status, (data, r.get_json())
        assert r.get_json()["error"]["message"]
    assert db.session.scalar(select(func.count()).select_from(Photo).where(Photo.incident_id == iid)) == 1


def test_too_large_and_broken_uploads_are_refused(client, auth, demo, app):
    staff = auth.token("staff")
    iid = report(client, staff).get_json()["id"]
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (20 * 1024 * 1024)
    r = client.post(
        f"/api/v1/incidents/{iid}/photos",
        headers=staff,
        data={"photo": (io.BytesIO(big), "huge.jpg")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "payload_too_large"
    r = client.post(
        f"/api/v1/incidents/{iid}/photos",
        headers=staff,
        data=b"--xyz\r\nContent-Disposition: form-da",
        content_type="multipart/form-data; boundary=xyz",
    )
    assert r.status_code == 400, r.get_data(as_text=True)
    r = client.post(f"/api/v1/incidents/{iid}/photos", headers=staff, data=b"{}", content_type="application/json")
    assert r.status_code == 415
    assert db.session.scalar(select(func.count()).select_from(Photo).where(Photo.incident_id == iid)) == 0


def test_report_form_page_creates_an_incident_with_photo(client, auth, demo):
    auth.login("gridworker")
    assert "上报事件" in client.get("/incidents/new").get_data(as_text=True)
    r = client.post(
        "/incidents/new",
        data={
            "category": "env.litter",
            "description": "网格内垃圾堆放（表单）",
            "lon": str(HLS_GRID1[0]),
            "lat": str(HLS_GRID1[1]),
            "photo": (io.BytesIO(jpeg_bytes()), "a.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    inc = db.session.scalar(select(Incident).where(Incident.description == "网格内垃圾堆放（表单）"))
    assert inc.source == "grid_worker" and inc.state == "reported"
    assert db.session.scalar(select(func.count()).select_from(Photo).where(Photo.incident_id == inc.id)) == 1
    # The grid worker sees it offered to them.
    me = db.session.scalar(
        select(func.count()).select_from(Offer).where(Offer.incident_id == inc.id, Offer.user_id.is_not(None))
    )
    assert me >= 1
    r = client.post("/incidents/new", data={"category": "env.litter", "description": ""})
    assert r.status_code == 422 and "请在地图上选择位置" in r.get_data(as_text=True)


def test_detail_page_offers_only_the_next_steps_of_the_role(client, auth, demo):
    iid = report(client, auth.token("staff")).get_json()["id"]
    auth.login("staff")
    page = client.get(f"/incidents/{iid}").get_data(as_text=True)
    assert 'value="filed"' in page and 'value="closed"' not in page
    r = client.post(f"/incidents/{iid}/transition", data={"to": "filed", "note": "立案"})
    assert r.status_code == 302 and Incident.by_id(iid).state == "filed"
    auth.logout()
    auth.login("gridworker")
    page = client.get(f"/incidents/{iid}").get_data(as_text=True)
    assert 'name="to"' not in page
    assert "立案" in page


def test_incidents_overlay_is_registered_on_the_map(app):
    from app.core.registry import OVERLAYS

    o = OVERLAYS["incidents"]
    assert o.endpoint == "incidents_api.incidents" and o.color_by == "state" and o.visible
    assert set(o.colors) == set(OPEN_STATES) and o.url_kwargs == {"open": "true"}


def test_english_labels_with_lang_en(client, auth, demo):
    auth.login("staff")
    page = client.get("/incidents/?lang=en").get_data(as_text=True)
    assert "Report an incident" in page and "Export CSV" in page and "上报事件" not in page
    assert "Verified and closed" in client.get("/incidents/1").get_data(as_text=True)
    assert "上报事件" in client.get("/incidents/?lang=zh").get_data(as_text=True)


def test_map_page_opens_on_an_incident(client, auth, demo):
    auth.login("staff")
    r = client.get("/?focus=incidents:1")
    assert r.status_code == 200 and "/api/v1/incidents/1" in r.get_data(as_text=True)
    assert "/api/v1/incidents?open=true" in r.get_data(as_text=True)


def test_admin_manages_categories_and_deadlines_drive_overdue(client, auth, demo):
    admin, staff = auth.token("admin"), auth.token("staff")
    r = post_json(
        client,
        "/api/v1/incident-categories",
        {
            "code": "env.graffiti",
            "name": "乱涂乱画",
            "parent": "env",
            "department_id": None,
            "deadlines": {"reported": 0.001},
        },
        admin,
    )
    assert r.status_code == 201, r.get_json()
    assert (
        post_json(client, "/api/v1/incident-categories", {"code": "env.graffiti", "name": "x"}, admin).status_code
        == 409
    )
    assert (
        post_json(client, "/api/v1/incident-categories", {"code": "bad code!", "name": "x"}, admin).status_code == 422
    )
    assert (
        post_json(
            client, "/api/v1/incident-categories", {"code": "x", "name": "x", "deadlines": {"reported": -1}}, admin
        ).status_code
        == 422
    )
    assert post_json(client, "/api/v1/incident-categories", {"code": "y", "name": "y"}, staff).status_code == 403
    iid = report(client, staff, category="env.graffiti", description="墙面涂鸦").get_json()["id"]
    db.session.execute(
        text("UPDATE incidents SET state_changed_at = now() - interval '1 minute' WHERE id = :i"), {"i": iid}
    )
    db.session.commit()
    assert client.get(f"/api/v1/incidents/{iid}", headers=staff).get_json()["properties"]["overdue"] is True
    r = client.patch(
        "/api/v1/incident-categories/env.graffiti",
        data=json.dumps({"deadlines": {"reported": 48}}),
        content_type="application/json",
        headers=admin,
    )
    assert r.status_code == 200
    assert client.get(f"/api/v1/incidents/{iid}", headers=staff).get_json()["properties"]["overdue"] is False
    r = client.patch(
        "/api/v1/incident-categories/env.graffiti",
        data=json.dumps({"active": False}),
        content_type="application/json",
        headers=admin,
    )
    assert r.status_code == 200
    assert report(client, staff, category="env.graffiti").status_code == 422
    assert (
        client.patch(
            "/api/v1/incident-categories/none", data="{}", content_type="application/json", headers=admin
        ).status_code
        == 404
    )


def test_grid_worker_to_do_list_holds_incidents_routed_to_them(client, auth, demo):
    staff, worker = auth.token("staff"), auth.token("gridworker")
    routed = report(client, staff, lon=HLS_GRID1[0], lat=HLS_GRID1[1], description="一网格待办").get_json()["id"]
    elsewhere = report(client, staff, description="二网格事件").get_json()["id"]
    mine = [f["id"] for f in client.get("/api/v1/incidents?mine=true", headers=worker).get_json()["features"]]
    assert routed in mine and elsewhere not in mine
    auth.login("gridworker")
    assert "一网格待办" in client.get("/incidents/?mine=true").get_data(as_text=True)
