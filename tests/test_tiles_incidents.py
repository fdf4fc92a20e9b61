"""The open-incidents tile layer (app/tiles/incidents.py): what the map page's overlay draws from.

Open incidents of the user's area only; id, state and category only — the reporter's name and phone,
the description and the address never reach a tile; a closed incident leaves the tile.
"""

import mapbox_vector_tile
from sqlalchemy import text

from app.core.extensions import db
from tests.test_incidents import XIJIN, move, report
from tests.test_mappage import map_config
from tests.test_tiles import MVT, get_tile, tile_of

NAME, PHONE, ADDRESS = "王女士", "13800000009", "西津东路房管所门前"


def _features(resp) -> list[dict]:
    if resp.status_code == 204:
        return []
    assert resp.status_code == 200 and resp.mimetype == MVT, resp.data
    return mapbox_vector_tile.decode(resp.data).get("incidents", {}).get("features", [])


def _reported(client, auth):
    staff = auth.token("staff")  # Hualinshan community staff
    r = report(
        client, staff, reporter_name=NAME, reporter_phone=PHONE, address=ADDRESS, description="井盖缺失 绝密描述"
    )
    assert r.status_code == 201, r.data
    return r.get_json()["id"], staff


def test_open_incident_is_in_its_tile_with_public_properties_only(client, auth, demo):
    iid, staff = _reported(client, auth)
    resp = get_tile(client, "incidents", *tile_of(*XIJIN, 16), headers=staff)
    mine = [f for f in _features(resp) if f["id"] == iid]
    assert len(mine) == 1 and mine[0]["geometry"]["type"] == "Point"
    assert mine[0]["properties"] == {"state": "reported", "category": "drainage.sewage"}
    # Nothing personal or free text anywhere in the tile's bytes (properties, keys or values).
    raw = get_tile(client, "incidents", *tile_of(*XIJIN, 16), headers={**staff, "Accept-Encoding": "identity"}).data
    for secret in (NAME, PHONE, ADDRESS, "绝密描述"):
        assert secret.encode() not in raw


def test_incident_tiles_follow_the_users_area(client, auth, demo):
    zjy = auth.token("zjystaff")  # Zhangjiayuan staff: a Hualinshan incident is not theirs
    iid, staff = _reported(client, auth)
    z, x, y = tile_of(*XIJIN, 14)
    assert iid in {f["id"] for f in _features(get_tile(client, "incidents", z, x, y, staff))}
    assert iid not in {f["id"] for f in _features(get_tile(client, "incidents", z, x, y, zjy))}
    assert get_tile(client, "incidents", z, x, y).status_code == 401  # no login, no tile


def test_closed_incident_leaves_the_tile(client, auth, demo):
    iid, staff = _reported(client, auth)
    assert move(client, staff, iid, "rejected", note="重复上报").status_code == 200
    ids = {f["id"] for f in _features(get_tile(client, "incidents", *tile_of(*XIJIN, 16), headers=staff))}
    assert iid not in ids
    state = db.session.execute(text("SELECT state FROM incidents WHERE id = :i"), {"i": iid}).scalar()
    assert state == "rejected"


def test_tilejson_states_the_fields_and_the_plan(client, auth, demo):
    doc = client.get("/tiles/incidents.json", headers=auth.token("planner")).get_json()
    assert doc["vector_layers"][0]["id"] == "incidents"
    assert doc["vector_layers"][0]["fields"] == {"state": "String", "category": "String"}
    assert doc["wuwei:plan"]["incidents"]["feature_cap"] is None  # nothing dropped: counts per cell if dense


def test_map_page_draws_the_incidents_overlay_from_tiles(client, auth, demo):
    auth.login("planner")
    layers = {l["name"]: l for l in map_config(client.get("/").get_data(as_text=True))["layers"]}
    assert layers["incidents"]["tiles"] == "/tiles/incidents/{z}/{x}/{y}.mvt"
    # A click fetches the record from the overlay's URL: /api/v1/incidents/<id>.
    assert layers["incidents"]["url"].split("?")[0] == "/api/v1/incidents"
