"""Migrations are safe on a live database: none holds a long lock that stops writes to a big table.

Each migration is run on its own, from its parent, on a database where the big tables (those DESIGN's
scale makes large: incidents, positions, buildings, households, visits, audit entries …) already exist,
and what its transaction did to each of them is read from PostgreSQL itself:

* **rewrite** — the table's file changed (``relfilenode``): ``ALTER COLUMN … TYPE``, a volatile default,
  ``VACUUM FULL``: the whole table copied under an ACCESS EXCLUSIVE lock;
* **index built under a write lock** — a SHARE lock on the table: ``CREATE INDEX`` without
  ``CONCURRENTLY`` reads the whole table while no row can be written;
* **constraint validated in place** — a new foreign key or check that is already valid: the table was
  scanned under the lock (add it ``NOT VALID``, then ``VALIDATE CONSTRAINT`` in a later step);
* **strong lock without lock_timeout** — SHARE ROW EXCLUSIVE or stronger, even for a moment (a new
  trigger, a new column), taken with no ``lock_timeout`` set before it in the migration: queued behind
  one slow query, it would stop every query after it.

Which locks and rewrites happen does not depend on how many rows there are, so the tables need not be
full (the measure of *how long* is the row count: at district scale an index build on incidents takes
seconds to minutes, docs/scaling.md). Migrations written before this rule are listed in :data:`KNOWN`
with what they do; the test fails for any new migration that does one of the above, and for a
:data:`KNOWN` entry that no longer happens.
"""

import re

import flask_migrate
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import event, text

from app.core.extensions import db
from tests.conftest import database_url, make_test_app, recreate_database

pytestmark = [pytest.mark.slow, pytest.mark.no_transaction]

BIG = re.compile(
    r"^(incidents|incident_transitions|positions(_\d{6}|_default)?|buildings|households|"
    r"household_members|visits|audit_log)$"
)
STRONG = {"ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}

# Written before the rule, when no district's data was in a database; each applied once per install.
KNOWN = {
    ("0003_incidents", "incidents"): {"index built under a write lock", "constraint validated in place"},
    ("0004_households", "buildings"): {"strong lock without lock_timeout"},
    ("0005_hardening_regrid", "buildings"): {"strong lock without lock_timeout"},
    ("0007_heatmaps", "incidents"): {"index built under a write lock"},
    ("0008_dashboard_covering", "buildings"): {"index built under a write lock"},
    ("0008_dashboard_covering", "incidents"): {"index built under a write lock"},
    ("0010_open311_updates", "incident_transitions"): {"index built under a write lock"},
    ("0010_open311_updates", "incidents"): {"strong lock without lock_timeout"},
}
STATE = """
SELECT c.oid, c.relname, c.relfilenode FROM pg_class c
WHERE c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace
"""
CONSTRAINTS = "SELECT oid, conrelid, contype, convalidated FROM pg_constraint WHERE contype IN ('f', 'c')"
LOCKS = (
    "SELECT l.relation, l.mode FROM pg_locks l WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted"
)


class Watch:
    """The locks the migration's connection holds after each statement, and whether lock_timeout was set."""

    def __init__(self):
        self.locks: dict[int, set[str]] = {}
        self.unguarded: dict[int, set[str]] = {}
        self.guarded = False

    def __call__(self, conn, cursor, statement, params, context, executemany):
        if re.search(r"\bSET\s+(LOCAL\s+)?lock_timeout\b", statement, re.IGNORECASE):
            self.guarded = True
        raw = cursor.connection.cursor()
        raw.execute(LOCKS)
        for oid, mode in raw.fetchall():
            self.locks.setdefault(oid, set()).add(mode)
            if not self.guarded and mode in STRONG:
                self.unguarded.setdefault(oid, set()).add(mode)
        raw.close()


def _revisions(app) -> list[str]:
    directory = app.extensions["migrate"].directory
    return [r.revision for r in reversed(list(ScriptDirectory(directory).walk_revisions()))]


def _state(conn) -> tuple[dict, dict]:
    tables = {oid: (name, node) for oid, name, node in conn.execute(text(STATE))}
    cons = {oid: (rel, typ, valid) for oid, rel, typ, valid in conn.execute(text(CONSTRAINTS))}
    return tables, cons


def _findings(before, after, watch: Watch) -> dict[str, set[str]]:
    (tables0, cons0), (tables1, cons1) = before, after
    out: dict[str, set[str]] = {}
    for oid, (name, node) in tables0.items():
        if not BIG.match(name) or oid not in tables1:
            continue
        found = set()
        if node and tables1[oid][1] != node:
            found.add("rewrite")
        if "ShareLock" in watch.locks.get(oid, ()):
            found.add("index built under a write lock")
        if any(rel == oid and valid and c not in cons0 for c, (rel, _, valid) in cons1.items()):
            found.add("constraint validated in place")
        if watch.unguarded.get(oid) and not found:
            found.add("strong lock without lock_timeout")
        if found:
            out[name] = found
    return out


def test_no_migration_locks_a_big_table_for_long():
    url = database_url("locks")
    recreate_database(url)
    app = make_test_app(url)
    seen: dict[tuple[str, str], set[str]] = {}
    with app.app_context():
        for rev in _revisions(app):
            with db.engine.connect() as conn:
                before = _state(conn)
            watch = Watch()
            event.listen(db.engine, "after_cursor_execute", watch)
            try:
                flask_migrate.upgrade(revision=rev)
            finally:
                event.remove(db.engine, "after_cursor_execute", watch)
            with db.engine.connect() as conn:
                after = _state(conn)
            for table, what in _findings(before, after, watch).items():
                seen[(rev, table)] = what
        db.engine.dispose()
    new = {k: v for k, v in seen.items() if KNOWN.get(k) != v}
    assert not new, (
        "migrations that would stop writes to a big table on a live database (use CREATE INDEX "
        "CONCURRENTLY in an autocommit_block, NOT VALID then VALIDATE, SET lock_timeout first): "
        f"{new}"
    )
    gone = set(KNOWN) - set(seen)
    assert not gone, f"KNOWN lists what no longer happens: {gone}"
