"""Mixed load (issue 18): the district's people and phones at once, on this machine, through gunicorn 2 × 4
as ``make run`` serves it (with its jobs worker), on ``seed scale`` data (5,000 grids, 100,000 buildings,
1,000,000 incidents). A bounded headless ``locust`` run from 127.0.0.1 (``benchmarks/locustfile_load.py``):
16 planners on the map page, 9 tile clients, 9 heat-map leaders (80 % squares, 20 % hexagons), 4 leaders
on the dashboard, 7 incident-desk users (45 users; ``WUWEI_LOAD_SCALE`` multiplies them) and 200 phones
offering 40 OsmAnd fixes/s, for ``WUWEI_LOAD_SECONDS`` (120) after a 20 s warm-up run.

Each endpoint's p95 stands beside the previous run's (``benchmarks/load_previous.json``, rewritten by
each run; first filled with issue 18's own measurement, "before"). Goals: 0 × 5xx, p95 < 300 ms for
every map, tile, heat and list read, the city dashboard p95 < 1 s, every fix stored within 5 s. CPU is
the seconds each process group used over the run's wall time (100 % = one core; the machine has 2):
PostgreSQL (this cluster's server processes), Python (gunicorn and the jobs worker), locust, the rest of
the machine (other programs share it: figures are noisy), and the time the virtual machine's host
gave to other guests (steal: above a few per cent the run's figures do not compare with a quiet run's).
"""

import csv
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from sqlalchemy import text

from benchmarks.common import ROOT, Result, free_port

SECONDS = int(os.environ.get("WUWEI_LOAD_SECONDS", "120"))
WARMUP = int(os.environ.get("WUWEI_LOAD_WARMUP", "20"))
SCALE = float(os.environ.get("WUWEI_LOAD_SCALE", "1"))
PREVIOUS = ROOT / "benchmarks" / "load_previous.json"
MAP_LAYERS = [  # what the map page fetches as GeoJSON for a screen (app/mappage/catalog.py)
    "/api/v1/areas?level=district,street,community",
    "/api/v1/grids",
    "/api/v1/compounds",
    "/api/v1/bike-zones",
    "/api/v1/chargers",
]
# ... and as vector tiles: buildings, and the open incidents (the overlay's ``tiles``, app/incidents/__init__.py;
# until 20:40 UTC on 2 December the bench still asked the incidents as a 1.2 MB GeoJSON page per screen,
# which the map page no longer does).
MAP_TILES = ["buildings", "incidents"]
READS_300 = ("map:", "tiles", "heat", "incidents:")


def _phone_secret(i: int) -> str:
    return hashlib.sha256(f"wuwei bench phone {i}".encode()).hexdigest()[:32]


