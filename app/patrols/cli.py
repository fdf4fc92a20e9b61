"""``flask devices register|renew|list`` and ``flask patrols partitions``."""

import click
from flask.cli import AppGroup

from app.core.errors import ApiError
from app.patrols.devices import all_devices, device_by_identifier, issue_secret, register_device
from app.patrols.partitions import ensure_partitions

devices_cli = AppGroup("devices", help="Tracking devices (Traccar Client, OwnTracks).")
patrols_cli = AppGroup("patrols", help="Patrols and the positions table.")


def _fail(e: ApiError):
    detail = "; ".join(f"{k}: {v}" for k, v in e.fields.items())
    raise click.ClickException(e.message + (f" ({detail})" if detail else ""))


def _show_secret(d, secret: str) -> None:
    click.echo(f"device {d.identifier} of {d.user.username}")
    click.echo(f"secret (shown once; Traccar Client's device identifier, OwnTracks' password): {secret}")


@devices_cli.command("register")
@click.option("--user", "username", required=True, help="Owner's user name.")
@click.option("--name", default="", help="A label, e.g. 'iphone' or 'Li Ziqin's phone'.")
@click.option("--kind", default="traccar", type=click.Choice(["traccar", "owntracks", "other"]))
@click.option("--identifier", default="", help="Public name (default user/name); not a credential.")
@click.option("--secret", default="", help="Omit: a random one is issued. Else ≥20 characters, hard to guess.")
def register_cmd(username, name, kind, identifier, secret):
    """Register a device for a user and print its secret once; its fixes land in that user's patrols."""
    try:
        d, secret = register_device(username, name, kind, secret or None, identifier)
    except ApiError as e:
        _fail(e)
    _show_secret(d, secret)


@devices_cli.command("renew")
@click.argument("identifier")
def renew_cmd(identifier):
    """Issue a new secret for the device IDENTIFIER (its public name); the old secret stops working."""
    d = device_by_identifier(identifier)
    if d is None or d.kind == "web":
        raise click.ClickException(f"no device {identifier!r} (flask devices list)")
    _show_secret(d, issue_secret(d))


@devices_cli.command("list")
@click.option("--user", "username", default=None)
def list_cmd(username):
    """List registered devices."""
    for d in all_devices():
        if username and d.user.username != username:
            continue
        state = ("active" if d.active else "inactive") + (
            "" if d.secret_hash or d.kind == "web" else ", needs a secret"
        )
        click.echo(f"{d.identifier:<32} {d.kind:<10} {d.user.username:<14} {state}")


@patrols_cli.command("partitions")
@click.option("--months-ahead", default=3, show_default=True, type=click.IntRange(0, 120))
@click.option("--months-back", default=1, show_default=True, type=click.IntRange(0, 120))
def partitions_cmd(months_ahead, months_back):
    """Create the monthly partitions of positions around now (run monthly, e.g. from cron)."""
    n = ensure_partitions(months_ahead, months_back)
    click.echo(f"positions: {n} partition(s) created")
