"""Page chrome shared by every page: the top bar's links, role names, the language; refused forms.

The links come from :data:`app.core.registry.NAV`, which features fill in their ``init_app``;
each is shown to the users holding its permission.
"""
from collections.abc import Callable
from contextlib import contextmanager

from flask import current_app, flash, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from app.auth import policy
from app.core.errors import ApiError
from app.core.registry import NAV

# The top bar's links per (app, script root, role, language): the same on every page, so built once
# (a dozen url_for and gettext calls were a tenth of a small page's time).
_NAV_CACHE: dict[tuple, list[dict]] = {}


def nav_items() -> list[dict]:
    """The links the current user may follow."""
    role = getattr(current_user, "role", None)
    key = (id(current_app.url_map), request.script_root, role, str(get_locale()), len(NAV))
    items = _NAV_CACHE.get(key)
    if items is None:
        items = _NAV_CACHE[key] = [{"url": url_for(i.endpoint), "label": str(i.label)} for i in NAV
                                   if i.permission is None or policy.can(current_user, i.permission)]
    return items


def flash_error(e: ApiError) -> None:
    """Show a refused form on the next page: the message and what is wrong with which field."""
    flash(e.describe(), "error")


@contextmanager
def flashed_errors():
    """Run a form post's write; values it refuses are flashed (the page goes on to redirect back).

    403 and 404 still end the request: they say who may and which record, not what to correct.
    """
    try:
        yield
    except ApiError as e:
        if e.status in (403, 404):
            raise
        flash_error(e)


def form_page(write: Callable, render: Callable[[], str]):
    """A page with a form: a GET shows ``render()``; a POST answers ``write()`` (a redirect, say), or,
    when the write is refused (an :class:`ApiError`), the form again with the refusal flashed, and the
    refusal's status."""
    status = 200
    if request.method == "POST":
        try:
            return write()
        except ApiError as e:
            flash_error(e)
            status = e.status
    return render(), status


def init_app(app) -> None:
    """Expose the helpers to templates."""
    app.jinja_env.globals.update(nav_items=nav_items, role_label=policy.role_label, get_locale=get_locale,
                                 can=lambda permission: policy.can(current_user, permission))
