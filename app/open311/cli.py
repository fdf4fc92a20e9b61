"""``flask open311 keys-create --name N`` / ``keys-revoke PREFIX``: Open311 API keys for the admin."""

import click
from flask.cli import AppGroup

from app.open311.keys import KEY_SOURCES, create_key, revoke_key

open311_cli = AppGroup("open311", help="Open311 API keys.")


@open311_cli.command("keys-create")
@click.option("--name", required=True, help="who gets the key, e.g. 幸福号人民专线")
@click.option(
    "--source",
    default="open311",
    type=click.Choice(KEY_SOURCES),
    help="incident source recorded for requests posted with this key",
)
def keys_create(name, source):
    """Issue a key and print it once."""
    _, key = create_key(name, source=source)
    click.echo(key)


@open311_cli.command("keys-revoke")
@click.argument("prefix")
def keys_revoke(prefix):
    """Revoke the keys starting with PREFIX (first 8 characters)."""
    click.echo(f"revoked {revoke_key(prefix)}")
