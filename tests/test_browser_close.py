"""Consultations, the roster and the assessment in a real browser (Debian's Chromium, Playwright), at
390 px (a phone) and 1440 px (a desk), against a live demo server that reaches nothing outside 127.0.0.1.

Staff pick an incident by searching for it, record a meeting with an agenda item and a decision, close the
decision (the incident moves to 核查结案) and read the ledger as cards on a phone and on paper; a grid worker
marks this month's yearly obligation done on the phone; a leader reads the assessment. Screenshots go to
``var/screenshots/close-*.png`` (to look at; not kept in git).
"""

import datetime as dt
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import live_demo_server, local_chromium_people

pytestmark = [pytest.mark.browser, pytest.mark.no_transaction]

SHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1440, "height": 900}
PASSWORDS = {"liailan": "wuwei-staff", "gridworker": "wuwei-grid", "leader": "wuwei-leader"}


@pytest.fixture(scope="module")
def base():
    for url, _ in live_demo_server("close"):
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        person, close = local_chromium_people(pw)
        yield person
        close()


def login(browser, base, username, viewport=DESKTOP):
    """``username`` on a device of their own."""
    page = browser(viewport).new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login?lang=zh")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.errors = errors
    return page


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"close-{name}.png"), full_page=True)


def fits(page) -> bool:
    """Nothing wider than the window (no sideways scrolling on a phone)."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def api(page, method, path, body):
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    r = page.request.fetch(
        page.url.split("/", 3)[0] + "//" + urlsplit(page.url).netloc + path,
        method=method,
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert r.ok, r.text()
    return r.json()


def test_a_meeting_picked_by_search_closes_its_incident_and_the_ledger_reads_on_a_phone(browser, base):
    page = login(browser, base, "liailan")
    inc = api(
        page,
        "POST",
        "/api/v1/incidents",
        {
            "category": "ebike.flying_wire",
            "description": "华林山楼道飞线充电浏览器测试",
            "lon": 103.7800,
            "lat": 36.0500,
        },
    )
    api(page, "POST", f"/api/v1/incidents/{inc['id']}/transitions", {"to": "filed"})
    page.goto(f"{base}/consultations/")
    page.click("text=楼院圆桌议事厅")
    page.fill("#incident-search", "飞线充电浏览器测试")
    page.click("#incident-search-go")
    page.click("#incident-results button")
    assert page.locator(".picked-incident").inner_text().startswith(f"#{inc['id']}")
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    page.fill("input[name=held_at]", f"{yesterday}T19:00")
    page.fill("input[name=topic]", "楼道飞线充电整治")
    page.locator("input[name=agenda_title]").first.fill("飞线充电")
    page.locator("select[name=agenda_incident_id]").first.select_option(str(inc["id"]))
    page.locator("textarea[name=decision_text]").first.fill("物业一周内拆除飞线并张贴告示")
    page.locator("input[name=decision_owner]").first.fill("华林山物业服务站")
    page.locator("input[name=decision_due_on]").first.fill((dt.date.today() + dt.timedelta(days=7)).isoformat())
    page.locator("input[name=decision_agenda_no]").first.fill("1")
    shot(page, "council-1440")
    page.click("#meeting-form button.primary")
    page.wait_for_url("**/consultations/meetings/*")
    expect(page.locator("body")).to_contain_text("1. 飞线充电")
    page.fill("input[name=note]", "已拆除")
    page.click("button[value=done]")
    expect(page.locator("body")).to_contain_text("关联事件已转入核查结案")
    shot(page, "meeting-1440")
    # A meeting "held" tomorrow: refused, said on the page.
    page.go_back()
    page.goto(f"{base}/consultations/")
    page.click("text=楼院圆桌议事厅")
    page.fill("input[name=held_at]", f"{(dt.date.today() + dt.timedelta(days=1)).isoformat()}T19:00")
    page.fill("input[name=topic]", "明天的会")
    page.click("#meeting-form button.primary")
    expect(page.locator("body")).to_contain_text("会议尚未举行")
    page.set_viewport_size(PHONE)  # the meeting form on a phone
    page.wait_for_timeout(300)
    assert fits(page)
    shot(page, "council-390")
    page.set_viewport_size(DESKTOP)
    # The ledger: a wide table at 1440, cards at 390, on paper without the filters.
    page.goto(f"{base}/consultations/ledger")
    shot(page, "ledger-1440")
    page.set_viewport_size(PHONE)
    page.reload()
    assert fits(page) and page.locator("table.ledger thead").is_hidden()
    assert page.locator(f"table.ledger a[href='/incidents/{inc['id']}']").count() == 1
    shot(page, "ledger-390")
    page.emulate_media(media="print")
    assert page.locator("form.filters").is_hidden() and page.locator(".print-only").is_visible()
    page.emulate_media(media="screen")
    assert page.errors == []


def test_the_grid_worker_marks_this_months_obligation_done_on_the_phone(browser, base):
    page = login(browser, base, "gridworker", PHONE)
    page.goto(f"{base}/households/due")
    cards = page.locator(".roster-card")
    n = cards.count()
    assert n >= 1 and fits(page)
    shot(page, "due-390")
    cards.first.locator("input[name=note]").fill("上门办理完成")
    cards.first.locator("button").click()
    page.wait_for_url("**/households/due")
    expect(page.locator(".roster-card")).to_have_count(n - 1)
    page.goto(f"{base}/households/roster/")
    assert fits(page) and "上门办理完成" in page.locator("body").inner_text()
    shot(page, "roster-390")
    assert page.errors == []


def test_a_leader_reads_the_assessment_at_both_sizes(browser, base):
    page = login(browser, base, "leader")
    page.goto(f"{base}/assessment/")
    assert "网格员 马丽" in page.locator("table.assessment").inner_text()
    shot(page, "assessment-1440")
    page.set_viewport_size(PHONE)
    page.reload()
    assert fits(page)
    shot(page, "assessment-390")
    page.click("text=网格员 马丽")
    expect(page.locator("body")).to_contain_text("巡查里程")
    assert fits(page)
    shot(page, "assessment-worker-390")
    assert page.errors == []
