"""Open311's rules one by one: attribute datatypes, multivaluelist forms, media, places, naive times,
status mapping, and who may post and read updates (issue 20)."""

import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from app.auth.policy import Scope
from app.auth.services import find_user
from app.core.extensions import db
from app.core.time import TZ
from app.incidents import services as incidents
from app.incidents.models import STATES, Incident, Transition
from app.open311 import keys
from app.open311.demo import DEMO_OPEN311_KEY
from app.open311.models import Open311Update
from app.open311.statuses import EXTENDED, EXTENDED_UPPER, INCOMING, STATE_NOTES
from tests.test_open311_clients import add_bench_category

HERE = {"lat": "36.0755", "long": "103.8951"}


def post_request(client, fmt="json", **fields):
    data = {
        "api_key": DEMO_OPEN311_KEY,
        "service_code": "facilities.bench",
        "description": "座椅坏了",
        **HERE,
        "attribute[count]": "1",
        **fields,
    }
    return client.post(f"/open311/v2/requests.{fmt}", data=data)


def stored(r) -> Incident:
    assert r.status_code == 200, r.get_data(as_text=True)
    return Incident.by_id(r.get_json()[0]["service_request_id"])


def error(r, status=400) -> str:
    assert r.status_code == status, r.get_data(as_text=True)
    body = r.get_json()
    assert body[0]["code"] == status
    return body[0]["description"]


@pytest.fixture
def bench(demo):
    return add_bench_category()


# --------------------------------------------------------------------------- attributes


@pytest.mark.parametrize(
    "sent, kept",
    [
        ({"attribute[count]": "12"}, {"count": 12}),
        ({"attribute[count]": "2.5"}, {"count": 2.5}),
        ({"attribute[count]": "１２"}, {"count": 12}),  # full-width digits (IME)
        ({"attribute[damage][]": ["graffiti", "loose"]}, {"damage": ["graffiti", "loose"]}),  # GeoReport v2 form
        ({"attribute[damage]": ["graffiti", "loose"]}, {"damage": ["graffiti", "loose"]}),  # FixMyStreet's form
        ({"attribute[damage][]": "loose"}, {"damage": ["loose"]}),
        ({"attribute[damage]": "loose"}, {"damage": ["loose"]}),
        ({"attribute[damage]": ["loose", "loose"]}, {"damage": ["loose"]}),
        ({"attribute[damage][]": ""}, {}),
        ({"attribute[material]": "metal"}, {"material": "metal"}),
        ({"attribute[seen_at]": "2026-12-01T08:30:00"}, {"seen_at": "2026-12-01T08:30:00+08:00"}),  # naive: TZ
        ({"attribute[seen_at]": "2026-12-01T00:30:00Z"}, {"seen_at": "2026-12-01T00:30:00+00:00"}),
        ({"attribute[note]": "第一行\n第二行"}, {"note": "第一行\n第二行"}),
        ({"attribute[colour]": "green"}, {"colour": "green"}),
        ({"attribute[colour]": ""}, {}),
    ],
)
def test_attributes_are_kept_in_their_datatype(client, bench, sent, kept):
    assert stored(post_request(client, **sent)).attributes == {"count": 1, **kept}


@pytest.mark.parametrize(
    "sent, words",
    [
        ({"attribute[count]": "many"}, "attribute[count]: must be a number (datatype number)"),
        ({"attribute[count]": "1,5"}, "attribute[count]: must be a number"),
        ({"attribute[count]": "nan"}, "attribute[count]: must be a number"),
        ({"attribute[count]": ["1", "2"]}, "attribute[count]: one value expected"),
        ({"attribute[count]": ""}, "attribute[count]: required"),
        ({"attribute[damage][]": ["graffiti", "fire"]}, "attribute[damage]: 'fire' is not one of the allowed values"),
        ({"attribute[material]": "glass"}, "attribute[material]: not one of the allowed values"),
        ({"attribute[material][]": ["wood", "metal"]}, "attribute[material]: one value expected"),
        ({"attribute[seen_at]": "yesterday"}, "attribute[seen_at]: must be an ISO 8601 date-time"),
        ({"attribute[colour]": "green\nblue"}, "attribute[colour]: a single line"),
        ({"attribute[colour]": "x" * 501}, "attribute[colour]: at most 500 characters"),
        ({"attribute[note]": "x" * 4001}, "attribute[note]: at most 4000 characters"),
        ({"attribute[size]": "big"}, "attribute[size]: unknown attribute"),
    ],
)
def test_bad_attributes_are_named_and_nothing_is_stored(client, bench, sent, words):
    before = db.session.scalar(select(func.count()).select_from(Incident))
    assert words in error(post_request(client, **sent))
    assert db.session.scalar(select(func.count()).select_from(Incident)) == before


