"""SOS on the live map in a real browser: a grid worker's phone sends Traccar Client's SOS; the staff of
the community see a red, pulsing, labelled marker whose popup says who, when and where in their
language, acknowledge it, and it leaves the map — stored with who and when, and audited.

Debian's Chromium driven by Playwright against a live server on its own database (``<test db>_e2e_live``).
"""

import datetime as dt
import hashlib
import tempfile
import urllib.request

import psycopg2
import pytest

from tests.conftest import live_demo_server, local_chromium

pytestmark = [pytest.mark.browser, pytest.mark.no_transaction]
SECRET = "e2e-live-sos-secret-7Qm2vXr9KpL4"


@pytest.fixture(scope="module")
def server():
    yield from live_demo_server("e2e_live")


def _sql(url: str, query: str, params=()):
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else None


def _field(db_url: str) -> tuple[float, float]:
    """The grid worker 马丽 (华林山社区) on a patrol with a registered phone; where she stands."""
    (grid, lon, lat), = _sql(db_url, """
        SELECT a.id, ST_X(ST_PointOnSurface(a.geom)), ST_Y(ST_PointOnSurface(a.geom)) FROM areas a
        WHERE a.code = '620103002001001'""")  # fmt: skip
    _sql(db_url, """
        WITH u AS (SELECT id FROM users WHERE username = 'gridworker'),
        d AS (INSERT INTO devices (identifier, user_id, name, kind, active, secret_hash)
              SELECT 'gridworker/phone', u.id, 'phone', 'traccar', true, %s FROM u),
        p AS (INSERT INTO patrols (kind, title, state, area_id, created_by, started_at, cleanup_width_m)
              SELECT 'grid_walk', '华林山夜巡', 'active', %s, u.id, now() - interval '1 hour', 10 FROM u RETURNING id)
        INSERT INTO patrol_participants (patrol_id, user_id) SELECT p.id, u.id FROM p, u""",
        (hashlib.sha256(SECRET.encode()).hexdigest(), grid))  # fmt: skip
    return lon, lat


def _sos(base: str, lon: float, lat: float, seconds_ago: int) -> dt.datetime:
    """Traccar Client for Android's SOS button: the OsmAnd query with ``&alarm=sos``; the alarm's time."""
    t = int(dt.datetime.now(dt.UTC).timestamp()) - seconds_ago
    url = f"{base}/track/osmand?id={SECRET}&timestamp={t}&lat={lat}&lon={lon}&accuracy=5.0&batt=64.0&alarm=sos"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as r:  # nosec B310 (the test's own server)
        assert r.status == 200
    return dt.datetime.fromtimestamp(t, dt.UTC)


def _open_sos(page) -> str:
    page.wait_for_selector("path.live-sos", timeout=20000)
    page.wait_for_selector("button.live-sos-count:not([hidden])")
    page.click("button.live-sos-count")  # fits the map to the alarms and opens the first
    page.wait_for_selector(".live-sos-popup")
    return page.text_content(".live-sos-popup")


def test_staff_see_an_sos_on_the_live_map_and_acknowledge_it(server):
    base, db_url = server
    lon, lat = _field(db_url)
    sent = _sos(base, lon, lat, 120)
    from playwright.sync_api import sync_playwright

    errors = []
    with tempfile.TemporaryDirectory(prefix="wuwei-chromium-") as profile, sync_playwright() as pw:
        ctx, outside = local_chromium(pw, profile, {"width": 1440, "height": 900})
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "staff")
        page.fill("input[name=password]", "wuwei-staff")
        page.click("button[type=submit]")
        page.goto(f"{base}/patrols/live")

        text = _open_sos(page)
        assert "求助（SOS）" in text and "网格员 马丽" in text and "华林山夜巡" in text
        assert "华林山社区第1网格" in text and f"{lat:.5f}, {lon:.5f}" in text
        # The phone's own time of the alarm, to the second, in Beijing time (not "now" read later: a minute
        # may have turned in between).
        assert sent.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S") in text
        assert page.text_content("button.live-sos-count") == "求助 ×1"
        page.screenshot(path="docs/img/patrols-live-sos.png")

        page.click("button.live-sos-ack")
        page.wait_for_selector(".live-sos-msg:has-text('已确认')")
        page.wait_for_selector("path.live-sos", state="detached", timeout=20000)
        assert page.is_hidden("button.live-sos-count")
        (who, when_acked), = _sql(db_url, """
            SELECT u.username, e.acknowledged_at FROM device_events e JOIN users u ON u.id = e.acknowledged_by
            WHERE e.kind = 'alarm'""")  # fmt: skip
        assert who == "staff" and when_acked is not None
        assert _sql(db_url, "SELECT count(*) FROM audit_log WHERE table_name = 'device_events'") == [(1,)]

        # A second alarm, read in English on a phone-sized screen.
        _sos(base, lon + 0.0003, lat, 30)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{base}/patrols/live?lang=en")
        text = _open_sos(page)
        assert "Call for help (SOS)" in text and "Acknowledge" in text and "Location" in text
        page.screenshot(path="docs/img/patrols-live-sos-phone.png")
        ctx.close()
    assert errors == [] and outside == []
