"""OGC API - Features beside its peers, on ``seed scale`` data (5,000 grids, 100,000 buildings):
Wuwei, pygeoapi (its PostgreSQL provider, own venv under var/bench, benchmarks/pygeoapi_peer.py) and a
minimal Flask app with hand-written SQL (benchmarks/minimal_ogc_app.py), each under gunicorn with
2 workers × 2 threads, 4 concurrent clients, the same request sequence for each: pages of 1,000 at
random offsets 0–90,000, 0.01° bbox queries around random buildings (limit 1,000), and a CQL2 filter
(floors >= 20 inside a 0.02° box). Then deep pages (limit 10) one client at a time, and the ogr2ogr
command of docs/protocols.md over all buildings. pygeoapi publishes 4 plain columns; Wuwei and the
minimal app the 8 public properties (2 of them sub-selects)."""
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from urllib.parse import quote

import requests
from sqlalchemy import text

from benchmarks import pygeoapi_peer
from benchmarks.common import Result, Server, free_port
from benchmarks.protocols_data import building_centres, ensure_scale

CLIENTS = 4
SECONDS = float(os.environ.get("WUWEI_BENCH_SECONDS", "10"))
ITEMS = "/collections/buildings/items"


def _box(lon, lat, size):
    return lon - size / 2, lat - size / 2, lon + size / 2, lat + size / 2


def _polygon(b) -> str:
    x1, y1, x2, y2 = b
    return f"POLYGON(({x1} {y1},{x2} {y1},{x2} {y2},{x1} {y2},{x1} {y1}))"


def workloads(centres) -> dict:
    """name → (wuwei path, pygeoapi path, minimal path) makers, each taking a Random."""
    def page(base):
        return lambda rng: base.format(off=rng.randrange(0, 90_001))

    def boxed(kind):
        def make(rng):
            b = _box(*rng.choice(centres), 0.01 if kind != "filter" else 0.02)
            joined = ",".join(f"{v:.6f}" for v in b)
            if kind == "bbox":
                return (f"/ogcapi{ITEMS}?limit=1000&bbox={joined}", f"{ITEMS}?f=json&limit=1000&bbox={joined}",
                        f"/bbox?bbox={joined}")
            wuwei = quote(f"floors >= 20 AND S_INTERSECTS(geometry, {_polygon(b)})")
            peer = quote(f"floors >= 20 AND S_INTERSECTS(geom, {_polygon(b)})")
            return (f"/ogcapi{ITEMS}?limit=1000&filter={wuwei}",
                    f"{ITEMS}?f=json&limit=1000&filter-lang=cql2-text&filter={peer}", f"/filter?bbox={joined}")
        return make

    return {
        "page": lambda rng: (page(f"/ogcapi{ITEMS}?limit=1000&offset={{off}}")(rng), None, None),
        "bbox": boxed("bbox"),
        "filter": boxed("filter"),
    }