def test_required_attribute_missing(client, bench):
    data = {"api_key": DEMO_OPEN311_KEY, "service_code": "facilities.bench", **HERE}
    assert "attribute[count]: required" in error(client.post("/open311/v2/requests.json", data=data))


def test_report_api_checks_the_same_datatypes(client, auth, bench):
    staff = auth.token("staff")
    body = {"category": "facilities.bench", "description": "座椅", "lon": 103.7830, "lat": 36.0452}
    r = client.post("/api/v1/incidents", json={**body, "attributes": {"count": "many"}}, headers=staff)
    assert r.status_code == 422 and "attribute[count]" in r.get_json()["error"]["fields"]
    r = client.post("/api/v1/incidents", json={**body, "attributes": {"count": 2, "damage": ["loose"]}}, headers=staff)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["properties"]["attributes"] == {"count": 2, "damage": ["loose"]}


# --------------------------------------------------------------------------- media


def test_media_url_one_is_a_string_several_a_list(client, bench):
    one = stored(post_request(client, media_url="https://example.org/a.jpg"))
    several = stored(
        post_request(
            client,
            media_url=["https://example.org/a.jpg", "https://example.org/b.jpg"],
            **{"media_url[]": "https://example.org/c.jpg"},
        )
    )
    none = stored(post_request(client))
    got = {
        r["service_request_id"]: r["media_url"]
        for r in client.get(f"/open311/v2/requests.json?service_request_id={one.id},{several.id},{none.id}").get_json()
    }
    assert got == {
        one.id: "https://example.org/a.jpg",
        none.id: "",
        several.id: ["https://example.org/a.jpg", "https://example.org/b.jpg", "https://example.org/c.jpg"],
    }
    x = ET.fromstring(client.get(f"/open311/v2/requests/{one.id}.xml").data)
    assert x.find("request/media_url").text == "https://example.org/a.jpg"
    assert error(post_request(client, media_url=[f"https://example.org/{i}.jpg" for i in range(21)])).startswith(
        "media_url"
    )


# --------------------------------------------------------------------------- places


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"lat": "51.5", "long": "-0.12"}, "outside the areas served here"),
        ({"lat": "36.0755", "long": ""}, "lat and long must both"),
        ({"lat": "", "long": "", "address_string": "金昌南路"}, "matches several places"),
        ({"lat": "", "long": "", "address_string": "火星基地"}, "could not be located"),
        ({"lat": "", "long": ""}, "a location is required"),
    ],
)
def test_places_that_are_refused(client, bench, fields, words):
    assert words in error(post_request(client, **fields))


def test_address_string_alone_and_beside_coordinates(client, bench):
    exact = stored(post_request(client, lat="", long="", address_string="三兆家园"))  # compound, exact name
    lon, lat = db.session.execute(
        select(func.ST_X(Incident.geom), func.ST_Y(Incident.geom)).where(Incident.id == exact.id)
    ).one()
    assert 103.7800 < lon < 103.7840 and 36.0485 < lat < 36.0520
    both = stored(post_request(client, address_string="三兆家园"))  # coordinates win
    lat = db.session.scalar(select(func.ST_Y(Incident.geom)).where(Incident.id == both.id))
    assert round(lat, 4) == 36.0755 and both.address == "三兆家园"


def test_served_area_is_any_area_of_the_hierarchy(demo):
    assert incidents.in_served_area(103.8951, 36.0755)
    assert not incidents.in_served_area(-0.12, 51.5)