def _prepare(ctx) -> dict:
    """Scale data, tokens, 200 registered phones; the run's configuration for the locustfile."""
    from app.auth.services import create_token, find_user
    from app.core.extensions import db
    from app.core.time import TZ
    from app.incidents import daily
    from app.patrols.devices import register_device
    from app.seed.scale import seed_scale

    with ctx.app.app_context():
        seed_scale(grids=5000, buildings=100_000, incidents=1_000_000, seed=1, log=lambda *_: None)
        # The dashboard's daily pre-aggregates of the days a 30-day dashboard reads (both periods), made
        # once as a deployment's first dashboard makes them (app.incidents.daily): not in the measured run.
        today = dt.datetime.now(TZ).date()
        d0, d1 = today - dt.timedelta(days=62), today - dt.timedelta(days=daily.RECENT_DAYS - 1)
        for _ in range(62 // daily.FILL_AT_ONCE + 1):
            daily.fill(d0, d1)
        tokens = {u: create_token(u, "load bench")[1] for u in ("planner", "leader", "staff")}
        # Each phone's secret (what Traccar Client sends as its device id) is derived from its name, so a
        # rerun on the same database finds the phones it registered before.
        known = set(db.session.scalars(text("SELECT identifier FROM devices WHERE identifier LIKE 'bench-phone-%'")))
        phones = [_phone_secret(i) for i in range(200)]
        for i, secret in enumerate(phones):
            if f"bench-phone-{i:03d}" not in known:
                register_device(
                    "patrol", f"bench phone {i}", "traccar", secret=secret, identifier=f"bench-phone-{i:03d}"
                )
        extent = db.session.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM buildings) x"
            )
        ).one()
        street = db.session.scalar(
            text(
                "SELECT a.code FROM incidents i JOIN areas a ON a.id = i.grid_id GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        )
        db.session.commit()
        if find_user("leader") is None:
            raise RuntimeError("the demo users are missing")
    # WUWEI_LOAD_BUILDINGS=geojson: planners load buildings as the map page did before issue 18 (pages of GeoJSON).
    buildings = os.environ.get("WUWEI_LOAD_BUILDINGS", "tiles")
    layers = MAP_LAYERS + (["/api/v1/buildings", "/api/v1/incidents?open=true"] if buildings == "geojson" else [])
    return {
        "tokens": tokens,
        "phones": phones,
        "extent": list(extent),
        "street": (street or "620102120")[:9],
        "map_layers": layers,
        "map_tiles": MAP_TILES,
        "buildings_tiles": buildings == "tiles",
    }


def _server(url: str, port: int) -> list[subprocess.Popen]:
    """gunicorn 2 × 4 and the jobs worker, as ``make run`` starts them (from ``WUWEI_LOAD_APP_ROOT``, another
    checkout of the code, to measure an older version against the same database)."""
    root = Path(os.environ.get("WUWEI_LOAD_APP_ROOT") or ROOT)
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": "0"}
    bin_ = Path(sys.executable).parent
    procs = [
        subprocess.Popen(
            [
                str(bin_ / "gunicorn"),
                "--workers",
                "2",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "app.wsgi:application",
            ],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if psutil.Process(procs[0].pid).children() and _answers(port):
                return procs
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not start")


def _answers(port: int) -> bool:
    import urllib.request

    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status == 200
    except OSError:
        return False


def _groups(app_pids: list[int], locust_pid: int | None) -> dict[str, list[psutil.Process]]:
    pg_port = int(os.environ.get("PGPORT", "55432"))
    postmaster = next(
        (c.pid for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == pg_port), None
    )
    pg = [psutil.Process(postmaster), *psutil.Process(postmaster).children()] if postmaster else []
    app = [p for pid in app_pids for p in (psutil.Process(pid), *psutil.Process(pid).children(recursive=True))]
    loc = [psutil.Process(locust_pid)] if locust_pid else []
    return {"PostgreSQL": pg, "Python (gunicorn + jobs worker)": app, "locust": loc}


def _cpu(groups) -> dict[str, float]:
    out = {}
    for name, procs in groups.items():
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        out[name] = total
    return out


def _locust(cfg_path: str, port: int, seconds: int, prefix: str) -> subprocess.Popen:
    users = round(45 * SCALE) + 200
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "benchmarks" / "locustfile_load.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            "60",
            "-t",
            f"{seconds}s",
            "--stop-timeout",
            "10",
            "--host",
            f"http://127.0.0.1:{port}",
            "--csv",
            prefix,
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env={**os.environ, "WUWEI_LOAD_CONFIG": cfg_path, "WUWEI_LOAD_SCALE": str(SCALE)},
        stdout=subprocess.DEVNULL,
    )


def _stats(prefix: str) -> dict[str, dict]:
    with open(f"{prefix}_stats.csv") as f:
        return {r["Name"]: r for r in csv.DictReader(f)}


def _fixes(ctx, since: float) -> tuple[int, int, float]:
    from app.core.extensions import db

    with ctx.app.app_context():
        row = db.session.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE p.received_at - p.fixed_at <= interval '5 seconds'), "
                "coalesce(max(extract(epoch FROM p.received_at - p.fixed_at)), 0) FROM positions p "
                "JOIN devices d ON d.id = p.device_id WHERE d.identifier LIKE 'bench-phone-%' AND p.fixed_at >= :t"
            ),
            {"t": dt.datetime.fromtimestamp(since, tz=dt.UTC)},
        ).one()
    return int(row[0]), int(row[1]), float(row[2])


