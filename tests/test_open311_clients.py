"""Open311 as the real clients speak it: each client's exact request, replayed byte for byte through the
test client (the production blueprint, no shortcut), with its source named.

* FixMyStreet (mysociety/fixmystreet, ``perllib/Open311.pm`` at 84d7c80c5d): ``send_service_request``
  builds the fields in ``_populate_service_request_params`` and ``post_service_request_update`` in
  ``_populate_service_request_update_params``; ``_request`` adds ``jurisdiction_id`` and ``api_key``,
  encodes values as UTF-8 and posts with ``HTTP::Request::Common::POST``: ``URI::query_form`` escapes
  reserved characters (``[`` → ``%5B``), spaces become ``+``, line breaks ``%0D%0A``; an array value
  (every photo with ``multi_photos``, a multivaluelist extra field) is sent as the same name repeated.
  Outside the UK the description is "title\\n\\ndetail\\n\\nurl\\n"; coordinates pass through
  ``Utils::truncate_coordinate`` (6 decimals, trailing zeros cut); an extra field left empty is sent
  empty. The answers are read with XML::Simple (``request``/``request_update`` elements).
* open311-adapter (mysociety/open311-adapter at 4d3a40d7): the update payloads of its endpoint tests
  (``t/open311/endpoint/confirm.t`` "POST update" and "GET update", ``surrey_boomi.t``,
  ``whitespace.t``), posted the same way; their ids belong to the adapter's test back ends and are
  replaced by ours where a request must exist (marked ``{service_request_id}``).
* The GeoReport v2 specification's examples (wiki.open311.org/GeoReport_v2): POST Service Request's
  example body, the sample URLs of GET Service List, GET Service Definition, GET Service Requests and
  GET service_request_id from a token, and the Service Definition example's element names.
"""

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from app.core.extensions import db
from app.core.time import TZ
from app.incidents import services as incidents
from app.incidents.models import Incident, Transition
from app.open311.demo import DEMO_OPEN311_KEY
from app.open311.models import Open311Media, Open311Update

FORM = "application/x-www-form-urlencoded"  # what HTTP::Request::Common sends (no charset)

# FixMyStreet's POST requests.xml for a report in 共享单车乱停放 with two photos (multi_photos) and the
# "operator" extra answered, "bike_count" left empty.
FMS_POST_REQUEST = (
    "service_code=bikes.misparked"
    "&description=%E5%85%B1%E4%BA%AB%E5%8D%95%E8%BD%A6%E4%B9%B1%E5%81%9C%0D%0A%0D%0A%E8%A5%BF%E6%B4%A5%E4%B8%9C"
    "%E8%B7%AF%E6%9D%91%E5%A7%94%E4%BC%9A%E9%97%A8%E5%89%8D%E5%8D%81%E5%87%A0%E8%BE%86%E5%8D%95%E8%BD%A6%E5%A0"
    "%B5%E4%BD%8F%E4%BA%BA%E8%A1%8C%E9%81%93%EF%BC%8C%E8%BD%AE%E6%A4%85%E8%BF%87%E4%B8%8D%E5%8E%BB%E3%80%82"
    "%0D%0A%0D%0Ahttps%3A%2F%2Ffms.example.org%2Freport%2F4242%0D%0A"
    "&first_name=Ailan&last_name=Resident&email=resident%40example.org&lat=36.0755&long=103.8951"
    "&media_url=https%3A%2F%2Ffms.example.org%2Fphoto%2F4242.0.full.jpeg"
    "&media_url=https%3A%2F%2Ffms.example.org%2Fphoto%2F4242.1.full.jpeg"
    "&attribute%5Bbike_count%5D=&attribute%5Boperator%5D=meituan"
    "&jurisdiction_id=lanzhou.example.org&api_key=wuwei-demo-open311-key"
)
FMS_DESCRIPTION = (
    "共享单车乱停\r\n\r\n西津东路村委会门前十几辆单车堵住人行道，轮椅过不去。\r\n\r\n"
    "https://fms.example.org/report/4242\r\n"
)

