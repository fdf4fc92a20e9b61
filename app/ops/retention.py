"""Retention: GPS positions, device events and audit entries older than N months go to Parquet files, then
leave the database.

**Positions** (monthly partitions ``positions_YYYYMM``, app/patrols): a month whose end is before the
cut-off — the first day of the oldest month kept, ``WUWEI_POSITIONS_RETENTION_MONTHS`` (13) months
counting this one, in Asia/Shanghai — is

1. detached from ``positions`` (a catalogue change; ``lock_timeout`` 5 s, tried three times, so it
   never queues long behind a slow query while every other query waits behind it),
2. written to ``ARCHIVE/positions/positions_YYYYMM.parquet`` (GeoParquet, read back to count its rows),
3. dropped.

A month detached but not yet archived (a run that stopped half-way) is taken up by the next run.
Late rows of archived months that the default partition caught are archived and deleted too.

**Audit entries** (``audit_log``, not partitioned): month by month, the rows of a month older than
``WUWEI_AUDIT_RETENTION_MONTHS`` (13) are written to ``ARCHIVE/audit_log/audit_log_YYYYMM[-n].parquet``
and deleted in the same REPEATABLE READ transaction (exactly the rows written are deleted).

**Device events** (``device_events``: alarms, heartbeats, region transitions — personal data like
positions, kept as long: ``WUWEI_DEVICE_EVENTS_RETENTION_MONTHS``, by default the positions' months) are
archived like audit entries, month by month, to ``ARCHIVE/device_events/device_events_YYYYMM[-n].parquet``
(GeoParquet: they carry the place), acknowledgements included.

Why the project's own command and not pg_partman: the archive needs Python (GeoParquet through
pyarrow) anyway, partitions are already made by the project's ``wuwei_ensure_position_partitions``,
and an existing PostgreSQL (``DATABASE_URL``) may not allow another extension and its background
worker. Run it from a systemd timer or cron (docs/operations.md).
"""

import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg2 import errors, sql

from app.core.time import TZ
from app.ops import archive
from app.ops.pgtools import OpsError, connect

PARTITION = re.compile(r"positions_(\d{4})(\d{2})")


@dataclass
class Settings:
    positions_months: int = 13
    audit_months: int = 13
    events_months: int = 13
    archive_dir: Path = Path("var/archive")


def month_start(day: dt.date, back: int = 0) -> dt.datetime:
    """Midnight (Asia/Shanghai) of the first day of the month ``back`` months before ``day``'s."""
    index = day.year * 12 + day.month - 1 - back
    return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=TZ)


def cutoff(months: int, today: dt.date | None = None) -> dt.datetime:
    """The first instant kept: ``months`` calendar months are kept, this one included."""
    if months < 1:
        raise OpsError("a retention must keep at least 1 month")
    return month_start(today or dt.datetime.now(TZ).date(), months - 1)


def _partitions(cur) -> list[tuple[str, bool, dt.datetime]]:
    """(name, attached, end of its month) of every ``positions_YYYYMM`` table, attached or left detached."""
    cur.execute("""
        SELECT c.relname, EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid
                                  AND i.inhparent = 'positions'::regclass)
        FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
          AND c.relname ~ '^positions_[0-9]{6}$' ORDER BY 1""")
    out = []
    for name, attached in cur.fetchall():
        year, month = map(int, PARTITION.fullmatch(name).groups())
        out.append((name, attached, month_start(dt.date(year, month, 1), -1)))
    return out


def _detach(conn, name: str) -> None:
    for attempt in range(3):
        try:
            with conn.cursor() as cur:
                cur.execute("SET LOCAL lock_timeout = '5s'")
                cur.execute(sql.SQL("ALTER TABLE positions DETACH PARTITION {}").format(sql.Identifier(name)))
            conn.commit()
            return
        except errors.LockNotAvailable:
            conn.rollback()
            time.sleep(2 * (attempt + 1))
    raise OpsError(f"could not detach {name}: queries held positions for 3 tries of 5 s; run again later")


def _archive_partition(conn, name: str, attached: bool, directory: Path) -> dict:
    if attached:
        _detach(conn, name)
    path = directory / "positions" / f"{name}.parquet"
    conn.set_session(isolation_level="REPEATABLE READ")
    try:
        rows = archive.export_rows(conn, name, None, (), path)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))
            if cur.fetchone()[0] != rows:
                raise OpsError(f"{name} changed while it was archived; nothing dropped, run again")
            cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        conn.commit()
    finally:
        conn.rollback()
        conn.set_session(isolation_level="READ COMMITTED")
    return {"what": name, "rows": rows, "file": str(path)}


def _free_name(directory: Path, stem: str) -> Path:
    path, n = directory / f"{stem}.parquet", 1
    while path.exists():
        n += 1
        path = directory / f"{stem}-{n}.parquet"
    return path


