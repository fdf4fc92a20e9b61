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
            "decision_due_on": "2026-12-24",
        },
    )
    assert r.status_code == 302
    assert "九间楼清扫复查" in client.get(r.headers["Location"]).get_data(as_text=True)


# --------------------------------------------------------------------------- consultations that run themselves


def filed_incident(client, headers, description="楼道堆物占用消防通道"):
    iid = post(
        client,
        "/api/v1/incidents",
        {"category": "ebike.flying_wire", "description": description, "lon": 103.8360, "lat": 36.0480},
        headers,
    ).get_json()["id"]
    assert post(client, f"/api/v1/incidents/{iid}/transitions", {"to": "filed"}, headers).status_code == 200
    return iid


def zjy_council(client, zjy):
    return new_council(client, zjy).get_json()


def patch_decision(client, did, body, headers):
    return client.patch(
        f"/api/v1/decisions/{did}", data=json.dumps(body), content_type="application/json", headers=headers
    )


def test_closing_the_last_decision_moves_the_agenda_incidents_to_verification(client, auth, demo):
    zjy = auth.token("zjystaff")
    council = zjy_council(client, zjy)
    first, second = filed_incident(client, zjy), filed_incident(client, zjy, "单元门口飞线充电")
    r = post(
        client,
        f"/api/v1/councils/{council['id']}/meetings",
        {
            "held_at": "2026-11-24T19:00:00+08:00",
            "topic": "楼道安全",
            "incident_ids": [first],
            "agenda": [
                {"title": "楼道堆物", "incident_id": first},
                {"title": "飞线充电", "note": "三号楼", "incident_id": second},
            ],
            "decisions": [
                {"text": "清理楼道堆物", "owner": "物业乙", "due_on": "2026-12-10", "agenda_no": 1},
                {"text": "加装充电口", "owner": "张家园社区", "due_on": "2026-12-20", "agenda_no": 2},
                {"text": "张贴安全告示", "owner": "秦琛"},
            ],
        },
        zjy,
    )
    assert r.status_code == 201, r.get_json()
    m = r.get_json()
    # An agenda item's incident joins the agenda; decisions name their item (and its incident).
    assert sorted(m["incident_ids"]) == sorted([first, second])
    assert [(a["position"], a["title"], a["incident_id"]) for a in m["agenda"]] == [
        (1, "楼道堆物", first),
        (2, "飞线充电", second),
    ]
    d1, d2, d3 = m["decisions"]
    assert d1["agenda_item_id"] == m["agenda"][0]["id"] and d1["incident_id"] == first
    assert d2["incident_id"] == second and d3["agenda_item_id"] is None

    def state(iid):
        return client.get(f"/api/v1/incidents/{iid}", headers=zjy).get_json()["properties"]["state"]

    assert state(first) == state(second) == "consultation"
    assert patch_decision(client, d1["id"], {"status": "done", "note": "已清理"}, zjy).status_code == 200
    assert patch_decision(client, d3["id"], {"status": "dropped"}, zjy).status_code == 200
    assert state(first) == state(second) == "consultation"  # one decision still open
    assert patch_decision(client, d2["id"], {"status": "done", "note": "已加装"}, zjy).status_code == 200
    assert state(first) == state(second) == "closed"
    body = json.dumps(client.get(f"/api/v1/incidents/{second}", headers=zjy).get_json(), ensure_ascii=False)
    assert "议事决议已全部办结" in body and "加装充电口（张家园社区）" in body


def test_decisions_all_dropped_leave_the_incident_in_consultation(client, auth, demo):
    zjy = auth.token("zjystaff")
    council = zjy_council(client, zjy)
    iid = filed_incident(client, zjy)
    m = post(
        client,
        f"/api/v1/councils/{council['id']}/meetings",
        {
            "held_at": "2026-11-24T19:00:00+08:00",
            "topic": "x",
            "incident_ids": [iid],
            "decisions": [{"text": "t", "owner": "o"}],
        },
        zjy,
    ).get_json()
    assert patch_decision(client, m["decisions"][0]["id"], {"status": "dropped"}, zjy).status_code == 200
    assert client.get(f"/api/v1/incidents/{iid}", headers=zjy).get_json()["properties"]["state"] == "consultation"


def test_a_meeting_held_in_the_future_is_refused_with_a_clear_message(client, auth, demo):
    staff = auth.token("staff")
    council = next(c for c in client.get("/api/v1/councils", headers=staff).get_json()["councils"])
    before = db.session.scalar(select(func.count()).select_from(Meeting))
    r = post(
        client,
        f"/api/v1/councils/{council['id']}/meetings",
        {"held_at": "2099-01-01T09:00:00+08:00", "topic": "x"},
        staff,
    )
    assert r.status_code == 422 and "held_at" in r.get_json()["error"]["fields"]
    assert "会议尚未举行" in r.get_json()["error"]["message"]
    auth.login("staff")
    r = client.post(
        f"/consultations/councils/{council['id']}/meetings",
        data={"held_at": "2099-01-01T09:00", "topic": "未来的会"},
        follow_redirects=True,
    )
    assert "会议尚未举行" in r.get_data(as_text=True)
    r = client.post(
        f"/consultations/councils/{council['id']}/meetings?lang=en",
        data={"held_at": "2099-01-01T09:00", "topic": "future"},
        follow_redirects=True,
    )
    assert "has not been held yet" in r.get_data(as_text=True)
    client.get("/consultations/?lang=zh")
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == before


