"""The user mix of issue 18 for locust (run by ``benchmarks/bench_load.py``, never imported by it: locust
patches the standard library with gevent when imported).

16 planners on the map page (the small layers as GeoJSON for the screen, buildings and open incidents as
vector tiles, as the page draws them),
9 tile clients (a GIS client's screen of tiles at z14–16), 9 leaders on the heat map (80 % squares,
20 % hexagons, z12–15, the last 30 days), 4 leaders on the dashboard (the whole city or one street),
7 incident-desk users (a filtered list, the open-incidents overlay) and 200 phones, each offering one
OsmAnd fix every 5 s (40 fixes/s) and sending it again after a 503 (``Retry-After``) until stored.
``WUWEI_LOAD_SCALE`` multiplies the 45 users (the phones stay 200).

Configuration comes from the JSON file named by ``WUWEI_LOAD_CONFIG`` (tokens, the data's extent,
where to write the phones' tally).
"""

import json
import math
import os
import random
import time

from locust import FastHttpUser, between, constant_pacing, events, task

CONFIG = json.loads(open(os.environ["WUWEI_LOAD_CONFIG"]).read())  # noqa: SIM115 (read once at start)
SCALE = float(os.environ.get("WUWEI_LOAD_SCALE", "1"))
W, S, E, N = CONFIG["extent"]
SCREEN = {12: (0.24, 0.10), 13: (0.12, 0.05), 14: (0.060, 0.026), 15: (0.030, 0.013), 16: (0.015, 0.0065)}
TALLY = {"offered": 0, "resent": 0, "refused_503": 0, "failed": 0, "gave_up": 0, "server_errors": 0}


@events.request.add_listener
def _count_5xx(response=None, **_):
    if response is not None and getattr(response, "status_code", 0) and response.status_code >= 500:
        TALLY["server_errors"] += 1


@events.quitting.add_listener
def _write_tally(environment, **_):
    with open(CONFIG["tally"], "w") as f:
        json.dump(TALLY, f)


def screen(zoom: int) -> tuple[float, float, float, float]:
    """A random screen (lon/lat bbox) at ``zoom`` inside the data's extent."""
    w, h = SCREEN[zoom]
    x, y = random.uniform(W + w / 2, E - w / 2), random.uniform(S + h / 2, N - h / 2)
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def bbox_text(b) -> str:
    return ",".join(f"{v:.6f}" for v in b)


def tiles_of(b, z: int) -> list[tuple[int, int]]:
    """The z/x/y tiles covering bbox ``b``."""

    def xy(lon, lat):
        n = 2**z
        return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    x0, y1 = xy(b[0], b[1])
    x1, y0 = xy(b[2], b[3])
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


class _Web(FastHttpUser):
    abstract = True
    role = "planner"
    wait_time = between(2, 6)

    def on_start(self):
        self.headers = {"Authorization": f"Bearer {CONFIG['tokens'][self.role]}", "Accept-Encoding": "br, gzip"}

    def get(self, url, name):
        with self.client.get(url, headers=self.headers, name=name, catch_response=True) as r:
            if r.status_code in (200, 204, 304):
                r.success()
            else:
                r.failure(f"HTTP {r.status_code}")


class Planner(_Web):
    """The map page: each small layer for the screen (``limit=5000``), buildings as tiles from z14."""

    fixed_count = round(16 * SCALE)
    role = "planner"

    @task
    def view(self):
        z = random.choice((14, 15, 16))
        b = screen(z)
        for layer in CONFIG["map_layers"]:
            name = "map: buildings (GeoJSON pages)" if layer == "/api/v1/buildings" else "map: small layers (GeoJSON)"
            self.get(f"{layer}{'&' if '?' in layer else '?'}bbox={bbox_text(b)}&limit=5000", name)
        for layer in CONFIG["map_tiles"] if CONFIG["buildings_tiles"] else ():
            for x, y in tiles_of(b, z):
                self.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", f"map: {layer} (tiles)")


class TileClient(_Web):
    """A GIS client: a screen of building tiles at z14–16."""

    fixed_count = round(9 * SCALE)
    role = "planner"

    @task
    def view(self):
        z = random.choice((14, 15, 16))
        for x, y in tiles_of(screen(z), z):
            self.get(f"/tiles/buildings/{z}/{x}/{y}.mvt", f"tiles z{z}")


class HeatLeader(_Web):
    fixed_count = round(9 * SCALE)
    role = "leader"

    @task
    def view(self):
        z = random.choice((12, 13, 14, 15))
        shape = "hexagon" if random.random() < 0.2 else "square"
        self.get(f"/api/v1/heat/cells?bbox={bbox_text(screen(z))}&zoom={z}&shape={shape}", f"heat {shape}s")


class DashboardLeader(_Web):
    fixed_count = round(4 * SCALE)
    role = "leader"
    wait_time = between(5, 15)

    @task
    def city(self):
        self.get("/dashboard?area=6201", "dashboard: whole city")

    @task
    def street(self):
        self.get(f"/dashboard?area={CONFIG['street']}", "dashboard: one street")


class IncidentDesk(_Web):
    fixed_count = round(7 * SCALE)
    role = "staff"

    @task
    def listing(self):
        state = random.choice(("filed", "dispatched", "in_progress"))
        self.get(f"/api/v1/incidents?state={state}&limit=50", "incidents: list")

    @task
    def overlay(self):
        self.get(f"/api/v1/incidents?open=true&bbox={bbox_text(screen(14))}&limit=5000", "incidents: open overlay")


class Phone(FastHttpUser):
    """Traccar Client (OsmAnd): one fix every 5 s; a refused fix is kept and sent again."""

    fixed_count = 200
    wait_time = constant_pacing(5)
    seq = 0

    def on_start(self):
        Phone.seq += 1
        self.ident = CONFIG["phones"][Phone.seq % 200]  # the device's secret: Traccar Client's "device id"
        self.lon, self.lat = random.uniform(W, E), random.uniform(S, N)

    @task
    def fix(self):
        TALLY["offered"] += 1
        t = int(time.time() * 1000)
        self.lon += random.uniform(-0.0002, 0.0002)
        self.lat += random.uniform(-0.0002, 0.0002)
        url = f"/track/osmand?id={self.ident}&timestamp={t}&lat={self.lat:.6f}&lon={self.lon:.6f}&accuracy=6&batt=80"
        deadline = time.time() + 30
        first = True
        while time.time() < deadline:
            if not first:
                TALLY["resent"] += 1
            first = False
            with self.client.get(url, name="/track/osmand", catch_response=True) as r:
                if r.status_code == 200:
                    r.success()
                    return
                if r.status_code == 503:
                    TALLY["refused_503"] += 1
                    r.success()  # back-pressure, not a failure: the phone waits as told and resends
                    time.sleep(float(r.headers.get("Retry-After", "2")))
                    continue
                r.failure(f"HTTP {r.status_code}")
                TALLY["failed"] += 1
                time.sleep(2)
        TALLY["gave_up"] += 1
