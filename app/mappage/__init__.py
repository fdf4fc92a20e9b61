"""The map page and the list pages of the layers."""


def init_app(app) -> None:
    """Register the pages."""
    from app.mappage import views
    app.register_blueprint(views.bp)