# The same client for a category with a multivaluelist (checkboxes in FixMyStreet: an array value,
# sent as the name repeated) and the other datatypes.
FMS_POST_REQUEST_MULTI = (
    "service_code=facilities.bench&description=Bench&first_name=Ailan&last_name=Resident"
    "&email=resident%40example.org&lat=36.0755&long=103.8951"
    "&attribute%5Bcount%5D=3&attribute%5Bdamage%5D=broken_slat&attribute%5Bdamage%5D=graffiti"
    "&attribute%5Bmaterial%5D=wood&attribute%5Bseen_at%5D=2026-12-01T08%3A30%3A00%2B08%3A00"
    "&attribute%5Bnote%5D=&attribute%5Bcolour%5D=green&api_key=wuwei-demo-open311-key"
)

# FixMyStreet's POST servicerequestupdates.xml for a comment by the reporter marking the report fixed
# (not extended_statuses: a state outside open_states is sent as CLOSED), with its photo.
FMS_POST_UPDATE = (
    "updated_datetime=2026-12-05T10%3A30%3A00%2B08%3A00&service_request_id={service_request_id}"
    "&status=CLOSED&description=%E5%B7%B2%E7%BB%8F%E6%8C%AA%E8%B5%B0%E4%BA%86%EF%BC%8C%E8%B0%A2%E8%B0%A2"
    "&last_name=Resident&first_name=Ailan&email=resident%40example.org&update_id=9001"
    "&media_url=https%3A%2F%2Ffms.example.org%2Fphoto%2Fc%2F9001.0.full.jpeg"
    "&jurisdiction_id=lanzhou.example.org&api_key=wuwei-demo-open311-key"
)

# open311-adapter t/open311/endpoint/confirm.t, subtest "POST update" (api_key and ids replaced).
ADAPTER_POST_UPDATE = (
    "api_key=wuwei-demo-open311-key&service_request_id={service_request_id}&update_id=123&first_name=Bob"
    "&last_name=Mould&description=Update+here&status=OPEN&updated_datetime=2016-09-01T15%3A00%3A00Z"
    "&media_url=http%3A%2F%2Ffixmystreet%2F"
)
# surrey_boomi.t "POST Service Request Update with photo": media_url as an array of one.
ADAPTER_POST_UPDATE_PHOTO = (
    "jurisdiction_id=surrey_boomi&api_key=wuwei-demo-open311-key&updated_datetime=2023-05-02T12%3A42%3A00Z"
    "&service_request_id={service_request_id}&status=OPEN&description=This+is+an+update+with+a+photo"
    "&last_name=Smith&first_name=John&update_id=10000001&media_url=http%3A%2F%2Flocalhost%2Fphoto%2Fone.jpeg"
)
# surrey_boomi.t "POST Service Request Update with blank description": FIXED, description empty.
ADAPTER_POST_UPDATE_FIXED = (
    "jurisdiction_id=surrey_boomi&api_key=wuwei-demo-open311-key&updated_datetime=2023-05-02T12%3A43%3A00Z"
    "&service_request_id={service_request_id}&status=FIXED&description=&last_name=Smith&first_name=John"
    "&update_id=10000002"
)
# whitespace.t "POST bulky collection cancellation OK".
ADAPTER_POST_UPDATE_CANCELLED = (
    "api_key=wuwei-demo-open311-key&description=Booking+cancelled+by+customer"
    "&service_request_id={service_request_id}&status=CANCELLED&update_id=12345"
    "&updated_datetime=2025-07-04T01%3A23%3A45Z"
)
# confirm.t "GET update", verbatim.
ADAPTER_GET_UPDATES = (
    "/open311/v2/servicerequestupdates.xml?start_date=2018-01-01T00:00:00Z&end_date=2018-02-01T00:00:00Z"
)
ADAPTER_UPDATE_ELEMENTS = {
    "description",
    "external_status_code",
    "media_url",
    "service_request_id",
    "status",
    "update_id",
    "updated_datetime",
}

