"""Synthetic district-scale data for benchmarks: ``flask seed scale --incidents N --grids N --buildings N``.

DESIGN's scale is ~5,000 grids, ~100,000 buildings and ~1,000,000 incidents a year. This makes
such a district beside the demo: synthetic streets → communities → grids with proper nested
codes filling the demo districts around the demo streets, buildings inside the grids, and
incidents clustered around buildings (weighted by households) with a weekly and daily rhythm.

It is fast because the rows never pass through the ORM: grids and incidents go in with COPY
into a staging table and one set-based ``INSERT … SELECT`` that assigns the grid with the GiST
index while the per-row trigger is disabled; buildings are generated inside PostgreSQL.
Every batch is recorded in ``seed_scale_runs`` (kind, seed, rows, id range): the same seed and
size again adds nothing; another size replaces that batch. The same seed gives the same data.
"""
import datetime as dt
import io
import math
import time
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from shapely.geometry import box

from app.core.extensions import db

TZ = ZoneInfo("Asia/Shanghai")
SYNTHETIC_STREET_FROM = 101           # street codes 101… are synthetic; the demo uses 002–011
COMMUNITIES_PER_STREET = (3, 3)
GRIDS_PER_COMMUNITY = (4, 4)
DESCRIPTION = "模拟事件（seed scale）"
BULK_ROWS = 50_000                    # a batch this big: indexes rebuilt after COPY, tables vacuumed after

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


def _run(kind: str, seed: int):
    return db.session.execute(sa.text("SELECT rows, first_id, last_id FROM seed_scale_runs "
                                      "WHERE kind = :k AND seed = :s"), {"k": kind, "s": seed}).first()


def _record(kind: str, seed: int, rows: int, first_id, last_id) -> None:
    db.session.execute(sa.text(
        "INSERT INTO seed_scale_runs (kind, seed, rows, first_id, last_id) VALUES (:k, :s, :r, :f, :l) "
        "ON CONFLICT (kind, seed) DO UPDATE SET rows = :r, first_id = :f, last_id = :l, created_at = now()"),
        {"k": kind, "s": seed, "r": rows, "f": first_id, "l": last_id})


def _copy(table: str, columns: list[str], text: str) -> None:
    from psycopg2 import sql
    cur = db.session.connection().connection.cursor()
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    cur.copy_expert(stmt, io.StringIO(text))


# ---- areas ---------------------------------------------------------------------------------------

