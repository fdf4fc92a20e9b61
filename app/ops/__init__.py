"""Running Wuwei for years: ``flask backup``/``flask restore`` (database + media, checked by a manifest)
and ``flask retention run`` (old GPS positions and audit entries archived to (Geo)Parquet, then removed).

A package of the adapters floor: it speaks to PostgreSQL's own programs and to the file system, and
reads the features' tables only through their models. docs/operations.md is its manual.
"""


def init_app(app) -> None:
    """Register the ``backup``, ``restore`` and ``retention`` commands."""
    from app.ops import cli

    app.cli.add_command(cli.backup_cmd)
    app.cli.add_command(cli.restore_cmd)
    app.cli.add_command(cli.retention_cli)