# GeoReport v2, POST Service Request, "Example Request" (Content-Type with charset=utf-8).
SPEC_POST_REQUEST = (
    "api_key=xyz&jurisdiction_id=city.gov&service_code=001&lat=37.76524078&long=-122.4212043"
    "&address_string=1234+5th+street&email=smit333%40sfgov.edu&device_id=tt222111&account_id=123456"
    "&first_name=john&last_name=smith&phone=111111111&description=A+large+sinkhole+is+destroying+the+street"
    "&media_url=http%3A%2F%2Ffarm3.static.flickr.com%2F2002%2F2212426634_5ed477a060.jpg"
    "&attribute[WHISPAWN]=123456&attribute[WHISDORN]=COISL001"
)
SPEC_FORM = "application/x-www-form-urlencoded; charset=utf-8"
# GET Service Requests, "Sample URL".
SPEC_GET_REQUESTS = (
    "/open311/v2/requests.xml?start_date=2010-05-24T00:00:00Z&end_date=2010-06-24T00:00:00Z"
    "&status=open&jurisdiction_id=city.gov"
)
SPEC_DEFINITION_ELEMENTS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}

BENCH_ATTRIBUTES = [
    {"code": "count", "description": "几处 / how many", "datatype": "number", "required": True, "order": 1},
    {
        "code": "damage",
        "description": "损坏 / damage",
        "datatype": "multivaluelist",
        "order": 2,
        "values": [
            {"key": "broken_slat", "name": "板条断裂"},
            {"key": "graffiti", "name": "涂鸦"},
            {"key": "loose", "name": "松动"},
        ],
    },
    {
        "code": "material",
        "description": "材质 / material",
        "datatype": "singlevaluelist",
        "order": 3,
        "values": [{"key": "wood", "name": "木"}, {"key": "metal", "name": "金属"}],
    },
    {"code": "seen_at", "description": "发现时间 / seen at", "datatype": "datetime", "order": 4},
    {"code": "note", "description": "说明 / note", "datatype": "text", "order": 5},
    {"code": "colour", "description": "颜色 / colour", "datatype": "string", "order": 6},
]


def add_bench_category():
    """A service with every datatype (rolled back with the test)."""
    return incidents.create_category(
        {
            "code": "facilities.bench",
            "name": "座椅损坏",
            "name_en": "Damaged bench",
            "parent": "facilities",
            "attributes": BENCH_ATTRIBUTES,
        }
    )


def post(client, path, body, content_type=FORM):
    return client.post(path, data=body.encode("ascii"), headers={"Content-Type": content_type})


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def fms_request(client) -> int:
    r = post(client, "/open311/v2/requests.xml", FMS_POST_REQUEST)
    assert r.status_code == 200, r.get_data(as_text=True)
    return int(ET.fromstring(r.data).find("request/service_request_id").text)


# --------------------------------------------------------------------------- FixMyStreet


def test_fixmystreet_post_request_is_stored_whole(client, demo):
    rid = fms_request(client)
    inc = Incident.by_id(rid)
    assert inc.description == FMS_DESCRIPTION.strip() and inc.source == "hotline" and inc.grid_id is not None
    assert inc.attributes == {"operator": "meituan"}  # the empty bike_count is no value
    assert inc.reporter_name == "Ailan Resident"
    urls = ["https://fms.example.org/photo/4242.0.full.jpeg", "https://fms.example.org/photo/4242.1.full.jpeg"]
    assert db.session.get(Open311Media, rid).urls == urls and inc.media_url == urls[0]
    # As FixMyStreet reads it back (GetServiceRequests / add_media: a string, or nested when several).
    x = ET.fromstring(client.get(f"/open311/v2/requests.xml?service_request_id={rid}&jurisdiction_id=x").data)
    assert [m.text for m in x.findall("request/media_url/media_url")] == urls
    assert client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]["media_url"] == urls


def test_fixmystreet_multivaluelist_and_every_datatype(client, demo):
    add_bench_category()
    r = post(client, "/open311/v2/requests.json", FMS_POST_REQUEST_MULTI)
    assert r.status_code == 200, r.get_data(as_text=True)
    inc = Incident.by_id(r.get_json()[0]["service_request_id"])
    assert inc.attributes == {
        "count": 3,
        "damage": ["broken_slat", "graffiti"],
        "material": "wood",
        "seen_at": "2026-12-01T08:30:00+08:00",
        "colour": "green",
    }


