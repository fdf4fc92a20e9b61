"""Page chrome shared by features: navigation entries and role names.

A feature adds its pages to the top bar with :func:`register_nav` in its ``init_app``.
"""
from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user


@dataclass
class NavItem:
    endpoint: str
    label: object
    roles: tuple[str, ...] | None
    order: int


_NAV: list[NavItem] = []

ROLE_LABELS = {"admin": _l("管理员"), "leader": _l("领导"), "planner": _l("规划"),
               "staff": _l("社区工作人员"), "grid_worker": _l("网格员"), "patrol": _l("巡查队员")}


# The top bar's links per (app, script root, role, language): the same on every page, so built once
# (a dozen url_for and gettext calls were a tenth of a small page's time).
_NAV_CACHE: dict[tuple, list[dict]] = {}


def register_nav(endpoint: str, label, roles: tuple[str, ...] | None = None, order: int = 50) -> None:
    """Show a link to ``endpoint`` in the top bar for ``roles`` (all when None)."""
    if any(i.endpoint == endpoint for i in _NAV):
        return
    _NAV.append(NavItem(endpoint, label, roles, order))
    _NAV.sort(key=lambda i: i.order)
    _NAV_CACHE.clear()


def nav_items() -> list[dict]:
    """The links the current user may follow."""
    role = getattr(current_user, "role", None)
    key = (id(current_app.url_map), request.script_root, role, str(get_locale()))
    items = _NAV_CACHE.get(key)
    if items is None:
        items = _NAV_CACHE[key] = [{"url": url_for(i.endpoint), "label": str(i.label)}
                                   for i in _NAV if i.roles is None or role in i.roles]
    return items


def role_label(role: str):
    """Localised role name."""
    return ROLE_LABELS.get(role, role)


def init_app(app) -> None:
    """Expose the helpers to templates."""
    app.jinja_env.globals.update(nav_items=nav_items, role_label=role_label, get_locale=get_locale)