def _street_cells(needed: int) -> list[tuple[str, tuple[float, float, float, float]]]:
    """``needed`` street rectangles (district code, bbox) inside the districts, clear of existing streets."""
    districts = db.session.execute(sa.text(
        "SELECT code, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM areas "
        "WHERE level = 'district' ORDER BY code")).all()
    taken = [box(*r[1:]) for r in db.session.execute(sa.text(
        "SELECT code, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM areas "
        "WHERE level = 'street' AND substr(code, 7, 3)::int < :first"), {"first": SYNTHETIC_STREET_FROM})]
    if not districts:
        raise RuntimeError("no districts: run `flask seed demo` first")
    total = sum((d[3] - d[1]) * (d[4] - d[2]) for d in districts)
    side = math.sqrt(total / max(1, needed))
    while True:
        cells = []
        for code, x0, y0, x1, y1 in districts:
            nx, ny = int((x1 - x0) // side), int((y1 - y0) // side)
            for a in range(nx):
                for b in range(ny):
                    bb = (x0 + a * side, y0 + b * side, x0 + (a + 1) * side, y0 + (b + 1) * side)
                    if not any(t.intersects(box(*bb)) and t.intersection(box(*bb)).area > 0 for t in taken):
                        cells.append((code, tuple(round(v, 7) for v in bb)))
        if len(cells) >= needed:
            return cells[:needed]
        side *= 0.93


def _split(bb, nx, ny):
    x0, y0, x1, y1 = bb
    w, h = (x1 - x0) / nx, (y1 - y0) / ny
    # North-west first, as in the demo (001 NW, 002 NE, …).
    return [(round(x0 + a * w, 7), round(y1 - (b + 1) * h, 7), round(x0 + (a + 1) * w, 7), round(y1 - b * h, 7))
            for b in range(ny) for a in range(nx)]


def seed_areas(grids: int, seed: int) -> int:
    """About ``grids`` synthetic grids in synthetic streets/communities; returns grids made (0 if present)."""
    if grids <= 0:
        return 0
    prev = _run("areas", seed)
    if prev and prev.rows == grids:
        return 0
    if prev:
        delete_areas()
    per_street = COMMUNITIES_PER_STREET[0] * COMMUNITIES_PER_STREET[1] * \
        GRIDS_PER_COMMUNITY[0] * GRIDS_PER_COMMUNITY[1]
    streets = _street_cells(math.ceil(grids / per_street))
    rows, made, counter = [], 0, {}
    for district, bb in streets:
        counter[district] = counter.get(district, SYNTHETIC_STREET_FROM - 1) + 1
        scode = f"{district}{counter[district]:03d}"
        rows.append(("street", scode, f"模拟街道{scode[6:]}", district, bb))
        for ci, cbb in enumerate(_split(bb, *COMMUNITIES_PER_STREET), start=1):
            if made >= grids:
                break
            ccode = f"{scode}{ci:03d}"
            rows.append(("community", ccode, f"模拟街道{scode[6:]}第{ci}社区", scode, cbb))
            for gi, gbb in enumerate(_split(cbb, *GRIDS_PER_COMMUNITY), start=1):
                if made >= grids:
                    break
                rows.append(("grid", f"{ccode}{gi:03d}", f"模拟社区{ccode[6:]}第{gi}网格", ccode, gbb))
                made += 1
    buf = io.StringIO()
    for level, code, name, parent, (x0, y0, x1, y1) in rows:
        buf.write(f"{level},{code},{name},{parent},{x0},{y0},{x1},{y1}\n")
    db.session.execute(sa.text("DROP TABLE IF EXISTS scale_areas"))
    db.session.execute(sa.text("CREATE TEMP TABLE scale_areas (level text, code text, name text, parent text, "
                               "x0 float8, y0 float8, x1 float8, y1 float8) ON COMMIT DROP"))
    _copy("scale_areas", ["level", "code", "name", "parent", "x0", "y0", "x1", "y1"], buf.getvalue())
    # A new grid regrids the rows under it (trigger trg_areas_regrid, one UPDATE per table per grid):
    # for thousands of grids, do it once for the whole synthetic footprint instead.
    regrid = bool(db.session.scalar(sa.text(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'areas'::regclass AND tgname = 'trg_areas_regrid'")))
    if regrid:
        db.session.execute(sa.text("ALTER TABLE areas DISABLE TRIGGER trg_areas_regrid"))
    for level in ("street", "community", "grid"):
        db.session.execute(sa.text(
            "INSERT INTO areas (level, code, name, parent_id, note, geom) "
            "SELECT s.level, s.code, s.name, p.id, 'seed scale', ST_Multi(ST_MakeEnvelope(s.x0, s.y0, s.x1, s.y1, 4326)) "
            "FROM scale_areas s JOIN areas p ON p.code = s.parent WHERE s.level = :level ORDER BY s.code"),
            {"level": level})
    if regrid:
        db.session.execute(sa.text("ALTER TABLE areas ENABLE TRIGGER trg_areas_regrid"))
        db.session.execute(sa.text("SELECT wuwei_regrid(ST_Union(geom)) FROM areas "
                                   "WHERE note = 'seed scale' AND level = 'street'"))
    _record("areas", seed, grids, None, None)
    return made


def delete_areas() -> None:
    """Remove every synthetic area (and so detach rows from synthetic grids)."""
    db.session.execute(sa.text("DELETE FROM areas WHERE note = 'seed scale' AND level = 'grid'"))
    db.session.execute(sa.text("DELETE FROM areas WHERE note = 'seed scale' AND level = 'community'"))
    db.session.execute(sa.text("DELETE FROM areas WHERE note = 'seed scale' AND level = 'street'"))
    db.session.execute(sa.text("DELETE FROM seed_scale_runs WHERE kind = 'areas'"))


# ---- buildings -----------------------------------------------------------------------------------

BUILDINGS_SQL = sa.text("""
    WITH g AS (
        SELECT id, code, ST_XMin(geom) x0, ST_YMin(geom) y0, ST_XMax(geom) x1, ST_YMax(geom) y1,
               row_number() OVER (ORDER BY code) - 1 AS k, count(*) OVER () AS m
          FROM areas WHERE level = 'grid' AND (NOT :synthetic OR note = 'seed scale')
    ), b AS (
        SELECT g.*, n, random() rx, random() ry, random() rf, random() rh
          FROM g, generate_series(1, :n / g.m + CASE WHEN g.k < :n % g.m THEN 1 ELSE 0 END) n
    ), ins AS (
        INSERT INTO buildings (name, address, floors, households, ebikes, grid_id, geom)
        SELECT '模拟楼' || code || '-' || n, NULL, f, f * (2 + (rh * 4)::int), (f * rh * 3)::int, id,
               ST_Multi(ST_MakeEnvelope(bx, by, bx + (x1 - x0) * 0.08, by + (y1 - y0) * 0.05, 4326))
          FROM (SELECT b.*, 2 + (rf * rf * 28)::int AS f,
                       x0 + rx * (x1 - x0) * 0.9 AS bx, y0 + ry * (y1 - y0) * 0.93 AS by FROM b) q
        RETURNING id
    )
    SELECT count(*), min(id), max(id) FROM ins
""")


def seed_buildings(n: int, seed: int) -> int:
    """``n`` synthetic buildings spread over the grids (the synthetic ones when present)."""
    if n <= 0:
        return 0
    prev = _run("buildings", seed)
    if prev and prev.rows == n:
        return 0
    if prev:
        db.session.execute(sa.text("DELETE FROM buildings WHERE id BETWEEN :a AND :b"),
                           {"a": prev.first_id, "b": prev.last_id})
    synthetic = bool(db.session.scalar(sa.text("SELECT count(*) FROM areas WHERE note = 'seed scale'")))
    db.session.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
    db.session.execute(sa.text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000.0})
    db.session.execute(sa.text("ALTER TABLE buildings DISABLE TRIGGER trg_buildings_assign_grid"))
    count, first, last = db.session.execute(BUILDINGS_SQL, {"n": n, "synthetic": synthetic}).one()
    db.session.execute(sa.text("ALTER TABLE buildings ENABLE TRIGGER trg_buildings_assign_grid"))
    _record("buildings", seed, n, first, last)
    return count


# ---- incidents -----------------------------------------------------------------------------------

def ensure_categories() -> dict[str, int]:
    """The categories synthetic incidents use; code → id. The demo makes them (with their tree and
    deadlines); without the demo they are created flat with the usual deadlines."""
    import json
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


def _iso(ts: np.ndarray) -> np.ndarray:
    """Epoch seconds → ISO 8601 UTC timestamps ('…Z'), '' for NaN (NULL in COPY csv)."""
    ok = ~np.isnan(ts)
    t = np.where(ok, ts, 0).astype("int64").astype("datetime64[s]")
    return np.where(ok, np.datetime_as_string(t, unit="s", timezone="UTC"), "")


def _ewkb_hex(lon: np.ndarray, lat: np.ndarray, srid: int = 4326) -> np.ndarray:
    """Points as hex EWKB (what COPY reads fastest into a geometry column), without a Python loop."""
    rec = np.zeros(len(lon), dtype=[("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])
    rec["order"], rec["type"], rec["srid"], rec["x"], rec["y"] = 1, 0x20000001, srid, lon, lat
    hexed = rec.tobytes().hex().encode()
    return np.frombuffer(hexed, dtype="S50").astype(str)


def _csv(columns: list[np.ndarray]) -> str:
    """Columns of strings → CSV text (values here never hold commas, quotes or newlines)."""
    # Python lists zip several times faster than numpy arrays (no numpy scalar per value).
    return "\n".join(map(",".join, zip(*(c.tolist() for c in columns)))) + "\n"


class bulk_load:
    """Drop a table's secondary indexes and foreign keys for a big COPY, then rebuild them (as pg_restore does).

    Maintaining eight indexes and two foreign-key checks row by row costs far more than
    building each index once and validating each key with one join; all of it happens in the
    caller's transaction, so a failure leaves the table as it was. Definitions come from the
    catalogue (``pg_get_indexdef``/``pg_get_constraintdef``), never from input.
    """

    def __init__(self, table: str, enabled: bool = True):
        self.table, self.enabled, self.indexes, self.fkeys = table, enabled, [], []

    def __enter__(self):
        if not self.enabled:
            return self
        self.indexes = db.session.execute(sa.text(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = CAST(:t AS regclass) AND NOT x.indisprimary AND NOT x.indisunique"),
            {"t": self.table}).all()
        self.fkeys = db.session.execute(sa.text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'"), {"t": self.table}).all()
        from psycopg2 import sql
        cur = db.session.connection().connection.cursor()
        for name, _ in self.fkeys:
            cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(self.table),
                                                                           sql.Identifier(name)))
        for name, _ in self.indexes:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        return self

    def __exit__(self, exc_type, *exc):
        if not self.enabled or exc_type is not None:
            return False
        from psycopg2 import sql
        cur = db.session.connection().connection.cursor()
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, ddl in self.indexes:
            # pg_get_indexdef says "ON ONLY" for a partitioned table's index, which would leave it
            # invalid and unbuilt on the partitions; without ONLY it cascades to every partition.
            cur.execute(ddl.replace(" ON ONLY ", " ON ", 1))
        for name, ddl in self.fkeys:
            cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                sql.Identifier(self.table), sql.Identifier(name)) + sql.SQL(ddl))
        return False


def assign_grids(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The grid id of each point (-1 outside every grid), as ``wuwei_grid_of`` would choose it.

    One STRtree query over all points instead of a GiST probe per row: at a million points
    this is seconds instead of minutes, and the result is the same (exact polygon test; on a
    shared edge the lowest id wins).
    """
    import shapely
    rows = db.session.execute(sa.text(
        "SELECT id, ST_AsBinary(geom) FROM areas WHERE level = 'grid' ORDER BY id")).all()
    out = np.full(len(lon), -1, dtype=np.int64)
    if not rows:
        return out
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    tree = shapely.STRtree(shapely.from_wkb([bytes(r[1]) for r in rows]))
    pts, hit = tree.query(shapely.points(lon, lat), predicate="intersects")
    best = np.full(len(lon), len(ids), dtype=np.int64)
    np.minimum.at(best, pts, hit)
    found = best < len(ids)
    out[found] = ids[best[found]]
    return out


PHASES: dict[str, float] = {}


class _phase:
    """Times a phase of the last batch into PHASES (printed by the command)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        PHASES[self.name] = time.perf_counter() - self.t0
        return False


def _timed(iterable, name):
    """Yield from ``iterable``, adding the time spent producing each item to PHASES[name]."""
    it = iter(iterable)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            return
        PHASES[name] += time.perf_counter() - t0
        yield item


def seed_incidents(n: int, seed: int, days: int = 365, now: dt.datetime | None = None) -> int:
    """``n`` synthetic incidents over the last ``days`` days; returns rows added (0 when already there)."""
    if n <= 0:
        return 0
    prev = _run("incidents", seed)
    if prev and prev.rows == n:
        return 0
    categories = ensure_categories()
    now = now or dt.datetime.now(TZ)
    PHASES.clear()
    with _phase("generate"):
        lon, lat, reported, cat, channel, state, closed = generate_incidents(n, seed, days, now, categories)
    last = db.session.scalar(sa.text(
        "SELECT setval(pg_get_serial_sequence('incidents', 'id'), "
        "nextval(pg_get_serial_sequence('incidents', 'id')) + :n - 1)"), {"n": n})
    first = last - n + 1
    ids = np.arange(first, last + 1)
    with _phase("assign grids"):
        grid = assign_grids(lon, lat)
    columns = ["id", "category_id", "source", "state", "description", "reported_at", "state_changed_at",
               "closed_at", "grid_id", "geom"]

    def chunks(size: int = 250_000):
        """CSV text per 250,000 rows: the whole million as Python strings would take ~3 GB."""
        for a in range(0, n, size):
            b = min(n, a + size)
            c = closed[a:b]
            yield _csv([ids[a:b].astype(str), cat[a:b].astype(str), channel[a:b].astype(str), state[a:b].astype(str),
                        np.full(b - a, DESCRIPTION), _iso(reported[a:b]),
                        _iso(np.where(np.isnan(c), reported[a:b], c)), _iso(c),
                        np.where(grid[a:b] < 0, "", grid[a:b].astype(str)), _ewkb_hex(lon[a:b], lat[a:b])])
    # Rebuilding indexes pays off when the batch is large beside what is already there.
    existing = db.session.scalar(sa.text("SELECT reltuples FROM pg_class WHERE oid = 'incidents'::regclass"))
    bulk = bulk_load("incidents", enabled=n >= BULK_ROWS and n >= 0.3 * max(existing or 0, 0))
    with bulk:
        if prev:
            # Inside bulk_load: the unindexed self-reference (duplicate_of_id) would otherwise be
            # checked by a scan of the table for every deleted row.
            with _phase("delete previous batch"):
                db.session.execute(sa.text("DELETE FROM incidents WHERE id BETWEEN :a AND :b"),
                                   {"a": prev.first_id, "b": prev.last_id})
        db.session.execute(sa.text("ALTER TABLE incidents DISABLE TRIGGER trg_incidents_assign_grid"))
        PHASES["csv"] = PHASES["copy"] = 0.0
        for text_chunk in _timed(chunks(), "csv"):
            t0 = time.perf_counter()
            _copy("incidents", columns, text_chunk)
            PHASES["copy"] += time.perf_counter() - t0
        db.session.execute(sa.text("ALTER TABLE incidents ENABLE TRIGGER trg_incidents_assign_grid"))
        PHASES["rebuild indexes/keys"] = -time.perf_counter()
    if bulk.indexes:
        PHASES["rebuild indexes/keys"] += time.perf_counter()
    else:
        PHASES.pop("rebuild indexes/keys", None)
    _record("incidents", seed, n, first, last)
    return n


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


def seed_positions(n: int, seed: int, days: int = 30, now: dt.datetime | None = None) -> int:
    """``n`` synthetic GPS fixes from synthetic patrol phones, COPYed into the monthly partitions."""
    if n <= 0:
        return 0
    if not db.session.scalar(sa.text("SELECT to_regclass('positions') IS NOT NULL")):
        raise RuntimeError("no positions table in this database (the patrols migration is missing)")
    prev = _run("positions", seed)
    if prev and prev.rows == n:
        return 0
    now = now or dt.datetime.now(TZ)
    days = max(1, min(days, 60))
    prefix = f"scale-{seed}-"
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
    PHASES.clear()
    with _phase("generate"):
        dev, t, lon, lat, acc, speed = generate_positions(n, seed, days, now, len(device_ids), centres)
    columns = ["device_id", "fixed_at", "user_id", "geom", "accuracy", "speed", "source"]
    PHASES["csv"] = PHASES["copy"] = 0.0
    size = 500_000
    # A big batch beside what is there: build the GiST and time indexes once afterwards (the
    # primary key stays, so resends stay impossible); partitioned indexes cascade to every month.
    existing = db.session.scalar(sa.text(
        "SELECT coalesce(sum(c.reltuples), 0) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'positions'::regclass"))
    bulk = bulk_load("positions", enabled=n >= 500_000 and n >= 0.3 * max(existing or 0, 0))
    with bulk:
        for a in range(0, n, size):
            b = min(n, a + size)
            t0 = time.perf_counter()
            text_chunk = _csv([device_ids[dev[a:b]].astype(str), _iso(t[a:b]), np.full(b - a, str(user_id)),
                               _ewkb_hex(lon[a:b], lat[a:b]), acc[a:b].astype(str), speed[a:b].astype(str),
                               np.full(b - a, "scale")])
            t1 = time.perf_counter()
            _copy("positions", columns, text_chunk)
            PHASES["csv"] += t1 - t0
            PHASES["copy"] += time.perf_counter() - t1
        PHASES["rebuild indexes/keys"] = -time.perf_counter()
    if bulk.indexes:
        PHASES["rebuild indexes/keys"] += time.perf_counter()
    else:
        PHASES.pop("rebuild indexes/keys", None)
    _record("positions", seed, n, None, None)
    return n


def seed_scale(incidents: int = 0, positions: int = 0, grids: int = 0, buildings: int = 0, seed: int = 1,
               days: int = 365, log=print) -> dict:
    """Everything asked for, each part in its own transaction, with timings."""
    out = {}
    for name, fn, arg in (("grids", seed_areas, grids), ("buildings", seed_buildings, buildings),
                          ("incidents", seed_incidents, incidents)):
        if not arg:
            continue
        t0 = time.perf_counter()
        added = fn(arg, seed) if name != "incidents" else fn(arg, seed, days)
        db.session.commit()
        out[name] = added
        log(f"seed scale: {name}: {added:,} added in {time.perf_counter() - t0:.1f} s"
            + ("" if added else " (already present for this seed)"))
        if name == "incidents" and added:
            log("  " + ", ".join(f"{k} {v:.1f} s" for k, v in PHASES.items()))
    if positions:
        t0 = time.perf_counter()
        added = seed_positions(positions, seed, min(days, 30))
        db.session.commit()
        out["positions"] = added
        log(f"seed scale: positions: {added:,} added in {time.perf_counter() - t0:.1f} s"
            + ("" if added else " (already present for this seed)"))
        if added:
            log("  " + ", ".join(f"{k} {v:.1f} s" for k, v in PHASES.items()))
            db.session.execute(sa.text("ANALYZE positions"))
            db.session.commit()
    if out.get("incidents", 0) + out.get("buildings", 0) >= BULK_ROWS:
        # VACUUM as well as ANALYZE after a bulk load: it marks the pages all-visible, so that the
        # dashboard's covering indexes answer from the index alone from the first request on
        # (autovacuum would get there later). VACUUM cannot run inside a transaction.
        t0 = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in ("VACUUM (ANALYZE) incidents", "VACUUM (ANALYZE) buildings", "VACUUM (ANALYZE) areas"):
                conn.execute(sa.text(statement))
        log(f"seed scale: VACUUM (ANALYZE) in {time.perf_counter() - t0:.1f} s")
    elif out.get("incidents") or out.get("buildings"):
        db.session.execute(sa.text("ANALYZE incidents"))
        db.session.execute(sa.text("ANALYZE buildings"))
        db.session.execute(sa.text("ANALYZE areas"))
        db.session.commit()
    return out
