"""Pages for people in the street: due-visit cards that open the file and call the household, and a
visit's follow-up reported as an incident in one step."""

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from app.core.extensions import db
from app.households.models import Household
from app.incidents.models import Incident


def _household(head_name):
    return db.session.scalar(select(Household).where(Household.head_name == head_name))


def test_due_cards_open_the_household_and_offer_its_phone(client, auth, demo):
    auth.login("hls4")
    page = client.get("/households/due").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'<a class="head" href="/households/(\d+)"', page)]
    assert len(ids) >= 2
    first = db.session.get(Household, ids[0])
    first.phone = "139 0000-1234"
    for other in ids[1:]:
        db.session.get(Household, other).phone = None
    db.session.flush()
    page = client.get("/households/due").get_data(as_text=True)
    cards = page.split('<div class="due-card')[1:]
    assert f'href="/households/{ids[0]}"' in cards[0] and 'href="tel:13900001234"' in cards[0]
    assert f'href="/households/{ids[0]}/visit"' in cards[0]
    assert all("tel:" not in c for c in cards[1:])  # no phone, no call button


def test_due_page_stays_closed_to_roles_without_personal_data(client, auth, demo):
    auth.login("leader")
    assert client.get("/households/due").status_code == 403
    assert "tel:" not in client.get("/households/", follow_redirects=True).get_data(as_text=True)


def test_a_visits_follow_up_becomes_an_incident_in_one_step(client, auth, demo):
    liu = _household("刘先生")
    auth.login("hls4")
    r = client.post(
        "/api/v1/visits",
        data=json.dumps({"household_id": liu.id, "purpose": "care_visit", "follow_up": "报修楼道灯"}),
        content_type="application/json",
    )
    assert r.status_code == 201, r.get_json()
    page = client.get(f"/households/{liu.id}").get_data(as_text=True)
    link = unescape(re.search(r'<a class="button small to-incident" href="([^"]+)"', page).group(1))
    args = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert args["description"] == "报修楼道灯" and "邮电巷小区" in args["address"]
    assert 103 < float(args["lon"]) < 104 and 35 < float(args["lat"]) < 37

    form = client.get(link).get_data(as_text=True)
    assert ">报修楼道灯</textarea>" in form
    assert f'id="lon" value="{args["lon"]}"' in form and f'id="lat" value="{args["lat"]}"' in form

    before = db.session.scalar(select(func.count()).select_from(Incident))
    r = client.post("/incidents/new", data={**args, "category": "env.litter", "source": "grid_worker"})
    assert r.status_code == 302, re.findall(r'class="(?:flash error|field-error)">([^<]+)', r.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(Incident)) == before + 1
    made = db.session.scalar(select(Incident).order_by(Incident.id.desc()).limit(1))
    assert made.description == "报修楼道灯"
    lon, lat = db.session.execute(select(func.ST_X(made.geom), func.ST_Y(made.geom))).one()
    assert abs(lon - float(args["lon"])) < 1e-6 and abs(lat - float(args["lat"])) < 1e-6


def test_a_long_or_unknown_prefill_is_cut_or_ignored(client, auth, demo):
    auth.login("hls4")
    page = client.get("/incidents/new?description=" + "长" * 5000 + "&secret=x&lon=1").get_data(as_text=True)
    assert "长" * 4000 + "</textarea>" in page and "长" * 4001 not in page
    assert 'name="secret"' not in page
