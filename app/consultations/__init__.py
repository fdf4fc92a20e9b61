"""微协商 (micro-consultation): councils, meetings, decisions and the consultation ledger (协商台账).

Sits above incidents: a meeting moves its agenda incidents on through the incidents' services, and
plugs into the incident workflow and page through :mod:`app.incidents.hooks` (:mod:`.links`).
"""

from app.consultations import models  # noqa: F401


def init_app(app) -> None:
    """Register the pages, the API, the navigation entry, the incident hooks and the demo step."""
    from flask_babel import lazy_gettext as _l

    from app.consultations import api, links, views
    from app.consultations.demo import seed_consultations
    from app.core.registry import register_demo_step, register_nav

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    links.register()
    register_nav("consultations.index", _l("微协商"), permission="consultations.read", order=30)
    register_demo_step("consultations", seed_consultations, order=42)
