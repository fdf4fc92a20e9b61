"""OGC API - Features Part 1 under ``/ogcapi`` for QGIS, GDAL/OGR, OWSLib and browsers."""


def init_app(app) -> None:
    """Register the blueprint, its OGC-style error format and its paths in the app's OpenAPI file."""
    from app.web.openapi import register_paths
    from app.web.errors import register_formatter
    from app.ogcapi import openapi, views
    app.register_blueprint(views.bp)
    register_formatter("/ogcapi", views.exception_response)
    register_paths(openapi.APP_PATHS)
