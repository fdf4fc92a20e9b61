"""SQL helpers written once: planner settings for index-driven reads, LIKE escaping, a row or 404,
unique violations as 409, and statements built once per *shape*.

The project's SQL style (docs/architecture.md): SQLAlchemy Core or ORM for reads and writes, with
bound parameters; raw psycopg2 only for ``COPY``; planner settings only through :func:`index_driven`.

**Statement cache.** A Core statement built and compiled per *shape*, then run as SQL text.

Views that ask the same shape of query over and over (a heat map on every pan, a dashboard's ~40
figures) spent more time building Core statements and their cache keys than PostgreSQL spent
running them. A :class:`StatementCache` builds a statement the first time its key is seen, keeps the
compiled SQL and the values fixed at build time, and from then on only binds the values that change
(named ``bindparam``\\ s made with :func:`param`). Execution still goes through SQLAlchemy
(``exec_driver_sql``), so the statements stay visible to logging, the tests' query counter and the
benchmarks' capture.
"""
from collections.abc import Callable
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.core.errors import ApiError
from app.core.extensions import db

UNIQUE_VIOLATION = "23505"      # PostgreSQL's SQLSTATE for a unique index
MAX_ID = 2**31 - 1              # the largest ``integer`` key; a larger id names no row

# Index-driven reads (tiles, heat cells, OGC pages, map lists): a parallel plan scans the whole table
# instead of walking the GiST index (12x slower at z14, DESIGN.md), and JIT compilation costs more
# than it saves on millisecond queries.
INDEX_DRIVEN = "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off"


def index_driven() -> None:
    """Plan the rest of this transaction for index-driven reads (see :data:`INDEX_DRIVEN`)."""
    db.session.execute(sa.text(INDEX_DRIVEN))


def like_escape(text_: str) -> str:
    """``text_`` with LIKE wildcards and the escape character taken literally."""
    return text_.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")


def one_or_404(stmt: sa.Select, message: str):
    """The row ``stmt`` selects, else 404 with ``message``.

    Put the user's reach in ``stmt``'s ``where``: a row outside it is not told apart from an unknown id.
    """
    row = db.session.scalar(stmt)
    if row is None:
        raise ApiError(404, message)
    return row


def get_or_404(model, row_id: int, message: str):
    """The row of ``model`` with primary key ``row_id``, else 404 with ``message``."""
    row = db.session.get(model, row_id) if 0 < row_id <= MAX_ID else None
    if row is None:
        raise ApiError(404, message)
    return row


@contextmanager
def conflict_as_409(message: str, fields: dict | None = None):
    """Run the block's writes in a savepoint; a unique violation (two requests racing) becomes 409.

    The block must add and flush its rows: ``with conflict_as_409(...): db.session.add(x); db.session.flush()``.
    """
    try:
        with db.session.begin_nested():
            yield
    except IntegrityError as e:
        if getattr(e.orig, "pgcode", None) != UNIQUE_VIOLATION:
            raise
        raise ApiError(409, message, fields) from None


def param(name: str) -> sa.BindParameter:
    """A named parameter whose value comes with each run, none at compile time."""
    return sa.bindparam(name, required=False)


class StatementCache:
    """Compiled SQL per key; ``is_dynamic(name)`` tells the per-run parameters from the fixed ones.

    The key must name every input that changes the statement (its shape, and the values compiled in);
    ``tests/test_read_side.py`` checks that by compiling afresh for every request and comparing.
    ``index_driven=True`` sends :data:`INDEX_DRIVEN` in the same round trip as each statement.
    """

    def __init__(self, is_dynamic: Callable[[str], bool], index_driven: bool = False, maxsize: int = 2048):
        self.is_dynamic = is_dynamic
        self.prefix = INDEX_DRIVEN + "; " if index_driven else ""
        self.maxsize = maxsize
        self._cache: dict[tuple, tuple[str, dict]] = {}

    def compile(self, build: Callable[[], sa.Executable]) -> tuple[str, dict]:
        """SQL text and fixed parameter values of ``build()``'s statement (no caching)."""
        compiled = build().compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
        fixed = {k: v for k, v in compiled.params.items() if not self.is_dynamic(k)}
        return self.prefix + str(compiled), fixed

    def compiled(self, key: tuple, build: Callable[[], sa.Executable]) -> tuple[str, dict]:
        """SQL text and fixed parameter values of ``build()``'s statement, compiled once per ``key``."""
        hit = self._cache.get(key)
        if hit is None:
            hit = self.compile(build)
            if len(self._cache) >= self.maxsize:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def run(self, key: tuple, build: Callable[[], sa.Executable], values: dict) -> list:
        """Rows of the statement for ``key`` with ``values``, on the session's connection."""
        # Connect first: the dialect learns how to quote (backslashes in ESCAPE '\\' literals, from
        # standard_conforming_strings) on its first connection, and the SQL is compiled once.
        conn = db.session.connection()
        sql, fixed = self.compiled(key, build)
        return conn.exec_driver_sql(sql, {**fixed, **values}).fetchall()
