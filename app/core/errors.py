"""The one error a service or a view raises to end a request: a status, a message, field errors.

How the error reaches the client (the JSON envelope, an HTML page, a protocol's own format) is
:mod:`app.web.errors`' business. Which status means what is decided once:

* **400** ``bad_request`` — the request cannot be read: malformed JSON, a body that is not a JSON
  object, NUL characters or lone surrogates, a bad query parameter (unknown name, wrong type,
  out of range).
* **415** — a body that is not JSON where JSON is expected.
* **422** ``invalid`` — a well-formed body whose values break a rule: a missing or unknown field,
  a wrong type, a value out of range, an invalid geometry, a place outside the user's area.
* **401** no credentials, **403** a role or area that may not, **404** unknown or out of the user's
  area, **409** a conflict with the stored state, **412** a stale ``If-Match``, **413** too large.
"""

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """Ends the request with ``status``; ``fields`` maps a field name to what is wrong with it.

    ``said``: the message was written for people, in the reader's language (``_("…")``); a page shows it
    as it is, before the field details (:func:`app.web.ui_errors.describe`). Otherwise the message is the
    API's English and a page says the field details in the reader's language instead.
    """

    def __init__(
        self, status: int, message: str, fields: dict | None = None, code: str | None = None, said: bool = False
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.code = code or CODES.get(status, "error")
        self.said = said

    def describe(self) -> str:
        """The message with the field errors in brackets (unless it names them already), for a page or a terminal."""
        detail = "; ".join(f"{k}: {v}" for k, v in self.fields.items())
        return f"{self.message} ({detail})" if detail and detail not in self.message else self.message


def envelope(status: int, message: str, fields: dict | None = None, code: str | None = None) -> dict:
    """The JSON body of every API error: ``{"error": {"code", "message", "fields"}}``."""
    return {"error": {"code": code or CODES.get(status, "error"), "message": message, "fields": fields or {}}}
