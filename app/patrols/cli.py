"""``flask devices register|list`` and ``flask patrols partitions``."""
import click
from flask.cli import AppGroup

from app.core.errors import ApiError
from app.patrols.devices import all_devices, register_device
from app.patrols.partitions import ensure_partitions

devices_cli = AppGroup("devices", help="Tracking devices (Traccar Client, OwnTracks).")
patrols_cli = AppGroup("patrols", help="Patrols and the positions table.")


def _fail(e: ApiError):
    detail = "; ".join(f"{k}: {v}" for k, v in e.fields.items())
    raise click.ClickException(e.message + (f" ({detail})" if detail else ""))


@devices_cli.command("register")
@click.option("--user", "username", required=True, help="Owner's user name.")
@click.option("--identifier", required=True,
              help="Traccar Client 'device identifier', or OwnTracks 'user/device'.")
@click.option("--name", default="", help="A label, e.g. 'Li Ziqin's phone'.")
@click.option("--kind", default="traccar", type=click.Choice(["traccar", "owntracks", "web", "other"]))
def register_cmd(username, identifier, name, kind):
    """Tie a device identifier to a user; its fixes then land in that user's patrols."""
    try:
        d = register_device(username, identifier, name, kind)
    except ApiError as e:
        _fail(e)
    click.echo(f"registered device {d.identifier} for {username}")


@devices_cli.command("list")
@click.option("--user", "username", default=None)
def list_cmd(username):
    """List registered devices."""
    for d in all_devices():
        if username and d.user.username != username:
            continue
        click.echo(f"{d.identifier:<32} {d.kind:<10} {d.user.username:<14} {'active' if d.active else 'inactive'}")


@patrols_cli.command("partitions")
@click.option("--months-ahead", default=3, show_default=True, type=click.IntRange(0, 120))
@click.option("--months-back", default=1, show_default=True, type=click.IntRange(0, 120))
def partitions_cmd(months_ahead, months_back):
    """Create the monthly partitions of positions around now (run monthly, e.g. from cron)."""
    n = ensure_partitions(months_ahead, months_back)
    click.echo(f"positions: {n} partition(s) created")
