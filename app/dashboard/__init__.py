"""The leaders' dashboard (领导驾驶舱): figures per street/community/grid and period, with exports.

The figures are the features' (:data:`app.core.figures.FIGURES`, each registered in the feature's
``figures.py``); ``services.py`` assembles them for an area and period beside the previous period,
``charts.py`` draws SVG on the server, ``views.py`` is the page and its exports.
"""

from flask_babel import lazy_gettext as _l

from app.core.registry import register_nav


def init_app(app) -> None:
    """Register the page and the nav link."""
    from app.dashboard import views

    app.register_blueprint(views.bp)
    register_nav("dashboard.page", _l("数据看板"), permission="dashboard.view", order=31)
