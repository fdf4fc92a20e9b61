"""Open311 GeoReport v2: field names in JSON and XML, a stock client's form POST, bad input, no personal data."""

import json
import xml.etree.ElementTree as ET

import pytest
import requests
from sqlalchemy import func, select

from app.core.extensions import db
from app.incidents.models import Incident, Offer
from app.open311.demo import DEMO_OPEN311_KEY

REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
ATTRIBUTE_FIELDS = {"variable", "code", "datatype", "required", "datatype_description", "order", "description"}


def stock_post(client, fields: dict, fmt="json"):
    """Send exactly what ``requests.post(url, data=fields)`` puts on the wire (form-encoded)."""
    prepared = requests.Request("POST", f"http://localhost/open311/v2/requests.{fmt}", data=fields).prepare()
    return client.post(
        f"/open311/v2/requests.{fmt}", data=prepared.body, headers={"Content-Type": prepared.headers["Content-Type"]}
    )


def valid_fields(**kw):
    return {
        "api_key": DEMO_OPEN311_KEY,
        "service_code": "bikes.misparked",
        "lat": "36.0755",
        "long": "103.8951",
        "description": "村委会门前共享单车乱停",
        "first_name": "Ailan",
        "last_name": "Resident",
        "email": "resident@example.org",
        "phone": "13900000000",
        "attribute[bike_count]": "12",
        "attribute[operator]": "meituan",
        **kw,
    }


def test_discovery_lists_the_v2_endpoint_in_both_formats(client, demo):
    j = client.get("/open311/v2/discovery.json").get_json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(j)
    ep = j["endpoints"][0]
    assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(ep["formats"]) == {"text/xml", "application/json"} and ep["url"].endswith("/open311/v2")
    x = ET.fromstring(client.get("/open311/v2/discovery.xml").data)
    assert x.tag == "discovery" and x.find("endpoints/endpoint/specification").text.endswith("GeoReport_v2")
    assert [f.text for f in x.find("endpoints/endpoint").findall("formats/format")] == ["text/xml", "application/json"]


def test_services_and_definition_use_the_spec_field_names(client, demo):
    services = client.get("/open311/v2/services.json").get_json()
    assert all(set(s) == SERVICE_FIELDS for s in services)
    bikes = next(s for s in services if s["service_code"] == "bikes.misparked")
    assert bikes["metadata"] is True and bikes["type"] == "realtime" and bikes["group"] == "共享单车"
    x = ET.fromstring(client.get("/open311/v2/services.xml").data)
    assert x.tag == "services" and {c.tag for c in x.find("service")} == SERVICE_FIELDS
    assert len(x.findall("service")) == len(services)
    d = client.get("/open311/v2/services/bikes.misparked.json").get_json()
    assert d["service_code"] == "bikes.misparked"
    assert all(ATTRIBUTE_FIELDS <= set(a) for a in d["attributes"])
    op = next(a for a in d["attributes"] if a["code"] == "operator")
    assert {"key": "meituan", "name": "美团"} in op["values"]
    x = ET.fromstring(client.get("/open311/v2/services/bikes.misparked.xml").data)
    assert x.tag == "service_definition"
    assert x.find("attributes/attribute/values/value/key") is not None
    assert client.get("/open311/v2/services/nothing.json").status_code == 404


