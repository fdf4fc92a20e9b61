"""The tracking gateway: ``/track/osmand`` answered in front of Flask.

Phones report every few seconds, so this one URL is the platform's hottest. Through the full
application a fix paid for what it never uses: the cookie session, locale selection, login, CSRF
and rate-limit checks, an ORM session — about twice the CPU of the insert itself. The gateway is
WSGI middleware: for ``GET``/``POST /track/osmand`` it parses the request with Werkzeug, checks it
with the same code as the Flask view (:mod:`app.tracking.osmand`), and stores the fix with one
autocommitted statement on a pooled connection (:func:`app.patrols.ingest.store_fix`). Every other
request goes to Flask untouched.

It is installed by the WSGI entry point (``app/wsgi.py``), not by a feature: ``create_app()`` alone
serves ``/track/osmand`` through Flask. Tests install it around their app with connections bound to
their transaction (``tests/conftest.py``).
"""

from flask import Flask
from sqlalchemy import create_engine
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from app.tracking.osmand import PATH, Connect, InApp, osmand_response


class TrackingGateway:
    """WSGI middleware: ``/track/osmand`` here, everything else to ``wsgi_app``.

    ``connect()`` gives a context manager yielding the SQLAlchemy connection a fix is stored on
    (see :func:`autocommit_connections`); ``in_app()`` enters the application context in which the rare
    requests that carry events (an SOS, a heartbeat) are recorded with the alerts they raise.
    """

    def __init__(self, wsgi_app, connect: Connect, in_app: InApp):
        self.wsgi_app = wsgi_app
        self.connect = connect
        self.in_app = in_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") not in ("GET", "POST", "HEAD"):
            return self.wsgi_app(environ, start_response)
        status, body = osmand_response(Request(environ), self.connect, self.in_app)
        headers = [("Content-Length", str(len(body)))]
        if body:
            headers.append(("Content-Type", "application/json"))
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}", headers)
        return [body] if environ["REQUEST_METHOD"] != "HEAD" else []


def autocommit_connections(app: Flask) -> Connect:
    """Pooled connections in autocommit mode, from an engine of their own with the app's settings.

    Each fix is then committed by its own statement. A pool of its own, because switching connections
    of the app's pool in and out of autocommit costs two driver calls per fix.
    """
    engine = create_engine(
        app.config["SQLALCHEMY_DATABASE_URI"],
        isolation_level="AUTOCOMMIT",
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    )
    return engine.connect


def install(app: Flask, connect: Connect | None = None) -> TrackingGateway | None:
    """Put the gateway in front of ``app`` (unless ``TRACKING_GATEWAY`` is off); returns it.

    ``connect`` defaults to :func:`autocommit_connections` of the app's database.
    """
    if not app.config.get("TRACKING_GATEWAY", True):
        return None
    app.wsgi_app = TrackingGateway(app.wsgi_app, connect or autocommit_connections(app), app.app_context)
    return app.wsgi_app