def _archive_rows(conn, table: str, column: str, start: dt.datetime | None, end: dt.datetime, path: Path) -> int:
    """Write the rows of ``table`` with ``start <= column < end`` to ``path`` and delete exactly those."""
    where = sql.SQL("{c} < %s").format(c=sql.Identifier(column))
    params: tuple = (end,)
    if start is not None:
        where = sql.SQL("{c} >= %s AND {c} < %s").format(c=sql.Identifier(column))
        params = (start, end)
    conn.set_session(isolation_level="REPEATABLE READ")
    try:
        rows = archive.export_rows(conn, table, where, params, path)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DELETE FROM {} WHERE ").format(sql.Identifier(table)) + where, params)
            if cur.rowcount != rows:
                raise OpsError(f"{table}: {cur.rowcount} rows to delete but {rows} archived; nothing deleted")
        conn.commit()
    except BaseException:
        conn.rollback()
        path.unlink(missing_ok=True)
        raise
    finally:
        conn.set_session(isolation_level="READ COMMITTED")
    return rows


def _months(cur, table: str, column: str, before: dt.datetime) -> list[dt.datetime]:
    """The months (their first instant) of ``table``'s rows before ``before``, oldest first."""
    query = sql.SQL("SELECT min({c}) FROM {t} WHERE {c} < %s").format(c=sql.Identifier(column), t=sql.Identifier(table))
    cur.execute(query, (before,))
    first = cur.fetchone()[0]
    if first is None:
        return []
    months, m = [], month_start(first.astimezone(TZ).date())
    while m < before:
        months.append(m)
        m = month_start(m.date(), -1)
    return months


def _archive_months(conn, table: str, column: str, before: dt.datetime, directory: Path) -> list[dict]:
    """Archive and delete ``table``'s rows before ``before``, one file per month."""
    with conn.cursor() as cur:
        months = _months(cur, table, column, before)
    conn.rollback()
    done = []
    for m in months:
        path = _free_name(directory / table, f"{table}_{m:%Y%m}")
        rows = _archive_rows(conn, table, column, m, month_start(m.date(), -1), path)
        done.append({"what": f"{table} {m:%Y-%m}", "rows": rows, "file": str(path)})
    return done


def plan(url: str, settings: Settings) -> list[str]:
    """What :func:`run` would do now, one line each."""
    pos_cut, audit_cut = cutoff(settings.positions_months), cutoff(settings.audit_months)
    events_cut = cutoff(settings.events_months)
    out = [
        (
            f"positions: keep from {pos_cut:%Y-%m-%d}; device_events: keep from {events_cut:%Y-%m-%d}; "
            f"audit_log: keep from {audit_cut:%Y-%m-%d}; archive in {settings.archive_dir}"
        )
    ]
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            for name, attached, end in _partitions(cur):
                if end <= pos_cut:
                    out.append(f"{name}: {'attached' if attached else 'detached'}, archive and drop")
            cur.execute("SELECT count(*) FROM positions_default WHERE fixed_at < %s", (pos_cut,))
            if n := cur.fetchone()[0]:
                out.append(f"positions_default: {n} rows before {pos_cut:%Y-%m-%d}, archive and delete")
            cur.execute(
                "SELECT to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), count(*) FROM audit_log "
                "WHERE at < %s GROUP BY 1 ORDER BY 1",
                (audit_cut,),
            )
            out += [f"audit_log {month}: {n} rows, archive and delete" for month, n in cur.fetchall()]
            cur.execute(
                "SELECT to_char(happened_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), count(*) FROM device_events "
                "WHERE happened_at < %s GROUP BY 1 ORDER BY 1",
                (events_cut,),
            )
            out += [f"device_events {month}: {n} rows, archive and delete" for month, n in cur.fetchall()]
    finally:
        conn.close()
    return out


def run(url: str, settings: Settings, today: dt.date | None = None) -> list[dict]:
    """Archive and remove what is older than the retention; what was done (``what``, ``rows``, ``file``)."""
    pos_cut = cutoff(settings.positions_months, today)
    done = []
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            old = [(n, a) for n, a, end in _partitions(cur) if end <= pos_cut]
        conn.rollback()
        for name, attached in old:
            done.append(_archive_partition(conn, name, attached, settings.archive_dir))
        stamp = dt.datetime.now(TZ).strftime("%Y%m%d%H%M%S")
        path = _free_name(settings.archive_dir / "positions", f"positions_default_before_{pos_cut:%Y%m}_{stamp}")
        with conn.cursor() as cur:
            cur.execute("SELECT EXISTS (SELECT 1 FROM positions_default WHERE fixed_at < %s)", (pos_cut,))
            late = cur.fetchone()[0]
        conn.rollback()
        if late:
            rows = _archive_rows(conn, "positions_default", "fixed_at", None, pos_cut, path)
            done.append({"what": "positions_default", "rows": rows, "file": str(path)})
        for table, column, months in (
            ("audit_log", "at", settings.audit_months),
            ("device_events", "happened_at", settings.events_months),
        ):
            done += _archive_months(conn, table, column, cutoff(months, today), settings.archive_dir)
    finally:
        conn.close()
    return done
