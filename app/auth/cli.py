"""``flask users create`` and ``flask tokens create``."""
import click
from flask.cli import AppGroup

from app.auth.models import ROLES
from app.core.errors import ApiError

users_cli = AppGroup("users", help="Manage user accounts.")
tokens_cli = AppGroup("tokens", help="Manage API and device tokens.")


def _fail(e: ApiError):
    raise click.ClickException(e.describe())


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--area", "area_code", default=None, help="Area code (street, community or grid).")
@click.option("--name", "display_name", default="", help="Display name.")
def create_user_cmd(username, password, role, area_code, display_name):
    """Create a user with a role and an area."""
    from app.auth.services import create_user
    try:
        user = create_user(username, password, role, area_code, display_name)
    except ApiError as e:
        _fail(e)
    click.echo(f"created user {user.username} ({user.role}"
               + (f", area {area_code})" if area_code else ")"))


@tokens_cli.command("create")
@click.option("--user", "username", required=True)
@click.option("--device", default=None, help="Device name, e.g. the phone of a patrol member.")
def create_token_cmd(username, device):
    """Create a bearer token; it is printed once and stored only hashed."""
    from app.auth.services import create_token
    try:
        _, token = create_token(username, device)
    except ApiError as e:
        _fail(e)
    click.echo(token)


@tokens_cli.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
def list_tokens_cmd(username):
    """List tokens by their first characters (the full token is never stored)."""
    from app.auth.services import list_tokens
    try:
        rows = list_tokens(username)
    except ApiError as e:
        _fail(e)
    for t in rows:
        click.echo(f"{t.prefix}…  {t.user.username:<14} {t.device or '-':<16} "
                   f"created {t.created_at:%Y-%m-%d %H:%M}  {'REVOKED' if t.revoked else 'active'}")


@tokens_cli.command("revoke")
@click.argument("prefix")
def revoke_token_cmd(prefix):
    """Revoke the token(s) starting with PREFIX (as shown by ``tokens list``)."""
    from app.auth.services import revoke_tokens
    try:
        n = revoke_tokens(prefix)
    except ApiError as e:
        _fail(e)
    if n == 0:
        raise click.ClickException(f"no active token starts with {prefix!r}")
    click.echo(f"revoked {n} token(s)")
