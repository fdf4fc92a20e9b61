"""Users, roles, areas of responsibility, sessions and API tokens."""

from app.auth import models  # noqa: F401


def init_app(app) -> None:
    """Register the user loaders, the ``users``/``tokens`` commands and the demo users (pages: ``app.accounts``)."""
    from app.auth import cli, demo
    from app.auth.services import user_from_request
    from app.auth.sessions import load_user
    from app.core.extensions import login_manager
    from app.core.registry import register_demo_step

    login_manager.user_loader(load_user)
    login_manager.request_loader(user_from_request)
    app.cli.add_command(cli.users_cli)
    app.cli.add_command(cli.tokens_cli)
    register_demo_step("users", demo.seed_users, order=20)
