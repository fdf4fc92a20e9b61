"""How errors reach the client: the JSON envelope for API and protocol paths, a page for people.

Protocol blueprints with an error shape of their own (Open311's array, OGC API's exception) register a
formatter for their URL prefix with :func:`register_formatter`.
"""
import logging

from flask import current_app, jsonify, make_response, render_template, request
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from app.core.errors import ApiError, envelope
from app.core.extensions import db

log = logging.getLogger(__name__)

_formatters: list[tuple[str, callable]] = []
JSON_PATHS = ("/api/", "/track/", "/tiles/", "/ogcapi", "/healthz", "/readyz")


def error_response(status: int, message: str, fields: dict | None = None, code: str | None = None):
    """The JSON envelope every API error uses, as a response."""
    return jsonify(envelope(status, message, fields, code)), status


def register_formatter(prefix: str, formatter) -> None:
    """Errors under ``prefix`` are rendered by ``formatter(status, message, fields)``."""
    _formatters.insert(0, (prefix, formatter))


def wants_json() -> bool:
    """API and protocol paths, or clients that ask for JSON, get JSON errors."""
    path = request.path
    if any(path.startswith(p) for p, _ in _formatters) or path.startswith(JSON_PATHS):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def render_error(status: int, message: str, fields=None, code=None, template: str = "error.html"):
    """The error as the client expects it (protocol formatter, JSON envelope or HTML page)."""
    for prefix, fmt in _formatters:
        if request.path.startswith(prefix):
            return fmt(status, message, fields or {})
    if wants_json():
        return error_response(status, message, fields, code)
    try:
        if template == "unavailable.html":
            # Rendered without Flask's context processors: they would load the user from the database.
            page = current_app.jinja_env.get_template(template).render(status=status, message=message)
            return page, status, {"Content-Type": "text/html; charset=utf-8"}
        return render_template(template, status=status, message=message), status
    except Exception:  # a broken template must not hide the original error
        log.exception("error page failed to render")
        return f"{status}: {message}", status, {"Content-Type": "text/plain; charset=utf-8"}


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection may be gone; the session is discarded at teardown anyway
        log.debug("rollback after an error failed", exc_info=True)


def database_unreachable(e: BaseException) -> bool:
    """Whether ``e`` says the database cannot be reached (as opposed to a bad statement)."""
    return isinstance(e, OperationalError) or (isinstance(e, DBAPIError) and e.connection_invalidated)


def init_app(app) -> None:
    """Install the handlers."""

    @app.errorhandler(ApiError)
    def _api_error(e: ApiError):
        _rollback()
        return render_error(e.status, e.message, e.fields, e.code)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        if e.code and e.code < 400:
            return e
        if e.response is not None:       # a response made by the view or a library (validation errors)
            return e.response
        message = e.description or e.name
        if e.code == 400 and "CSRF" in (e.description or ""):
            message = "CSRF token missing or invalid; reload the page and try again."
        resp = make_response(render_error(e.code or 500, message))
        for name, value in e.get_headers():   # Allow on 405, WWW-Authenticate on 401, Retry-After …
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp

    @app.errorhandler(IntegrityError)
    def _integrity(e: IntegrityError):
        # Two requests racing for the same unique value: the loser is told, not given a 500.
        _rollback()
        if getattr(e.orig, "pgcode", None) == "23505":
            log.info("unique violation on %s %s: %s", request.method, request.path, getattr(e.orig, "diag", None)
                     and e.orig.diag.constraint_name)
            return render_error(409, "this conflicts with a record that already exists (it may have just been "
                                     "made by another request); reload and try again", code="conflict")
        if getattr(e.orig, "pgcode", None) == "23503":
            return render_error(409, "a record this refers to (or that refers to this) does not allow the change",
                                code="conflict")
        constraint = getattr(getattr(e.orig, "diag", None), "constraint_name", None) or ""
        if getattr(e.orig, "pgcode", None) == "23514" and constraint.startswith("cap_"):
            # A cap the database holds (migration 0010) that a service did not report itself.
            return render_error(409, str(getattr(e.orig.diag, "message_primary", None) or "a cap was reached"),
                                code="conflict")
        log.exception("integrity error on %s %s", request.method, request.path)
        return render_error(500, "Internal error; it has been logged.")

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        _rollback()
        if database_unreachable(e):
            log.warning("database unreachable on %s %s: %s", request.method, request.path, e.__class__.__name__)
            resp = render_error(503, "the database is unavailable; try again in a moment",
                                template="unavailable.html")
            return _retry_after(resp)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500, "Internal error; it has been logged.")


def _retry_after(resp):
    r = make_response(resp)
    r.headers["Retry-After"] = "5"
    return r
