"""The devices page in a real browser, CSRF on: register a phone and see its secret once, issue a new
secret for a device from before migration 0015, and report a fix with it (Traccar Client's request).

Screenshots at 390 px and 1440 px: ``docs/img/devices-390.png``, ``docs/img/devices-1440.png``.
"""

import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.error import HTTPError

import pytest

from tests.conftest import live_demo_server, local_chromium

pytestmark = [pytest.mark.browser, pytest.mark.no_transaction]
IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


@pytest.fixture(scope="module")
def server():
    yield from live_demo_server("e2e_devices")


def _report(base: str, secret: str) -> int:
    """Traccar Client for Android's request (ProtocolFormatter.kt): a POST with the fix in the query."""
    url = (
        f"{base}/track/osmand?id={secret}&timestamp={int(time.time()) - 30}&lat=36.077&lon=103.8925"
        "&speed=0.0&bearing=0.0&altitude=1520.0&accuracy=5.0&batt=87.0"
    )
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST", data=b""), timeout=10) as r:  # nosec B310
            return r.status
    except HTTPError as e:
        return e.code


def test_the_devices_page_issues_and_renews_secrets(server):
    base, _ = server
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="wuwei-chromium-") as profile, sync_playwright() as pw:
        ctx, _outside = local_chromium(pw, profile, {"width": 390, "height": 844})
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "patrol")
        page.fill("input[name=password]", "wuwei-patrol")
        page.click("button[type=submit]")
        page.goto(f"{base}/patrols/devices")
        assert "需要新密钥" in page.content()  # the demo's device, registered before 0015
        assert _report(base, "sjt-patrol-01") == 400  # its old identifier is no credential any more

        page.fill("input[name=name]", "iphone")
        page.select_option("select[name=kind]", "owntracks")
        page.click("form.card button[type=submit]")
        secret = page.inner_text("#issued-secret code.secret")
        assert len(secret) >= 20 and "patrol/iphone" in page.content()
        page.screenshot(path=str(IMG / "devices-390.png"), full_page=True)

        page.goto(f"{base}/patrols/devices")
        assert secret not in page.content()  # shown once
        row = page.locator("tr", has_text="sjt-patrol-01")
        row.locator("button[type=submit]").click()
        renewed = page.inner_text("#issued-secret code.secret")
        assert renewed != secret and "sjt-patrol-01" in page.inner_text("#issued-secret")
        assert _report(base, renewed) == 200
        page.set_viewport_size({"width": 1440, "height": 900})
        page.screenshot(path=str(IMG / "devices-1440.png"), full_page=True)
        assert errors == []
        ctx.close()
