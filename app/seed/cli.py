"""The ``seed`` command group."""
import click
from flask.cli import AppGroup

seed_cli = AppGroup("seed", help="Load demo or synthetic data.")


@seed_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when areas already exist.")
def seed_demo_cmd(if_empty):
    """Load the Lanzhou demo (idempotent: running it twice adds nothing)."""
    from app.seed.demo import database_is_empty, seed_demo
    if if_empty and not database_is_empty():
        click.echo("seed: demo data already present")
        return
    counts = seed_demo()
    click.echo("seed: demo loaded (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")")


@seed_cli.command("logins")
def seed_logins_cmd():
    """Print the demo logins."""
    from app.seed.demo import DEMO_USERS, area_label
    click.echo("Demo logins (username / password — role, area):")
    for u in DEMO_USERS:
        click.echo(f"  {u['username']:<14} / {u['password']:<15} — {u['role']}, {area_label(u['area'])}")
    click.echo("  hls2…hls4, zjy1…zjy4, yn1…yn4, sjt1…sjt4 / wuwei-grid — grid workers of each grid")
    from app.incidents.demo import DEMO_OPEN311_KEY
    click.echo(f"  Open311 api_key (幸福号人民专线 demo, POST /open311/v2/requests.json): {DEMO_OPEN311_KEY}")
