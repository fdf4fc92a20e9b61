"""The leaders' dashboard (领导驾驶舱): figures per street/community/grid and period, with exports.

``figures.py`` is the registry of figures (one grouped SQL query each), ``services.py`` assembles
them for an area and period beside the previous period, ``charts.py`` draws SVG on the server.
"""
from flask_babel import lazy_gettext as _l


def init_app(app) -> None:
    """Register the page and the nav link."""
    from app.dashboard import views
    from app.core.registry import register_nav
    app.register_blueprint(views.bp)
    register_nav("dashboard.page", _l("数据看板"), permission="dashboard.view", order=31)
