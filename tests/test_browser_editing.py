"""Editing on the map and importing through the page, in a real browser (Debian's Chromium, Playwright).

A planner draws a bike zone with the mouse (a bow-tie first: the page explains it and repairs it),
edits a charger, undoes it from its history, meets another planner's save (the conflict keeps the
form), and imports a CSV through the import page after its dry run. Screenshots at 390×844 and
1440×900 go to docs/img/ (docs/mappage.md shows them).
"""

import json
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import live_demo_server, local_chromium

pytestmark = [pytest.mark.browser, pytest.mark.no_transaction]

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
ZHANGJIAYUAN = [[36.0450, 103.8330], [36.0580, 103.8430]]
# An empty corner of Zhangjiayuan grid 4 (south-east), where a new zone may go.
ZONE = [(36.0456, 103.8404), (36.0456, 103.8412), (36.0461, 103.8412), (36.0461, 103.8404)]
SECOND = [(36.0465, 103.8404), (36.0465, 103.8410), (36.0469, 103.8410), (36.0469, 103.8404)]


@pytest.fixture(scope="module")
def live_server():
    for base, _ in live_demo_server("e2e_edit"):
        yield base


@pytest.fixture(scope="module")
def context():
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="wuwei-chromium-") as profile, sync_playwright() as pw:
        ctx, _outside = local_chromium(pw, profile, {"width": 1440, "height": 900})
        requests: list[str] = []
        ctx.on("request", lambda r: requests.append(r.url))
        ctx.wuwei_requests = requests
        yield ctx
        ctx.close()


def _login(page, base):
    page.goto("about:blank")  # the last user's requests still in flight would set their cookie again
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "planner")
    page.fill("input[name=password]", "wuwei-planner")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _loaded(page):
    page.wait_for_function(
        """() => window.Wuwei && Wuwei.state && Wuwei.state.ready &&
        Object.values(Wuwei.state.status).every(s => s !== 'loading')""",
        timeout=30000,
    )


def _zoom_to_zhangjiayuan(page):
    page.wait_for_function(
        """(b) => { const m = Wuwei.state.map;
        if (m.getZoom() < 16 && !m._animatingZoom) { m.fitBounds(b); }
        return m.getZoom() >= 16 && (Wuwei.state.drawn.buildings || 0) > 0; }""",
        arg=ZHANGJIAYUAN,
        polling=500,
        timeout=30000,
    )
    _loaded(page)


def _pixel(page, lat, lon):
    point = page.evaluate(
        "([lat, lon]) => { const p = Wuwei.state.map.latLngToContainerPoint([lat, lon]);"
        " const r = Wuwei.state.map.getContainer().getBoundingClientRect();"
        " return [r.left + p.x, r.top + p.y]; }",
        [lat, lon],
    )
    return point[0], point[1]


def _draw(page, corners):
    for lat, lon in [*corners, corners[0]]:  # clicking the first corner again closes the polygon
        x, y = _pixel(page, lat, lon)
        page.mouse.click(x, y)
        page.wait_for_timeout(150)


def _api(page, path):
    return page.evaluate("(p) => fetch(p, {headers: {Accept: 'application/json'}}).then(r => r.json())", path)


def _save(page):
    """Save the form and wait for the toast that says so (hidden first: an older one may still show)."""
    page.evaluate("() => { document.querySelector('.wuwei-toast').hidden = true; }")
    page.click(".ep-save")
    page.wait_for_selector(".wuwei-toast:not([hidden])")


def _open_popup(page, layer, name):
    page.wait_for_function(
        """([layer, name]) => Wuwei.state.layers[layer].getLayers()
        .some(x => x.feature.properties.name === name)""",
        arg=[layer, name],
        timeout=30000,
    )
    page.evaluate(
        """([layer, name]) => { const l = Wuwei.state.layers[layer].getLayers()
        .find(x => x.feature.properties.name === name); l.openPopup(); }""",
        [layer, name],
    )
    page.wait_for_selector(".leaflet-popup-content .wuwei-popup-edit")