def test_stock_client_post_enters_the_workflow_and_reads_back_without_personal_data(client, auth, demo):
    r = stock_post(client, valid_fields())
    assert r.status_code == 200, r.get_data(as_text=True)
    created = r.get_json()
    assert isinstance(created, list) and set(created[0]) >= {"service_request_id", "service_notice", "account_id"}
    rid = created[0]["service_request_id"]
    inc = Incident.by_id(rid)
    assert inc.state == "reported" and inc.source == "hotline" and inc.grid_id is not None
    assert inc.attributes == {"bike_count": 12, "operator": "meituan"}  # a number is stored as a number
    assert inc.reporter_phone == "13900000000"
    assert db.session.scalar(select(func.count()).select_from(Offer).where(Offer.incident_id == rid)) >= 1
    # The same request through GET, in both formats; no name, phone or e-mail anywhere.
    one = client.get(f"/open311/v2/requests/{rid}.json")
    body = one.get_data(as_text=True)
    assert set(one.get_json()[0]) == REQUEST_FIELDS
    assert one.get_json()[0]["status"] == "open" and "reported" in one.get_json()[0]["status_notes"]
    for secret in ("13900000000", "Ailan", "resident@example.org"):
        assert secret not in body
    x = ET.fromstring(client.get(f"/open311/v2/requests/{rid}.xml").data)
    assert x.tag == "service_requests" and {c.tag for c in x.find("request")} == REQUEST_FIELDS
    assert x.find("request/long").text.startswith("103.8951")
    # Staff move it on; Open311 shows the finer state in status_notes and closed at the end.
    staff = auth.token("patrol")
    r = client.post(f"/api/v1/incidents/{rid}/transitions", json={"to": "filed"}, headers=auth.token("admin"))
    assert r.status_code == 200
    assert "filed" in client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]["status_notes"]
    assert staff  # the patrol user of Songjiatan can see it in the incident list
    ids = [f["id"] for f in client.get("/api/v1/incidents?limit=1000", headers=staff).get_json()["features"]]
    assert rid in ids
    # The token handed back resolves to the request.
    token = created[0]["token"]
    t = client.get(f"/open311/v2/tokens/{token}.json").get_json()
    assert t == [{"service_request_id": rid, "token": token}]


