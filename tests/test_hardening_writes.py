"""Issue 14's write protections: ETag and If-Match (412) on every editable record, photo caps held by the
database, no EXIF in stored photos, visits only at buildings of the user's area, geometry caps and
features that lie inside the user's area."""
import io
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from PIL import Image
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from app.areas.models import Area
from app.audit.models import AuditEntry
from app.auth.models import ApiToken
from app.auth.services import create_token
from app.basemap.models import Charger
from app.core.extensions import db
from app.households.models import Household, Member
from app.incidents.models import Incident, Photo
from app.volunteers.models import Activity, SignUp, Team, Volunteer
from app.wishes.models import Wish

GPS = 0x8825
ORIENTATION = 0x0112


def send(client, method, url, body=None, headers=None):
    return client.open(url, method=method.upper(), data=None if body is None else json.dumps(body),
                       content_type="application/json", headers=headers or {})


def liu() -> int:
    return db.session.scalar(select(Household.id).where(Household.head_name == "刘先生"))


def liu_member() -> int:
    return db.session.scalar(select(Member.id).where(Member.household_id == liu()).order_by(Member.id))


def some_grid() -> int:
    return db.session.scalar(select(Area.id).where(Area.level == "grid").order_by(Area.id))


# --- ETag and If-Match --------------------------------------------------------------------------------

# (what, GET url or None, method, write url, first change, second change); ids filled in by the test.
WRITES = [
    ("household", "/api/v1/households/{liu}", "patch", None, {"notes": "第一次"}, {"notes": "第二次"}),
    ("household tags only", "/api/v1/households/{liu}", "patch", None, {"tags": ["key_care", "disabled"]},
     {"tags": ["elderly_alone"]}),
    ("member", "/api/v1/members/{member}", "patch", None, {"notes": "第一次"}, {"notes": "第二次"}),
    ("member tags only", "/api/v1/members/{member}", "patch", None, {"tags": ["key_care", "disabled"]},
     {"tags": ["elderly_alone"]}),
    ("visit", "/api/v1/visits/1", "patch", None, {"notes": "第一次"}, {"notes": "第二次"}),
    ("care plan", "/api/v1/care-plans/1", "patch", None, {"note": "第一次"}, {"note": "第二次"}),
    ("household tag", "/api/v1/household-tags/5", "patch", None, {"name": "重点关爱甲"}, {"name": "重点关爱乙"}),
    ("volunteer", "/api/v1/volunteers/1", "patch", None, {"phone": "13900000001"}, {"phone": "13900000002"}),
    ("activity", "/api/v1/activities/1", "patch", None, {"place": "第一处"}, {"place": "第二处"}),
    ("sign-up", "/api/v1/signups/1", "patch", None, {"attended": True, "hours": 1.5},
     {"attended": True, "hours": 2.5}),
    ("decision", "/api/v1/decisions/1", "patch", None, {"status": "open"}, {"status": "done", "note": "办结"}),
    ("grid (layer)", "/api/v1/grids/{grid}", "patch", None, {"properties": {"note": "第一次"}},
     {"properties": {"note": "第二次"}}),
    ("incident category", None, "patch", "/api/v1/incident-categories/env.litter", {"name": "乱扔垃圾甲"},
     {"name": "乱扔垃圾乙"}),
]


@pytest.mark.parametrize("what, read, method, write, first, second", WRITES, ids=[w[0] for w in WRITES])
def test_a_write_with_a_stale_if_match_is_412_and_changes_nothing(client, auth, demo, what, read, method, write,
                                                                  first, second):
    admin = auth.token("admin")
    ids = {"liu": liu(), "member": liu_member(), "grid": some_grid()}
    read = read and read.format(**ids)
    write = (write or read).format(**ids)

    def current():
        if read is None:
            return None
        r = client.get(read, headers=admin)
        assert r.status_code == 200 and r.headers.get("ETag"), (read, r.status_code)
        return r.headers["ETag"]

    seen = current() or send(client, method, write, second, admin).headers["ETag"]
    changed = send(client, method, write, first, admin)            # another editor, without If-Match
    assert changed.status_code == 200, changed.get_json()
    fresh = changed.headers["ETag"]
    assert fresh != seen and current() in (None, fresh)
    stale = send(client, method, write, second, {**admin, "If-Match": seen})
    assert stale.status_code == 412, (what, stale.status_code, stale.get_json())
    assert stale.get_json()["error"]["code"] == "precondition_failed" and "ETag" not in stale.headers
    assert current() in (None, fresh)                               # nothing was written
    ok = send(client, method, write, second, {**admin, "If-Match": fresh})
    assert ok.status_code == 200, ok.get_json()
    assert ok.headers["ETag"] not in (seen, fresh) and current() in (None, ok.headers["ETag"])


