"""微协商 (micro-consultation): councils, meetings, decisions and the consultation ledger (协商台账)."""
from app.consultations import models  # noqa: F401


def init_app(app) -> None:
    """Register the pages, the API and the navigation entry."""
    from flask_babel import lazy_gettext as _l

    from app.web.openapi import register_paths
    from app.consultations import api, views
    from app.core.extensions import csrf
    from app.core.registry import register_nav

    csrf.exempt(api.bp)  # cookie sessions are checked in api._protect
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    register_paths(api.OPENAPI_PATHS)
    register_nav("consultations.index", _l("微协商"), permission="consultations.read", order=30)
