"""The fast path of ``seed scale``: COPY in CSV, hex EWKB points, indexes rebuilt once, timings.

Rows never pass through the ORM: numpy columns become CSV text that ``COPY`` reads; raw psycopg2
is used only for ``COPY`` and for the index and key DDL taken from the catalogue (the project's SQL
rule). Every batch is recorded in ``seed_scale_runs`` (kind, seed, rows, id range).
"""
import io
import time

import numpy as np
import sqlalchemy as sa
from psycopg2 import sql

from app.core.extensions import db

BULK_ROWS = 50_000                    # a batch this big: indexes rebuilt after COPY, tables vacuumed after
PHASES: dict[str, float] = {}


def last_run(kind: str, seed: int):
    return db.session.execute(sa.text("SELECT rows, first_id, last_id FROM seed_scale_runs "
                                      "WHERE kind = :k AND seed = :s"), {"k": kind, "s": seed}).first()


def already_there(kind: str, seed: int, rows: int):
    """``(done, previous)``: done when ``rows`` rows of ``kind`` were already made with ``seed`` (or none
    are asked for); ``previous`` is the earlier batch of another size, to replace."""
    if rows <= 0:
        return True, None
    prev = last_run(kind, seed)
    return bool(prev and prev.rows == rows), prev


def record_run(kind: str, seed: int, rows: int, first_id, last_id) -> None:
    db.session.execute(sa.text(
        "INSERT INTO seed_scale_runs (kind, seed, rows, first_id, last_id) VALUES (:k, :s, :r, :f, :l) "
        "ON CONFLICT (kind, seed) DO UPDATE SET rows = :r, first_id = :f, last_id = :l, created_at = now()"),
        {"k": kind, "s": seed, "r": rows, "f": first_id, "l": last_id})


def copy_csv(table: str, columns: list[str], text: str) -> None:
    cur = db.session.connection().connection.cursor()
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    cur.copy_expert(stmt, io.StringIO(text))


def iso(ts: np.ndarray) -> np.ndarray:
    """Epoch seconds → ISO 8601 UTC timestamps ('…Z'), '' for NaN (NULL in COPY csv)."""
    ok = ~np.isnan(ts)
    t = np.where(ok, ts, 0).astype("int64").astype("datetime64[s]")
    return np.where(ok, np.datetime_as_string(t, unit="s", timezone="UTC"), "")


def ewkb_hex(lon: np.ndarray, lat: np.ndarray, srid: int = 4326) -> np.ndarray:
    """Points as hex EWKB (what COPY reads fastest into a geometry column), without a Python loop."""
    rec = np.zeros(len(lon), dtype=[("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])
    rec["order"], rec["type"], rec["srid"], rec["x"], rec["y"] = 1, 0x20000001, srid, lon, lat
    hexed = rec.tobytes().hex().encode()
    return np.frombuffer(hexed, dtype="S50").astype(str)


def csv_text(columns: list[np.ndarray]) -> str:
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


class phase:
    """Times a phase of the last batch into PHASES (printed by the command)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        PHASES[self.name] = time.perf_counter() - self.t0
        return False


def timed(iterable, name):
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


def finish_bulk(bulk: "bulk_load") -> None:
    """Record how long rebuilding indexes and keys took (started by the caller inside ``bulk``)."""
    if bulk.indexes:
        PHASES["rebuild indexes/keys"] += time.perf_counter()
    else:
        PHASES.pop("rebuild indexes/keys", None)
