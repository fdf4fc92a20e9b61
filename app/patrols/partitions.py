"""The monthly partitions of ``positions`` (Asia/Shanghai months, see migration ``0004_patrols``)."""
import time

from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.core.extensions import db
from app.core.time import TZ

CHECK_SECONDS = 6 * 3600
_checked = [0.0]


def ensure_partitions(months_ahead: int = 3, months_back: int = 1) -> int:
    """Create missing monthly partitions of ``positions`` around now; returns how many were made."""
    n = db.session.execute(text("SELECT wuwei_ensure_position_partitions(:a, :b)"),
                           {"a": months_ahead, "b": months_back}).scalar()
    db.session.commit()
    return n


def ensure_partitions_for(times) -> None:
    """Partitions for the months (Asia/Shanghai) of ``times``, e.g. before importing an old track."""
    months = sorted({t.astimezone(TZ).date().replace(day=1) for t in times})
    for m in months:
        db.session.execute(text("SELECT wuwei_position_partition(:m)"), {"m": m})


def ensure_partitions_now_and_then(conn: Connection) -> None:
    """On the ingest path, once every few hours per process: months ahead exist before they start.

    A safety net beside ``flask patrols partitions`` in cron; the function is idempotent, so processes
    need not agree on when they last ran it.
    """
    now = time.monotonic()
    if _checked[0] and now - _checked[0] < CHECK_SECONDS:
        return
    _checked[0] = now
    conn.execute(text("SELECT wuwei_ensure_position_partitions(2, 0)"))
