"""The patrol phone page in a real browser: geolocation, the offline queue, batch upload, the service worker.

Debian's Chromium driven by Playwright against a live server on its own database
(``<test db>_e2e_patrols``); geolocation is granted and moved by the test, the network is cut
with ``context.set_offline`` — exactly what happens to a patrol member's phone in a back lane.
"""

import tempfile
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import live_demo_server, local_chromium

pytestmark = [pytest.mark.browser, pytest.mark.no_transaction]
IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


@pytest.fixture(scope="module")
def server():
    """The app on 127.0.0.1 from a thread, on a fresh demo database; yields (base URL, database URL)."""
    yield from live_demo_server("e2e_patrols")


def _positions(url: str, title: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM positions p JOIN patrols t ON t.id = p.patrol_id WHERE t.title = %s", (title,)
        )
        return cur.fetchone()[0]


def test_phone_page_queues_fixes_offline_and_uploads_them_when_back(server):
    base, db_url = server
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="wuwei-chromium-") as profile, sync_playwright() as pw:
        ctx, outside = local_chromium(
            pw,
            profile,
            {"width": 400, "height": 800},
            permissions=["geolocation"],
            geolocation={"latitude": 36.0770, "longitude": 103.8925, "accuracy": 5},
        )
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "patrol")
        page.fill("input[name=password]", "wuwei-patrol")
        page.click("button[type=submit]")
        page.goto(f"{base}/patrols/phone")

        # Start a rectification patrol: the first fix is recorded.
        page.select_option("#kind", "bike_rectification")
        page.click(".more-fields summary")
        page.fill("#title", "浏览器测试巡查")
        page.click("#btn-start")
        page.wait_for_selector("#run-card:not([hidden])")
        page.wait_for_function("() => parseInt(document.getElementById('n-recorded').textContent) >= 1")

        # The service worker takes control and has the page's assets cached.
        page.wait_for_function(
            "() => navigator.serviceWorker && navigator.serviceWorker.ready && caches.has('wuwei-patrols-v2')",
            timeout=20000,
        )

        # Network lost: fixes pile up in the queue.
        page.evaluate("() => WuweiPhone.flush()")
        page.wait_for_function("() => document.getElementById('n-queued').textContent === '0'")
        sent_before = _positions(db_url, "浏览器测试巡查")
        ctx.set_offline(True)
        for i in range(1, 5):
            ctx.set_geolocation({"latitude": 36.0770, "longitude": 103.8925 + i * 0.0002, "accuracy": 5})
            page.wait_for_timeout(3200)  # the page keeps one fix per 3 s
        page.wait_for_function("() => parseInt(document.getElementById('n-queued').textContent) >= 3")
        queued = int(page.text_content("#n-queued"))
        assert _positions(db_url, "浏览器测试巡查") == sent_before

        # Offline, the page still opens (served by the service worker) and knows its patrol.
        page.reload()
        page.wait_for_selector("#run-card:not([hidden])")
        assert page.text_content("#run-title") == "浏览器测试巡查"

        # Back online: the queue is uploaded in a batch and empties.
        ctx.set_offline(False)
        page.evaluate("() => window.dispatchEvent(new Event('online'))")
        page.wait_for_function("() => document.getElementById('n-queued').textContent === '0'", timeout=20000)
        assert _positions(db_url, "浏览器测试巡查") >= sent_before + queued

        # The incident form shows only when the incidents API answers; either way nothing breaks.
        page.click("#btn-stop")
        page.wait_for_selector("#start-card:not([hidden])")
        ctx.close()
    assert errors == []
    assert outside == []


def test_phone_page_walks_a_route_on_the_map_with_time_distance_and_kept_fixes(server):
    """A patrol member on a 390×844 phone starts in one tap and walks ~90 m east: the map shows the own
    track, the time runs, the distance grows, the server's drift filter figures come back."""
    base, db_url = server
    from playwright.sync_api import sync_playwright

    errors = []
    lat, lon = 36.0770, 103.8925
    with tempfile.TemporaryDirectory(prefix="wuwei-chromium-") as profile, sync_playwright() as pw:
        ctx, outside = local_chromium(
            pw,
            profile,
            {"width": 390, "height": 844},
            permissions=["geolocation"],
            geolocation={"latitude": lat, "longitude": lon, "accuracy": 5},
        )
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "patrol")
        page.fill("input[name=password]", "wuwei-patrol")
        page.click("button[type=submit]")
        page.goto(f"{base}/patrols/phone")
        page.wait_for_selector(".leaflet-container")
        page.wait_for_function("() => Wuwei.state.drawn['ctx-grids'] > 0", timeout=20000)  # the grid outlines

        page.select_option("#kind", "bike_rectification")
        page.click("#btn-start")  # no title typed
        page.wait_for_selector("#run-card:not([hidden])")
        title = page.text_content("#run-title")
        assert title.startswith("单车整治 ") and title.endswith("日")
        for i in range(1, 7):  # ~15 m every 3.2 s: a brisk walk east
            ctx.set_geolocation({"latitude": lat, "longitude": lon + i * 0.000165, "accuracy": 5})
            page.wait_for_timeout(3200)
        page.wait_for_function("() => WuweiPhone.trail() >= 5")
        page.evaluate("() => WuweiPhone.flush()")
        page.wait_for_function("() => parseInt(document.getElementById('n-kept').textContent) >= 5", timeout=20000)
        distance = page.text_content("#distance")
        assert distance.endswith(" 米") and 60 <= int(distance.split()[0]) <= 110, distance
        elapsed = page.text_content("#elapsed")
        assert elapsed != "0:00" and ":" in elapsed
        assert page.is_visible("#hud")

        page.click("#btn-spot")
        page.wait_for_selector("#message:not([hidden])")
        said = page.text_content("#message")
        assert "乱停放点已记录" in said and ("距最近停放区" in said or "附近没有停放区" in said), said
        width = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
        assert width[0] <= width[1]
        page.screenshot(path=str(IMG / "patrol-phone.png"), animations="disabled")
        page.click("#btn-stop")
        page.wait_for_selector("#last-patrol:not([hidden])")
        page.click("#last-patrol a")
        page.wait_for_selector(".patrol-detail")
        assert title in page.text_content("h1")
        ctx.close()
    assert _positions(db_url, title) >= 5
    assert errors == []
    assert outside == []
