"""OGC API - Features (Parts 1, 2 and 3) under ``/ogcapi`` for QGIS, GDAL/OGR, OWSLib and browsers."""
import os

from flask_cors import CORS


def cors_origins(app) -> list[str]:
    """Origins allowed to read ``/ogcapi`` and ``/tiles`` from a browser: ``WUWEI_CORS_ORIGINS``
    (comma-separated, e.g. ``https://gis.example.org``), none by default."""
    raw = app.config.get("WUWEI_CORS_ORIGINS", os.environ.get("WUWEI_CORS_ORIGINS", ""))
    return [o.strip() for o in (raw.split(",") if isinstance(raw, str) else raw) if o.strip()]


def init_app(app) -> None:
    """Register the blueprint, its OGC-style error format and CORS for the configured origins."""
    from app.ogcapi import crs, views
    from app.web.errors import register_formatter
    app.register_blueprint(views.bp)
    register_formatter("/ogcapi", views.exception_response)
    crs.warm()
    origins = cors_origins(app)
    if origins:
        # Bearer tokens, not cookies, cross origins: no credentials.
        CORS(app, resources={r"/ogcapi/.*": {"origins": origins}}, allow_headers=["Authorization", "Content-Type"],
             expose_headers=["Content-Crs", "ETag"], max_age=600)
