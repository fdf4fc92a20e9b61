"""The planning pages in a real browser: a grid worker's survey on a 390 px phone (a hazard reported),
a planner's charger plan and bike-zone gaps at 1440 px. Screenshots go to docs/img/planning-*.png."""

import tempfile
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import live_demo_server, local_chromium

pytestmark = [pytest.mark.browser, pytest.mark.no_transaction]
IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


@pytest.fixture(scope="module")
def server():
    yield from live_demo_server("e2e_planning")


def _count(url: str, sql: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def _browser(pw, profile, width, height):
    return local_chromium(pw, profile, {"width": width, "height": height})


def _login(page, base, username, password):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_a_grid_worker_records_a_survey_on_a_phone(server):
    base, db_url = server
    from playwright.sync_api import sync_playwright

    surveys = _count(db_url, "SELECT count(*) FROM ebike_surveys")
    with tempfile.TemporaryDirectory(prefix="wuwei-chromium-") as profile, sync_playwright() as pw:
        ctx, outside = _browser(pw, profile, 390, 844)
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _login(page, base, "zjy4", "wuwei-grid")
        page.goto(f"{base}/planning/survey")
        page.select_option("select[name=building_id]", label="张家园老旧小区南片3号楼")
        page.fill("input[name=ebikes]", "26")
        page.fill("input[name=charge_stairwell]", "9")
        page.check("input[value=window_cable]")
        page.screenshot(path=str(IMG / "planning-survey-390.png"), full_page=True)
        page.click("#survey-form button[type=submit]")
        page.wait_for_selector("#survey-status.ok")
        assert "已上报隐患事件" in page.inner_text("#survey-status")
        width = page.evaluate("document.documentElement.scrollWidth")
        ctx.close()
    assert width <= 390 and errors == [] and outside == []
    assert _count(db_url, "SELECT count(*) FROM ebike_surveys") == surveys + 1


def test_a_planner_solves_a_plan_and_finds_zone_gaps(server):
    base, db_url = server
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="wuwei-chromium-") as profile, sync_playwright() as pw:
        ctx, outside = _browser(pw, profile, 1440, 900)
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _login(page, base, "planner", "wuwei-planner")
        page.goto(f"{base}/planning/chargers")
        page.select_option("select[name=area]", "620102005003")
        page.fill("input[name=name]", "浏览器方案")
        page.click("#plan-form button[type=submit]")
        page.wait_for_selector(".plan-actions:not([hidden])", timeout=60000)
        summary = page.inner_text(".plan-result .summary")
        assert "现有充电桩覆盖" in summary and "未覆盖 0 辆" in summary
        page.screenshot(path=str(IMG / "planning-chargers-1440.png"), full_page=True)
        page.click(".make-chargers")
        page.wait_for_selector("#plan-status.ok")
        page.goto(f"{base}/planning/bike-zones")
        page.select_option("select[name=area]", "620102011002")
        page.click("#gaps-form button[type=submit]")
        page.wait_for_function("() => window.WuweiPlanning.state && window.WuweiPlanning.state.gaps")
        page.screenshot(path=str(IMG / "planning-zones-1440.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{base}/planning/chargers?lang=en")
        assert "Charger siting" in page.inner_text("h1")
        page.screenshot(path=str(IMG / "planning-chargers-390-en.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        ctx.close()
    assert errors == [] and outside == [] and width <= 390
    assert _count(db_url, "SELECT count(*) FROM chargers WHERE name LIKE '浏览器方案 #%' AND status = 'planned'") == 3
