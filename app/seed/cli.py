"""The ``seed`` command group."""

import click
from flask.cli import AppGroup

from app.areas.demo import area_label
from app.auth.demo import DEMO_USERS
from app.open311.demo import DEMO_OPEN311_KEY
from app.seed.demo import database_is_empty, seed_demo
from app.seed.scale import seed_scale

seed_cli = AppGroup("seed", help="Load demo or synthetic data.")


@seed_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when areas already exist.")
def seed_demo_cmd(if_empty):
    """Load the Lanzhou demo (idempotent: running it twice adds nothing)."""
    if if_empty and not database_is_empty():
        click.echo("seed: demo data already present")
        return
    counts = seed_demo()
    click.echo("seed: demo loaded (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")")


@seed_cli.command("logins")
def seed_logins_cmd():
    """Print the demo logins."""
    click.echo("Demo logins (username / password — role, area):")
    for u in DEMO_USERS:
        click.echo(f"  {u['username']:<14} / {u['password']:<15} — {u['role']}, {area_label(u['area'])}")
    click.echo("  hls2…hls4, zjy1…zjy4, yn1…yn4, sjt1…sjt4 / wuwei-grid — grid workers of each grid")
    click.echo(f"  Open311 api_key (幸福号人民专线 demo, POST /open311/v2/requests.json): {DEMO_OPEN311_KEY}")


@seed_cli.command("scale")
@click.option("--incidents", type=click.IntRange(0, 20_000_000), default=0, help="Incidents over the last --days days.")
@click.option("--positions", type=click.IntRange(0, 200_000_000), default=0, help="GPS positions (patrols).")
@click.option(
    "--grids",
    type=click.IntRange(0, 50_000),
    default=0,
    help="Synthetic grids (in streets and communities) around the demo streets.",
)
@click.option("--buildings", type=click.IntRange(0, 2_000_000), default=0, help="Synthetic buildings in the grids.")
@click.option(
    "--seed",
    type=click.IntRange(0, 1_000_000),
    default=1,
    show_default=True,
    help="Same seed and sizes: same data, and a rerun adds nothing.",
)
@click.option("--days", type=click.IntRange(1, 3 * 366), default=365, show_default=True)
def seed_scale_cmd(incidents, positions, grids, buildings, seed, days):
    """Synthetic district-scale data for benchmarks (COPY; idempotent per seed)."""
    if not any((incidents, positions, grids, buildings)):
        raise click.UsageError("give at least one of --incidents, --positions, --grids, --buildings")
    seed_scale(
        incidents=incidents, positions=positions, grids=grids, buildings=buildings, seed=seed, days=days, log=click.echo
    )
