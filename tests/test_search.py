"""The search box: addresses, compounds, buildings, incident numbers and — for those who may read
household files — households, each within the user's area, listed and drawn on the map."""

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.core.extensions import db
from app.incidents.models import Incident


def _found(client, q):
    r = client.get("/api/v1/search", query_string={"q": q})
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "application/geo+json"
    return [
        (f["properties"]["kind"], f["properties"]["title"], f["properties"]["url"]) for f in r.get_json()["features"]
    ]


def test_a_compound_is_found_by_name_and_opens_on_the_map(client, auth, demo):
    auth.login("staff")
    found = _found(client, "三兆家园")
    compounds = [f for f in found if f[0] == "compounds"]
    assert (
        compounds
        and compounds[0][1] == "三兆家园"
        and compounds[0][2].replace("%3A", ":").startswith("/?focus=compounds:")
    )
    assert any(f[0] == "buildings" and "三兆家园" in f[1] for f in found)


def test_an_incident_is_found_by_number_or_case_number_within_the_area(client, auth, demo):
    incident = Incident.by_id(19)
    auth.login("staff")
    for q in ("19", "#19", incident.case_number, f"{incident.case_number[:4]}-{incident.case_number[4:]}".lower()):
        assert ("incidents", f"#19 {incident.category.name}", "/incidents/19") in _found(client, q), q
    auth.logout()
    auth.login("zjystaff")  # another community: not theirs
    assert not [f for f in _found(client, "19") if f[0] == "incidents"]


def test_households_only_for_those_who_read_their_files_and_the_search_is_audited(client, auth, demo):
    auth.login("gridworker")
    before = db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.table_name == "households")
    )
    found = [f for f in _found(client, "何春梅") if f[0] == "households"]
    assert found and found[0][1] == "何春梅" and found[0][2].startswith("/households/")
    after = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.table_name == "households"))
    assert after == before + 1
    auth.logout()
    for other in ("leader", "planner", "zjy1"):  # counts only; another grid's worker
        auth.login(other)
        assert not [f for f in _found(client, "何春梅") if f[0] == "households"], other
        auth.logout()


@pytest.mark.parametrize("q", ["", " ", "x" * 101])
def test_bad_searches_are_refused(client, auth, demo, q):
    auth.login("staff")
    r = client.get("/api/v1/search", query_string={"q": q})
    assert r.status_code == 400 and "q" in r.get_json()["error"]["fields"]


def test_a_search_needs_a_login(client, demo):
    assert client.get("/api/v1/search?q=x").status_code == 401
    assert client.get("/search?q=x").status_code in (302, 401)


def test_the_search_page_lists_results_and_draws_them(client, auth, demo):
    auth.login("gridworker")
    html = client.get("/search?q=三兆家园").get_data(as_text=True)
    assert "三兆家园" in html and "/?focus=compounds" in html
    assert '"name": "results"' in html and "/api/v1/search?q=" in html
    assert "住户" in html  # the box says households are searchable for a grid worker
    empty = client.get("/search?q=没有这个地方").get_data(as_text=True)
    assert "没有找到“没有这个地方”" in empty
    auth.logout()
    auth.login("leader")
    assert "住户" not in client.get("/search").get_data(as_text=True).split('placeholder="')[1].split('"')[0]
