"""OGC API - Features Part 1 under ``/ogcapi`` for QGIS, GDAL/OGR, OWSLib and browsers."""


def init_app(app) -> None:
    """Register the blueprint and its OGC-style error format."""
    from app.ogcapi import views
    from app.web.errors import register_formatter
    app.register_blueprint(views.bp)
    register_formatter("/ogcapi", views.exception_response)