def test_a_stale_if_match_on_a_layer_feature_is_412_and_changes_nothing(client, auth, demo):
    auth.login("planner")
    cid = db.session.scalar(select(Charger.id).order_by(Charger.id))
    url = f"/api/v1/chargers/{cid}"
    first = client.get(url)
    tag = first.headers["ETag"]
    assert first.status_code == 200 and tag.startswith('"')
    ok = send(client, "patch", url, {"properties": {"ports": 7}}, {"If-Match": tag})
    assert ok.status_code == 200, ok.get_json()
    new_tag = ok.headers["ETag"]
    assert new_tag != tag and client.get(url).headers["ETag"] == new_tag
    stale = send(client, "put", url, {"geometry": first.get_json()["geometry"], "properties": {
        **first.get_json()["properties"], "ports": 3}}, {"If-Match": tag})
    assert stale.status_code == 412
    assert client.get(url).get_json()["properties"]["ports"] == 7
    assert send(client, "delete", url, headers={"If-Match": tag}).status_code == 412
    assert client.get(url).status_code == 200
    assert send(client, "patch", url, {"properties": {"ports": 8}}).status_code == 200     # no If-Match: as before
    assert send(client, "delete", url, headers={"If-Match": "*"}).status_code == 204
    assert client.get(url).status_code == 404


def test_a_created_feature_answers_its_etag(client, auth, demo):
    auth.login("planner")
    r = send(client, "post", "/api/v1/chargers", {"geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
                                                  "properties": {"ports": 4, "status": "planned"}})
    assert r.status_code == 201 and r.headers["ETag"] == client.get(r.headers["Location"]).headers["ETag"]


def test_incident_steps_take_if_match(client, auth, demo):
    staff = auth.token("zjystaff")
    iid = send(client, "post", "/api/v1/incidents", {"category": "env.litter", "description": "垃圾堆放",
                                                      "lon": 103.8360, "lat": 36.0480}, staff).get_json()["id"]
    url = f"/api/v1/incidents/{iid}"
    seen = client.get(url, headers=staff).headers["ETag"]
    filed = send(client, "post", f"{url}/transitions", {"to": "filed"}, staff)
    assert filed.status_code == 200 and filed.headers["ETag"] not in (None, seen)
    stale = send(client, "post", f"{url}/transitions", {"to": "rejected", "note": "x"}, {**staff, "If-Match": seen})
    assert stale.status_code == 412
    assert client.get(url, headers=staff).get_json()["properties"]["state"] == "filed"
    ok = send(client, "post", f"{url}/transitions", {"to": "rejected", "note": "重复"},
              {**staff, "If-Match": filed.headers["ETag"]})
    assert ok.status_code == 200 and ok.get_json()["properties"]["state"] == "rejected"


def test_wish_steps_take_if_match(client, auth, demo):
    staff = auth.token("staff")
    wid = send(client, "post", "/api/v1/wishes", {"household_id": liu(), "title": "想要一把轮椅",
                                                   "category": "daily_needs"}, staff).get_json()["id"]
    seen = client.get(f"/api/v1/wishes/{wid}", headers=staff).headers["ETag"]
    red = db.session.scalar(select(Team.id).where(Team.name.contains("红色")))
    claimed = send(client, "post", f"/api/v1/wishes/{wid}/claim", {"team_id": red}, staff)
    assert claimed.status_code == 200 and claimed.headers["ETag"] != seen
    stale = send(client, "post", f"/api/v1/wishes/{wid}/withdraw", {"reason": "x"}, {**staff, "If-Match": seen})
    assert stale.status_code == 412
    assert db.session.get(Wish, wid).status == "claimed"
    ok = send(client, "post", f"/api/v1/wishes/{wid}/release", None, {**staff, "If-Match": claimed.headers["ETag"]})
    assert ok.status_code == 200 and ok.get_json()["status"] == "posted"


