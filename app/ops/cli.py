"""The commands: ``flask backup [DIR]``, ``flask restore FILE``, ``flask retention run|plan``."""

import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from app.core.config import var_dir
from app.ops import backup, retention
from app.ops.pgtools import OpsError


def _url() -> str:
    return current_app.config["SQLALCHEMY_DATABASE_URI"]


def _media() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


@click.command("backup")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_cmd(directory: Path | None):
    """Back up the database and the media files into one tar file in DIRECTORY
    (default: WUWEI_BACKUP_DIR, else var/backups); prints its path."""
    directory = directory or Path(os.environ.get("WUWEI_BACKUP_DIR") or var_dir() / "backups")
    try:
        path = backup.create_backup(_url(), _media(), directory)
    except OpsError as e:
        raise click.ClickException(str(e)) from None
    click.echo(str(path))


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_cmd(file: Path):
    """Restore a backup FILE into the (empty) database of DATABASE_URL and the (empty) WUWEI_MEDIA,
    then check every table and file against the backup's manifest."""
    try:
        manifest = backup.restore_backup(_url(), _media(), file)
    except OpsError as e:
        raise click.ClickException(str(e)) from None
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(
        f"restored {len(manifest['tables'])} tables ({rows} rows) and {manifest['media']['count']} media "
        f"files of {manifest['created_at']}; every count and checksum matches the manifest"
    )


retention_cli = AppGroup(
    "retention", help="Archive old GPS positions, device events and audit entries, then remove them."
)


def _plan_options(f):
    f = click.option(
        "--archive",
        "archive_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where the Parquet files go (default: WUWEI_ARCHIVE_DIR, else var/archive).",
    )(f)
    return f


def _settings(archive_dir: Path | None) -> retention.Settings:
    cfg = current_app.config
    return retention.Settings(
        positions_months=int(cfg.get("WUWEI_POSITIONS_RETENTION_MONTHS", 13)),
        audit_months=int(cfg.get("WUWEI_AUDIT_RETENTION_MONTHS", 13)),
        events_months=int(
            cfg.get("WUWEI_DEVICE_EVENTS_RETENTION_MONTHS") or cfg.get("WUWEI_POSITIONS_RETENTION_MONTHS", 13)
        ),
        archive_dir=archive_dir or Path(cfg.get("WUWEI_ARCHIVE_DIR") or var_dir() / "archive"),
    )


@retention_cli.command("plan")
@_plan_options
def plan_cmd(archive_dir: Path | None):
    """Say what ``retention run`` would archive and remove now; change nothing."""
    settings = _settings(archive_dir)
    for line in retention.plan(_url(), settings):
        click.echo(line)


@retention_cli.command("run")
@_plan_options
def run_cmd(archive_dir: Path | None):
    """Archive positions partitions, device events and audit entries older than the retention to
    (Geo)Parquet files, check each file, then drop the partitions and delete the rows."""
    settings = _settings(archive_dir)
    try:
        done = retention.run(_url(), settings)
    except OpsError as e:
        raise click.ClickException(str(e)) from None
    for item in done:
        click.echo(f"archived {item['rows']} rows of {item['what']} to {item['file']}")
    if not done:
        click.echo("nothing older than the retention")
