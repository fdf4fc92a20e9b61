"""微协商: councils with members, meetings with agenda incidents and decisions, the ledger, scoping, bad input."""

import json

import pytest
from sqlalchemy import func, select

from app.consultations.models import Council, Decision, Meeting
from app.core.extensions import db


def post(client, url, body, headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def new_council(client, headers, community="620102005003", **kw):
    body = {
        "name": "张家园充电议事会",
        "community": community,
        "description": "充电难题协商",
        "members": [
            {"name": "秦琛", "role": "staff", "organisation": "张家园社区"},
            {"name": "居民甲", "role": "resident_rep", "phone": "13700000000"},
            {"name": "物业乙", "role": "property_company", "organisation": "某物业"},
        ],
        **kw,
    }
    return post(client, "/api/v1/councils", body, headers)


def test_staff_create_council_hold_meeting_and_follow_decisions(client, auth, demo):
    zjy = auth.token("zjystaff")
    r = new_council(client, zjy)
    assert r.status_code == 201, r.get_json()
    council = r.get_json()
    assert council["community"]["code"] == "620102005003" and len(council["members"]) == 3
    assert council["members"][1]["phone"] == "13700000000"
    hazard = post(
        client,
        "/api/v1/incidents",
        {"category": "ebike.flying_wire", "description": "飞线充电", "lon": 103.8360, "lat": 36.0480},
        zjy,
    ).get_json()["id"]
    post(client, f"/api/v1/incidents/{hazard}/transitions", {"to": "filed"}, zjy)
    r = post(
        client,
        f"/api/v1/councils/{council['id']}/meetings",
        {
            "held_at": "2026-11-24T19:00:00+08:00",
            "topic": "充电桩选址",
            "place": "社区会议室",
            "participant_ids": [m["id"] for m in council["members"]],
            "incident_ids": [hazard],
            "decisions": [
                {
                    "text": "在三爱堂小区加装10个充电口",
                    "owner": "张家园社区",
                    "due_on": "2026-12-31",
                    "incident_id": hazard,
                }
            ],
        },
        zjy,
    )
    assert r.status_code == 201, r.get_json()
    meeting = r.get_json()
    assert meeting["incident_ids"] == [hazard] and meeting["decisions"][0]["status"] == "open"
    inc = client.get(f"/api/v1/incidents/{hazard}", headers=zjy).get_json()["properties"]
    assert inc["state"] == "consultation" and inc["meeting_id"] == meeting["id"]
    d = meeting["decisions"][0]["id"]
    r = client.patch(
        f"/api/v1/decisions/{d}",
        data=json.dumps({"status": "done", "note": "已加装"}),
        content_type="application/json",
        headers=zjy,
    )
    assert r.status_code == 200 and r.get_json()["status"] == "done" and r.get_json()["done_at"]
    # Ledger: JSON, page and CSV.
    rows = client.get("/api/v1/consultation-ledger?community=620102005003", headers=zjy).get_json()["rows"]
    assert [r["decision"] for r in rows] == ["在三爱堂小区加装10个充电口"]
    auth.login("zjystaff")
    page = client.get("/consultations/ledger").get_data(as_text=True)
    assert "充电桩选址" in page and "已办结" in page
    csv_text = client.get("/consultations/ledger?format=csv").get_data(as_text=True)
    assert "在三爱堂小区加装10个充电口" in csv_text and "13700000000" not in csv_text


def test_ledger_csv_cells_never_start_a_formula(client, auth, demo):
    staff = auth.token("staff")
    council = next(c for c in client.get("/api/v1/councils", headers=staff).get_json()["councils"])
    r = post(
        client,
        f"/api/v1/councils/{council['id']}/meetings",
        {
            "held_at": "2026-11-24T19:00:00+08:00",
            "topic": "@SUM(A1) 议题",
            "place": "-2+3",
            "decisions": [{"text": "=cmd|' /C calc'!A0 决议", "owner": "+社区"}],
        },
        staff,
    )
    assert r.status_code == 201, r.get_json()
    auth.login("staff")
    csv_text = client.get("/consultations/ledger?format=csv&from=2026-11-24&to=2026-11-24").get_data(as_text=True)
    row = next(line for line in csv_text.splitlines() if "决议" in line and "calc" in line)
    for cell in ("'@SUM(A1) 议题", "'-2+3", "'=cmd", "'+社区"):
        assert cell in row, row


def test_other_communities_and_roles_cannot_reach_a_council(client, auth, demo):
    staff, zjy, patrol, leader = (auth.token(u) for u in ("staff", "zjystaff", "patrol", "leader"))
    hualinshan = next(
        c for c in client.get("/api/v1/councils", headers=staff).get_json()["councils"] if c["name"] == "楼院圆桌议事厅"
    )
    assert client.get(f"/api/v1/councils/{hualinshan['id']}", headers=zjy).status_code == 404
    assert client.get("/api/v1/councils", headers=patrol).status_code == 403
    assert hualinshan["id"] not in [c["id"] for c in client.get("/api/v1/councils", headers=zjy).get_json()["councils"]]
    # Leaders read, without members' phones; they cannot record meetings.
    body = json.dumps(client.get(f"/api/v1/councils/{hualinshan['id']}", headers=leader).get_json(), ensure_ascii=False)
    assert "楼院圆桌议事厅" in body and "13800000011" not in body
    before = db.session.scalar(select(func.count()).select_from(Meeting))
    r = post(
        client,
        f"/api/v1/councils/{hualinshan['id']}/meetings",
        {"held_at": "2026-11-24T19:00:00+08:00", "topic": "x"},
        leader,
    )
    assert r.status_code == 403
    r = post(
        client,
        f"/api/v1/councils/{hualinshan['id']}/meetings",
        {"held_at": "2026-11-24T19:00:00+08:00", "topic": "x"},
        zjy,
    )
    assert r.status_code == 404
    assert new_council(client, zjy, community="620103002001").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"held_at": "tomorrow", "topic": "x"}, "held_at"),
        ({"held_at": "2026-11-24T19:00:00+08:00"}, "topic"),
        ({"held_at": "2026-11-24T19:00:00+08:00", "topic": "x", "participant_ids": [999999]}, "participant_ids"),
        ({"held_at": "2026-11-24T19:00:00+08:00", "topic": "x", "incident_ids": [999999]}, "incident_ids"),
        ({"held_at": "2026-11-24T19:00:00+08:00", "topic": "x", "incident_ids": ["1"]}, "incident_ids.0"),
        ({"held_at": "2026-11-24T19:00:00+08:00", "topic": "x", "decisions": [{"text": "t"}]}, "decisions.0.owner"),
        (
            {
                "held_at": "2026-11-24T19:00:00+08:00",
                "topic": "x",
                "decisions": [{"text": "t", "owner": "o", "due_on": "31/12/2026"}],
            },
            "decisions.0.due_on",
        ),
        ({"held_at": "2026-11-24T19:00:00+08:00", "topic": "x" * 300}, "topic"),
    ],
)
def test_bad_meetings_are_422_and_store_nothing(client, auth, demo, body, field):
    staff = auth.token("staff")
    council = next(c for c in client.get("/api/v1/councils", headers=staff).get_json()["councils"])
    before = (
        db.session.scalar(select(func.count()).select_from(Meeting)),
        db.session.scalar(select(func.count()).select_from(Decision)),
    )
    r = post(client, f"/api/v1/councils/{council['id']}/meetings", body, staff)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert (
        db.session.scalar(select(func.count()).select_from(Meeting)),
        db.session.scalar(select(func.count()).select_from(Decision)),
    ) == before