def test_fixmystreet_update_closes_a_responded_request_and_is_read_back(client, auth, demo):
    rid = fms_request(client)
    admin = auth.token("admin")
    dep = incidents.departments()[0].id
    for step in (
        {"to": "filed"},
        {"to": "dispatched", "department_id": dep},
        {"to": "in_progress"},
        {"to": "responded", "note": "已清理"},
    ):
        assert client.post(f"/api/v1/incidents/{rid}/transitions", json=step, headers=admin).status_code == 200
    r = post(client, "/open311/v2/servicerequestupdates.xml", FMS_POST_UPDATE.format(service_request_id=rid))
    assert r.status_code == 200, r.get_data(as_text=True)
    x = ET.fromstring(r.data)
    assert x.tag == "service_request_updates"
    update_id = int(x.find("request_update/update_id").text)  # what Open311.pm reads
    assert Incident.by_id(rid).state == "closed"
    step = db.session.get(Transition, update_id)
    assert (step.from_state, step.to_state, step.note) == ("responded", "closed", "已经挪走了，谢谢")
    row = db.session.scalar(select(Open311Update).where(Open311Update.transition_id == update_id))
    assert (
        row.applied
        and row.status == "CLOSED"
        and row.media_urls == ["https://fms.example.org/photo/c/9001.0.full.jpeg"]
    )
    assert row.author_name == "Ailan Resident" and row.updated_at == dt.datetime(2026, 12, 5, 10, 30, tzinfo=TZ)
    # GET requests shows the new state; the updates feed lists the step with the id FixMyStreet keeps.
    one = client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]
    assert one["status"] == "closed" and one["status_notes"].startswith("closed")
    feed = client.get("/open311/v2/servicerequestupdates.json?api_key=wuwei-demo-open311-key").get_json()
    mine = [u for u in feed if u["service_request_id"] == rid]
    assert [u["status"] for u in mine] == ["investigating", "action_scheduled", "in_progress", "in_progress", "fixed"]
    assert mine[-1]["update_id"] == update_id and mine[-1]["external_status_code"] == "closed"
    # Resent (FixMyStreet retries when it missed the answer): the same id, applied once.
    again = post(client, "/open311/v2/servicerequestupdates.xml", FMS_POST_UPDATE.format(service_request_id=rid))
    assert int(ET.fromstring(again.data).find("request_update/update_id").text) == update_id
    assert db.session.scalar(select(func.count()).select_from(Transition).where(Transition.incident_id == rid)) == 6


# --------------------------------------------------------------------------- open311-adapter


def test_open311_adapter_update_payloads(client, demo):
    rid = fms_request(client)
    r = post(client, "/open311/v2/servicerequestupdates.xml", ADAPTER_POST_UPDATE.format(service_request_id=rid))
    assert r.status_code == 200, r.get_data(as_text=True)
    note_id = int(ET.fromstring(r.data).find("request_update/update_id").text)
    step = db.session.get(Transition, note_id)
    assert (step.from_state, step.to_state, step.note) == ("reported", "reported", "Update here")
    assert step.data["status"] == "OPEN" and step.data["via"] == "幸福号人民专线（演示）"
    r = post(client, "/open311/v2/servicerequestupdates.json", ADAPTER_POST_UPDATE_PHOTO.format(service_request_id=rid))
    assert r.status_code == 200 and list(r.get_json()[0]) == ["update_id"]
    photo = db.session.scalar(select(Open311Update).where(Open311Update.client_update_id == "10000001"))
    assert photo.media_urls == ["http://localhost/photo/one.jpeg"]
    # FIXED on a request still being reported: recorded as a note, the workflow decides the state.
    r = post(client, "/open311/v2/servicerequestupdates.json", ADAPTER_POST_UPDATE_FIXED.format(service_request_id=rid))
    assert r.status_code == 200 and Incident.by_id(rid).state == "reported"
    assert db.session.scalar(select(Open311Update.applied).where(Open311Update.client_update_id == "10000002")) is False
    # CANCELLED withdraws it (不予立案).
    r = post(
        client, "/open311/v2/servicerequestupdates.json", ADAPTER_POST_UPDATE_CANCELLED.format(service_request_id=rid)
    )
    assert r.status_code == 200 and Incident.by_id(rid).state == "rejected"
    assert client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]["status"] == "closed"