def test_post_in_xml_and_by_address_string(client, demo):
    r = stock_post(
        client, valid_fields(lat="", long="", address_string="九间楼", **{"attribute[bike_count]": "3"}), fmt="xml"
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    x = ET.fromstring(r.data)
    assert x.tag == "service_requests"
    rid = int(x.find("request/service_request_id").text)
    assert Incident.by_id(rid).address == "九间楼"


def test_requests_filters_and_paging(client, demo):
    everything = client.get("/open311/v2/requests.json?start_date=2020-01-01T00:00:00Z").get_json()
    assert len(everything) >= 30
    page1 = client.get("/open311/v2/requests.json?start_date=2020-01-01T00:00:00Z&page_size=5").get_json()
    page2 = client.get("/open311/v2/requests.json?start_date=2020-01-01T00:00:00Z&page_size=5&page=2").get_json()
    assert len(page1) == 5 and not {r["service_request_id"] for r in page1} & {r["service_request_id"] for r in page2}
    closed = client.get("/open311/v2/requests.json?status=closed&start_date=2020-01-01T00:00:00Z").get_json()
    assert closed and all(r["status"] == "closed" for r in closed)
    bikes = client.get("/open311/v2/requests.json?service_code=bikes.misparked").get_json()
    assert bikes and all(r["service_code"] == "bikes.misparked" for r in bikes)
    # The default window is 90 days: the 2024 seed story is not listed, but can be asked for.
    assert 1 not in {r["service_request_id"] for r in client.get("/open311/v2/requests.json").get_json()}
    story = client.get(
        "/open311/v2/requests.json?start_date=2024-04-01T00:00:00+08:00&end_date=2024-04-30T00:00:00+08:00"
    ).get_json()
    assert 1 in {r["service_request_id"] for r in story}
    # Raw "+" in a query string arrives as a space; still understood.
    assert client.get("/open311/v2/requests.json?start_date=2024-04-01T00:00:00+08:00").status_code == 200
    ids = client.get("/open311/v2/requests.json?service_request_id=1,2").get_json()
    assert [r["service_request_id"] for r in ids] == [1, 2]


@pytest.mark.parametrize(
    "fields, status, words",
    [
        (valid_fields(service_code=""), 400, "service_code"),
        ({k: v for k, v in valid_fields().items() if k != "service_code"}, 400, "service_code"),
        (valid_fields(service_code="teleport"), 400, "service_code"),
        (valid_fields(lat="91"), 400, "lat"),
        (valid_fields(long="-181"), 400, "long"),
        (valid_fields(lat="north"), 400, "lat"),
        (valid_fields(lat="", long=""), 400, "location"),
        (valid_fields(description="x" * 5000), 400, "description"),
        (valid_fields(api_key="not-a-key"), 403, "api_key"),
        ({k: v for k, v in valid_fields().items() if k != "api_key"}, 403, "api_key"),
        (valid_fields(media_url="javascript:alert(1)"), 400, "media_url"),
        (valid_fields(**{"attribute[operator]": "unicorn"}), 400, "operator"),
        (valid_fields(lat="", long="", address_string="火星基地"), 400, "address_string"),
        (valid_fields(lat="51.5", long="-0.12"), 400, "outside the areas served here"),  # London (issue 20)
        (valid_fields(lat="0", long="0"), 400, "outside the areas served here"),
        (valid_fields(**{"attribute[bike_count]": "many"}), 400, "attribute[bike_count]"),  # issue 20
        (valid_fields(**{"attribute[operator][]": "nope"}), 400, "attribute[operator]"),
        (valid_fields(**{"attribute[operator][]": ["meituan", "hello"]}), 400, "attribute[operator]"),
        (valid_fields(media_url=["https://example.org/a.jpg", "ftp://example.org/b.jpg"]), 400, "media_url"),
    ],
)
def test_bad_posts_get_open311_errors_and_store_nothing(client, demo, fields, status, words):
    before = db.session.scalar(select(func.count()).select_from(Incident))
    for fmt in ("json", "xml"):
        r = stock_post(client, fields, fmt)
        assert r.status_code == status, r.get_data(as_text=True)
        if fmt == "json":
            err = r.get_json()
            assert isinstance(err, list) and err[0]["code"] == status and words in err[0]["description"]
        else:
            x = ET.fromstring(r.data)
            assert x.tag == "errors" and x.find("error/code").text == str(status)
            assert words in x.find("error/description").text
    assert db.session.scalar(select(func.count()).select_from(Incident)) == before


@pytest.mark.parametrize(
    "url, status",
    [
        ("/open311/v2/requests/abc.json", 404),
        ("/open311/v2/requests/99999999.xml", 404),
        ("/open311/v2/requests.json?start_date=yesterday", 400),
        ("/open311/v2/requests.json?status=lost", 400),
        ("/open311/v2/requests.json?page_size=5000", 400),
        ("/open311/v2/requests.json?page=0", 400),
        ("/open311/v2/requests.json?service_request_id=1;drop", 400),
        ("/open311/v2/tokens/nope.xml", 404),
        ("/open311/v2/requests.csv", 404),
        ("/open311/v2/requests.json?start_date=2026-05-01T00:00:00Z&end_date=2026-04-01T00:00:00Z", 400),
    ],
)
def test_bad_queries_are_open311_error_arrays(client, demo, url, status):
    r = client.get(url)
    assert r.status_code == status
    if url.split("?")[0].endswith(".xml"):
        assert ET.fromstring(r.data).tag == "errors"
    else:
        body = r.get_json()
        assert body[0]["code"] == status and body[0]["description"]


def post_json(client, url, body, headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def test_admin_issues_and_revokes_open311_keys(client, auth, demo):
    admin = auth.token("admin")
    r = post_json(client, "/api/v1/open311-keys", {"name": "城市大脑", "source": "other_system"}, admin)
    assert r.status_code == 201
    key = r.get_json()["api_key"]
    listed = client.get("/api/v1/open311-keys", headers=admin).get_json()["keys"]
    assert any(k["prefix"] == key[:8] for k in listed) and key not in json.dumps(listed)
    form = {"api_key": key, "service_code": "parking", "lat": "36.0755", "long": "103.8951", "description": "违停"}
    assert client.post("/open311/v2/requests.json", data=form).status_code == 200
    assert client.delete(f"/api/v1/open311-keys/{r.get_json()['id']}", headers=admin).status_code == 204
    assert client.post("/open311/v2/requests.json", data=form).status_code == 403
    assert post_json(client, "/api/v1/open311-keys", {"name": ""}, admin).status_code == 422
    assert post_json(client, "/api/v1/open311-keys", {"name": "x"}, auth.token("staff")).status_code == 403


def test_xml_is_well_formed_whatever_the_resident_typed():
    from app.open311.xmlfmt import to_xml

    text = to_xml(
        "service_requests", [{"service_request_id": 7, "description": "<b>&\x0b\"'", "media_url": None, "lat": 36.05}]
    )
    root = ET.fromstring(text.encode())
    assert root.find("request/description").text == "<b>&\"'"
    assert root.find("request/media_url").text is None and root.find("request/lat").text == "36.05"
