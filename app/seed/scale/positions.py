"""Synthetic GPS fixes for ``seed scale --positions``: phones of a synthetic patrol account walking
from buildings in office hours, COPYed into the monthly partitions of ``positions``.
"""
import datetime as dt
import math
import time

import numpy as np
import sqlalchemy as sa

from app.core.extensions import db
from app.core.time import TZ
from app.seed.scale import bulk
from app.seed.scale.incidents import HOURS

POSITION_STEP_S = 5          # a phone reporting every 5 s while its patrol walks
SHIFT_FIXES = 720            # one hour of walking per shift


def generate_positions(n: int, seed: int, days: int, now: dt.datetime, devices: int,
                       centres: np.ndarray):
    """``n`` fixes of ``devices`` phones: one-hour walks (random walks at ~1.3 m/s from a building)
    in office hours over the last ``days`` days. Returns (device index, epoch seconds, lon, lat, accuracy, speed).
    """
    rng = np.random.default_rng(seed + 7)
    shifts = math.ceil(n / SHIFT_FIXES)
    days = max(1, days)
    # Each shift takes one (device, day, hour) slot, drawn without replacement and weighted by the
    # hour-of-day profile, so one phone never reports the same second twice.
    slots = devices * days * 24
    if shifts > slots:
        raise ValueError(f"{n:,} fixes need more than {devices} phones × {days} days of hourly shifts")
    weights = np.tile(HOURS, devices * days)
    slot = rng.choice(slots, shifts, replace=False, p=weights / weights.sum())
    dev, day, start_hour = slot // (days * 24), (slot // 24) % days, slot % 24
    today = now.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    # Whole days before today, so no fix lies in the future.
    start = today.timestamp() - (day + 1) * 86400.0 + start_hour * 3600.0 + rng.integers(0, POSITION_STEP_S, shifts)
    # Start of each shift: near a random building (the centres are building points).
    origin = centres[rng.integers(0, len(centres), shifts)]
    k = np.arange(SHIFT_FIXES)
    idx_shift = np.repeat(np.arange(shifts), SHIFT_FIXES)[:n]
    idx_step = np.tile(k, shifts)[:n]
    # Random walk: heading drifts slowly, ~6.5 m per 5 s; metres → degrees at Lanzhou's latitude.
    heading = np.cumsum(rng.normal(0, 0.35, n)) + rng.uniform(0, 2 * math.pi, shifts)[idx_shift]
    step = rng.normal(6.5, 1.5, n).clip(0, 15)
    dx, dy = step * np.cos(heading), step * np.sin(heading)
    # Restart the walk at each shift boundary.
    starts = idx_step == 0
    dx[starts] = dy[starts] = 0
    cx, cy = np.cumsum(dx), np.cumsum(dy)
    base = np.flatnonzero(starts)
    cx -= np.repeat(cx[base], np.diff(np.append(base, n)))
    cy -= np.repeat(cy[base], np.diff(np.append(base, n)))
    lat0 = origin[idx_shift, 1]
    lon = origin[idx_shift, 0] + cx / (111_320.0 * np.cos(np.radians(lat0)))
    lat = lat0 + cy / 110_574.0
    t = start[idx_shift] + idx_step * POSITION_STEP_S
    acc = rng.gamma(2.0, 4.0, n).round(1)
    return dev[idx_shift], t, lon, lat, acc, (step / POSITION_STEP_S).round(2)


