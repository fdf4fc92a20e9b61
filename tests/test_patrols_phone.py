"""The patrol phone page's server side: start in one tap (a title from the kind and the date), fixes
kept by the drift filter and why the others were dropped, people added on the way, ticked re-parked
bikes counted, and the incidents reported during a patrol on its record."""

import datetime as dt

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.core.extensions import db
from app.core.time import TZ
from app.patrols.models import Patrol
from tests.test_tracking import LAT, LON, UTC, post_json


def _start(client, auth, kind="grid_walk", user="patrol"):
    auth.login(user)
    r = post_json(client, "/api/v1/patrols", {"kind": kind, "start": True})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_a_patrol_starts_without_a_title_named_after_its_kind_and_date(client, auth, demo):
    p = _start(client, auth)
    today = dt.datetime.now(TZ)
    assert p["title"] == f"网格巡查 {today.month}月{today.day}日" and p["state"] == "active"
    auth.logout()
    auth.login("patrol")
    r = post_json(client, "/api/v1/patrols?lang=en", {"kind": "cleanup", "start": True})
    title = r.get_json()["title"]
    assert not title.startswith("清洁行动") and title.endswith(f"{today:%b} {today.day}")


def test_uploads_answer_fixes_kept_and_why_the_others_were_dropped(client, auth, demo):
    pid = _start(client, auth)["id"]
    t0 = dt.datetime.now(UTC) - dt.timedelta(minutes=2)
    fixes = [
        {"lat": LAT, "lon": LON + i * 5e-5, "t": int((t0 + dt.timedelta(seconds=5 * i)).timestamp() * 1000), "acc": 5}
        for i in range(8)
    ]
    fixes[3]["acc"] = 80  # worse than the 50 m the filter keeps
    fixes[5]["lat"] += 0.01  # 1.1 km away and back within 10 s: a spike
    r = post_json(client, f"/api/v1/patrols/{pid}/positions", {"positions": fixes})
    assert r.status_code == 200, r.get_json()
    t = r.get_json()["track"]
    assert (t["stored_fixes"], t["kept_fixes"], t["dropped_accuracy"], t["dropped_speed"]) == (8, 6, 1, 1)
    assert t["max_accuracy_m"] == 50 and t["max_speed_kmh"] == 43
    assert 20 < t["distance_m"] < 40  # 7 steps of ~4.5 m east, the spike left out
    page = client.get("/patrols/phone").get_data(as_text=True)
    assert f'data-active-id="{pid}"' in page and '"kept_fixes": 6' in page
    detail = client.get(f"/patrols/{pid}").get_data(as_text=True)
    assert "6 / 8" in detail and "精度差 1 个，跳点 1 个" in detail


def test_people_are_added_to_a_running_patrol_and_bad_names_change_nothing(client, auth, demo):
    pid = _start(client, auth)["id"]
    r = post_json(client, f"/api/v1/patrols/{pid}/participants", {"usernames": ["sjt1"]})
    assert r.status_code == 200, r.get_json()
    names = r.get_json()["participants"]
    assert len(names) == 2 and "巡查队员 李子琴" in names
    audited = db.session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.table_name == "patrols", AuditEntry.row_id == str(pid))
    )
    assert audited >= 2
    for body, status in (
        ({"usernames": ["nobody-here"]}, 422),
        ({"usernames": ["leader"]}, 422),  # leaders don't patrol
        ({"usernames": []}, 422),
        ({"names": ["sjt2"]}, 422),
    ):
        r = post_json(client, f"/api/v1/patrols/{pid}/participants", body)
        assert r.status_code == status, (body, r.get_json())
    assert len(db.session.get(Patrol, pid).participants) == 2
    post_json(client, f"/api/v1/patrols/{pid}/stop", {})
    r = post_json(client, f"/api/v1/patrols/{pid}/participants", {"usernames": ["sjt2"]})
    assert r.status_code == 409


def test_ticked_reparked_bikes_count_and_the_spot_says_its_distance(client, auth, demo):
    pid = _start(client, auth, kind="bike_rectification")["id"]
    for bikes, reparked in ((3, True), (2, False), (4, True)):
        r = post_json(
            client, f"/api/v1/patrols/{pid}/bad-parking", {"lon": LON, "lat": LAT, "bikes": bikes, "reparked": reparked}
        )
        assert r.status_code == 201
    page = client.get(f"/patrols/{pid}").get_data(as_text=True)
    cell = page[page.index('id="stat-reparked"') :]
    assert cell.split("<")[0].endswith(">7 ") or ">7 <" in cell[:40]
    assert "现场勾选“已规范摆放” 7 辆" in cell[:200]
    phone = client.get("/patrols/phone").get_data(as_text=True)
    assert "距最近停放区 {m} 米" in phone


def test_incidents_reported_during_a_patrol_are_on_its_record(client, auth, demo):
    p = _start(client, auth)
    r = post_json(
        client,
        "/api/v1/incidents",
        {"category": "env.litter", "description": "巡查中发现垃圾", "lon": LON, "lat": LAT, "source": "patrol"},
    )
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    page = client.get(f"/patrols/{p['id']}").get_data(as_text=True)
    url = page[page.index('id="patrol-incidents" data-url="') + 32 :].split('"')[0].replace("&amp;", "&")
    assert "reporter=patrol" in url
    fc = client.get(url).get_json()
    assert iid in [f["id"] for f in fc["features"]]
    # Someone else's incident at the same time is not the patrol's.
    auth.logout()
    auth.login("sjt1")  # a grid worker of the same community, at the same place and time
    r = post_json(
        client, "/api/v1/incidents", {"category": "env.litter", "description": "别人的", "lon": LON, "lat": LAT}
    )
    assert r.status_code == 201, r.get_json()
    other = r.get_json()["id"]
    auth.logout()
    auth.login("staff")
    fc = client.get(url).get_json()
    assert other not in [f["id"] for f in fc["features"]]
    assert client.get("/api/v1/incidents?reporter=" + "x" * 65).status_code == 400
