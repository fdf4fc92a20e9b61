"""Page chrome shared by every page: the top bar's links, role names, the language.

The links come from :data:`app.core.registry.NAV`, which features fill in their ``init_app``;
each is shown to the users holding its permission.
"""
from flask import current_app, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from app.auth import policy
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


def init_app(app) -> None:
    """Expose the helpers to templates."""
    app.jinja_env.globals.update(nav_items=nav_items, role_label=policy.role_label, get_locale=get_locale,
                                 can=lambda permission: policy.can(current_user, permission))
