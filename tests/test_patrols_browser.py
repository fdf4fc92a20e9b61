"""The patrol phone page in a real browser: geolocation, the offline queue, batch upload, the service worker.

Debian's Chromium driven by Playwright against a live server on its own database
(``<test db>_e2e_patrols``); geolocation is granted and moved by the test, the network is cut
with ``context.set_offline`` — exactly what happens to a patrol member's phone in a back lane.
"""

import tempfile
from urllib.parse import urlsplit

import psycopg2
import pytest

from tests.conftest import CHROMIUM_ARGS, chromium_executable, live_demo_server

pytestmark = [pytest.mark.browser, pytest.mark.no_transaction]


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
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    outside = []
    with tempfile.TemporaryDirectory(prefix="wuwei-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            locale="zh-CN",
            viewport={"width": 400, "height": 800},
            timezone_id="Asia/Shanghai",
            permissions=["geolocation"],
            geolocation={"latitude": 36.0770, "longitude": 103.8925, "accuracy": 5},
        )

        def only_local(route):
            host = urlsplit(route.request.url).hostname
            if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        ctx.route("**/*", only_local)
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
        page.fill("#title", "浏览器测试巡查")
        page.click("#btn-start")
        page.wait_for_selector("#run-card:not([hidden])")
        page.wait_for_function("() => parseInt(document.getElementById('n-recorded').textContent) >= 1")

        # The service worker takes control and has the page's assets cached.
        page.wait_for_function(
            "() => navigator.serviceWorker && navigator.serviceWorker.ready && caches.has('wuwei-patrols-v1')",
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
