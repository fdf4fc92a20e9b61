"""The map page and the layer list pages: login, no CDN, no embedded data, scope, languages, bad input."""

import csv
import io
import json
import re
from pathlib import Path

import pytest

from app.basemap.layers import LAYERS
from app.core.registry import OVERLAYS, Overlay

ROOT = Path(__file__).resolve().parent.parent
HAN = re.compile(r"[\u4e00-\u9fff]")


def map_config(html: str) -> dict:
    """The JSON handed to ``Wuwei.init`` in the page."""
    m = re.search(r"Wuwei\.init\(\w+, (\{.*\})\);", html)
    assert m, "the map page must call Wuwei.init"
    return json.loads(m.group(1))


def rows(html: str) -> list[list[str]]:
    """Cells of the list table's body rows (text only)."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.DOTALL)
    if not body:
        return []
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.DOTALL)]
        for tr in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.DOTALL)
    ]


def table(html: str) -> list[dict]:
    """Body rows of the list table keyed by their (localized) column headers."""
    head = re.search(r"<thead>(.*?)</thead>", html, re.DOTALL)
    if not head:
        return []
    names = [
        re.sub(r"<[^>]+>|[▲▼]", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", head.group(1), re.DOTALL)
    ]
    return [dict(zip(names, r)) for r in rows(html)]


# --- login -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/layers", "/layers/chargers", "/layers/chargers.csv"])
def test_pages_send_anonymous_visitors_to_login(client, url):
    r = client.get(url)
    assert r.status_code == 302
    assert "/login" in r.location


# --- the map page ------------------------------------------------------------------------------


def test_map_page_loads_assets_locally_and_embeds_no_features(client, auth, demo):
    auth.login("planner")
    r = client.get("/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for src in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html):
        assert src.startswith("/static/"), src
    assert not re.search(r"cdn|unpkg|jsdelivr|googleapis|bootstrapcdn", html, re.IGNORECASE)
    assert "FeatureCollection" not in html and '"coordinates"' not in html
    assert "三爱堂小区充电桩01" not in html  # a charger's name is data, fetched by the browser
    assert len(r.data) < 40_000


def test_map_page_offers_every_layer_with_its_api_url(client, auth, demo):
    auth.login("planner")
    cfg = map_config(client.get("/").get_data(as_text=True))
    by_name = {l["name"]: l for l in cfg["layers"]}
    spatial = {name for name, layer in LAYERS.items() if layer.geom_type}
    assert spatial <= set(by_name)
    assert by_name["chargers"]["url"] == "/api/v1/chargers"
    assert by_name["buildings"]["min_zoom"] == 14
    assert by_name["chargers"]["color_by"] == "status" and by_name["bike-zones"]["color_by"] == "status"
    assert by_name["chargers"]["labels"]["ports"] == "充电口"
    assert by_name["chargers"]["values"]["status"]["installed"] == "已安装"
    # Every URL answers GeoJSON for a bbox, as the browser will ask.
    for layer in cfg["layers"]:
        sep = "&" if "?" in layer["url"] else "?"
        r = client.get(layer["url"] + sep + "bbox=103.70,36.00,103.95,36.10&limit=5000")
        assert r.status_code == 200, layer["url"]
        assert r.get_json()["type"] == "FeatureCollection"


def test_buildings_are_drawn_from_vector_tiles_not_pages_of_geojson(client, auth, demo):
    """100,000 buildings: the page draws them from /tiles (cached on the server, kept by the browser),
    with the vendored VectorGrid; a tile of the layer answers for the planner."""
    auth.login("planner")
    html = client.get("/").get_data(as_text=True)
    by_name = {l["name"]: l for l in map_config(html)["layers"]}
    assert by_name["buildings"]["tiles"] == "/tiles/buildings/{z}/{x}/{y}.mvt"
    assert by_name["chargers"]["tiles"] is None  # small layers stay GeoJSON (popups and editing from features)
    assert "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js" in html
    tile = client.get(by_name["buildings"]["tiles"].format(z=16, x=51665, y=25724))
    assert tile.status_code in (200, 204) and tile.headers.get("Cache-Control", "").startswith("private")


def test_map_opens_on_the_users_area(client, auth, demo):
    auth.login("gridworker")  # Hualinshan grid 1: 103.779–103.785, 36.048–36.053
    cfg = map_config(client.get("/").get_data(as_text=True))
    (s, w), (n, e) = cfg["bounds"]
    assert (w, s, e, n) == pytest.approx((103.779, 36.048, 103.785, 36.053), abs=1e-6)
    auth.logout()
    auth.login("planner")  # the whole demo city
    (s, w), (n, e) = map_config(client.get("/").get_data(as_text=True))["bounds"]
    assert (w, s, e, n) == pytest.approx((103.70, 36.00, 103.95, 36.10), abs=1e-6)


def test_focus_opens_on_one_feature(client, auth, demo):
    auth.login("planner")
    cfg = map_config(client.get("/?focus=chargers:3").get_data(as_text=True))
    assert cfg["focus"] == {"layer": "chargers", "id": 3, "url": "/api/v1/chargers/3"}


@pytest.mark.parametrize(
    "focus", ["chargers", "chargers:x", "chargers:-1", "nosuch:1", "property-companies:1", "a" * 80 + ":1"]
)
def test_bad_focus_is_400(client, auth, demo, focus):
    auth.login("planner")
    r = client.get("/", query_string={"focus": focus})
    assert r.status_code == 400
    assert "focus" in r.get_data(as_text=True) or "图层" in r.get_data(as_text=True)


@pytest.mark.parametrize(
    "basemap, key, expect, absent",
    [
        ("osm", "", "tile.openstreetmap.org", "tianditu"),
        ("tianditu", "k123", "tianditu.gov.cn", "openstreetmap.org/{z}"),
        ("none", "", None, "L.tileLayer"),
        ("tianditu", "", None, "L.tileLayer"),  # no key: no tiles rather than broken ones
    ],
)
def test_basemap_follows_config(app, client, auth, demo, monkeypatch, basemap, key, expect, absent):
    monkeypatch.setitem(app.config, "WUWEI_BASEMAP", basemap)
    monkeypatch.setitem(app.config, "WUWEI_TIANDITU_KEY", key)
    auth.login("planner")
    html = client.get("/").get_data(as_text=True)
    if expect:
        assert expect in html
    if key:
        assert key in html
    assert absent not in html


def test_overlays_are_offered_by_role(client, auth, demo, monkeypatch):
    monkeypatch.setitem(
        OVERLAYS,
        "test-leaders",
        Overlay(
            "test-leaders",
            "领导专用",
            "api.collection",
            {"layer_name": "chargers"},
            permission="volunteers.hours",
            popup=["name", "status"],
            color_by="status",
            colors={"installed": "#0f0"},
            item_endpoint="api.item",
            item_id_arg="fid",
        ),
    )
    auth.login("leader")
    cfg = map_config(client.get("/").get_data(as_text=True))
    overlay = next(l for l in cfg["layers"] if l["name"] == "test-leaders")
    assert overlay["url"] == "/api/v1/chargers" and overlay["visible"] is False
    assert overlay["labels"] == {"name": "名称", "status": "状态"}
    assert overlay["values"]["status"]["installed"] == "已安装"
    auth.logout()
    auth.login("planner")
    html = client.get("/").get_data(as_text=True)
    assert "test-leaders" not in html
    assert client.get("/?focus=test-leaders:1").status_code == 400


def test_map_page_is_chinese_by_default_and_english_on_request(client, auth, demo):
    auth.login("planner")
    zh = map_config(client.get("/").get_data(as_text=True))
    assert zh["texts"]["layers"] == "图层与图例"
    assert {l["title"] for l in zh["layers"]} >= {"充电桩", "楼栋", "网格"}
    en_html = client.get("/?lang=en").get_data(as_text=True)
    en = map_config(en_html)
    assert {l["title"] for l in en["layers"]} >= {"Chargers", "Buildings", "Grids"}
    for layer in en["layers"]:
        strings = [layer["title"], *layer["labels"].values()] + [
            v for values in layer["values"].values() for v in values.values()
        ]
        assert not [s for s in strings if HAN.search(s)], layer["name"]
    assert not [t for t in en["texts"].values() if HAN.search(t)]
    assert "<title>Map · Wuwei" in en_html and "Log out" in en_html


def test_top_bar_links_to_map_and_layer_lists(client, auth, demo):
    auth.login("gridworker")
    html = client.get("/layers?lang=en").get_data(as_text=True)
    assert '<a href="/"' in html and '<a href="/layers"' in html
    for name in LAYERS:
        assert f'href="/layers/{name}"' in html


# --- list pages ---------------------------------------------------------------------------------


def test_list_paginates_with_total_count(client, auth, demo):
    auth.login("planner")
    first = client.get("/layers/chargers?per_page=10").get_data(as_text=True)
    assert "共 26 条" in first and "第 1 / 3 页" in first
    assert len(rows(first)) == 10
    assert 'href="/?focus=chargers%3A1"' in first or 'href="/?focus=chargers:1"' in first  # "show on map"
    last = client.get("/layers/chargers?per_page=10&page=3").get_data(as_text=True)
    assert len(rows(last)) == 6
    ids = {r["编号"] for r in table(first)} | {r["编号"] for r in table(last)}
    assert len(ids) == 16
    beyond = client.get("/layers/chargers?per_page=10&page=9").get_data(as_text=True)
    assert rows(beyond) == [] and "这一页没有记录" in beyond


def test_list_sorts_by_clicked_header(client, auth, demo):
    auth.login("planner")
    html = client.get("/layers/chargers").get_data(as_text=True)
    assert 'href="/layers/chargers?sort=ports"' in html  # headers are sort links
    by_ports = table(client.get("/layers/chargers?sort=-ports").get_data(as_text=True))
    assert by_ports[0]["名称"] == "张家园社区规划充电桩（待选址）"  # the only 12-port charger
    names = [r["名称"] for r in table(client.get("/layers/chargers?sort=-name&per_page=200").get_data(as_text=True))]
    assert names == sorted(names, reverse=True)
    again = client.get("/layers/chargers?sort=name").get_data(as_text=True)
    assert 'href="/layers/chargers?sort=-name"' in again  # a second click reverses


def test_list_filters_and_searches(client, auth, demo):
    auth.login("planner")
    planned = client.get("/layers/chargers?status=planned").get_data(as_text=True)
    assert "共 1 条" in planned and table(planned)[0]["状态"] == "规划中"
    found = client.get("/layers/chargers", query_string={"q": "三爱堂"}).get_data(as_text=True)
    assert "共 6 条" in found
    nothing = client.get("/layers/chargers", query_string={"q": "不存在的名字"}).get_data(as_text=True)
    assert rows(nothing) == [] and "没有符合条件的记录" in nothing
    grid = client.get("/layers/buildings?area=620103002001001&per_page=200").get_data(as_text=True)
    assert table(grid) and {r["网格编码"] for r in table(grid)} == {"620103002001001"}
    assert 'option value="installed"' in client.get("/layers/chargers").get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=x",
        "page=-1",
        "per_page=0",
        "per_page=1000",
        "sort=secret",
        "sort=-grid_id",
        "status=broken",
        "colour=red",
        "area=abc",
        "q=" + "长" * 101,
        "compound_id=x",
    ],
)
def test_list_rejects_bad_parameters_with_400(client, auth, demo, query):
    auth.login("planner")
    assert client.get(f"/layers/chargers?{query}").status_code == 400


@pytest.mark.parametrize("query", ["sort=secret", "status=broken", "colour=red", "area=abc", "compound_id=x"])
def test_csv_rejects_bad_filters_with_400(client, auth, demo, query):
    auth.login("planner")
    assert client.get(f"/layers/chargers.csv?{query}").status_code == 400


def test_unknown_layer_list_is_404(client, auth, demo):
    auth.login("planner")
    assert client.get("/layers/nosuch").status_code == 404


def test_grid_worker_lists_only_their_grid(client, auth, demo):
    auth.login("gridworker")  # Hualinshan grid 1
    buildings = table(client.get("/layers/buildings?per_page=200").get_data(as_text=True))
    assert buildings
    assert {r["网格编码"] for r in buildings} == {"620103002001001"}
    chargers = client.get("/layers/chargers").get_data(as_text=True)
    assert rows(chargers) == [] and "您的辖区内还没有这一图层的记录" in chargers
    # Another grid's code as a filter shows nothing of it.
    other = client.get("/layers/buildings?area=620102005003001").get_data(as_text=True)
    assert rows(other) == []


def test_list_page_in_english(client, auth, demo):
    auth.login("planner")
    html = client.get("/layers/chargers?lang=en").get_data(as_text=True)
    headers = re.findall(r"<th[^>]*>(.*?)</th>", html, re.DOTALL)
    assert not [h for h in headers if HAN.search(h)]
    assert "26 in total" in html and "Download CSV" in html and "Show on map" in html
    assert "installed" in [r["Status"] for r in table(html)]
    zh = client.get("/layers/chargers?lang=zh").get_data(as_text=True)
    assert "下载 CSV" in zh and "已安装" in zh


# --- CSV ----------------------------------------------------------------------------------------


def read_csv(resp) -> list[dict]:
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_csv_downloads_the_current_filter(client, auth, demo):
    auth.login("planner")
    r = client.get("/layers/chargers.csv?status=installed&page=2")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    data = read_csv(r)
    assert len(data) == 25 and {d["status"] for d in data} == {"installed"}
    assert 103.8 < float(data[0]["lon"]) < 103.9 and 36.0 < float(data[0]["lat"]) < 36.1
    zones = read_csv(client.get("/layers/bike-zones.csv"))
    assert zones and all(z["wkt"].startswith("MULTIPOLYGON") for z in zones)
    html = client.get("/layers/chargers?status=installed&page=2").get_data(as_text=True)
    assert 'href="/layers/chargers.csv?status=installed"' in html


def test_csv_is_scoped_and_defuses_formulas(client, auth, demo):
    auth.login("planner")
    r = client.post(
        "/api/v1/chargers",
        json={
            "type": "Feature",
            "properties": {"name": '=HYPERLINK("http://x")', "ports": 2, "status": "faulty"},
            "geometry": {"type": "Point", "coordinates": [103.7815, 36.0505]},
        },
    )
    assert r.status_code == 201
    data = read_csv(client.get("/layers/chargers.csv?status=faulty"))
    assert [d["name"] for d in data] == ['\'=HYPERLINK("http://x")']
    auth.logout()
    auth.login("zjy1")  # Zhangjiayuan grid 1: none of Hualinshan
    names = {d["name"] for d in read_csv(client.get("/layers/chargers.csv"))}
    assert names and '\'=HYPERLINK("http://x")' not in names
    assert all(d["grid_code"] == "620102005003001" for d in read_csv(client.get("/layers/chargers.csv")))


# --- translations -------------------------------------------------------------------------------


def test_every_ui_string_of_the_shared_pages_has_an_english_translation():
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    with open(ROOT / "app/translations/en/LC_MESSAGES/messages.po", "rb") as f:
        catalogue = read_po(f)
    keywords = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2)}
    files = [
        ("python", p)
        for p in [
            "app/auth/policy.py",
            "app/accounts/views.py",
            "app/basemap/layers.py",
            *map(str, (ROOT / "app/mappage").glob("*.py")),
            *map(str, (ROOT / "app/web").glob("*.py")),
        ]
    ] + [
        ("jinja2", p)
        for p in [
            "templates/base.html",
            "templates/login.html",
            "templates/error.html",
            "templates/unavailable.html",
            *map(str, (ROOT / "templates/mappage").glob("*.html")),
        ]
    ]
    missing, checked = [], 0
    for method, path in files:
        with open(ROOT / path, "rb") as f:
            for _, msg, _, ctx in extract_from_file(method, str(ROOT / path), keywords=keywords):
                msgid = msg[0] if isinstance(msg, tuple) else msg
                checked += 1
                entry = catalogue.get(msgid, context=ctx)
                if entry is None or not entry.string:
                    missing.append((path, msgid))
    assert checked > 100
    assert missing == []


def test_login_and_error_pages_follow_the_language(client, auth, demo):
    zh = client.get("/login").get_data(as_text=True)
    assert "登录五微" in zh and "用户名" in zh
    en = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in to Wuwei" in en and "Username" in en and "Password" in en
    assert not HAN.search(re.sub(r"五微|中文", "", re.sub(r"<[^>]+>", " ", en)))
    auth.login("planner")
    missing = client.get("/layers/nosuch?lang=en").get_data(as_text=True)
    assert "There is no layer called nosuch" in missing and "Back to the map" in missing
