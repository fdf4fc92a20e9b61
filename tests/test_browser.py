"""The map page in a real browser: Debian's Chromium driven by Playwright, against a live server.

The server runs in a thread on its own database (``<test db>_e2e``: recreated, migrated,
demo loaded) with ``WUWEI_BASEMAP=none``, so nothing needs the internet. The test logs in
through the real form, waits until features of several layers are drawn, checks that no
request left 127.0.0.1, and saves the screenshots the README shows (``docs/img/``).
"""

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import live_demo_server, local_chromium

pytestmark = [pytest.mark.browser, pytest.mark.no_transaction]

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
# Zhangjiayuan community (张家园社区): compounds, buildings and the 25 smart chargers.
ZHANGJIAYUAN = [[36.0450, 103.8330], [36.0580, 103.8430]]


@pytest.fixture(scope="module")
def live_server():
    """The app served on 127.0.0.1 from a thread, on a fresh demo database."""
    for base, _ in live_demo_server("e2e"):
        yield base


@pytest.fixture(scope="module")
def browser_context():
    """A Chromium context with a fresh profile; every request is recorded, outside ones are blocked."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wuwei-chromium-") as profile, sync_playwright() as pw:
        context, _outside = local_chromium(pw, profile, {"width": 1280, "height": 800})
        context.on("request", lambda r: requests.append(r.url))
        context.wuwei_requests = requests
        yield context
        context.close()


def _login(page, base, username="planner", password="wuwei-planner"):
    page.goto("about:blank")  # the last user's requests still in flight would set their cookie again
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _drawn_paths(page) -> dict[str, int]:
    """SVG paths drawn per layer (features carry the class ``wuwei-f-<layer>``)."""
    return page.evaluate("""() => Object.fromEntries(Object.keys(Wuwei.state.layers).map(
        n => [n, document.querySelectorAll('path.wuwei-f-' + n).length]))""")


def _wait_until_loaded(page, timeout=30000):
    page.wait_for_function(
        """() => window.Wuwei && Wuwei.state && Wuwei.state.ready &&
        Object.values(Wuwei.state.status).every(s => s !== 'loading')""",
        timeout=timeout,
    )


def _show_zhangjiayuan(page):
    # Leaflet drops a fitBounds asked for while a zoom animation runs (the page's own fit to the user's
    # area can still be animating once the layers report loaded): ask again until the map got there.
    page.wait_for_function(
        """(b) => { const m = Wuwei.state.map;
        if (m.getZoom() < 14 && !m._animatingZoom) { m.fitBounds(b); }
        return (Wuwei.state.drawn.buildings || 0) > 0; }""",
        arg=ZHANGJIAYUAN,
        polling=500,
        timeout=30000,
    )
    _wait_until_loaded(page)
    # A charger's popup shows the localized attribute labels.
    page.evaluate("""() => { const l = Wuwei.state.layers.chargers.getLayers()
        .find(x => x.feature.properties.name === '三爱堂小区充电桩03'); l.openPopup(); }""")
    page.wait_for_selector(".leaflet-popup-content .wuwei-popup")
    page.wait_for_function("() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")
    _wait_until_loaded(page)  # the popup's auto-pan may reload the layers


def test_planner_sees_layers_drawn_in_both_languages_with_no_outside_request(live_server, browser_context):
    IMG.mkdir(parents=True, exist_ok=True)
    page = browser_context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server)

    _wait_until_loaded(page)
    drawn = _drawn_paths(page)
    with_features = [n for n, count in drawn.items() if count > 0]
    assert len(with_features) >= 3, drawn
    assert {"areas", "grids", "chargers"} <= set(with_features)
    assert page.evaluate("Wuwei.state.status.buildings") == "zoom"  # buildings wait for zoom 14
    assert "充电桩" in page.inner_text(".wuwei-panel")
    assert page.locator(".wuwei-panel .st[data-status=error]").count() == 0

    _show_zhangjiayuan(page)
    drawn = _drawn_paths(page)
    assert drawn["buildings"] > 0 and drawn["compounds"] > 0 and drawn["chargers"] >= 25
    assert page.evaluate("Wuwei.state.status['bike-zones']") == "empty"  # none in Zhangjiayuan
    assert page.inner_text(".wuwei-layers li[data-layer=bike-zones] .st") == "无数据"
    popup = page.inner_text(".leaflet-popup-content")
    assert "状态" in popup and "已安装" in popup and "充电口" in popup
    page.screenshot(path=str(IMG / "map-zh.png"), animations="disabled")

    page.goto(f"{live_server}/?lang=en")
    _wait_until_loaded(page)
    _show_zhangjiayuan(page)
    assert "Chargers" in page.inner_text(".wuwei-panel")
    popup = page.inner_text(".leaflet-popup-content")
    assert "Status" in popup and "installed" in popup and "状态" not in popup
    page.screenshot(path=str(IMG / "map-en.png"), animations="disabled")

    page.goto(f"{live_server}/layers/chargers?lang=en")
    assert page.locator("table.list tbody tr").count() == 26
    page.screenshot(path=str(IMG / "list-en.png"), full_page=False)
    page.goto(f"{live_server}/?lang=zh")
    _wait_until_loaded(page)
    page.close()

    outside = [
        u
        for u in browser_context.wuwei_requests
        if not u.startswith(("data:", "blob:")) and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert outside == []
    assert any("/api/v1/chargers?" in u and "bbox=" in u for u in browser_context.wuwei_requests)
    assert errors == []


def test_phone_sees_map_with_the_panel_folded(live_server, browser_context):
    page = browser_context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    _login(page, live_server, "gridworker", "wuwei-grid")
    _wait_until_loaded(page)
    assert page.locator(".wuwei-panel.collapsed").count() == 1
    drawn = _drawn_paths(page)
    assert drawn["grids"] > 0
    page.click(".wuwei-panel-toggle")
    assert page.locator(".wuwei-panel.collapsed").count() == 0
    page.click(".wuwei-panel-toggle")
    page.screenshot(path=str(IMG / "map-phone.png"), animations="disabled")
    page.close()


def test_focus_opens_the_feature_and_a_failing_layer_says_so(live_server, browser_context, monkeypatch):
    from app.core.registry import OVERLAYS, Overlay

    monkeypatch.setitem(
        OVERLAYS, "broken", Overlay("broken", "坏图层", "api.collection", {"layer_name": "no-such-layer"}, visible=True)
    )
    page = browser_context.new_page()
    _login(page, live_server)
    page.goto(f"{live_server}/layers/chargers?q=%E4%BB%81%E6%81%92")  # 仁恒
    page.click("table.list tbody tr:first-child a[href*='focus=chargers']")
    page.wait_for_selector(".leaflet-popup-content .wuwei-popup", timeout=30000)
    assert "仁恒晶城小区充电桩01" in page.inner_text(".leaflet-popup-content")
    assert page.evaluate("Wuwei.state.map.getZoom()") >= 16
    _wait_until_loaded(page)
    assert page.evaluate("Wuwei.state.status.broken") == "error"
    assert "加载失败" in page.inner_text(".wuwei-layers li[data-layer=broken] .st")
    assert page.evaluate("Wuwei.state.status.chargers") == "ok"
    page.click(".leaflet-popup-content .wuwei-popup-link")  # back to the list, on that charger
    page.wait_for_selector("table.list")
    assert "共 1 条" in page.inner_text(".list-head")
    page.goto(f"{live_server}/?focus=chargers:999999")
    page.wait_for_selector(".wuwei-note", timeout=30000)
    assert "不存在" in page.inner_text(".wuwei-note")
    page.close()


def test_open_incidents_come_from_tiles_and_a_click_fetches_the_record(live_server, browser_context):
    """The open-incidents overlay is drawn from /tiles/incidents (id, state, category only); clicking a
    point fetches the incident from the API for its popup, with the category's name and the state."""
    page = browser_context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server)
    _wait_until_loaded(page)
    first = page.evaluate("""() => fetch('/api/v1/incidents?open=true&limit=1', {credentials: 'same-origin'})
        .then(r => r.json()).then(fc => fc.features[0])""")
    lon, lat = first["geometry"]["coordinates"]
    page.wait_for_function(
        """([lat, lon]) => { const m = Wuwei.state.map;
        if (!m._animatingZoom && (m.getZoom() !== 17 || m.getCenter().distanceTo([lat, lon]) > 5)) {
            m.setView([lat, lon], 17, {animate: false}); }
        return (Wuwei.state.drawn.incidents || 0) > 0; }""",
        arg=[lat, lon],
        polling=500,
        timeout=30000,
    )
    _wait_until_loaded(page)
    requests = browser_context.wuwei_requests
    assert any("/tiles/incidents/17/" in u or "/tiles/incidents/16/" in u for u in requests)
    assert not any("/api/v1/incidents?" in u and "bbox=" in u for u in requests)  # no GeoJSON pages
    # Click the point in the middle of the map: the one we centred on.
    box = page.locator("#" + page.evaluate("Wuwei.state.map.getContainer().id")).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector(".leaflet-popup-content .wuwei-popup", timeout=15000)
    page.wait_for_function("() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")
    popup = page.inner_text(".leaflet-popup-content")
    assert str(first["id"]) in popup and first["properties"]["category_name"] in popup
    assert "状态" in popup and "上报时间" in popup
    assert any(u.endswith(f"/api/v1/incidents/{first['id']}") for u in requests)
    page.screenshot(path=str(IMG / "map-incident-tile.png"), animations="disabled")
    page.close()
    assert errors == []
