"""The base map layers: property companies, compounds (小区/院落), buildings, chargers, bike-parking zones."""

from app.basemap import models  # noqa: F401


def init_app(app) -> None:
    """The layer API ``/api/v1/<layer>`` (pages are ``app.mappage``) and the base map's demo step."""
    from app.basemap import api, demo, edit_api  # noqa: F401  (edit_api: its routes on api.bp)
    from app.core.registry import register_demo_step

    app.register_blueprint(api.bp)
    register_demo_step("basemap", demo.seed_basemap, order=30)
    from app.basemap import search

    search.register()
    from app.basemap import figures, heat  # noqa: F401  (they register dashboard figures and heat sources)
