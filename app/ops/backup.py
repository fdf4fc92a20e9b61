"""``flask backup [DIR]`` and ``flask restore FILE``: the database and the media files in one tar file.

A backup ``wuwei-backup-YYYYMMDD-HHMMSS.tar`` holds

* ``database.dump`` — ``pg_dump -Fc`` of the application's database (restorable with ``pg_restore``);
* ``media/…`` — every file under ``MEDIA_ROOT`` (photos, files waiting for import);
* ``manifest.json`` — versions (PostgreSQL, PostGIS, pg_dump, the Alembic revision), the sha256 of the
  dump, the row count and checksum of every table (:mod:`app.ops.checksums`), the size and sha256 of
  every media file.

The counts and checksums are read in the very snapshot ``pg_dump`` dumps (``pg_export_snapshot`` →
``pg_dump --snapshot``), and the media files are walked after it, so a photo whose row is in the dump
is in the backup too. The tar is written as ``….tar.part`` and renamed when complete.

A restore goes into an **empty** database (only extensions in it) and an empty media directory, checks
the dump's sha256 first, restores in one transaction, then recomputes every table's count and checksum
and every file's sha256 and fails, naming them, when one differs from the manifest.
"""

import datetime as dt
import io
import json
import shutil
import subprocess  # nosec B404 (pg_dump and pg_restore, with argument lists, no shell)
import tarfile
import tempfile
from pathlib import Path

from app.core.time import TZ
from app.ops import checksums
from app.ops.pgtools import OpsError, connect, libpq, pg_program, run, version_of

FORMAT = 1


def _database_facts(cur) -> dict:
    cur.execute(
        "SELECT current_database(), current_setting('server_version'), "
        "(SELECT extversion FROM pg_extension WHERE extname = 'postgis')"
    )
    name, server, postgis = cur.fetchone()
    cur.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
    alembic = []
    if cur.fetchone()[0]:
        cur.execute("SELECT version_num FROM alembic_version ORDER BY 1")
        alembic = [r[0] for r in cur.fetchall()]
    return {"name": name, "server_version": server, "postgis": postgis, "alembic": alembic}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(dt.datetime.now().timestamp())
    tar.addfile(info, io.BytesIO(data))


def create_backup(url: str, media_root: Path, directory: Path) -> Path:
    """Write a backup of the database at ``url`` and of ``media_root`` into ``directory``; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(TZ).strftime("%Y%m%d-%H%M%S")
    final = directory / f"wuwei-backup-{stamp}.tar"
    part = final.with_suffix(".tar.part")
    pg_dump = pg_program("pg_dump")
    args, env = libpq(url)
    conn = connect(url)
    try:
        with tempfile.TemporaryDirectory(prefix="wuwei-backup-", dir=directory) as tmp:
            dump = Path(tmp) / "database.dump"
            with conn.cursor() as cur:
                cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cur.execute("SELECT pg_export_snapshot()")
                snapshot = cur.fetchone()[0]
                dumping = subprocess.Popen(  # nosec B603 (argument list of trusted paths)
                    [pg_dump, *args, "-Fc", "--snapshot", snapshot, "-f", str(dump)],
                    env=env,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                try:
                    manifest = {
                        "format": FORMAT,
                        "created_at": dt.datetime.now(TZ).isoformat(timespec="seconds"),
                        "database": _database_facts(cur),
                        "tables": checksums.table_checksums(cur),
                    }
                finally:
                    _, err = dumping.communicate()  # the snapshot must live until pg_dump has it
                conn.rollback()
            if dumping.returncode != 0:
                raise OpsError(f"pg_dump failed (exit {dumping.returncode}): {err.strip()[-2000:]}")
            manifest["database"].update(
                file="database.dump",
                bytes=dump.stat().st_size,
                sha256=checksums.file_sha256(dump),
                pg_dump=version_of(pg_dump),
            )
            media = checksums.media_files(media_root)
            manifest["media"] = {"files": media, "count": len(media), "bytes": sum(f["bytes"] for f in media.values())}
            with tarfile.open(part, "w") as tar:
                tar.add(dump, "database.dump")
                for rel in media:
                    tar.add(media_root / rel, f"media/{rel}")
                _add_bytes(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        part.rename(final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    return final


def read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        manifest = json.load(tar.extractfile("manifest.json"))
    except KeyError:
        raise OpsError("not a Wuwei backup: no manifest.json in the file") from None
    if manifest.get("format") != FORMAT:
        raise OpsError(
            f"backup format {manifest.get('format')!r} is not {FORMAT}: restore it with the version "
            "of Wuwei that made it"
        )
    return manifest


def _check_empty(cur, media_root: Path) -> None:
    tables = checksums.user_tables(cur)
    if tables:
        names = ", ".join(f"{s}.{t}" for s, t in tables[:5])
        raise OpsError(
            f"the database is not empty ({len(tables)} tables: {names} …): restore into a new "
            "database (createdb; CREATE EXTENSION postgis), never over a live one"
        )
    if media_root.is_dir() and any(p.is_file() for p in media_root.rglob("*")):
        raise OpsError(f"the media directory {media_root} is not empty: restore into an empty one (WUWEI_MEDIA)")


def restore_backup(url: str, media_root: Path, backup: Path) -> dict:
    """Restore ``backup`` into the empty database at ``url`` and the empty ``media_root``; the manifest."""
    pg_restore = pg_program("pg_restore")
    args, env = libpq(url)
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            _check_empty(cur, media_root)
        conn.rollback()
        with tarfile.open(backup, "r:") as tar, tempfile.TemporaryDirectory(prefix="wuwei-restore-") as tmp:
            manifest = read_manifest(tar)
            dump = Path(tmp) / "database.dump"
            with tar.extractfile("database.dump") as src, open(dump, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            if checksums.file_sha256(dump) != manifest["database"]["sha256"]:
                raise OpsError("database.dump does not match the sha256 in the manifest: the backup is damaged")
            # COMMENT ON EXTENSION needs the extension's owner: left out, so an ordinary role can restore.
            listing = subprocess.run([pg_restore, "-l", str(dump)], capture_output=True, text=True, check=True).stdout  # nosec B603 (argument list)
            todo = Path(tmp) / "list"
            todo.write_text("\n".join(line for line in listing.splitlines() if " COMMENT - EXTENSION " not in line))
            run(
                [
                    pg_restore,
                    *args,
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    "-L",
                    str(todo),
                    str(dump),
                ],
                env,
                "restoring the database",
            )
            media_root.mkdir(parents=True, exist_ok=True)
            members = [m for m in tar.getmembers() if m.name.startswith("media/") and m.isfile()]
            for m in members:
                m.name = m.name[len("media/") :]
            tar.extractall(media_root, members=members, filter="data")
        with conn.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            problems = checksums.differences(manifest["tables"], checksums.table_checksums(cur))
        conn.rollback()
        problems += checksums.differences(manifest["media"]["files"], checksums.media_files(media_root))
        if problems:
            raise OpsError("the restored copy differs from the backup's manifest:\n  " + "\n  ".join(problems[:50]))
        return manifest
    finally:
        conn.close()
