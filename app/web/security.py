"""Protections every response gets, written once: refusing NUL characters, security headers, caching.

* A NUL character in the query string or a form field can't be stored as text: 400 before any view.
* ``X-Content-Type-Options: nosniff`` on everything (an uploaded photo is never run as HTML),
  ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'`` (no clickjacking), ``Referrer-Policy``.
* ``Cache-Control: no-store`` on every answer to a logged-in user that didn't set its own caching:
  pages and API answers may carry personal data (household files, tracks), which must not stay in
  shared or browser caches. Tiles and heat cells set ``private, max-age`` themselves.
"""
from flask import request

from app.core.errors import ApiError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_nul() -> None:
    """400 when a query parameter or a form field (name or value) holds a NUL character."""
    sources = [request.args]
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in FORM_TYPES:
        sources.append(request.form)
    for source in sources:
        for name, values in source.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                raise ApiError(400, f"{name.replace(chr(0), '')!r} must not contain NUL characters",
                               {name.replace("\x00", ""): "NUL character"})


def security_headers(response):
    """The headers above; a view's own Cache-Control wins."""
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        h.setdefault("Content-Security-Policy", "frame-ancestors 'none'; object-src 'none'; base-uri 'self'")
    if "Cache-Control" not in h and _logged_in() and not request.path.startswith("/static/"):
        h["Cache-Control"] = "no-store"
    return response


def _logged_in() -> bool:
    from flask_login import current_user
    try:
        return bool(current_user and current_user.is_authenticated)
    except Exception:  # the database may be down while an error page is answered
        return False


def init_app(app) -> None:
    app.before_request(refuse_nul)
    app.after_request(security_headers)