def test_an_unknown_agenda_number_is_422_and_stores_nothing(client, auth, demo):
    staff = auth.token("staff")
    council = next(c for c in client.get("/api/v1/councils", headers=staff).get_json()["councils"])
    before = db.session.scalar(select(func.count()).select_from(Meeting))
    body = {
        "held_at": "2026-11-24T19:00:00+08:00",
        "topic": "x",
        "agenda": [{"title": "一"}],
        "decisions": [{"text": "t", "owner": "o", "agenda_no": 2}],
    }
    r = post(client, f"/api/v1/councils/{council['id']}/meetings", body, staff)
    assert r.status_code == 422 and "decisions.0.agenda_no" in r.get_json()["error"]["fields"]
    r = post(client, f"/api/v1/councils/{council['id']}/meetings", {**body, "agenda": [{"note": "no title"}]}, staff)
    assert r.status_code == 422 and "agenda.0.title" in r.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == before


def test_councils_members_and_meetings_are_made_in_the_pages(client, auth, demo):
    auth.login("zjystaff")
    index = client.get("/consultations/").get_data(as_text=True)
    assert "设立议事会" in index and "620102005003" in index
    english = client.get("/consultations/?lang=en").get_data(as_text=True)
    assert "Set up a council" in english and "设立议事会" not in english
    client.get("/consultations/?lang=zh")  # the choice is kept in the session
    r = client.post("/consultations/councils", data={"name": "三爱堂议事会", "community": "620102005003"})
    assert r.status_code == 302
    council = db.session.scalar(select(Council).where(Council.name == "三爱堂议事会"))
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "添加成员" in page and "还没有成员" in page
    assert "关联事件编号" not in page and 'id="incident-picker"' in page  # picked, not typed
    for name, role in (("王大爷", "resident_rep"), ("孙经理", "property_company")):
        r = client.post(
            f"/consultations/councils/{council.id}/members", data={"name": name, "role": role, "phone": "13900000001"}
        )
        assert r.status_code == 302
    assert [m.name for m in council.members] == ["王大爷", "孙经理"]
    # A bad member is said on the page; nothing stored.
    r = client.post(
        f"/consultations/councils/{council.id}/members", data={"name": "", "role": "king"}, follow_redirects=True
    )
    assert "name" in r.get_data(as_text=True) and len(council.members) == 2
    zjy = auth.token("zjystaff")
    iid = filed_incident(client, zjy)
    r = client.post(
        f"/consultations/councils/{council.id}/meetings",
        data={
            "held_at": "2026-11-30T19:00",
            "topic": "楼道治理",
            "participant_ids": [m.id for m in council.members],
            "incident_ids": [str(iid)],
            "agenda_title": ["楼道堆物", "停车", ""],
            "agenda_note": ["", "", ""],
            "agenda_incident_id": [str(iid), "", ""],
            "decision_text": ["清理堆物", "划停车线", ""],
            "decision_owner": ["物业", "社区", ""],
            "decision_due_on": ["2026-12-15", "2026-12-31", ""],
            "decision_agenda_no": ["1", "2", ""],
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    meeting = db.session.scalar(select(Meeting).where(Meeting.topic == "楼道治理"))
    # A decision without its due date is refused on the page, and nothing is stored.
    before = db.session.scalar(select(func.count()).select_from(Meeting))
    r = client.post(
        f"/consultations/councils/{council.id}/meetings",
        data={
            "held_at": "2026-11-30T19:00",
            "topic": "无期限",
            "decision_text": ["说了就办"],
            "decision_owner": ["社区"],
        },
        follow_redirects=True,
    )
    assert "每条决议都要写明责任人和期限" in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == before
    assert [a.title for a in meeting.agenda] == ["楼道堆物", "停车"]
    assert [(d.text, d.agenda_item.position) for d in meeting.decisions] == [("清理堆物", 1), ("划停车线", 2)]
    page = client.get(f"/consultations/meetings/{meeting.id}").get_data(as_text=True)
    assert f'href="/incidents/{iid}"' in page and "议事" in page
    # Closing both on the page: the second tells that the incident moved on.
    client.post(f"/consultations/decisions/{meeting.decisions[0].id}", data={"status": "done", "note": "清了"})
    r = client.post(
        f"/consultations/decisions/{meeting.decisions[1].id}", data={"status": "done"}, follow_redirects=True
    )
    assert "关联事件已转入核查结案" in r.get_data(as_text=True) and f"#{iid}" in r.get_data(as_text=True)
    # A decision added afterwards, on the meeting page.
    r = client.post(
        f"/consultations/meetings/{meeting.id}/decisions",
        data={
            "decision_text": "一个月后复查",
            "decision_owner": "网格员",
            "decision_due_on": "2027-01-15",
            "decision_agenda_no": "1",
        },
    )
    assert r.status_code == 302 and len(meeting.decisions) == 3


def test_ledger_links_everything_prints_and_reads_as_cards(client, auth, demo):
    auth.login("liailan")
    page = client.get("/consultations/ledger").get_data(as_text=True)
    meeting = db.session.scalar(select(Meeting).where(Meeting.topic.startswith("西津东路")))
    assert f'href="/consultations/meetings/{meeting.id}"' in page
    assert f'href="/consultations/councils/{meeting.council_id}"' in page
    for i in meeting.incidents:
        assert f'href="/incidents/{i.id}"' in page
    for d in meeting.decisions:
        assert f"#decision-{d.id}" in page
    assert "1. 西津东路房管所门前污水外溢" in page  # the agenda item each decision settles
    assert 'data-label="决议"' in page and "consultations.css" in page
    css = client.get("/static/css/consultations.css").get_data(as_text=True)
    assert "@media print" in css and "@media (max-width: 640px)" in css
