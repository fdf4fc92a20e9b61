"""The base map layers: property companies, compounds (小区/院落), buildings, chargers, bike-parking zones."""
from app.basemap import models  # noqa: F401


def init_app(app) -> None:
    """The layer API ``/api/v1/<layer>`` (pages are ``app.mappage``)."""
    from app.basemap import api, openapi
    app.register_blueprint(api.bp)
    openapi.register_layer_paths()
    from app.basemap import figures, heat  # noqa: F401  (they register dashboard figures and heat sources)
