"""Reads that may be served by a streaming replica (``DATABASE_READ_URL``), writes on the primary.

Read-only views (heat maps, the dashboard, exports, tiles, OGC API) run their statements inside
:func:`read_only` (or under the :func:`replica_reads` decorator): for the duration of the block
``db.session`` is a session on a connection to the replica, so the views' code — and the services it
calls — stays as it is. Everything else, and everything outside the block (loading the user,
recording an audit entry, any write), goes to the primary.

When ``DATABASE_READ_URL`` is unset the block does nothing: the reads stay on the primary session.
When the replica cannot be reached (a refused connection fails at once; an unreachable host within
libpq's ``connect_timeout``, 2 s at least), the block runs on the primary and the replica is not
tried again for ``WUWEI_REPLICA_RETRY`` seconds (10 by default), so the app answers as before.
A replica failing in the middle of a block fails that request (503, as the primary would).

A hot standby replays the primary's WAL, usually well under a second behind; a read that must see
its own write (an incident just reported) must not run in the block.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_login import current_user
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.core.extensions import db
from app.core.metrics import REPLICA_READS

log = logging.getLogger(__name__)
EXTENSION = "wuwei.replica"


class Replica:
    """The read engine of one application, and whether the replica is believed down."""

    def __init__(self, url: str, retry_seconds: float, engine_options: dict):
        self.url = url
        self.retry_seconds = retry_seconds
        self.engine_options = engine_options
        self.down_until = 0.0
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> sa.Engine:
        """Created on first use, so that every gunicorn worker opens its own pool after the fork."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = sa.create_engine(self.url, **self.engine_options)
        return self._engine

    def is_down(self) -> bool:
        return time.monotonic() < self.down_until

    def mark_down(self, error: BaseException) -> None:
        if not self.is_down():
            log.warning(
                "replica unreachable (%s): reads go to the primary for %g s",
                error.__class__.__name__,
                self.retry_seconds,
            )
        self.down_until = time.monotonic() + self.retry_seconds
        if self._engine is not None:
            self._engine.dispose()  # connections of a restarted replica are all broken

    def connect(self) -> sa.Connection | None:
        """A checked connection to the replica, or None (and marked down) when it cannot be had."""
        if self.is_down():
            return None
        try:
            return self.engine.connect()  # pool_pre_ping: a dead pooled connection is replaced
        except DBAPIError as e:
            self.mark_down(e)
            return None

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def read_engine_options(config: dict) -> dict:
    """The primary's engine options for the replica, with a ping on checkout and a short connect timeout."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    connect_args["connect_timeout"] = int(config.get("WUWEI_REPLICA_CONNECT_TIMEOUT", 2))
    options.update(connect_args=connect_args, pool_pre_ping=True)
    return options


def replica_of(app) -> Replica | None:
    """The application's replica, or None when ``DATABASE_READ_URL`` is unset."""
    if EXTENSION not in app.extensions:
        url = app.config.get("DATABASE_READ_URL")
        app.extensions[EXTENSION] = (
            Replica(url, float(app.config.get("WUWEI_REPLICA_RETRY", 10)), read_engine_options(app.config))
            if url
            else None
        )
    return app.extensions[EXTENSION]


@contextmanager
def read_only() -> Iterator[str]:
    """Run the block's ``db.session`` statements on the replica when there is one; yields where they
    run (``"replica"`` or ``"primary"``). Nothing in the block may write."""
    replica = replica_of(current_app)
    conn = replica.connect() if replica is not None else None
    if conn is None:
        if replica is not None:
            REPLICA_READS.labels("primary").inc()
        yield "primary"
        return
    if has_request_context():
        current_user._get_current_object()  # the user (and a bearer token) are read on the primary
    registry = db.session.registry
    previous = registry() if registry.has() else None
    session = Session(bind=conn, autoflush=False, info={"replica": True})  # nothing may write through it
    registry.set(session)
    REPLICA_READS.labels("replica").inc()
    try:
        yield "replica"
    except DBAPIError as e:
        if e.connection_invalidated:  # the replica went away in the middle of the block
            replica.mark_down(e)
        raise
    finally:
        try:
            session.close()
            conn.close()
        finally:
            if previous is not None:
                registry.set(previous)
            else:
                registry.clear()


def replica_reads(view: Callable) -> Callable:
    """Decorator form of :func:`read_only` for a whole view (put it under ``@endpoint``/``@login_required``)."""

    @functools.wraps(view)
    def call(*args, **kwargs):
        with read_only():
            return view(*args, **kwargs)

    return call


def replica_status(app) -> dict:
    """For ``/readyz`` and ``/metrics``: configured or not, reachable, in recovery, seconds behind."""
    replica = replica_of(app)
    if replica is None:
        return {"status": "not configured"}
    try:
        with replica.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT pg_is_in_recovery(), CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
                    "THEN 0 ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
                )
            ).one()
    except DBAPIError as e:
        replica.mark_down(e)
        return {"status": "down", "reads": "primary"}
    replica.down_until = 0.0
    lag = None if row[1] is None else round(float(row[1]), 3)
    return {"status": "ok" if row[0] else "not a standby", "in_recovery": bool(row[0]), "lag_seconds": lag}
