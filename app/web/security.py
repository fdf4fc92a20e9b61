"""Protections every response gets, written once: refusing NUL characters, security headers, caching.

* A Content-Security-Policy on every page: scripts only from ``static/`` or inline with this
  response's nonce (``<script nonce="{{ csp_nonce() }}">``; folium's own header through the
  ``|nonced`` filter), no plugins, no framing, forms and connections to this site only; images
  also from the basemap's tile servers. A script injected into a page (stored XSS) does not run.

* A NUL character in the query string or a form field can't be stored as text: 400 before any view.
* ``X-Content-Type-Options: nosniff`` on everything (an uploaded photo is never run as HTML),
  ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'`` (no clickjacking), ``Referrer-Policy``.
* ``Cache-Control: no-store`` on every answer to a logged-in user that didn't set its own caching:
  pages and API answers may carry personal data (household files, tracks), which must not stay in
  shared or browser caches. Tiles and heat cells set ``private, max-age`` themselves.
"""

import re
import secrets

from flask import current_app, g, request
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from app.core.errors import ApiError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_nul() -> None:
    """400 when a query parameter or a form field (name or value) holds a NUL character."""
    sources = [request.args]
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in FORM_TYPES:
        if request.mimetype == FORM_TYPES[0]:
            # Kept, so that a view still reads the raw body: ``curl --data`` sends JSON with this type
            # (the OwnTracks Recorder's own examples), and the tracking views read it as JSON.
            request.get_data(cache=True)
        sources.append(request.form)
    for source in sources:
        for name, values in source.lists():
            name = name or ""  # a multipart part may come without a name
            if "\x00" in name or any(v and "\x00" in v for v in values):
                raise ApiError(
                    400,
                    f"{name.replace(chr(0), '')!r} must not contain NUL characters",
                    {name.replace("\x00", ""): "NUL character"},
                )


TILE_HOSTS = {"osm": "https://*.tile.openstreetmap.org", "tianditu": "https://*.tianditu.gov.cn"}


def csp_nonce() -> str:
    """This response's script nonce (one per request)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)")


def nonced(trusted_html: str) -> Markup:
    """``trusted_html`` (made by the app, e.g. folium's page header) with this response's nonce on its
    inline scripts. Never for text that holds user input."""
    return Markup(_INLINE_SCRIPT.sub(f'<script nonce="{csp_nonce()}"', str(trusted_html)))  # nosec B704 (trusted HTML made by the app, see the docstring)


def content_security_policy() -> str:
    """The policy of an HTML answer."""
    tiles = TILE_HOSTS.get(current_app.config.get("WUWEI_BASEMAP", "osm"), "")
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{csp_nonce()}'; "
        "style-src 'self' 'unsafe-inline'; "  # Leaflet positions everything with style attributes
        f"img-src 'self' data: blob: {tiles}".rstrip()
        + "; "
        "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def security_headers(response):
    """The headers above; a view's own Cache-Control wins."""
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        if current_app.config.get("WUWEI_CSP", True):
            h.setdefault("Content-Security-Policy", content_security_policy())
        else:
            h.setdefault("Content-Security-Policy", "frame-ancestors 'none'; object-src 'none'; base-uri 'self'")
    if "Cache-Control" not in h and _logged_in() and not request.path.startswith("/static/"):
        h["Cache-Control"] = "no-store"
    return response


def _logged_in() -> bool:
    from flask_login import current_user

    try:
        return bool(current_user and current_user.is_authenticated)
    except SQLAlchemyError:  # the database may be down while an error page is answered
        return False


def init_app(app) -> None:
    app.before_request(refuse_nul)
    app.after_request(security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.filters["nonced"] = nonced
