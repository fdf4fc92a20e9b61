"""Tiles made once: a cache keyed by layers, z/x/y, the user's area and the data versions of their tables.

A tile is rebuilt only when a table it is drawn from was written. Each map table carries a version
(``table_versions``, migration 0015), changed by a statement trigger on every write — the API, an
import, psql — from a sequence, so a number is never handed out twice, even after a rollback. A
request reads the versions of its tables (one indexed look-up, in the same read as the tile), and
the cache key holds them: a write makes every older entry of that table unreachable, and the bounded
LRU lets them age out. The ETag is derived from the key, so ``If-None-Match`` answers 304 without
building the tile at all; the compressed bodies are kept beside the raw tile (compression cost
about as much as a small tile's SQL).

One cache per application and process (``app.extensions``), bounded in bytes
(``WUWEI_TILE_CACHE_MB``, 0 turns it off): gunicorn workers each fill their own.
"""

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from app.core.extensions import db

EXTENSION = "wuwei.tile_cache"
_VERSIONS = sa.text("SELECT name, version FROM table_versions WHERE name = ANY(:names)")


@dataclass
class Entry:
    """One tile: its raw bytes and the encodings made of it so far."""

    data: bytes
    encoded: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.data) + sum(len(v) for v in self.encoded.values()) + 200


class TileCache:
    """A thread-safe LRU of :class:`Entry` bounded in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = self.misses = 0
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: tuple, entry: Entry) -> None:
        if entry.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old.size
            self._entries[key] = entry
            self.bytes += entry.size
            while self.bytes > self.max_bytes:
                _, gone = self._entries.popitem(last=False)
                self.bytes -= gone.size

    def encoded(self, key: tuple, entry: Entry, coding: str, encode) -> bytes:
        """``entry``'s body in ``coding``, made once."""
        body = entry.encoded.get(coding)
        if body is None:
            body = encode(entry.data, coding)
            with self._lock:
                if key in self._entries and coding not in entry.encoded:
                    entry.encoded[coding] = body
                    self.bytes += len(body)
        return body

    def __len__(self) -> int:
        return len(self._entries)


def cache() -> TileCache | None:
    """The application's tile cache, or None when ``WUWEI_TILE_CACHE_MB`` is 0."""
    app = current_app
    if EXTENSION not in app.extensions:
        mb = float(app.config.get("TILE_CACHE_MB", 64))
        app.extensions[EXTENSION] = TileCache(int(mb * 1024 * 1024)) if mb > 0 else None
    return app.extensions[EXTENSION]


def versions(tables: tuple[str, ...]) -> tuple:
    """The data versions of ``tables`` now (in the session the tile is read in)."""
    found = dict(db.session.execute(_VERSIONS, {"names": list(tables)}).all())
    return tuple(found.get(t, 0) for t in tables)


def etag_base(key: tuple) -> str:
    """The ETag (unquoted, before the encoding's suffix) of the tile a key names."""
    return hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
