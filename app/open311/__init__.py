"""Open311 GeoReport v2 at ``/open311/v2/``: residents' apps, hotlines and other city systems.

A protocol adapter over the incidents' services; the admin's key API is ``/api/v1/open311-keys``.
"""

from app.open311 import models  # noqa: F401


def init_app(app) -> None:
    """Register the protocol blueprint, the key API, the ``open311`` command group and the demo key."""
    from app.core.registry import register_demo_step
    from app.open311 import api, cli, views
    from app.open311.demo import seed_open311

    views.init_blueprint(app)
    app.register_blueprint(api.bp)
    app.cli.add_command(cli.open311_cli)
    register_demo_step("open311", seed_open311, order=45)
