"""Creates the database named in a URL when it is missing, with the PostGIS extension.

A failure ends with one line on standard error saying what failed and what to do (exit 1).
"""

import sys

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url


class SetupError(Exception):
    """A failure explained for the person running the set-up."""


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def ensure_database(url: str) -> None:
    """Connect to the server's maintenance database and create ``url``'s database if absent."""
    u = make_url(url)
    where = f"{u.host or 'localhost'}:{u.port or 5432}"
    params = {"host": u.host, "port": u.port, "user": u.username, "password": u.password}
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=10, **params)
    except psycopg2.OperationalError as exc:
        raise SetupError(
            f"cannot connect to PostgreSQL at {where} as {u.username} ({_first_line(exc)}); "
            "start it (make db) or fix DATABASE_URL / PGPORT"
        ) from exc
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(u.database)))
    except psycopg2.Error as exc:
        raise SetupError(
            f"cannot create the database {u.database} on {where} ({_first_line(exc)}); "
            "create it yourself or use a role that may (CREATEDB)"
        ) from exc
    finally:
        admin.close()
    try:
        conn = psycopg2.connect(dbname=u.database, connect_timeout=10, **params)
    except psycopg2.OperationalError as exc:
        raise SetupError(
            f"cannot connect to the database {u.database} on {where} ({_first_line(exc)}); "
            "check DATABASE_URL and the role's rights"
        ) from exc
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg2.Error as exc:
        raise SetupError(
            f"cannot add PostGIS to {u.database} on {where} ({_first_line(exc)}); install "
            "postgresql-15-postgis-3 on that server (make setup does it locally) or have a "
            "superuser run CREATE EXTENSION postgis"
        ) from exc
    finally:
        conn.close()


if __name__ == "__main__":
    try:
        ensure_database(sys.argv[1])
    except SetupError as exc:
        print(f"db: {exc}", file=sys.stderr)
        sys.exit(1)