# --------------------------------------------------------------------------- times


def test_naive_times_are_read_in_the_deployment_zone(client, auth, bench):
    # GET requests: naive and +08:00 mean the same instant; Z does not.
    story = "/open311/v2/requests.json?start_date=2024-04-01T00:00:00{}&end_date=2024-04-30T00:00:00{}"
    naive = client.get(story.format("", "")).get_json()
    assert naive == client.get(story.format("+08:00", "+08:00")).get_json() and naive
    # GET servicerequestupdates: a step at 10:00 local lies in a naive 09:30–10:30 window.
    rid = stored(post_request(client)).id
    at = dt.datetime(2026, 12, 5, 10, 0, tzinfo=TZ)
    incidents.transition(rid, "filed", _admin(), _everything(), at=at)
    ids = lambda q: [
        u["service_request_id"] for u in client.get(f"/open311/v2/servicerequestupdates.json?{q}").get_json()
    ]
    assert rid in ids("start_date=2026-12-05T09:30:00&end_date=2026-12-05T10:30:00")
    assert rid not in ids("start_date=2026-12-05T09:30:00Z&end_date=2026-12-05T10:30:00Z")
    # POST servicerequestupdates: a naive updated_datetime is local.
    r = client.post(
        "/open311/v2/servicerequestupdates.json",
        data={
            "api_key": DEMO_OPEN311_KEY,
            "service_request_id": rid,
            "update_id": "n1",
            "status": "OPEN",
            "description": "x",
            "updated_datetime": "2026-12-05T10:30:00",
        },
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    row = db.session.scalar(select(Open311Update).where(Open311Update.client_update_id == "n1"))
    assert row.updated_at == dt.datetime(2026, 12, 5, 10, 30, tzinfo=TZ)


def _admin():
    return find_user("admin")


def _everything():
    return Scope(everything=True)


# --------------------------------------------------------------------------- statuses and updates


def test_status_mapping_covers_every_state():
    assert set(EXTENDED) == set(STATE_NOTES) == set(STATES)
    assert set(INCOMING) <= set(EXTENDED_UPPER) and set(INCOMING.values()) <= set(STATES)
    assert {s.lower() for s in EXTENDED_UPPER} >= set(EXTENDED.values())


def update(client, rid, key=DEMO_OPEN311_KEY, **fields):
    data = {
        "api_key": key,
        "service_request_id": str(rid),
        "update_id": "u1",
        "status": "OPEN",
        "description": "还没处理",
        "updated_datetime": "2026-12-05T10:30:00+08:00",
        **fields,
    }
    return client.post("/open311/v2/servicerequestupdates.json", data=data)


@pytest.mark.parametrize(
    "fields, status, words",
    [
        ({"status": "MAYBE"}, 400, "status"),
        ({"status": ""}, 400, "status: required"),
        ({"update_id": ""}, 400, "update_id: required"),
        ({"updated_datetime": "soon"}, 400, "updated_datetime"),
        ({"service_request_id": "abc"}, 400, "service_request_id"),
        ({"service_request_id": "99999999"}, 404, "not found"),
        ({"api_key": "nope"}, 403, "api_key"),
        ({"description": "x" * 4001}, 400, "description"),
    ],
)
def test_bad_updates_are_open311_errors(client, bench, fields, status, words):
    rid = stored(post_request(client)).id
    assert words in error(update(client, rid, **fields), status)
    assert db.session.scalar(select(func.count()).select_from(Open311Update)) == 0


def test_updates_come_from_the_key_that_posted_the_request(client, bench):
    rid = stored(post_request(client)).id
    _, other = keys.create_key("城市大脑")
    assert "not posted with this api_key" in error(update(client, rid, key=other), 403)
    # A replacement key for the same partner (same name) may: keys are rotated, requests stay.
    _, renewed = keys.create_key("幸福号人民专线（演示）", source="hotline")
    assert update(client, rid, key=renewed).status_code == 200
    # A request that did not come through Open311 has no partner.
    other_inc = db.session.scalar(select(Incident.id).where(Incident.open311_key_id.is_(None)).limit(1))
    assert "not posted with this api_key" in error(update(client, other_inc, key=renewed, update_id="u2"), 403)
    # A client update_id names one update: sent again for another request, it is refused.
    second = stored(post_request(client)).id
    assert "already used" in error(update(client, second, key=renewed))


@pytest.mark.parametrize(
    "steps, status, state, applied",
    [
        ([], "FIXED", "reported", False),
        ([], "CANCELLED", "rejected", True),
        ([], "not_councils_responsibility", "rejected", True),  # lower case is read too
        (["filed"], "NO_FURTHER_ACTION", "rejected", True),
        (["filed", "dispatched", "in_progress", "responded"], "REOPEN", "in_progress", True),
        (["filed", "dispatched", "in_progress", "responded"], "FIXED", "closed", True),
        (["filed", "dispatched", "in_progress"], "CLOSED", "in_progress", False),
        (["filed"], "IN_PROGRESS", "filed", False),
        (["filed"], "DUPLICATE", "filed", False),
    ],
)
def test_incoming_statuses_take_workflow_steps_only_where_allowed(client, bench, steps, status, state, applied):
    rid = stored(post_request(client)).id
    dep = incidents.departments()[0].id
    for to in steps:
        incidents.transition(
            rid, to, _admin(), _everything(), data={"department_id": dep} if to == "dispatched" else {}
        )
    r = update(client, rid, status=status)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert Incident.by_id(rid).state == state
    row = db.session.scalar(select(Open311Update).where(Open311Update.incident_id == rid))
    assert row.applied is applied and row.status == status.upper()
    step = db.session.get(Transition, r.get_json()[0]["update_id"])
    assert step.note == "还没处理" and step.to_state == state


def test_updates_feed_is_public_oldest_first_paged_and_names_no_one(client, bench):
    rid = stored(post_request(client)).id
    incidents.transition(rid, "filed", _admin(), _everything(), note="已联系居民张三 13900000000")
    feed = client.get("/open311/v2/servicerequestupdates.json").get_json()
    mine = [u for u in feed if u["service_request_id"] == rid]
    assert mine and mine[0]["description"] == "filed (立案)" and mine[0]["media_url"] == ""
    assert "13900000000" not in json.dumps(feed, ensure_ascii=False)
    times = [u["updated_datetime"] for u in feed]
    assert times == sorted(times)
    assert len(client.get("/open311/v2/servicerequestupdates.json?page_size=1").get_json()) <= 1
    r = client.get(
        "/open311/v2/servicerequestupdates.xml?start_date=2026-05-01T00:00:00Z&end_date=2026-04-01T00:00:00Z"
    )
    assert r.status_code == 400 and ET.fromstring(r.data).tag == "errors"


# --------------------------------------------------------------------------- discovery


def test_discovery_says_what_is_supported(client, demo):
    j = client.get("/open311/v2/discovery.json").get_json()
    specs = [e["specification"] for e in j["endpoints"]]
    assert specs[0] == "http://wiki.open311.org/GeoReport_v2" and "mysociety" in specs[1].lower()
    supported = j["supported"]
    assert "POST servicerequestupdates" in supported["methods"] and "multivaluelist" in supported["attribute_datatypes"]
    assert "Asia/Shanghai" in supported["times"] and "FIXED → closed" in supported["update_steps"]
    x = ET.fromstring(client.get("/open311/v2/discovery.xml").data)
    assert "GET servicerequestupdates" in [m.text for m in x.findall("supported/methods/method")]
    assert "REOPEN" in [s.text for s in x.findall("supported/update_statuses/status")]


def test_staff_see_the_update_on_the_timeline_under_the_partners_name(client, auth, bench):
    rid = stored(post_request(client)).id
    assert update(client, rid, description="居民补充：晚上更严重").status_code == 200
    auth.login("admin")
    page = client.get(f"/incidents/{rid}").get_data(as_text=True)
    assert "居民补充：晚上更严重" in page and "幸福号人民专线（演示）" in page