def test_bad_council_input(client, auth, demo):
    zjy = auth.token("zjystaff")
    before = db.session.scalar(select(func.count()).select_from(Council))
    assert new_council(client, zjy, name="").status_code == 422
    assert new_council(client, zjy, community="999").status_code == 422
    assert new_council(client, zjy, members=[{"name": "x", "role": "king"}]).status_code == 422
    assert new_council(client, zjy, members="everyone").status_code == 422
    r = client.post("/api/v1/councils", data="{oops", content_type="application/json", headers=zjy)
    assert r.status_code == 400
    assert client.get("/api/v1/consultation-ledger?from=April", headers=zjy).status_code == 400
    assert (
        client.patch(
            "/api/v1/decisions/999999",
            data=json.dumps({"status": "done"}),
            content_type="application/json",
            headers=zjy,
        ).status_code
        == 404
    )
    assert db.session.scalar(select(func.count()).select_from(Council)) == before


def test_council_pages_show_members_meetings_and_the_story(client, auth, demo):
    auth.login("liailan")
    index = client.get("/consultations/").get_data(as_text=True)
    assert "楼院圆桌议事厅" in index and "李爱兰" in index
    council = db.session.scalar(select(Council).where(Council.name == "楼院圆桌议事厅"))
    page = client.get(f"/consultations/councils/{council.id}").get_data(as_text=True)
    assert "西津东路房管所" in page and "13800000011" in page  # staff of the community see phones
    meeting = db.session.scalar(select(Meeting).where(Meeting.council_id == council.id).order_by(Meeting.id))
    page = client.get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert "房管所牵头更换门前破损排污管道" in page and "已办结" in page
    r = client.post(
        f"/consultations/councils/{council.id}/meetings",
        data={
            "held_at": "2026-11-24T19:00",
            "topic": "九间楼清扫复查",
            "participant_ids": [m.id for m in council.members][:2],
            "incident_ids": "",
            "decision_text": "每月复查一次",
            "decision_owner": "网格员马丽",
        },
    )
    assert r.status_code == 302
    assert "九间楼清扫复查" in client.get(r.headers["Location"]).get_data(as_text=True)
