"""Tracking protocols (adapters): the apps on patrol members' phones report GPS fixes.

``/track/osmand`` (OsmAnd protocol of Traccar Client) and ``/track/owntracks`` (OwnTracks HTTP)
parse what those apps send and store it through :mod:`app.patrols.ingest`. The gateway that answers
``/track/osmand`` before Flask is installed by the WSGI entry point (``app/wsgi.py``).
"""
from app.core.extensions import csrf, limiter
from app.tracking import openapi, views
from app.web.openapi import register_paths


def init_app(app) -> None:
    """Register the protocol views (no CSRF: devices authenticate by identifier or token, never by cookie;
    no rate limit: phones report every few seconds) and their OpenAPI path items."""
    csrf.exempt(views.bp)
    limiter.exempt(views.bp)
    app.register_blueprint(views.bp)
    register_paths(openapi.paths())
