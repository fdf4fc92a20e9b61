"""``flask backup`` and ``flask restore``: a round trip into a fresh empty database on the same server
reproduces the row count and checksum of every table and the bytes of every media file."""

import json
import tarfile

import pytest
from sqlalchemy.engine import make_url

from app.core.extensions import db
from app.ops import checksums
from app.ops.pgtools import connect
from tests.conftest import database_url, make_test_app, recreate_database

pytestmark = pytest.mark.no_transaction


def _state(url: str) -> dict:
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            tables = checksums.table_checksums(cur)
            counts = {}
            for name in tables:
                cur.execute(f"SELECT count(*) FROM {name}")
                counts[name] = cur.fetchone()[0]
        return {"tables": tables, "counts": counts}
    finally:
        conn.close()


@pytest.fixture
def media(app):
    root = app.config["MEDIA_ROOT"]
    from pathlib import Path

    files = {
        "incidents/7/a1b2.jpg": b"\xff\xd8\xff photo bytes",
        "incidents/7/a1b2.thumb.jpg": b"\xff\xd8 thumb",
        "wishes/2026/wish.png": b"\x89PNG wish",
        "imports/big.gpkg": bytes(range(256)) * 40,
    }
    for rel, data in files.items():
        p = Path(root) / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    yield files
    for rel in files:
        (Path(root) / rel).unlink()


def test_backup_then_restore_into_an_empty_database_reproduces_every_table_and_file(app, media, tmp_path):
    source_url = app.config["SQLALCHEMY_DATABASE_URI"]
    r = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backups")])
    assert r.exit_code == 0, r.output
    backup = tmp_path / "backups" / r.output.strip().rsplit("/", 1)[-1]
    assert backup.exists() and backup.suffix == ".tar" and not list(tmp_path.glob("backups/*.part"))

    with tarfile.open(backup) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = set(tar.getnames())
    source = _state(source_url)
    assert manifest["tables"] == source["tables"]
    assert {k: v["rows"] for k, v in manifest["tables"].items()} == source["counts"]
    assert source["counts"]["public.incidents"] > 0 and source["counts"]["public.alembic_version"] == 1
    assert manifest["database"]["alembic"] and manifest["database"]["postgis"].startswith("3")
    assert "pg_dump (PostgreSQL)" in manifest["database"]["pg_dump"]
    assert {f"media/{rel}" for rel in media} <= names and "database.dump" in names
    assert manifest["media"]["count"] == len(media)

    target_url = database_url("restore")
    recreate_database(target_url)
    restored = make_test_app(target_url, MEDIA_ROOT=str(tmp_path / "restored-media"))
    with restored.app_context():
        r = restored.test_cli_runner().invoke(args=["restore", str(backup)])
        db.engine.dispose()
    assert r.exit_code == 0, r.output
    assert "every count and checksum matches" in r.output
    target = _state(target_url)
    assert target == source
    for rel, data in media.items():
        assert (tmp_path / "restored-media" / rel).read_bytes() == data

    # Restoring again: the database is no longer empty, and nothing is touched.
    with restored.app_context():
        again = restored.test_cli_runner().invoke(args=["restore", str(backup)])
        db.engine.dispose()
    assert again.exit_code != 0 and "not empty" in again.output
    _drop(target_url)


def test_a_damaged_dump_is_refused_before_anything_is_restored(app, tmp_path):
    r = app.test_cli_runner().invoke(args=["backup", str(tmp_path)])
    assert r.exit_code == 0, r.output
    backup = next(tmp_path.glob("wuwei-backup-*.tar"))
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(backup) as src, tarfile.open(damaged, "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else None
            if m.name == "database.dump":
                data = data[:-100] + bytes(100)
            dst.addfile(m, None if data is None else __import__("io").BytesIO(data))
    target_url = database_url("restore")
    recreate_database(target_url)
    restored = make_test_app(target_url, MEDIA_ROOT=str(tmp_path / "m"))
    with restored.app_context():
        r = restored.test_cli_runner().invoke(args=["restore", str(damaged)])
        db.engine.dispose()
    assert r.exit_code != 0 and "damaged" in r.output
    assert _state(target_url)["tables"] == {}
    _drop(target_url)


def _drop(url: str) -> None:
    import psycopg2

    u = make_url(url)
    conn = psycopg2.connect(dbname="postgres", host=u.host, port=u.port, user=u.username, password=u.password)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    conn.close()
