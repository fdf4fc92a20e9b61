"""Back-pressure at the tracking gateway (app/tracking/gateway.py): when the fixes being stored fill every
slot, the next fix is answered 503 with Retry-After at once (the phone keeps it and sends it again), nothing
is stored, and the fix sent again once there is room is stored exactly once."""

import time

from tests.test_tracking import LAT, LON, count_positions, device, recent


def _gateway(app):
    gw = app.wsgi_app
    while not hasattr(gw, "slots"):  # the metrics middleware wraps the gateway
        gw = gw.wsgi_app if hasattr(gw, "wsgi_app") else gw.app
    return gw


def test_a_full_gateway_answers_503_with_retry_after_and_stores_nothing(app, client, demo):
    device()
    gw = _gateway(app)
    url = f"/track/osmand?id=test-phone-1&timestamp={recent()}&lat={LAT}&lon={LON}&accuracy=5"
    held = 0
    while gw.slots.acquire(blocking=False):  # every slot taken, as by fixes still being stored
        held += 1
    wait, gw.wait = gw.wait, 0.05
    try:
        t0 = time.perf_counter()
        r = client.get(url)
        assert time.perf_counter() - t0 < 1.0  # answered, not left to time out
        assert r.status_code == 503 and r.headers["Retry-After"] == "2"
        assert r.get_json()["error"]["code"] == "busy"
        assert count_positions("test-phone-1") == 0
    finally:
        gw.wait = wait
        for _ in range(held):
            gw.slots.release()
    assert held >= 1
    assert client.get(url).status_code == 200  # the phone sends it again
    assert client.get(url).status_code == 200  # and once more after a lost answer
    assert count_positions("test-phone-1") == 1


def test_other_requests_never_wait_for_tracking_slots(app, client, demo):
    gw = _gateway(app)
    held = 0
    while gw.slots.acquire(blocking=False):
        held += 1
    try:
        assert client.get("/healthz").status_code == 200
    finally:
        for _ in range(held):
            gw.slots.release()
