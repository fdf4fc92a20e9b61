"""One error format for the API: ``{"error": {"code", "message", "fields"}}``.

Protocol blueprints with their own error shape (Open311) register a formatter
for their URL prefix with :func:`register_formatter`.
"""
import logging

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
          415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests",
          500: "internal_error", 503: "unavailable"}

_formatters: list[tuple[str, callable]] = []


class ApiError(Exception):
    """Raised by services and views; becomes a JSON error response with ``status``."""

    def __init__(self, status: int, message: str, fields: dict | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.code = code or _CODES.get(status, "error")


def envelope(status: int, message: str, fields: dict | None = None, code: str | None = None) -> dict:
    """The JSON envelope every API error uses, as a dict."""
    return {"error": {"code": code or _CODES.get(status, "error"), "message": message, "fields": fields or {}}}


def error_response(status: int, message: str, fields: dict | None = None, code: str | None = None):
    """The JSON envelope every API error uses, as a response."""
    return jsonify(envelope(status, message, fields, code)), status


def register_formatter(prefix: str, formatter) -> None:
    """Errors under ``prefix`` are rendered by ``formatter(status, message, fields)``."""
    _formatters.insert(0, (prefix, formatter))


def wants_json() -> bool:
    """API and protocol paths, or clients that ask for JSON, get JSON errors."""
    path = request.path
    if any(path.startswith(p) for p, _ in _formatters):
        return True
    if path.startswith(("/api/", "/track/", "/tiles/", "/ogcapi", "/healthz")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def _render(status: int, message: str, fields=None, code=None):
    for prefix, fmt in _formatters:
        if request.path.startswith(prefix):
            return fmt(status, message, fields or {})
    if wants_json():
        return error_response(status, message, fields, code)
    try:
        return render_template("error.html", status=status, message=message), status
    except Exception:  # a broken template must not hide the original error
        log.exception("error page failed to render")
        return f"{status}: {message}", status, {"Content-Type": "text/plain; charset=utf-8"}


def init_app(app) -> None:
    """Install the handlers."""

    @app.errorhandler(ApiError)
    def _api_error(e: ApiError):
        from app.extensions import db
        db.session.rollback()
        return _render(e.status, e.message, e.fields, e.code)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        if e.code and e.code < 400:
            return e
        message = e.description or e.name
        if e.code == 400 and "CSRF" in (e.description or ""):
            message = "CSRF token missing or invalid; reload the page and try again."
        return _render(e.code or 500, message)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        from app.extensions import db
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return _render(500, "Internal error; it has been logged.")
