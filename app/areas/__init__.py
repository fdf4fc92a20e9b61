"""The area hierarchy: district → street (街道) → community (社区) → grid (网格) → micro-grid (微网格)."""
from app.areas import models  # noqa: F401


def init_app(app) -> None:
    """Areas are served through the generic layer API (``app.basemap``); grid workers by ``app.areas.api``."""
    from app.areas import api
    from app.core.extensions import csrf
    csrf.exempt(api.bp)  # checked in app.basemap.api._protect for cookie sessions only
    app.register_blueprint(api.bp)