def _paths(make, which: int, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        paths = make(rng)
        if paths[1] is None:            # pages: the same offset in each peer's spelling
            off = paths[0].rsplit("=", 1)[1]
            paths = (paths[0], f"{ITEMS}?f=json&limit=1000&offset={off}", f"/page?offset={off}")
        out.append(paths[which])
    return out


def throughput(base: str, paths: list[str], headers: dict) -> tuple[float, float, int]:
    """(requests/s, p50 ms, last size) with CLIENTS threads for SECONDS, after a 1 s warm-up."""
    lat, done, size = [], [0] * CLIENTS, [0]

    def client(i, until, record):
        s = requests.Session()
        k = i
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            r = s.get(base + paths[k % len(paths)], headers=headers)
            r.raise_for_status()
            if record:
                lat.append((time.perf_counter() - t0) * 1000)
                done[i] += 1
                size[0] = len(r.content)
            k += CLIENTS
    for until, record in ((time.perf_counter() + 1.0, False), (None, True)):
        t0 = time.perf_counter()
        end = until or t0 + SECONDS
        threads = [threading.Thread(target=client, args=(i, end, record)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lat.sort()
    return sum(done) / SECONDS, lat[len(lat) // 2] if lat else 0.0, size[0]


def _single(base: str, path: str, headers: dict, repeat: int = 7) -> float:
    s = requests.Session()
    s.get(base + path, headers=headers).raise_for_status()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        s.get(base + path, headers=headers).raise_for_status()
        samples.append((time.perf_counter() - t0) * 1000)
    return sorted(samples)[len(samples) // 2]


def _deep(ctx, base, headers, peer_base) -> list[Result]:
    from app.ogcapi import paging
    out = []
    with ctx.app.test_request_context():
        ids = {off: ctx.extra["ids"][off - 1] for off in (10_000, 50_000, 99_000)}
        cursors = {off: paging.encode([ids[off]], False, "") for off in ids}
    for off in (0, 10_000, 50_000, 99_000):
        wuwei = _single(base, f"/ogcapi{ITEMS}?limit=10&offset={off}", headers)
        peer = _single(peer_base, f"{ITEMS}?f=json&limit=10&offset={off}", {}) if peer_base else None
        note = ""
        if off:
            note = f"by the next link's cursor: {_single(base, f'/ogcapi{ITEMS}?limit=10&cursor={cursors[off]}', headers):.1f} ms"
        out.append(Result(f"OGC items, limit 10 at offset {off:,} (one client, p50)", wuwei, "ms",
                          "pygeoapi", peer, note))
    return out


def _ogr2ogr(base: str, token: str, page_size: int) -> float | None:
    if shutil.which("ogr2ogr") is None:
        return None
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {token}"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run(["ogr2ogr", "-f", "GPKG", f"{tmp}/b.gpkg", f"OAPIF:{base}/ogcapi", "buildings",
                        "-oo", f"PAGE_SIZE={page_size}"], env=env, check=True, capture_output=True, timeout=600)
        return time.perf_counter() - t0


def _pygeoapi(url: str):
    try:
        cmd, env = pygeoapi_peer.server_args(url, free_port())
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"  pygeoapi could not be installed or configured: {e}")
        return None, None
    return cmd, env


def run(ctx):
    app = ctx.app
    with app.app_context():
        from app.auth.services import create_token, find_user
        from app.core.extensions import db
        if find_user("admin") is None:
            return []
        total = ensure_scale(app)
        centres = building_centres(db.session)
        ctx.extra["ids"] = db.session.execute(text("SELECT id FROM buildings ORDER BY id")).scalars().all()
        _, token = create_token("admin", "bench-protocols")
        db.session.remove()
    headers = {"Authorization": f"Bearer {token}"}
    env = {"DATABASE_URL": ctx.url, "RATELIMIT_ENABLED": "0", "LOG_LEVEL": "WARNING"}
    loads = workloads(centres)
    n = 400
    figures: dict[str, dict[str, tuple]] = {name: {} for name in loads}
    with Server("app:create_app()", env, workers=2, threads=2) as s:
        for name, make in loads.items():
            figures[name]["wuwei"] = throughput(s.base, _paths(make, 0, n, 11), headers)
        deep_base = s.base
        cmd, peer_env = _pygeoapi(ctx.url)
        peer = _start(cmd, peer_env) if cmd else None
        try:
            if peer:
                for name, make in loads.items():
                    figures[name]["pygeoapi"] = throughput(peer.base, _paths(make, 1, n, 11), {})
            deep = _deep(ctx, deep_base, headers, peer.base if peer else None)
        finally:
            if peer:
                peer.__exit__()
        ogr_10k = _ogr2ogr(s.base, token, 10_000)
        ogr_1k = _ogr2ogr(s.base, token, 1_000)
    with Server("benchmarks.minimal_ogc_app:app", env, workers=2, threads=2) as s:
        for name, make in loads.items():
            figures[name]["minimal"] = throughput(s.base, _paths(make, 2, n, 11), {})
    return _results(figures, deep, ogr_10k, ogr_1k, total, pygeoapi_peer.ensure_venv()[1] if peer else None)


class _Peer(Server):
    def __init__(self, cmd, env):
        self.port = int(cmd[cmd.index("--bind") + 1].rsplit(":", 1)[1])
        self.cmd, self.env, self.proc = cmd, {**os.environ, **env}, None


def _start(cmd, env):
    peer = _Peer(cmd, env)
    return peer.__enter__()


_LABELS = {"page": "OGC items, page of 1,000 at a random offset 0–90,000",
           "bbox": "OGC items, 0.01° bbox around a building, limit 1,000",
           "filter": "OGC items, CQL2 floors >= 20 AND S_INTERSECTS(0.02° box), limit 1,000"}


def _results(figures, deep, ogr_10k, ogr_1k, total, version) -> list[Result]:
    out = []
    for name, label in _LABELS.items():
        w, p, m = (figures[name].get(k) for k in ("wuwei", "pygeoapi", "minimal"))
        note = f"p50 {w[1]:.0f} ms, {w[2]:,} bytes; minimal Flask {m[0]:.1f} req/s" if m else f"p50 {w[1]:.0f} ms"
        if p:
            note += f"; pygeoapi p50 {p[1]:.0f} ms, {p[2]:,} bytes"
        out.append(Result(label, w[0], "req/s", f"pygeoapi {version}" if p else "pygeoapi (not run)",
                          p[0] if p else None, note, higher_is_better=True))
    out += deep
    if ogr_10k is not None:
        out.append(Result(f"ogr2ogr of all {total:,} buildings to GeoPackage, -oo PAGE_SIZE=10000", ogr_10k, "s",
                          "PAGE_SIZE=1000", ogr_1k, "Debian GDAL 3.6, following the next links (cursors)"))
    return out
