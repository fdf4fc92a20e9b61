"""Synthetic incidents for ``seed scale``: clustered around buildings (weighted by households), with a
weekly and daily rhythm and plausible states, COPYed in with the grid assigned by an STRtree.
"""
import datetime as dt
import json
import math
import time

import numpy as np
import sqlalchemy as sa

from app.core.extensions import db
from app.core.time import TZ
from app.seed.scale import bulk
from app.seed.scale.places import assign_grids

DESCRIPTION = "模拟事件（seed scale）"
# The incident categories of the demo (app/incidents/demo.py): code, name, English name, share of reports.
CATEGORIES = [
    ("env.litter", "垃圾杂物堆放", "Litter and dumped rubbish", 18),
    ("env.uncleaned", "卫生死角无人清扫", "Area nobody cleans", 10),
    ("drainage.sewage", "污水外溢", "Sewage overflow", 8),
    ("drainage.manhole", "井盖缺失破损", "Missing or broken manhole cover", 4),
    ("parking", "违法停车", "Illegal parking", 10),
    ("bikes.misparked", "共享单车乱停放", "Shared bikes parked anywhere", 15),
    ("ebike.flying_wire", "飞线充电", "Charging cable run from a flat", 5),
    ("ebike.indoor", "电动车入户充电", "E-bike charged indoors or in a stairwell", 4),
    ("facilities.streetlight", "路灯损坏", "Broken streetlight", 8),
    ("facilities.damaged", "设施损坏", "Damaged public facility", 8),
    ("dispute", "邻里纠纷", "Neighbour dispute", 7),
]
DEADLINES = {"reported": 2, "filed": 4, "dispatched": 24, "in_progress": 72, "responded": 24}
CHANNELS = [("hotline", 30), ("grid_worker", 35), ("patrol", 15), ("walk_in", 6), ("web", 6),
            ("open311", 5), ("other_system", 3)]
OPEN_STATES = ["reported", "filed", "dispatched", "in_progress", "responded", "consultation"]
# Hour-of-day profile of reports (people report in office hours; little at night).
HOURS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.6, 1.5, 3, 6, 8, 8, 7, 5, 5, 7, 8, 8, 7, 5, 4, 3, 2.5, 2, 1.5])
WEEKDAYS = np.array([1.0, 1.05, 1.0, 1.0, 0.95, 0.7, 0.55])     # Monday … Sunday


def ensure_categories() -> dict[str, int]:
    """The categories synthetic incidents use; code → id. The demo makes them (with their tree and
    deadlines); without the demo they are created flat with the usual deadlines."""
    for code, name, name_en, _ in CATEGORIES:
        db.session.execute(sa.text(
            "INSERT INTO incident_categories (code, name, name_en, deadlines, attributes, active) "
            "VALUES (:c, :n, :e, CAST(:d AS jsonb), '[]'::jsonb, true) ON CONFLICT (code) DO NOTHING"),
            {"c": code, "n": name, "e": name_en, "d": json.dumps(DEADLINES)})
    return dict(db.session.execute(sa.text("SELECT code, id FROM incident_categories WHERE code = ANY(:c)"),
                                   {"c": [c[0] for c in CATEGORIES]}).all())


def _pick(rng, items_weights, n):
    items = [i for i, _ in items_weights]
    w = np.array([w for _, w in items_weights], dtype=float)
    return np.array(items, dtype=object)[rng.choice(len(items), size=n, p=w / w.sum())]