def test_adding_a_council_member_checks_the_councils_version(client, auth, demo):
    admin = auth.token("admin")
    seen = client.get("/api/v1/councils/1", headers=admin).headers["ETag"]
    member = {"name": "居民丙", "role": "resident_rep"}
    added = send(client, "post", "/api/v1/councils/1/members", member, {**admin, "If-Match": seen})
    assert added.status_code == 201 and "ETag" not in added.headers      # the answer is the member, not the council
    now = client.get("/api/v1/councils/1", headers=admin).headers["ETag"]
    assert now != seen
    assert send(client, "post", "/api/v1/councils/1/members", member, {**admin, "If-Match": seen}).status_code == 412
    assert send(client, "post", "/api/v1/councils/1/members", member, {**admin, "If-Match": now}).status_code == 201


def test_a_stale_delete_is_412_and_the_record_stays(client, auth, demo):
    admin = auth.token("admin")
    url = f"/api/v1/members/{liu_member()}"
    seen = client.get(url, headers=admin).headers["ETag"]
    send(client, "patch", url, {"notes": "刚改过"}, admin)
    assert send(client, "delete", url, headers={**admin, "If-Match": seen}).status_code == 412
    assert client.get(url, headers=admin).status_code == 200
    assert send(client, "delete", url, headers={**admin, "If-Match": 'W/"' + seen.strip('"') + '"'}).status_code == 412
    tag = client.get(url, headers=admin).headers["ETag"]
    assert send(client, "delete", url, headers={**admin, "If-Match": tag}).status_code == 204


def test_if_match_on_a_record_the_user_cannot_see_is_404_not_412(client, auth, demo):
    other_grid = auth.token("gridworker")              # not one of Mr Liu's grid workers
    r = send(client, "patch", f"/api/v1/households/{liu()}", {"notes": "x"}, {**other_grid, "If-Match": '"nope"'})
    assert r.status_code == 404