def test_a_planner_draws_a_zone_edits_a_charger_undoes_it_and_meets_a_conflict(live_server, context):
    IMG.mkdir(parents=True, exist_ok=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server)
    _loaded(page)
    _zoom_to_zhangjiayuan(page)
    page.evaluate("() => Wuwei.state.map.setView([36.0462, 103.8408], 18, {animate: false})")
    page.wait_for_timeout(300)
    _loaded(page)

    # A bow-tie zone: the page says why it can't be stored, where, and repairs it in one click.
    page.select_option(".eb-layer", "bike-zones")
    page.click(".eb-draw")
    bow_tie = [ZONE[0], ZONE[2], ZONE[1], ZONE[3]]
    _draw(page, bow_tie)
    page.wait_for_selector(".wuwei-edit-panel .ep-form [name=capacity]")
    page.fill(".ep-form [name=name]", "张家园西南停放区")
    page.fill(".ep-form [name=capacity]", "30")
    page.click(".ep-save")
    page.wait_for_selector(".ep-note.error")
    assert "自相交" in page.inner_text(".ep-msg")
    page.screenshot(path=str(IMG / "edit-problem.png"))
    page.click(".ep-note.error button.primary")  # 一键修复图形
    _save(page)
    assert "已保存" in page.inner_text(".wuwei-toast")
    zones = _api(page, "/api/v1/bike-zones?q=" + "张家园西南停放区")
    assert zones["numberMatched"] == 1 and zones["features"][0]["properties"]["capacity"] == 30

    # The zone again, drawn right: snapping and drag are there; a second zone saved straight away.
    page.click(".eb-draw")
    _draw(page, SECOND)
    page.wait_for_selector(".ep-form [name=capacity]")
    page.fill(".ep-form [name=name]", "张家园第二停放区")
    _save(page)
    assert _api(page, "/api/v1/bike-zones?q=张家园第二停放区")["numberMatched"] == 1

    # Edit a charger's attributes; a bad value is said next to its field.
    page.evaluate("() => Wuwei.state.map.setView([36.0505, 103.8360], 17, {animate: false})")
    _loaded(page)
    _open_popup(page, "chargers", "三爱堂小区充电桩03")
    page.click(".wuwei-popup-edit .ep-open")
    page.wait_for_selector(".ep-form [name=ports]")
    page.fill(".ep-form [name=ports]", "0")
    page.click(".ep-save")
    page.wait_for_selector(".ep-field.invalid .ep-err")
    assert "不能小于 1" in page.inner_text(".ep-field.invalid .ep-err")
    page.fill(".ep-form [name=ports]", "12")
    page.select_option(".ep-form [name=status]", "faulty")
    page.screenshot(path=str(IMG / "edit-charger.png"))
    _save(page)
    charger = _api(page, "/api/v1/chargers?q=三爱堂小区充电桩03")["features"][0]
    assert charger["properties"]["ports"] == 12 and charger["properties"]["status"] == "faulty"

    # Undo it from the feature's history.
    _loaded(page)
    _open_popup(page, "chargers", "三爱堂小区充电桩03")
    page.click(".wuwei-popup-edit button:nth-child(2)")  # 历史版本
    page.wait_for_selector(".ep-versions .ep-undo")
    assert "充电口" in page.inner_text(".ep-versions li:first-child")
    page.click(".ep-versions li:first-child .ep-undo")
    page.wait_for_function("() => document.querySelector('.wuwei-toast').innerText.includes('已撤销')")
    charger = _api(page, "/api/v1/chargers?q=三爱堂小区充电桩03")["features"][0]
    assert charger["properties"]["ports"] == 10 and charger["properties"]["status"] == "installed"

    # Two planners on one charger: the other's save lands first; this one's is refused, the form kept.
    page.wait_for_selector(".ep-form [name=ports]")
    fid = charger["id"]
    page.fill(".ep-form [name=ports]", "16")
    status = page.evaluate(
        """(id) => fetch('/api/v1/chargers/' + id, {method: 'PATCH', headers: {
        'Content-Type': 'application/json', 'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content},
        body: JSON.stringify({properties: {operator: '另一位规划员的修改'}})}).then(r => r.status)""",
        fid,
    )
    assert status == 200
    page.click(".ep-save")
    page.wait_for_selector(".ep-note.conflict")
    assert "没有丢失" in page.inner_text(".ep-note.conflict")
    assert page.input_value(".ep-form [name=ports]") == "16"  # nothing lost
    page.evaluate("() => { document.querySelector('.wuwei-toast').hidden = true; }")
    page.click(".ep-note.conflict button.primary")  # keep mine, having seen theirs
    page.wait_for_selector(".wuwei-toast:not([hidden])")
    charger = _api(page, f"/api/v1/chargers/{fid}")
    assert charger["properties"]["ports"] == 16 and charger["properties"]["operator"] == "另一位规划员的修改"

    page.set_viewport_size({"width": 390, "height": 844})
    _open_popup(page, "chargers", "三爱堂小区充电桩03")
    page.click(".wuwei-popup-edit .ep-open")
    page.wait_for_selector(".ep-form [name=ports]")
    page.screenshot(path=str(IMG / "edit-phone.png"))
    page.click(".ep-cancel")
    assert errors == []
    page.close()


