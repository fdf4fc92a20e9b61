"""Creates the database named in a URL when it is missing, with the PostGIS extension."""
import sys

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url


def ensure_database(url: str) -> None:
    """Connect to the server's maintenance database and create ``url``'s database if absent."""
    u = make_url(url)
    params = dict(host=u.host, port=u.port, user=u.username, password=u.password)
    admin = psycopg2.connect(dbname="postgres", **params)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(u.database)))
    admin.close()
    conn = psycopg2.connect(dbname=u.database, **params)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.close()


if __name__ == "__main__":
    ensure_database(sys.argv[1])
