"""Rate-limit counters in PostgreSQL, shared by every worker and every app server.

Flask-Limiter's default in-memory storage counts per process: with gunicorn's workers a limit of
10 login attempts a minute allowed 19. This storage (for the ``limits`` library's fixed-window
strategy) keeps one row per key in the ``rate_limits`` table; each hit is one autocommitted
``INSERT … ON CONFLICT`` on a small connection pool of its own, so a request that fails and
rolls back still counts. URI: ``postgresql+wuwei://user@host:port/db`` (the app's database).
"""

import random
import time
from typing import ClassVar

import sqlalchemy as sa
from limits.storage import Storage

_INCR = sa.text("""
    INSERT INTO rate_limits AS r (key, hits, expires_at)
    VALUES (:k, :a, clock_timestamp() + make_interval(secs => :e))
    ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN r.expires_at <= clock_timestamp() THEN :a ELSE r.hits + :a END,
        expires_at = CASE WHEN r.expires_at <= clock_timestamp()
                          THEN clock_timestamp() + make_interval(secs => :e) ELSE r.expires_at END
    RETURNING hits""")
_GET = sa.text("SELECT hits FROM rate_limits WHERE key = :k AND expires_at > clock_timestamp()")
_EXPIRY = sa.text("SELECT extract(epoch FROM expires_at) FROM rate_limits WHERE key = :k")
_PURGE = sa.text("DELETE FROM rate_limits WHERE expires_at < clock_timestamp() - interval '1 hour'")


class PostgresStorage(Storage):
    """Fixed-window counters in the ``rate_limits`` table."""

    STORAGE_SCHEME: ClassVar[list[str]] = ["postgresql+wuwei"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.engine = sa.create_engine(
            "postgresql" + uri[len("postgresql+wuwei") :],
            pool_size=2,
            max_overflow=4,
            pool_pre_ping=True,
            connect_args={"options": "-c jit=off"},
        )

    @property
    def base_exceptions(self):
        return sa.exc.SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self.engine.begin() as conn:
            hits = conn.execute(_INCR, {"k": key, "a": amount, "e": expiry}).scalar_one()
            if random.random() < 0.01:  # nosec B311 (now and then, forget windows long gone; no secret)
                conn.execute(_PURGE)
        return hits

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(_GET, {"k": key}).scalar() or 0

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as conn:
            return float(conn.execute(_EXPIRY, {"k": key}).scalar() or time.time())

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(sa.text("DELETE FROM rate_limits")).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM rate_limits WHERE key = :k"), {"k": key})


def storage_uri(database_url: str) -> str:
    """The storage URI for the app's database URL."""
    scheme, sep, rest = database_url.partition("://")
    return f"postgresql+wuwei://{rest}" if sep and scheme.startswith("postgres") else "memory://"