def test_the_openapi_document_declares_etag_if_match_and_412(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    item = doc["paths"]["/api/v1/households/{household_id}"]
    assert "ETag" in item["get"]["responses"]["200"]["headers"] and "412" not in item["get"]["responses"]
    for method in ("patch", "delete"):
        assert "412" in item[method]["responses"]
        assert any(p["name"] == "If-Match" and p["in"] == "header" for p in item[method]["parameters"])
    assert "ETag" in item["patch"]["responses"]["200"]["headers"]
    charger = doc["paths"]["/api/v1/chargers/{id}"]
    assert "412" in charger["put"]["responses"] and "ETag" in charger["get"]["responses"]["200"]["headers"]
    assert "x-wuwei-versioned" not in json.dumps(doc)


# --- photos: EXIF stripped, types served as stored ----------------------------------------------------


def phone_photo(fmt: str = "JPEG", size=(40, 20)) -> io.BytesIO:
    """A photo as a phone takes it: EXIF with a GPS position, the camera, and "rotate 90°"."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "PhoneMaker"
    exif[GPS] = {1: "N", 2: (36.0, 3.0, 0.0), 3: "E", 4: (103.0, 50.0, 0.0)}
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buf, format=fmt, exif=exif.tobytes())
    assert GPS in Image.open(io.BytesIO(buf.getvalue())).getexif()
    buf.seek(0)
    return buf


def assert_clean(data: bytes, size=(20, 40)) -> None:
    img = Image.open(io.BytesIO(data))
    exif = img.getexif()
    assert GPS not in exif and 0x010F not in exif and ORIENTATION not in exif, dict(exif)
    assert "exif" not in img.info and "xmp" not in img.info
    assert b"PhoneMaker" not in data
    assert img.size == size              # the rotation was applied to the pixels


@pytest.mark.parametrize("fmt, ctype", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_incident_photos_are_stored_without_exif_and_served_as_what_they_are(client, auth, demo, fmt, ctype):
    staff = auth.token("zjystaff")
    iid = send(client, "post", "/api/v1/incidents", {"category": "env.litter", "description": "垃圾",
                                                      "lon": 103.8360, "lat": 36.0480}, staff).get_json()["id"]
    r = client.post(f"/api/v1/incidents/{iid}/photos", headers=staff, content_type="multipart/form-data",
                    data={"photo": (phone_photo(fmt), "IMG_0001.jpg")})
    assert r.status_code == 201, r.get_json()
    served = client.get(r.get_json()["url"], headers=staff)
    assert served.status_code == 200 and served.mimetype == ctype
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert_clean(served.data)
    stored = db.session.get(Photo, r.get_json()["id"])
    assert stored.content_type == ctype
    assert_clean(client.get(r.get_json()["thumbnail"], headers=staff).data)


def test_wish_photos_are_stored_without_exif_and_served_with_their_type(client, auth, demo, app):
    auth.login("staff")
    wid = send(client, "post", "/api/v1/wishes", {"household_id": liu(), "title": "想要台灯",
                                                   "category": "daily_needs"}).get_json()["id"]
    red = db.session.scalar(select(Team.id).where(Team.name.contains("红色")))
    assert send(client, "post", f"/api/v1/wishes/{wid}/claim", {"team_id": red}).status_code == 200
    r = client.post(f"/api/v1/wishes/{wid}/fulfil", content_type="multipart/form-data",
                    data={"note": "已送到", "photo": (phone_photo(), "lamp.png")})
    assert r.status_code == 200 and r.get_json()["has_photo"], r.get_json()
    stored = db.session.get(Wish, wid).photo_path
    assert stored.endswith(".jpg")                          # named after what it is, not what it was called
    with open(os.path.join(app.config["MEDIA_ROOT"], stored), "rb") as fh:
        assert_clean(fh.read())
    served = client.get(f"/wishes/{wid}/photo")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert_clean(served.data)


# --- caps the database holds ---------------------------------------------------------------------------


def new_incident(client, headers) -> int:
    r = send(client, "post", "/api/v1/incidents", {"category": "env.litter", "description": "照片很多的事件",
                                                    "lon": 103.8360, "lat": 36.0480}, headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_the_database_refuses_a_photo_over_the_cap_whoever_inserts_it(client, auth, demo):
    iid = new_incident(client, auth.token("zjystaff"))
    cap = db.session.scalar(text("SELECT wuwei_cap('incident_photos')"))
    assert cap == 20
    row = {"incident_id": iid, "path": "x", "thumb_path": "x", "content_type": "image/jpeg", "width": 1,
           "height": 1, "bytes": 1, "sha256": "0" * 64}
    db.session.execute(Photo.__table__.insert(), [row] * cap)
    with pytest.raises(IntegrityError) as e, db.session.begin_nested():
        db.session.execute(Photo.__table__.insert(), row)
    assert e.value.orig.diag.constraint_name == "cap_incident_photos"
    assert db.session.scalar(select(func.count()).select_from(Photo).where(Photo.incident_id == iid)) == cap


def test_the_database_refuses_a_sign_up_over_the_activitys_capacity(client, auth, demo):
    activity = db.session.get(Activity, 1)
    taken = db.session.scalar(select(func.count()).select_from(SignUp).where(
        SignUp.activity_id == activity.id, SignUp.occurs_on == activity.dtstart.date()))
    activity.capacity = taken + 1
    db.session.flush()
    volunteers = list(db.session.scalars(select(Volunteer.id).where(Volunteer.id.not_in(
        select(SignUp.volunteer_id).where(SignUp.activity_id == activity.id))).limit(2)))
    day = activity.dtstart.date()
    db.session.execute(SignUp.__table__.insert(), {"activity_id": activity.id, "occurs_on": day,
                                                   "volunteer_id": volunteers[0]})
    with pytest.raises(IntegrityError) as e, db.session.begin_nested():
        db.session.execute(SignUp.__table__.insert(), {"activity_id": activity.id, "occurs_on": day,
                                                       "volunteer_id": volunteers[1]})
    assert e.value.orig.diag.constraint_name == "cap_signups_capacity"


@pytest.fixture
def committed(app):
    """For tests outside the rolled-back transaction (threads with connections of their own): bearer headers
    for demo users (``token``), ``cleanups`` run afterwards; the tokens and audit entries made go too."""
    with app.app_context():
        mark = db.session.scalar(select(func.max(AuditEntry.id))) or 0
        state = SimpleNamespace(tokens=[], cleanups=[], client=app.test_client())

        def token(username: str) -> dict:
            row, secret = create_token(username, "test-hardening")
            state.tokens.append(row.id)
            return {"Authorization": f"Bearer {secret}"}
        state.token = token
        try:
            yield state
        finally:
            db.session.rollback()
            for cleanup in reversed(state.cleanups):
                cleanup()
                db.session.commit()
            db.session.execute(delete(ApiToken).where(ApiToken.id.in_(state.tokens)))
            db.session.execute(delete(AuditEntry).where(AuditEntry.id > mark))
            db.session.commit()


def in_parallel(app, n: int, request) -> list:
    """``request(client, i)`` from ``n`` threads at once, each with its own client and connection."""
    barrier = threading.Barrier(n)

    def run(i):
        client = app.test_client()
        barrier.wait()
        return request(client, i)
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


@pytest.mark.no_transaction
def test_parallel_photo_uploads_store_exactly_the_cap(app, committed):
    staff = committed.token("zjystaff")
    iid = new_incident(committed.client, staff)

    def remove():
        for p in db.session.scalars(select(Photo).where(Photo.incident_id == iid)):
            for rel in (p.path, p.thumb_path):
                os.unlink(os.path.join(app.config["MEDIA_ROOT"], "incidents", rel))
        db.session.execute(delete(Incident).where(Incident.id == iid))
    committed.cleanups.append(remove)
    photo = phone_photo().getvalue()
    answers = in_parallel(app, 30, lambda c, i: c.post(
        f"/api/v1/incidents/{iid}/photos", headers=staff, content_type="multipart/form-data",
        data={"photo": (io.BytesIO(photo), f"p{i}.jpg")}))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * 20 + [409] * 10, statuses
    assert all(r.get_json()["error"]["fields"] == {"photo": "too many photos"} for r in answers if r.status_code == 409)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Photo).where(Photo.incident_id == iid)) == 20
    files = os.listdir(os.path.join(app.config["MEDIA_ROOT"], "incidents", str(iid)))
    assert len(files) == 40                     # 20 photos and their thumbnails: nothing of the refused ones


@pytest.mark.no_transaction
def test_parallel_fulfils_store_one_wish_photo(app, committed):
    staff = committed.token("staff")
    c = committed.client
    wid = send(c, "post", "/api/v1/wishes", {"household_id": liu(), "title": "并发的心愿",
                                              "category": "other"}, staff).get_json()["id"]
    committed.cleanups.append(lambda: db.session.execute(delete(Wish).where(Wish.id == wid)))
    red = db.session.scalar(select(Team.id).where(Team.name.contains("红色")))
    assert send(c, "post", f"/api/v1/wishes/{wid}/claim", {"team_id": red}, staff).status_code == 200
    folder = os.path.join(app.config["MEDIA_ROOT"], "wishes")
    os.makedirs(folder, exist_ok=True)
    before = set(os.listdir(folder))
    photo = phone_photo().getvalue()
    answers = in_parallel(app, 10, lambda client, i: client.post(
        f"/api/v1/wishes/{wid}/fulfil", headers=staff, content_type="multipart/form-data",
        data={"note": f"第{i}次", "photo": (io.BytesIO(photo), "p.jpg")}))
    new = set(os.listdir(folder)) - before
    committed.cleanups.append(lambda: [os.unlink(os.path.join(folder, f)) for f in new])
    assert sorted(r.status_code for r in answers) == [200] + [409] * 9
    assert len(new) == 1


@pytest.mark.no_transaction
def test_parallel_writes_with_the_same_if_match_let_one_through(app, committed):
    planner = committed.token("planner")
    c = committed.client
    r = send(c, "post", "/api/v1/chargers", {"geometry": {"type": "Point", "coordinates": [103.8386, 36.0496]},
                                              "properties": {"ports": 4, "status": "planned"}}, planner)
    fid, tag = r.get_json()["id"], r.headers["ETag"]
    committed.cleanups.append(lambda: db.session.execute(delete(Charger).where(Charger.id == fid)))
    answers = in_parallel(app, 8, lambda client, i: send(client, "patch", f"/api/v1/chargers/{fid}",
                                                        {"properties": {"ports": 10 + i}}, {**planner, "If-Match": tag}))
    assert sorted(r.status_code for r in answers) == [200] + [412] * 7


# --- visits name buildings of the user's own area ------------------------------------------------------


def building_in(code_prefix: str) -> int:
    from app.basemap.models import Building
    return db.session.scalar(select(Building.id).join(Area, Area.id == Building.grid_id)
                             .where(Area.code.startswith(code_prefix)).order_by(Building.id))


@pytest.mark.parametrize("user", ["hls4", "staff"])
def test_a_visit_cannot_name_a_building_in_another_area(client, auth, demo, user):
    headers = auth.token(user)
    elsewhere = building_in("620102005003")           # 张家园, another street
    h = db.session.get(Household, liu())
    before = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.table_name == "visits"))
    for body in ({"household_id": h.id, "building_id": elsewhere}, {"building_id": elsewhere}):
        r = send(client, "post", "/api/v1/visits", {**body, "purpose": "greeting"}, headers)
        assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"building_id": "unknown or not yours"}
    neighbour = db.session.scalar(select(Household.building_id).where(
        Household.grid_id == h.grid_id, Household.building_id != h.building_id))
    r = send(client, "post", "/api/v1/visits", {"household_id": h.id, "building_id": neighbour, "purpose": "greeting"},
             headers)
    assert r.status_code == 422 and "building_id" in r.get_json()["error"]["fields"]
    after = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.table_name == "visits"))
    assert after == before                              # nothing stored
    r = send(client, "post", "/api/v1/visits", {"household_id": h.id, "building_id": h.building_id,
                                                "purpose": "greeting"}, headers)
    assert r.status_code == 201 and r.get_json()["building_id"] == h.building_id


# --- geometries: a vertex cap, and features inside the user's area --------------------------------------


def ring(n: int, lon=103.8388, lat=36.0497, r=0.0002) -> list:
    import math
    pts = [[lon + r * math.cos(2 * math.pi * i / n), lat + r * math.sin(2 * math.pi * i / n)] for i in range(n)]
    return pts + [pts[0]]


def zone(n: int) -> dict:
    return {"geometry": {"type": "Polygon", "coordinates": [ring(n)]},
            "properties": {"capacity": 10, "kind": "mixed", "status": "planned"}}


def test_a_geometry_over_the_vertex_cap_is_422_before_it_is_parsed(client, auth, demo, app, monkeypatch):
    auth.login("planner")
    assert app.config["WUWEI_MAX_VERTICES"] == 20_000
    monkeypatch.setitem(app.config, "WUWEI_MAX_VERTICES", 100)
    ok = send(client, "post", "/api/v1/bike-zones", zone(99))          # 100 positions with the closing one
    assert ok.status_code == 201, ok.get_json()

    def no_work(*args, **kwargs):
        raise AssertionError("the geometry was parsed although it is over the cap")
    monkeypatch.setattr("app.basemap.schemas.parse_geometry", no_work)
    r = send(client, "post", "/api/v1/bike-zones", zone(100))
    assert r.status_code == 422 and "vertices" in r.get_json()["error"]["fields"]["geometry"]
    r = send(client, "patch", ok.headers["Location"], {"geometry": zone(5000)["geometry"]})
    assert r.status_code == 422 and "geometry" in r.get_json()["error"]["fields"]


def test_the_default_vertex_cap_refuses_a_huge_zone(client, auth, demo):
    auth.login("planner")
    r = send(client, "post", "/api/v1/bike-zones", zone(200_000))
    assert r.status_code == 422 and "20000" in r.get_json()["error"]["fields"]["geometry"]


def test_an_incident_extent_over_the_vertex_cap_is_422(client, auth, demo, app, monkeypatch):
    monkeypatch.setitem(app.config, "WUWEI_MAX_VERTICES", 50)
    staff = auth.token("zjystaff")
    line = {"type": "LineString", "coordinates": ring(80)[:-1]}
    r = send(client, "post", "/api/v1/incidents", {"category": "env.litter", "description": "一长条垃圾",
                                                    "geometry": line}, staff)
    assert r.status_code == 422 and "geometry" in r.get_json()["error"]["fields"]


XIYUAN = "620103002"


@pytest.fixture
def xyplanner(app, auth, demo):
    from app.auth.services import create_user
    create_user("xyplanner", "wuwei-planner", "planner", XIYUAN, "西园规划")
    return auth.token("xyplanner")


def geojson(sql: str) -> dict:
    return json.loads(db.session.scalar(text(f"SELECT ST_AsGeoJSON(({sql}), 8)")))


def xiyuan_grid_middle(metres: float) -> str:
    """SQL: a disc of ``metres`` around the inside point of a Xiyuan grid."""
    return (f"SELECT ST_Buffer(ST_PointOnSurface(a.geom)::geography, {metres})::geometry FROM areas a"
            f" WHERE a.level = 'grid' AND a.code LIKE '{XIYUAN}%' ORDER BY a.code LIMIT 1")


def test_a_feature_must_lie_inside_the_users_area_not_only_touch_it(client, demo, xyplanner):
    far = "ST_MakeEnvelope(103.8386, 36.0496, 103.8390, 36.0498, 4326)"        # Zhangjiayuan, another street
    body = {"properties": {"capacity": 10, "kind": "mixed", "status": "planned"}}
    straddling = geojson(f"SELECT ST_Multi(ST_Union(({xiyuan_grid_middle(40)}), {far}))")
    r = send(client, "post", "/api/v1/bike-zones", {**body, "geometry": straddling}, xyplanner)
    assert r.status_code == 403 and r.get_json()["error"]["fields"] == {"geometry": "outside your area"}
    assert "reaches outside" in r.get_json()["error"]["message"]        # its grid is Xiyuan's: it touches the area
    inside = geojson(xiyuan_grid_middle(40))
    r = send(client, "post", "/api/v1/bike-zones", {**body, "geometry": inside}, xyplanner)
    assert r.status_code == 201, r.get_json()
    moved = send(client, "patch", r.headers["Location"], {"geometry": straddling}, xyplanner)
    assert moved.status_code == 403
    assert client.get(r.headers["Location"], headers=xyplanner).get_json()["geometry"]["type"] == "MultiPolygon"
    renamed = send(client, "patch", r.headers["Location"], {"properties": {"name": "新停放区"}}, xyplanner)
    assert renamed.status_code == 200


@pytest.mark.parametrize("metres, status", [(2, 201), (40, 403)])
def test_a_feature_may_stick_out_of_the_area_by_the_tolerance_only(client, demo, xyplanner, metres, status):
    street = geojson(f"SELECT ST_Buffer(geom::geography, {metres})::geometry FROM areas WHERE code = '{XIYUAN}'")
    r = send(client, "post", "/api/v1/bike-zones", {"geometry": street, "properties": {
        "capacity": 10, "kind": "mixed", "status": "planned"}}, xyplanner)
    assert r.status_code == status, r.get_json()
    if status == 403:
        assert "reaches outside" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("url", ["/api/v1/chargers/99999999999999999999999", "/api/v1/households/9999999999",
                                 "/api/v1/incidents/99999999999999999999", "/api/v1/grids/0"])
def test_absurd_ids_on_versioned_records_are_404_with_or_without_if_match(client, auth, demo, url):
    admin = auth.token("admin")
    assert client.get(url, headers=admin).status_code == 404
    method = "post" if "incidents" in url else "patch"
    target = f"{url}/transitions" if "incidents" in url else url
    body = {"to": "filed"} if "incidents" in url else {"notes": "x"} if "households" in url else {"properties": {}}
    assert send(client, method, target, body, {**admin, "If-Match": '"x"'}).status_code == 404
