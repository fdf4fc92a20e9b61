"""Wuwei (五微): the Flask application factory.

Each feature is a package under ``app/`` with an ``init_app(app)`` that registers its blueprints,
CLI commands and registry entries; the factory only wires them up. docs/architecture.md maps the house.
"""

import importlib
import logging

from flask import Flask

from app.core.config import Config

# Order matters only where a feature's models refer to another's tables.
FEATURES = [
    "app.web",
    "app.audit",
    "app.auth",
    "app.accounts",
    "app.areas",
    "app.basemap",
    "app.notices",
    "app.incidents",
    "app.consultations",
    "app.open311",
    "app.households",
    "app.volunteers",
    "app.wishes",
    "app.planning",
    "app.patrols",
    "app.tracking",
    "app.transfer",
    "app.tiles",
    "app.ogcapi",
    "app.health",
    "app.ops",
    "app.mappage",
    "app.seed",
    "app.heatmaps",
    "app.dashboard",
    "app.assessment",
]


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application; ``test_config`` overrides settings read from the environment."""
    app = Flask(__name__, static_folder="../static", template_folder="../templates")
    app.config.from_object(Config())
    if test_config:
        app.config.update(test_config)
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        from app.core.ratelimit import storage_uri

        app.config["RATELIMIT_STORAGE_URI"] = storage_uri(app.config["SQLALCHEMY_DATABASE_URI"])
    app.json.ensure_ascii = False  # Chinese text stays readable in JSON answers
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    from app.core import extensions

    extensions.init_app(app)
    for name in FEATURES:
        importlib.import_module(name).init_app(app)
    return app