def test_a_planner_imports_a_file_through_the_page_after_its_dry_run(live_server, context, tmp_path):
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server)
    csv = tmp_path / "新充电桩.csv"
    csv.write_text(
        "名称,端口,状态,安装日期,lon,lat\n张家园新桩01,8,planned,2024/05/01,103.8361,36.0468\n"
        "张家园新桩02,坏,planned,,103.8362,36.0468\n",
        encoding="utf-8",
    )
    page.goto(f"{live_server}/layers/chargers/import")
    page.set_input_files("input[name=file]", str(csv))
    page.click("#check-btn")
    page.wait_for_selector("#import-result:not([hidden]) .summary span")
    assert "2 行有问题" in page.inner_text(".summary")  # the columns' Chinese names feed no field yet
    assert page.is_disabled("#import-btn")
    # The columns have Chinese names: map them to the fields, which checks again.
    for column, field in (("名称", "name"), ("端口", "ports"), ("状态", "status"), ("安装日期", "installed_on")):
        page.select_option(f"select[data-column='{column}']", field)
        page.wait_for_function("(c) => window.WuweiImport.mapping[c] !== undefined", arg=column)
    page.wait_for_function("""() => { const r = window.WuweiImport.report;
        return r && r.mapping['安装日期'] === 'installed_on' && r.refused === 1; }""")
    assert page.locator(".errors tbody tr").count() == 1 and "充电口：应为整数" in page.inner_text(".errors tbody")
    assert page.evaluate("document.querySelectorAll('#import-map path.leaflet-interactive').length") == 2
    page.screenshot(path=str(IMG / "import-check.png"), full_page=True)
    csv.write_text(
        "名称,端口,状态,安装日期,lon,lat\n张家园新桩01,8,planned,2024/05/01,103.8361,36.0468\n"
        "张家园新桩02,6,planned,2024-05-02T00:00:00,103.8362,36.0468\n",
        encoding="utf-8",
    )
    page.set_input_files("input[name=file]", str(csv))
    page.evaluate("() => { document.querySelector('#check-btn').click(); }")
    page.wait_for_function("() => window.WuweiImport.report && window.WuweiImport.report.refused === 0")
    page.click("#import-btn")
    page.wait_for_selector(".import-status.ok")
    assert "已导入 2 条" in page.inner_text("#import-status")
    found = _api(page, "/api/v1/chargers?q=张家园新桩")
    assert found["numberMatched"] == 2
    assert sorted(f["properties"]["installed_on"] for f in found["features"]) == ["2024-05-01", "2024-05-02"]
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(IMG / "import-phone.png"), full_page=False)
    assert errors == []
    outside = [
        u
        for u in context.wuwei_requests
        if not u.startswith(("data:", "blob:")) and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert outside == []
    page.close()


def test_the_editor_is_offered_only_to_those_who_may_edit(live_server, context):
    page = context.new_page()
    page.context.clear_cookies()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "gridworker")
    page.fill("input[name=password]", "wuwei-grid")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    _loaded(page)
    assert page.evaluate("typeof Wuwei.edit") == "undefined"
    assert page.locator(".wuwei-edit-bar").count() == 0
    assert json.loads(page.evaluate("JSON.stringify(typeof L.PM)")) == "undefined"
    page.close()
