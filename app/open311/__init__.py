"""Open311 GeoReport v2 at ``/open311/v2/``: residents' apps, hotlines and other city systems."""
from app.open311 import models  # noqa: F401


def init_app(app) -> None:
    """Register the protocol blueprint and the ``open311`` command group."""
    from app.open311 import cli, views
    views.init_blueprint(app)
    app.cli.add_command(cli.open311_cli)
