"""网格员考核 (grid worker assessment): a leader's page per grid worker and period, from the worker measures
features register (:mod:`app.core.workload`); CSV and XLSX exports. Read side: imports no feature."""


def init_app(app) -> None:
    """The pages and the navigation entry."""
    from flask_babel import lazy_gettext as _l

    from app.assessment import views
    from app.core.registry import register_nav

    app.register_blueprint(views.bp)
    register_nav("assessment.index", _l("网格员考核"), permission="workers.assess", order=75)
