"""The base map layers: property companies, compounds (小区/院落), buildings, chargers, bike-parking zones."""
from app.basemap import models  # noqa: F401


def init_app(app) -> None:
    """Layers are served by the generic layer API and pages in ``app.api`` / ``app.mappage``."""
