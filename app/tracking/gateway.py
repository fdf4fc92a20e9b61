"""The tracking gateway: ``/track/osmand`` answered in front of Flask.

Phones report every few seconds, so this one URL is the platform's hottest. Through the full
application a fix paid for what it never uses: the cookie session, locale selection, login, CSRF
and rate-limit checks, an ORM session — about twice the CPU of the insert itself. The gateway is
WSGI middleware: for ``GET``/``POST /track/osmand`` it parses the request with Werkzeug, checks it
with the same code as the Flask view (:mod:`app.tracking.osmand`), and stores the fix with one
autocommitted statement on a pooled connection (:func:`app.patrols.ingest.store_fix`). Every other
request goes to Flask untouched.

Back-pressure: at most ``WUWEI_TRACK_CONCURRENCY`` fixes per process are stored at once (the ingest
pool holds that many without waiting); a fix that cannot start within ``WUWEI_TRACK_WAIT`` seconds is answered 503 with ``Retry-After`` at once instead of waiting for a client or
proxy timeout: OsmAnd/Traccar keep the fix and send it again, and a fix sent twice is stored once.

It is installed by the WSGI entry point (``app/wsgi.py``), not by a feature: ``create_app()`` alone
serves ``/track/osmand`` through Flask. Tests install it around their app with connections bound to
their transaction (``tests/conftest.py``).
"""

import logging
import os
import threading

from flask import Flask
from sqlalchemy import create_engine
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from app.tracking.osmand import PATH, Connect, InApp, osmand_response

log = logging.getLogger(__name__)
RETRY_AFTER = "2"  # seconds
BUSY = b'{"error": {"code": "busy", "message": "too many fixes at once: send this fix again later", "fields": {}}}'


class TrackingGateway:
    """WSGI middleware: ``/track/osmand`` here, everything else to ``wsgi_app``.

    ``connect()`` gives a context manager yielding the SQLAlchemy connection a fix is stored on
    (see :func:`autocommit_connections`); ``in_app()`` enters the application context in which the rare
    requests that carry events (an SOS, a heartbeat) are recorded with the alerts they raise.
    """

    def __init__(self, wsgi_app, connect: Connect, in_app: InApp, concurrency: int = 8, wait: float = 1.0):
        self.wsgi_app = wsgi_app
        self.connect = connect
        self.in_app = in_app
        self.slots = threading.BoundedSemaphore(concurrency)
        self.wait = wait

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") not in ("GET", "POST", "HEAD"):
            return self.wsgi_app(environ, start_response)
        headers = []
        if self.slots.acquire(timeout=self.wait):
            try:
                status, body = osmand_response(Request(environ), self.connect, self.in_app)
            finally:
                self.slots.release()
        else:
            log.warning("tracking: busy, fix refused with Retry-After")
            status, body = 503, BUSY
        if status == 503:  # busy, or the database unreachable: the phone sends the fix again
            headers.append(("Retry-After", RETRY_AFTER))
        headers.append(("Content-Length", str(len(body))))
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
    concurrency = int(app.config.get("TRACK_CONCURRENCY", os.environ.get("WUWEI_TRACK_CONCURRENCY", "8")))
    wait = float(app.config.get("TRACK_WAIT", os.environ.get("WUWEI_TRACK_WAIT", "1")))
    app.wsgi_app = TrackingGateway(
        app.wsgi_app, connect or autocommit_connections(app), app.app_context, concurrency, wait
    )
    return app.wsgi_app
