"""Keyset (cursor) paging: a ``next`` link names the last row it showed, not how many rows to skip.

``OFFSET 99000`` makes PostgreSQL walk 99,000 rows before the page; a cursor ``id > 123456`` starts
where the last page ended, so page 1,000 costs what page 1 costs. The cursor carries the sort keys
of the boundary row and the direction (``n`` after it, ``p`` before it), signed with the app's
secret so that a changed cursor is refused (400) rather than run.

Every sort key is ordered ``NULLS LAST`` (reversed when reading backwards), and ``id`` ends every
order, so the order is total and no row is shown twice or skipped.
"""
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, cast, false, literal, or_

_SALT = "wuwei-ogcapi-cursor"


class CursorError(ValueError):
    """A cursor that was not issued for this query."""


@dataclass(frozen=True)
class Cursor:
    """The boundary row's sort keys (``id`` last) and which side of it the page lies on."""
    keys: tuple
    before: bool = False


@dataclass(frozen=True)
class SortKey:
    """One ``ORDER BY`` term: a SQL expression and its direction."""
    sql: object
    desc: bool = False


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def encode(keys: list, before: bool, sort_spec: str) -> str:
    """A cursor for the row with ``keys`` under the order ``sort_spec``."""
    return _serializer().dumps({"k": list(keys), "p": int(before), "s": sort_spec})


def decode(token: str, sort_spec: str, n_keys: int) -> Cursor:
    """The :class:`Cursor` in ``token``, or :class:`CursorError` when it is not ours or not for this order."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise CursorError("cursor is not valid (follow the next and prev links as given)") from None
    if not isinstance(data, dict) or data.get("s") != sort_spec or len(data.get("k") or ()) != n_keys:
        raise CursorError("cursor belongs to another sort order (follow the next and prev links as given)")
    return Cursor(tuple(data["k"]), bool(data.get("p")))


def order_by(keys: list[SortKey], backwards: bool = False) -> list:
    """``ORDER BY`` terms: NULLS LAST in reading order, everything reversed for a backwards read."""
    terms = []
    for k in keys:
        desc = k.desc != backwards
        term = k.sql.desc() if desc else k.sql.asc()
        terms.append(term.nulls_first() if backwards else term.nulls_last())
    return terms


def _bound(key: SortKey, value):
    return cast(literal(value), key.sql.type)


def after(keys: list[SortKey], values: tuple, backwards: bool = False):
    """Condition: the row comes after (``backwards``: before) the row with ``values`` in reading order."""
    if not keys:
        return false()
    key, value, rest = keys[0], values[0], (keys[1:], values[1:])
    further = after(*rest, backwards) if rest[0] else false()
    col = key.sql
    if not backwards:
        if value is None:                              # only NULLs follow a NULL
            return and_(col.is_(None), further) if rest[0] else false()
        beyond = col < _bound(key, value) if key.desc else col > _bound(key, value)
        return or_(col.is_(None), beyond, and_(col == _bound(key, value), further))
    if value is None:
        return or_(col.is_not(None), and_(col.is_(None), further)) if rest[0] else col.is_not(None)
    before = col > _bound(key, value) if key.desc else col < _bound(key, value)
    return or_(and_(col.is_not(None), before), and_(col == _bound(key, value), further))

