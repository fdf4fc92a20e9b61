"""Versions of editable records: ``ETag`` on their answers, ``If-Match`` on writes (412 when stale).

A feature declares each kind of editable record once (:class:`Versioned`) and names it in its
endpoints (``endpoint(..., versioned=HOUSEHOLD)``); :func:`app.web.api.endpoint` then

* answers one record (GET, and a write that answers the record) with its ``ETag``;
* on a write with ``If-Match``: locks the row (``FOR UPDATE``), compares, and refuses a stale tag with
  412 and the error envelope before the view runs — nothing is changed. ``If-Match: *`` matches any
  existing record; a write without ``If-Match`` works as before (clients that don't send it).

**The version is PostgreSQL's ``xmin``**, the id of the transaction that wrote the row's current
version. Every table has it, so no migration and no version column are needed, and it changes on
every write whoever makes it: an ORM flush, a Core ``UPDATE`` (the layer API), a trigger (a building
moved to another grid), an import, ``psql``. SQLAlchemy's ``version_id_col`` would need a column on
every table and only counts ORM flushes. A record whose writes also replace rows of another table
(a household's tag list) adds those rows to its version (``parts``). The tag is a hash of
(kind, id, version): it says nothing about the database's transaction counter.

The tag is read where it cannot run ahead of what the client saw: for a read, before the view builds
the answer (a write in between makes the tag stale, so the next write is refused, not lost); for a
write, inside its transaction just before it commits (the row is locked by then). It identifies the
stored record, not the bytes of the answer: a computed value (the name of a grid) may change without
it. It is for ``If-Match``; answers to logged-in users are ``no-store`` anyway.
"""

import hashlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import make_response, request
from sqlalchemy import ColumnElement, and_, event, func, literal_column, select
from sqlalchemy.sql import FromClause

from app.core.errors import ApiError
from app.core.extensions import db

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Versioned:
    """A kind of editable record.

    ``table``: its table (or an alias); ``key``: the URL's path argument naming the record, matched
    against ``column``; ``visible``: a function returning the SQL condition for rows the request's user
    may see (a stale ``If-Match`` on a row they can't see is left to the view: 404, as without it);
    ``parts``: SQL texts over ``table`` (by its name) that add other rows the record's writes replace.
    ``route``: a function returning a condition that names the record's shard for the request's user, or
    None (a table that would be distributed, docs/scaling.md).
    """

    name: str
    table: FromClause
    key: str
    column: str = "id"
    visible: Callable[[], ColumnElement[bool]] | None = None
    parts: tuple[str, ...] = field(default=())
    route: Callable[[], ColumnElement[bool] | None] | None = None

    def version_expr(self):
        xmin = literal_column(f"{self.table.name}.xmin::text")
        return func.concat_ws(":", xmin, *(literal_column(p) for p in self.parts)) if self.parts else xmin

    def read(self, ident, lock: bool = False, visible_only: bool = False) -> str | None:
        """The record's version, or None when there is none (or none the user may see)."""
        cond = [self.table.c[self.column] == ident]
        if visible_only and self.visible is not None:
            cond.append(self.visible())
        elif self.route is not None and (shard := self.route()) is not None:
            cond.append(shard)
        stmt = select(self.version_expr()).select_from(self.table).where(and_(*cond))
        if lock:
            stmt = stmt.with_for_update(of=self.table)
        return db.session.execute(stmt).scalar()

    def etag(self, ident, version: str) -> str:
        """The tag (without quotes) of one version of one record."""
        return hashlib.blake2b(f"{self.name}/{ident}/{version}".encode(), digest_size=12).hexdigest()


def check_if_match(kind: Versioned, ident) -> str | None:
    """412 when the request's ``If-Match`` names another version of the record; its version otherwise.

    The row stays locked until the write commits, so no other writer slips in between.
    """
    version = kind.read(ident, lock=True, visible_only=True)
    if version is not None and not request.if_match.contains(kind.etag(ident, version)):
        raise ApiError(
            412,
            "the record was changed since you read it (If-Match names an older version); "
            "read it again and redo your change",
            {"If-Match": "stale"},
        )
    return version


@contextmanager
def _version_at_commit(kind: Versioned, ident, seen: list):
    """Record the record's version inside each commit of the block, before it is made."""
    session = db.session()

    def before_commit(_session):
        session.flush()  # what the commit would write: a Core read doesn't autoflush
        seen.append(kind.read(ident))

    event.listen(session, "before_commit", before_commit)
    try:
        yield
    finally:
        event.remove(session, "before_commit", before_commit)


def call_versioned(kind: Versioned, view: Callable, args, kwargs, tags_answer: bool = True):
    """Run ``view`` for the record named by ``kwargs[kind.key]``, with the rules above."""
    ident = kwargs[kind.key]
    writing = request.method not in SAFE_METHODS
    if writing and request.if_match:
        version = check_if_match(kind, ident)
    else:
        version = kind.read(ident)
    seen: list = []
    if writing:
        with _version_at_commit(kind, ident, seen):
            response = make_response(view(*args, **kwargs))
    else:
        response = make_response(view(*args, **kwargs))
    if seen:
        version = seen[-1]
    if tags_answer and version is not None and 200 <= response.status_code < 300 and response.status_code != 204:
        response.set_etag(kind.etag(ident, version))
    return response


def child_rows(table: str, parent_column: str, owner: str, order: str = "id") -> str:
    """A version part: the ids and versions of ``table``'s rows whose ``parent_column`` is the record's id
    (``owner``: the record's table name). Rows added, removed or changed all change it."""
    # Table and column names are constants of the code that declares the version, never input.
    return (
        f"(SELECT string_agg(c.{order}::text || '.' || c.xmin::text, ',' ORDER BY c.{order})"  # nosec B608
        f" FROM {table} c WHERE c.{parent_column} = {owner}.id)"  # nosec B608
    )
