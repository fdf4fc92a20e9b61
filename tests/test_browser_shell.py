"""Every page of the top bar, as every demo role, on a phone (390×844) and a desktop (1440×900).

Debian's Chromium driven by Playwright against a live server on its own database (``<test db>_e2e_shell``)
with the Content-Security-Policy on (the default). On each page: no console error (a script refused by
the policy, a failed request, a 404 favicon are console errors), no horizontal scroll, the user menu with
退出 reachable, full-screen maps laid out between the bars, and no request leaving 127.0.0.1.
The main pages' screenshots in both sizes go to ``docs/img/`` (the README shows them).
"""

import tempfile
from pathlib import Path

import pytest

from tests.conftest import live_demo_server, local_chromium

pytestmark = [pytest.mark.browser, pytest.mark.no_transaction]

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
ROLES = {
    "planner": "wuwei-planner",
    "leader": "wuwei-leader",
    "staff": "wuwei-staff",
    "gridworker": "wuwei-grid",
    "patrol": "wuwei-patrol",
    "paishui": "wuwei-dept",
    "admin": "wuwei-admin",
}
# Pages whose screenshots the README shows: (who, path, file stem).
SHOTS = [
    ("gridworker", "/households/due", "due"),
    ("gridworker", "/incidents/new", "report"),
    ("staff", "/incidents/", "incidents"),
    ("staff", "/consultations/ledger", "ledger"),
    ("leader", "/heat", "heat"),
    ("leader", "/search?q=%E4%B8%89%E5%85%86%E5%AE%B6%E5%9B%AD", "search"),
    ("patrol", "/patrols/live", "live"),
]


@pytest.fixture(scope="module")
def server():
    for base, _ in live_demo_server("e2e_shell"):
        yield base


@pytest.fixture(scope="module")
def browser():
    """A Chromium with a fresh profile per context; outside requests are recorded and blocked."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="wuwei-chromium-") as profile, sync_playwright() as pw:
        outside: list[str] = []

        def open_context(viewport):
            # a fresh profile each time, even after a failed test
            return local_chromium(pw, tempfile.mkdtemp(dir=profile), viewport, outside)[0]

        yield open_context, outside


def _login(page, base, username):
    page.goto("about:blank")  # the last user's requests still in flight would set their cookie again
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", ROLES[username])
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    assert "/login" not in page.url, username


def _nav_links(page) -> list[str]:
    return page.evaluate(
        """() => [...new Set([...document.querySelectorAll('.tabbar a[href], .nav-main a[href]')]
        .map(a => new URL(a.href).pathname))]"""
    )


def _problems(page, phone: bool) -> list[str]:
    """What is wrong with the open page: sideways scroll, the user menu out of reach, a full-screen page
    not between the bars."""
    found = []
    width = page.evaluate("""() => { const m = document.querySelector('main');
        return [Math.max(document.documentElement.scrollWidth, m.scrollWidth - m.clientWidth + innerWidth), innerWidth]; }""")
    if width[0] > width[1]:
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')].filter(e =>
            e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.leaflet-container'))
            .slice(0, 3).map(e => e.tagName + '.' + e.className)""")
        found.append(f"scrolls sideways ({width[0]} > {width[1]}): {wide}")
    logout = page.locator(".user-panel .logout")
    if phone:
        if logout.is_visible() or not page.locator(".tabbar").is_visible() or page.locator(".nav-main").is_visible():
            found.append("not the phone's bars")
        page.click(".user-toggle")
        if not logout.is_visible() or page.locator(".user-panel .lang a").count() != 2:
            found.append("the user menu does not open")
        page.keyboard.press("Escape")
        if logout.is_visible():
            found.append("the user menu does not close")
    else:
        if not all(page.locator(f".user-panel {s}").is_visible() for s in (".logout", ".who", ".lang")):
            found.append("name, language or 退出 hidden")
        if page.locator(".tabbar").is_visible():
            found.append("a tab bar on the desktop")
        top = page.evaluate("() => document.querySelector('.topbar').getBoundingClientRect().height")
        if top > 60:
            found.append(f"the top bar takes {top} px (more than one row)")
    if page.locator("main.full").count():
        box = page.evaluate("""() => { const m = document.querySelector('main.full').getBoundingClientRect();
            const t = document.querySelector('.topbar').getBoundingClientRect();
            const tabs = document.querySelector('.tabbar');
            const b = tabs && getComputedStyle(tabs).display !== 'none' ? tabs.getBoundingClientRect().top : innerHeight;
            return {top: m.top, bottom: m.bottom, bar: t.bottom, tabs: b, height: m.height}; }""")
        if box["top"] < box["bar"] - 0.5 or box["bottom"] > box["tabs"] + 0.5 or box["height"] < 300:
            found.append(f"the map is not between the bars: {box}")
    return found


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_nav_page_fits_and_keeps_the_user_menu_for_every_role(server, browser, viewport):
    open_context, outside = browser
    ctx = open_context(viewport)
    phone = viewport is PHONE
    errors: list[str] = []
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))
    visited = 0
    problems: list[str] = []
    for username in ROLES:
        _login(page, server, username)
        links = _nav_links(page)
        assert len(links) >= 3, (username, links)
        if phone:
            tabs = page.locator(".tabbar a.tab").count()
            assert 3 <= tabs <= 4, (username, tabs)
        for path in [*links, "/search?q=%E4%B8%89%E5%85%86%E5%AE%B6%E5%9B%AD"]:  # and a search: 三兆家园
            page.goto(f"{server}{path}")
            page.wait_for_load_state("load")
            page.wait_for_timeout(300)  # a map's first layer requests
            problems.extend(f"{username} {path}: {p}" for p in _problems(page, phone))
            visited += 1
    ctx.close()
    assert visited > 40
    assert problems == [], "\n".join(problems)
    assert errors == []
    assert outside == []


