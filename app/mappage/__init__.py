"""The map page and the list pages of the layers."""

from flask_babel import lazy_gettext as _l


def init_app(app) -> None:
    """Register the pages and their top-bar links."""
    from app.core.registry import register_nav
    from app.mappage import views

    app.register_blueprint(views.bp)
    register_nav("mappage.index", _l("地图"), order=10)
    register_nav("mappage.layer_index", _l("图层列表"), order=20)