def generate_incidents(n: int, seed: int, days: int, now: dt.datetime, categories: dict[str, int]):
    """The synthetic incidents as columns (numpy arrays): clustered places, rhythmic times, plausible states."""
    rng = np.random.default_rng(seed)
    b = db.session.execute(sa.text(
        "SELECT ST_X(c), ST_Y(c), greatest(coalesce(households, 0), 1) FROM "
        "(SELECT ST_Centroid(geom) c, households FROM buildings ORDER BY id) q")).all()
    if not b:
        raise RuntimeError("no buildings: run `flask seed demo` (or pass --buildings) first")
    bx, by, bw = (np.array(c, dtype=float) for c in zip(*b))
    # A few hot buildings draw many reports (markets, old compounds): a heavy-tailed weight.
    hot = rng.pareto(3.0, size=len(bw)) + 1
    w = bw * hot
    k = rng.choice(len(bw), size=n, p=w / w.sum())
    lon = bx[k] + rng.normal(0, 0.0005, n)
    lat = by[k] + rng.normal(0, 0.0004, n)
    # Days: weekday rhythm and a gentle seasonal swing; hours: office-hours profile.
    start_day = (now - dt.timedelta(days=days)).date()
    day_dates = [start_day + dt.timedelta(days=i) for i in range(days)]
    dw = np.array([WEEKDAYS[d.weekday()] * (1 + 0.25 * math.sin(2 * math.pi * (d.timetuple().tm_yday - 100) / 365))
                   for d in day_dates])
    day = rng.choice(days, size=n, p=dw / dw.sum())
    hour = rng.choice(24, size=n, p=HOURS / HOURS.sum())
    secs = rng.integers(0, 3600, n)
    base = dt.datetime.combine(start_day, dt.time(), TZ).timestamp()
    reported = base + day * 86400 + hour * 3600 + secs
    reported = np.minimum(reported, now.timestamp() - 60)
    cat_codes = [c for c in CATEGORIES if c[0] in categories]
    cat = _pick(rng, [(categories[c[0]], c[3]) for c in cat_codes], n).astype(int)
    channel = _pick(rng, CHANNELS, n)
    # State: most older reports are closed; the recent ones are still moving.
    age_h = (now.timestamp() - reported) / 3600
    to_close_h = rng.lognormal(math.log(30), 0.9, n)
    u = rng.random(n)
    state = np.where(u < 0.04, "rejected", np.where(u < 0.07, "duplicate", "closed")).astype(object)
    still_open = (age_h < to_close_h) | (rng.random(n) < 0.03)
    state[still_open & (state == "closed")] = np.array(OPEN_STATES, dtype=object)[
        rng.integers(0, len(OPEN_STATES), int((still_open & (state == "closed")).sum()))]
    evaluated = (state == "closed") & (rng.random(n) < 0.4)
    state[evaluated] = "evaluated"
    closed = np.where(np.isin(state, ["closed", "evaluated"]), reported + to_close_h * 3600, np.nan)
    # Real reports arrive in time order, so ids and table pages follow time; keep that locality.
    o = np.argsort(reported, kind="stable")
    return lon[o], lat[o], reported[o], cat[o], channel[o], state[o], closed[o]


def seed_incidents(n: int, seed: int, days: int = 365, now: dt.datetime | None = None) -> int:
    """``n`` synthetic incidents over the last ``days`` days; returns rows added (0 when already there)."""
    done, prev = bulk.already_there("incidents", seed, n)
    if done:
        return 0
    categories = ensure_categories()
    now = now or dt.datetime.now(TZ)
    bulk.PHASES.clear()
    with bulk.phase("generate"):
        lon, lat, reported, cat, channel, state, closed = generate_incidents(n, seed, days, now, categories)
    last = db.session.scalar(sa.text(
        "SELECT setval(pg_get_serial_sequence('incidents', 'id'), "
        "nextval(pg_get_serial_sequence('incidents', 'id')) + :n - 1)"), {"n": n})
    first = last - n + 1
    ids = np.arange(first, last + 1)
    with bulk.phase("assign grids"):
        grid = assign_grids(lon, lat)
    columns = ["id", "category_id", "source", "state", "description", "reported_at", "state_changed_at",
               "closed_at", "grid_id", "geom"]

    def chunks(size: int = 250_000):
        """CSV text per 250,000 rows: the whole million as Python strings would take ~3 GB."""
        for a in range(0, n, size):
            b = min(n, a + size)
            c = closed[a:b]
            yield bulk.csv_text([ids[a:b].astype(str), cat[a:b].astype(str), channel[a:b].astype(str), state[a:b].astype(str),
                        np.full(b - a, DESCRIPTION), bulk.iso(reported[a:b]),
                        bulk.iso(np.where(np.isnan(c), reported[a:b], c)), bulk.iso(c),
                        np.where(grid[a:b] < 0, "", grid[a:b].astype(str)), bulk.ewkb_hex(lon[a:b], lat[a:b])])
    # Rebuilding indexes pays off when the batch is large beside what is already there.
    existing = db.session.scalar(sa.text("SELECT reltuples FROM pg_class WHERE oid = 'incidents'::regclass"))
    load = bulk.bulk_load("incidents", enabled=n >= bulk.BULK_ROWS and n >= 0.3 * max(existing or 0, 0))
    with load:
        if prev:
            # Inside bulk_load: the unindexed self-reference (duplicate_of_id) would otherwise be
            # checked by a scan of the table for every deleted row.
            with bulk.phase("delete previous batch"):
                db.session.execute(sa.text("DELETE FROM incidents WHERE id BETWEEN :a AND :b"),
                                   {"a": prev.first_id, "b": prev.last_id})
        db.session.execute(sa.text("ALTER TABLE incidents DISABLE TRIGGER trg_incidents_assign_grid"))
        bulk.PHASES["csv"] = bulk.PHASES["copy"] = 0.0
        for text_chunk in bulk.timed(chunks(), "csv"):
            t0 = time.perf_counter()
            bulk.copy_csv("incidents", columns, text_chunk)
            bulk.PHASES["copy"] += time.perf_counter() - t0
        db.session.execute(sa.text("ALTER TABLE incidents ENABLE TRIGGER trg_incidents_assign_grid"))
        bulk.PHASES["rebuild indexes/keys"] = -time.perf_counter()
    bulk.finish_bulk(load)
    bulk.record_run("incidents", seed, n, first, last)
    return n
