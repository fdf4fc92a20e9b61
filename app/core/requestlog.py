"""A request id on every log line and every SQL statement of the request; JSON log lines.

The id comes from the client's (or nginx's) ``X-Request-ID`` when it is a plain token, otherwise it is
made here; :class:`app.core.metrics.RequestMetrics` sets it for the request and answers it in
``X-Request-ID``. While it is set:

* every log record carries it (``request_id``; the JSON formatter writes it, ``LOG_FORMAT=text``
  shows it in brackets);
* every statement SQLAlchemy sends starts with ``/* request_id=… */`` — PostgreSQL shows it in
  ``pg_stat_activity.query`` and in its slow-query log (``log_min_duration_statement``), so a slow
  statement leads to its request and back. A comment costs no round trip, unlike
  ``SET application_name`` per request; the connections' ``application_name`` names the program
  (``wuwei``).
"""

import contextvars
import datetime as dt
import json
import logging
import re
import uuid

from sqlalchemy import event
from sqlalchemy.engine import Engine

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("wuwei_request_id", default=None)
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(header: str | None) -> str:
    """The client's id when it is a plain token (letters, digits, ``._-``, ≤ 64), else a new one."""
    if header and _TOKEN.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def configure_logging(fmt: str) -> None:
    """Give the root logger's plain stream handlers (``logging.basicConfig``'s) the format and the filter.

    Handlers of other kinds (pytest's capture, a file handler set up by the operator) are left alone.
    """
    for handler in logging.getLogger().handlers:
        if type(handler) is not logging.StreamHandler:
            continue
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))


def _comment(conn, cursor, statement, parameters, context, executemany):
    rid = REQUEST_ID.get()
    if rid:
        statement = f"/* request_id={rid} */ {statement}"
    return statement, parameters


def init_app(app) -> None:
    """JSON (or text) log lines with the request id; the request id on SQL statements (every engine)."""
    configure_logging(app.config.get("LOG_FORMAT", "json"))
    if not event.contains(Engine, "before_cursor_execute", _comment):
        event.listen(Engine, "before_cursor_execute", _comment, retval=True)