def _synthetic_phones(seed: int, prefix: str, n: int) -> tuple[int, np.ndarray]:
    """The synthetic patrol account and the ids of its phones (one per 5,000 fixes, 20..2,000)."""
    # Synthetic phones belong to one synthetic patrol account at the top of the area tree.
    username = f"scale_patrol_{seed}"
    user_id = db.session.scalar(sa.text("SELECT id FROM users WHERE username = :u"), {"u": username})
    if user_id is None:
        root = db.session.scalar(sa.text("SELECT id FROM areas ORDER BY length(code), code LIMIT 1"))
        user_id = db.session.scalar(sa.text(
            "INSERT INTO users (username, display_name, password_hash, role, area_id, active) "
            "VALUES (:u, :u, '!', 'patrol', :a, false) RETURNING id"), {"u": username, "a": root})
    devices = max(20, min(2000, n // 5000))
    db.session.execute(sa.text(
        "INSERT INTO devices (identifier, user_id, name, kind, active) "
        "SELECT :p || lpad(i::text, 5, '0'), :uid, 'synthetic phone', 'traccar', true "
        "FROM generate_series(0, :m - 1) AS i ON CONFLICT (identifier) DO NOTHING"),
        {"p": prefix, "uid": user_id, "m": devices})
    device_ids = np.array(db.session.scalars(sa.text(
        "SELECT id FROM devices WHERE identifier LIKE :p ORDER BY identifier"), {"p": prefix + "%"}).all())[:devices]
    return user_id, device_ids


def seed_positions(n: int, seed: int, days: int = 30, now: dt.datetime | None = None) -> int:
    """``n`` synthetic GPS fixes from synthetic patrol phones, COPYed into the monthly partitions."""
    if n <= 0:
        return 0
    if not db.session.scalar(sa.text("SELECT to_regclass('positions') IS NOT NULL")):
        raise RuntimeError("no positions table in this database (the patrols migration is missing)")
    prev = bulk.last_run("positions", seed)
    if prev and prev.rows == n:
        return 0
    now = now or dt.datetime.now(TZ)
    days = max(1, min(days, 60))
    prefix = f"scale-{seed}-"
    user_id, device_ids = _synthetic_phones(seed, prefix, n)
    centres = np.array(db.session.execute(sa.text(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) AS c FROM buildings "
        "ORDER BY id LIMIT 20000) b")).all(), dtype=float)
    if len(centres) == 0:
        centres = np.array([[103.84, 36.06]])
    months_back = days // 28 + 2
    db.session.execute(sa.text("SELECT wuwei_ensure_position_partitions(1, :b)"), {"b": months_back})
    if prev:
        db.session.execute(sa.text(
            "DELETE FROM positions WHERE device_id IN (SELECT id FROM devices WHERE identifier LIKE :p)"),
            {"p": prefix + "%"})
    bulk.PHASES.clear()
    with bulk.phase("generate"):
        dev, t, lon, lat, acc, speed = generate_positions(n, seed, days, now, len(device_ids), centres)
    columns = ["device_id", "fixed_at", "user_id", "geom", "accuracy", "speed", "source"]
    bulk.PHASES["csv"] = bulk.PHASES["copy"] = 0.0
    size = 500_000
    # A big batch beside what is there: build the GiST and time indexes once afterwards (the
    # primary key stays, so resends stay impossible); partitioned indexes cascade to every month.
    existing = db.session.scalar(sa.text(
        "SELECT coalesce(sum(c.reltuples), 0) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'positions'::regclass"))
    load = bulk.bulk_load("positions", enabled=n >= 500_000 and n >= 0.3 * max(existing or 0, 0))
    with load:
        for a in range(0, n, size):
            b = min(n, a + size)
            t0 = time.perf_counter()
            text_chunk = bulk.csv_text([device_ids[dev[a:b]].astype(str), bulk.iso(t[a:b]), np.full(b - a, str(user_id)),
                               bulk.ewkb_hex(lon[a:b], lat[a:b]), acc[a:b].astype(str), speed[a:b].astype(str),
                               np.full(b - a, "scale")])
            t1 = time.perf_counter()
            bulk.copy_csv("positions", columns, text_chunk)
            bulk.PHASES["csv"] += t1 - t0
            bulk.PHASES["copy"] += time.perf_counter() - t1
        bulk.PHASES["rebuild indexes/keys"] = -time.perf_counter()
    bulk.finish_bulk(load)
    bulk.record_run("positions", seed, n, None, None)
    return n