def test_open311_adapter_get_updates_shape(client, auth, demo):
    assert client.get(ADAPTER_GET_UPDATES).status_code == 200
    rid = fms_request(client)
    client.post(f"/api/v1/incidents/{rid}/transitions", json={"to": "filed"}, headers=auth.token("admin"))
    x = ET.fromstring(client.get("/open311/v2/servicerequestupdates.xml").data)
    assert x.tag == "service_request_updates"
    update = next(u for u in x.findall("request_update") if u.find("service_request_id").text == str(rid))
    assert {c.tag for c in update} == ADAPTER_UPDATE_ELEMENTS
    assert update.find("status").text == "investigating" and update.find("external_status_code").text == "filed"


# --------------------------------------------------------------------------- GeoReport v2 specification


def test_spec_post_example_meets_each_rule_in_turn(client, demo):
    before = count(Incident)
    r = post(client, "/open311/v2/requests.xml", SPEC_POST_REQUEST, SPEC_FORM)
    assert r.status_code == 403 and ET.fromstring(r.data).find("error/code").text == "403"  # api_key=xyz
    body = SPEC_POST_REQUEST.replace("api_key=xyz", f"api_key={DEMO_OPEN311_KEY}")
    r = post(client, "/open311/v2/requests.xml", body, SPEC_FORM)
    assert r.status_code == 400 and "service_code" in ET.fromstring(r.data).find("error/description").text
    body = body.replace("service_code=001", "service_code=bikes.misparked")
    r = post(client, "/open311/v2/requests.xml", body, SPEC_FORM)  # San Francisco: not served here
    assert r.status_code == 400 and "outside the areas served here" in r.get_data(as_text=True)
    body = body.replace("lat=37.76524078&long=-122.4212043", "lat=36.0755&long=103.8951")
    r = post(client, "/open311/v2/requests.xml", body, SPEC_FORM)
    assert r.status_code == 400 and "attribute[WHISPAWN]: unknown attribute" in r.get_data(as_text=True)
    assert count(Incident) == before
    body = body.replace(
        "attribute[WHISPAWN]=123456&attribute[WHISDORN]=COISL001",
        "attribute[bike_count]=123456&attribute[operator]=hello",
    )
    r = post(client, "/open311/v2/requests.xml", body, SPEC_FORM)
    assert r.status_code == 200, r.get_data(as_text=True)
    inc = Incident.by_id(int(ET.fromstring(r.data).find("request/service_request_id").text))
    assert inc.address == "1234 5th street" and inc.reporter_phone == "111111111"
    assert inc.media_url == "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"
    assert inc.attributes == {"bike_count": 123456, "operator": "hello"}


@pytest.mark.parametrize(
    "url, status, root",
    [
        ("/open311/v2/services.xml?jurisdiction_id=city.gov", 200, "services"),
        ("/open311/v2/services/033.xml?jurisdiction_id=city.gov", 404, "errors"),
        (SPEC_GET_REQUESTS, 200, "service_requests"),
        ("/open311/v2/tokens/123456.xml?jurisdiction_id=city.gov", 404, "errors"),
    ],
)
def test_spec_sample_urls(client, demo, url, status, root):
    r = client.get(url)
    assert r.status_code == status and ET.fromstring(r.data).tag == root
    assert r.headers["Content-Type"] == "text/xml; charset=utf-8"


def test_service_definition_has_the_spec_example_elements(client, demo):
    add_bench_category()
    x = ET.fromstring(client.get("/open311/v2/services/facilities.bench.xml").data)
    for attribute in x.findall("attributes/attribute"):
        assert {c.tag for c in attribute} == SPEC_DEFINITION_ELEMENTS
    assert [a.find("datatype").text for a in x.findall("attributes/attribute")] == [
        "number",
        "multivaluelist",
        "singlevaluelist",
        "datetime",
        "text",
        "string",
    ]
