"""Content negotiation for tiles: brotli or gzip by ``Accept-Encoding``, and ETags per encoding.

A tile is compressed once per response, at levels measured to cost a fraction of the tile's SQL
(docs/benchmarks.md). Each encoding is its own representation, so its ETag carries a suffix; an
``If-None-Match`` names whichever one the client holds.
"""

import gzip

import brotli

GZIP_LEVEL = 5
BROTLI_QUALITY = 4
MIN_BYTES = 256  # smaller tiles go as they are


def negotiate(accept_encoding, size: int) -> str | None:
    """ "br", "gzip" or None for a body of ``size`` bytes, from werkzeug's parsed ``Accept-Encoding``."""
    if size < MIN_BYTES:
        return None
    if accept_encoding["br"] > 0:
        return "br"
    if accept_encoding["gzip"] > 0:
        return "gzip"
    return None


def preferred(accept_encoding) -> str | None:
    """The encoding a large tile would be sent in (``negotiate`` without the size)."""
    return negotiate(accept_encoding, MIN_BYTES)


def encode(data: bytes, encoding: str | None) -> bytes:
    if encoding == "br":
        return brotli.compress(data, quality=BROTLI_QUALITY)
    if encoding == "gzip":
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    return data


def etag(base: str, encoding: str | None) -> str:
    return f"{base}-{encoding}" if encoding else base