def _measure(ctx, cfg: dict, work: Path) -> dict:
    """One warm-up and one measured locust run against a fresh server; what they showed."""
    cfg_path = work / "config.json"
    port = free_port()
    procs = _server(ctx.url, port)
    try:
        cfg["tally"] = str(work / "warmup-tally.json")
        cfg_path.write_text(json.dumps(cfg))
        if WARMUP:
            _locust(str(cfg_path), port, WARMUP, str(work / "warmup")).wait()
        cfg["tally"] = str(work / "tally.json")
        cfg_path.write_text(json.dumps(cfg))
        machine0, t0 = psutil.cpu_times(), time.time()
        run = _locust(str(cfg_path), port, SECONDS, str(work / "run"))
        groups = _groups([p.pid for p in procs], run.pid)
        cpu0 = _cpu(groups)
        while run.poll() is None:
            cpu1 = _cpu(groups)  # the last sample before locust exits
            time.sleep(1)
        wall = time.time() - t0
        machine1 = psutil.cpu_times()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:  # the jobs worker may wait for a job in hand
                p.kill()
                p.wait()
    time.sleep(1)
    stored, in_time, worst = _fixes(ctx, t0)
    used = {k: (cpu1[k] - cpu0[k]) / wall * 100 for k in cpu0}
    busy = sum(getattr(machine1, f) - getattr(machine0, f) for f in ("user", "system", "nice", "irq", "softirq"))
    used["rest of the machine"] = max(0.0, busy / wall * 100 - sum(used.values()))
    # Time the hypervisor gave to other guests while this one wanted to run: on a shared host it can take
    # half the machine, and then no figure of the run compares with a quiet one.
    used["stolen by the host"] = (getattr(machine1, "steal", 0.0) - getattr(machine0, "steal", 0.0)) / wall * 100
    return {
        "stats": _stats(str(work / "run")),
        "tally": json.loads((work / "tally.json").read_text()),
        "stored": stored,
        "in_time": in_time,
        "worst": worst,
        "wall": wall,
        "cpu": used,
    }


def _endpoint_rows(m: dict, before: dict, label: str) -> tuple[list[Result], dict]:
    """One row per endpoint: p95 beside the previous run's, p50/p99 and counts in the note."""
    results, now = [], {}
    for name, r in sorted(m["stats"].items()):
        if name == "Aggregated" or not int(r["Request Count"]):
            continue
        p50, p95, p99 = (float(r[k]) for k in ("50%", "95%", "99%"))
        now[name] = {"p50": p50, "p95": p95, "p99": p99}
        old = before.get(name, {})
        goal = (
            "goal p95 < 1 s"
            if name == "dashboard: whole city"
            else "goal p95 < 300 ms"
            if name.startswith(READS_300)
            else ""
        )
        results.append(
            Result(
                f"{name} p95",
                p95,
                "ms",
                label if old else "",
                old.get("p95"),
                f"p50 {p50:,.0f}, p99 {p99:,.0f}; {int(r['Request Count']):,} requests, "
                f"{int(r['Failure Count'])} failed"
                + (f"; before p50 {old['p50']:,.0f}" if old else "")
                + (f", p99 {old['p99']:,.0f}" if old.get("p99") else "")
                + (f"; {goal}" if goal else ""),
            )
        )
    return results, now


def _results(m: dict, previous: dict) -> tuple[list[Result], dict]:
    before = previous.get("figures", {})
    label = previous.get("label", "previous run")
    results, now = _endpoint_rows(m, before, label)
    total = m["stats"]["Aggregated"]
    rate = float(total["Requests/s"])
    now["throughput"] = rate
    tally = m["tally"]
    offered_rate = tally["offered"] / m["wall"]
    results += [
        Result(
            "throughput, all requests",
            rate,
            "req/s",
            label,
            before.get("throughput"),
            f"{int(total['Request Count']):,} requests in {m['wall']:.0f} s",
            True,
        ),
        Result(
            "fixes offered",
            tally["offered"],
            "fixes",
            "",
            None,
            f"{offered_rate:.1f}/s by 200 phones; {tally['resent']} resends after 503",
        ),
        Result(
            "fixes stored",
            m["stored"],
            "fixes",
            "fixes offered",
            tally["offered"],
            f"{m['stored'] / m['wall']:.1f}/s; {m['in_time']:,} within 5 s; slowest {m['worst']:.1f} s; {tally['gave_up']} given up",
            True,
        ),
        Result(
            "5xx answers",
            tally["server_errors"],
            "",
            label,
            before.get("5xx"),
            f"of which {tally['refused_503']} were tracking back-pressure (503 + Retry-After)",
        ),
    ]
    now.update({"5xx": tally["server_errors"], "fixes_per_s": m["stored"] / m["wall"]})
    for name, pct in m["cpu"].items():
        old = before.get("cpu", {}).get(name)
        results.append(Result(f"CPU: {name}", pct, "% of a core", label if old else "", old, "2 cores = 200 %"))
    now["cpu"] = m["cpu"]
    return results, now


def run(ctx):
    cfg = _prepare(ctx)
    previous = json.loads(PREVIOUS.read_text()) if PREVIOUS.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        m = _measure(ctx, cfg, Path(tmp))
    results, now = _results(m, previous)
    stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    label = os.environ.get("WUWEI_LOAD_LABEL") or f"previous run ({stamp})"
    PREVIOUS.write_text(json.dumps({"label": label, "figures": now}, indent=1, ensure_ascii=False) + "\n")
    return results
