"""Migrations upgrade and downgrade: a round trip on a scratch database leaves nothing behind."""

from contextlib import contextmanager
from pathlib import Path

import flask_migrate
import psycopg2
import pytest
from alembic.script import ScriptDirectory
from psycopg2 import sql
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from app.core.extensions import db
from tests.conftest import database_url, make_test_app, recreate_database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
HEAD = "0026_walked_days"


def test_migrations_are_one_linear_chain_numbered_in_order():
    script = ScriptDirectory(str(MIGRATIONS))
    assert script.get_heads() == [HEAD]
    chain = list(reversed(list(script.walk_revisions())))
    assert [r.revision[:4] for r in chain] == [f"{i:04d}" for i in range(1, len(chain) + 1)]
    for r in chain:
        assert Path(r.path).stem == r.revision  # the file is named after its revision
        assert r.down_revision is None if r.revision.startswith("0001") else isinstance(r.down_revision, str)


def _drop(url):
    u = make_url(url)
    conn = psycopg2.connect(dbname="postgres", host=u.host, port=u.port, user=u.username, password=u.password)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(u.database)))
    conn.close()


@contextmanager
def demo_at(suffix: str, revision: str):
    """A scratch database ``<test db>_<suffix>`` with the demo data, migrated to head and then down to
    ``revision``: the body runs in its app context (write rows as that version would, upgrade, check);
    the database is dropped afterwards."""
    from app.seed.demo import seed_demo

    url = database_url(suffix)
    recreate_database(url)
    application = make_test_app(url)
    try:
        with application.app_context():
            flask_migrate.upgrade(revision="head")
            seed_demo()
            db.session.commit()
            flask_migrate.downgrade(revision=revision)
            yield
            db.session.remove()
            db.engine.dispose()
    finally:
        _drop(url)


def _ours():
    """Tables, and wuwei_* functions and procrastinate's functions and types (the job queue's schema),
    in the public schema, apart from PostGIS's and Alembic's."""
    tables = set(inspect(db.engine).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
    with db.engine.connect() as conn:
        functions = set(
            conn.execute(
                text(
                    "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " WHERE n.nspname = 'public' AND (proname LIKE 'wuwei%' OR proname LIKE 'procrastinate%')"
                    " UNION SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                    " WHERE n.nspname = 'public' AND typname LIKE 'procrastinate%'"
                )
            ).scalars()
        )
    return tables, functions


@pytest.mark.no_transaction
def test_upgrade_downgrade_upgrade_round_trip():
    url = database_url("migr")
    recreate_database(url)
    app = make_test_app(url)
    try:
        with app.app_context():
            flask_migrate.upgrade(revision="head")
            tables, functions = _ours()
            assert set(db.metadata.tables) <= tables, set(db.metadata.tables) - tables
            assert {"wuwei_grid_of", "wuwei_assign_grid", "wuwei_regrid"} <= functions
            assert {"procrastinate_jobs", "import_jobs"} <= tables
            assert {"procrastinate_defer_jobs_v1", "procrastinate_job_status"} <= functions

            flask_migrate.downgrade(revision="base")
            assert _ours() == (set(), set())

            flask_migrate.upgrade(revision="head")
            assert set(db.metadata.tables) <= _ours()[0]

            # A database migrated before the renumbering carries an old id: it is relabelled, not lost.
            flask_migrate.downgrade(revision="0008_dashboard_covering")
            with db.engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = '0007_dashboard_covering'"))
            flask_migrate.upgrade(revision="head")
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
            db.session.remove()
            db.engine.dispose()
    finally:
        _drop(url)