def test_phone_more_menu_holds_the_other_pages(server, browser):
    open_context, _ = browser
    ctx = open_context(PHONE)
    page = ctx.new_page()
    _login(page, server, "staff")
    tabs = page.locator(".tabbar a.tab span").all_inner_texts()
    assert tabs == ["事件", "民情档案", "微协商", "地图"]
    sheet = page.locator(".tabbar .sheet")
    assert not sheet.is_visible()
    page.click(".tab-more summary")
    assert sheet.is_visible()
    others = sheet.locator("a").all_inner_texts()
    assert any("微心愿" in t for t in others) and not any(t.strip() == "事件" for t in others)
    page.click(".tabbar .sheet a:has-text('微心愿')")
    page.wait_for_url("**/wishes/**")
    assert page.locator(".tabbar .sheet a.active").count() == 1
    ctx.close()


def test_list_tables_become_cards_on_a_phone(server, browser):
    open_context, _ = browser
    ctx = open_context(PHONE)
    page = ctx.new_page()
    _login(page, server, "staff")
    page.goto(f"{server}/incidents/")
    row = page.locator("table.list tbody tr").first
    assert page.locator("table.list thead").is_hidden()
    label = row.locator("td").first.get_attribute("data-label")
    assert label, "cells carry their column's name"
    cell = row.locator("td").first.bounding_box()
    assert cell["width"] > 300  # a cell spans the card, not one character per line
    ctx.close()


def test_manifest_and_favicon_are_served(server, browser):
    open_context, _ = browser
    ctx = open_context(DESKTOP)
    answer = ctx.request.get(f"{server}/manifest.webmanifest")
    assert answer.ok and answer.headers["content-type"].startswith("application/manifest+json")
    manifest = answer.json()
    assert manifest["display"] == "standalone" and manifest["short_name"] == "五微"
    for icon in manifest["icons"]:
        assert ctx.request.get(f"{server}{icon['src']}").ok, icon
    assert ctx.request.get(f"{server}/favicon.ico").ok
    ctx.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_screenshots_of_the_main_pages(server, browser, viewport):
    open_context, _ = browser
    ctx = open_context(viewport)
    page = ctx.new_page()
    size = "phone" if viewport is PHONE else "desktop"
    who = None
    for username, path, stem in SHOTS:
        if username != who:
            _login(page, server, username)
            who = username
        page.goto(f"{server}{path}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(IMG / f"{stem}-{size}.png"), animations="disabled")
    ctx.close()


def test_report_pin_goes_where_tapped_even_on_a_dot_and_can_be_dragged(server, browser):
    open_context, _ = browser
    ctx = open_context(PHONE)  # no geolocation permission: the browser refuses the position
    page = ctx.new_page()
    _login(page, server, "gridworker")
    page.goto(f"{server}/incidents/new")
    page.wait_for_function(
        "() => window.Wuwei && Wuwei.state.ready && (Wuwei.state.drawn.incidents || 0) > 0", timeout=30000
    )
    dot = page.evaluate("""() => { const l = Wuwei.state.layers.incidents.getLayers()[0];
        const p = Wuwei.state.map.latLngToContainerPoint(l.getLatLng());
        const box = Wuwei.state.map.getContainer().getBoundingClientRect();
        return {x: box.left + p.x, y: box.top + p.y, lat: l.getLatLng().lat, lon: l.getLatLng().lng}; }""")
    page.mouse.click(dot["x"], dot["y"])
    page.wait_for_function("() => document.getElementById('lat').value !== ''")
    assert abs(float(page.input_value("#lat")) - dot["lat"]) < 2e-4
    assert abs(float(page.input_value("#lon")) - dot["lon"]) < 2e-4
    assert page.locator(".leaflet-popup").count() == 0  # the dot took no tap
    assert "可拖动图钉" in page.text_content("#locate-note")

    before = float(page.input_value("#lon"))
    pin = page.locator(".leaflet-marker-icon").bounding_box()
    page.mouse.move(pin["x"] + pin["width"] / 2, pin["y"] + pin["height"] - 4)
    page.mouse.down()
    page.mouse.move(pin["x"] + pin["width"] / 2 + 60, pin["y"] + pin["height"] - 4, steps=8)
    page.mouse.up()
    page.wait_for_function(f"() => Math.abs(parseFloat(document.getElementById('lon').value) - {before}) > 1e-5")
    assert float(page.input_value("#lon")) > before  # dragged east

    page.click("#locate")
    page.wait_for_selector("#locate-note.field-error")
    assert "无法获取位置" in page.text_content("#locate-note") or "定位" in page.text_content("#locate-note")
    ctx.close()
