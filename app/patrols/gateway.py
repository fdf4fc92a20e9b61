"""The tracking gateway: ``/track/osmand`` answered in front of Flask.

Phones report every few seconds, so this one URL is the platform's hottest. Through the full
application a fix paid for what it never uses: the cookie session, locale selection, login,
CSRF and rate-limit checks, an ORM session and SQLAlchemy's statement compilation — about twice
the CPU of the insert itself. The gateway is WSGI middleware around ``app.wsgi_app``: for
``GET``/``POST /track/osmand`` it parses the request with Werkzeug, checks it with the same
code as everywhere (:mod:`gis.tracks`), and stores the fix with one autocommitted
``INSERT … ON CONFLICT DO NOTHING`` on a pooled psycopg2 connection
(:func:`app.patrols.services.store_fix`). Errors use the API's JSON envelope. Every other
request goes to Flask untouched.

Tests bind the gateway to their transaction (``gateway.bound``), so what they send is rolled back
like everything else; tests marked ``no_transaction`` exercise the pooled path.
"""
import json
import logging
from contextlib import contextmanager

import psycopg2
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from app.core.errors import ApiError, envelope
from app.core.extensions import db

log = logging.getLogger(__name__)

PATH = "/track/osmand"
EXTENSION = "wuwei.tracking_gateway"


class TrackingGateway:
    """WSGI middleware: ``/track/osmand`` here, everything else to ``wsgi_app``."""

    def __init__(self, flask_app, wsgi_app):
        self.flask_app = flask_app
        self.wsgi_app = wsgi_app
        self.bound = None          # an SQLAlchemy Connection in a transaction (tests), else the pool
        self._engine = None

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") not in ("GET", "POST") \
                or not self.flask_app.config.get("TRACKING_GATEWAY", True):
            return self.wsgi_app(environ, start_response)
        status, body = osmand_response(Request(environ), self.connection)
        headers = [("Content-Length", str(len(body)))]
        if body:
            headers.append(("Content-Type", "application/json"))
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}", headers)
        return [body]

    @contextmanager
    def connection(self):
        """A psycopg2 connection for one fix: autocommitted from the pool, or the tests' bound one."""
        if self.bound is not None:
            yield self.bound.connection.driver_connection
            return
        if self._engine is None:
            with self.flask_app.app_context():
                self._engine = db.engine
        pooled = self._engine.raw_connection()
        raw = pooled.driver_connection
        try:
            raw.autocommit = True
            yield raw
        finally:
            try:
                raw.autocommit = False
            except psycopg2.Error:      # a broken connection: the pool drops it on close
                pass
            pooled.close()


def osmand_response(req: Request, connection) -> tuple[int, bytes]:
    """Status and body for one OsmAnd request (``connection``: context manager giving psycopg2)."""
    from app.patrols import services
    from app.patrols.tracking import read_osmand
    try:
        ident, fix, unknown_status = read_osmand(req)
        try:
            with connection() as raw:
                services.store_fix(raw, ident, fix, "osmand")
        except ApiError as e:
            if e.status == 404:
                raise ApiError(unknown_status, e.message, e.fields) from None
            raise
        return 200, b""
    except ApiError as e:
        return e.status, _json(envelope(e.status, e.message, e.fields, e.code))
    except psycopg2.OperationalError:
        log.exception("tracking: database unavailable")
        return 503, _json(envelope(503, "database unavailable; send the fix again later"))
    except Exception:
        log.exception("tracking: unhandled error on %s %s", req.method, req.path)
        return 500, _json(envelope(500, "Internal error; it has been logged."))


def _json(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()
