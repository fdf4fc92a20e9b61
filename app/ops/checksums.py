"""Row counts and checksums of every table, and sha256 of every media file: what a backup records and
a restore must reproduce.

A table's checksum is the sum of the first 60 bits of each row's md5 (its text form, as PostgreSQL
prints it with the application's time zone): independent of row order and physical layout, one pass
over the table, no sort. Tables that belong to an extension (PostGIS's ``spatial_ref_sys``) are left
out: the extension makes them.
"""

import hashlib
from pathlib import Path

from psycopg2 import sql

TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
ORDER BY 1, 2
"""


def user_tables(cur) -> list[tuple[str, str]]:
    cur.execute(TABLES)
    return cur.fetchall()


def table_checksums(cur) -> dict[str, dict]:
    """``{"schema.table": {"rows": n, "checksum": "…"}}`` for every table, read in ``cur``'s transaction."""
    out = {}
    for schema, name in user_tables(cur):
        cur.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text "
                "FROM {}.{} t"
            ).format(sql.Identifier(schema), sql.Identifier(name))
        )
        rows, checksum = cur.fetchone()
        out[f"{schema}.{name}"] = {"rows": rows, "checksum": checksum}
    return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def media_files(root: Path) -> dict[str, dict]:
    """``{"relative/path": {"bytes": n, "sha256": "…"}}`` of every regular file under ``root`` (not the
    ``.….part`` files of a write in progress, :func:`app.core.media.write_files`)."""
    if not root.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and not (p.name.startswith(".") and p.name.endswith(".part"))
    }


def differences(expected: dict, found: dict) -> list[str]:
    """What differs between two ``{name: {...}}`` maps, one line each."""
    out = [f"{k}: missing" for k in expected if k not in found]
    out += [f"{k}: not in the backup" for k in found if k not in expected]
    out += [
        f"{k}: {expected[k]} in the backup, {found[k]} now" for k in expected if k in found and expected[k] != found[k]
    ]
    return out
