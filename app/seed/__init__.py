"""``flask seed demo`` (the Lanzhou demo from the seed page) and ``flask seed logins``.

Features add their own demo records with :func:`app.core.registry.register_demo_step`.
"""


def init_app(app) -> None:
    """Register the ``seed`` command group."""
    from app.seed.cli import seed_cli

    app.cli.add_command(seed_cli)
