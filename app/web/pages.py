"""Page chrome shared by every page: the top bar's links, role names, the language; refused forms.

The links come from :data:`app.core.registry.NAV`, which features fill in their ``init_app``;
each is shown to the users holding its permission.
"""

import datetime as dt
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, flash, jsonify, request, send_from_directory, url_for
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import policy
from app.core.errors import ApiError
from app.core.registry import NAV, ROLE_TASKS, TASKS_SHOWN
from app.web import ui_errors

# The top bar's links per (app, script root, role, language): the same on every page, so built once
# (a dozen url_for and gettext calls were a tenth of a small page's time).
_NAV_CACHE: dict[tuple, list[dict]] = {}


def nav_items() -> list[dict]:
    """The links the current user may follow: its role's tasks first (``task`` true, in the order of
    :data:`app.core.registry.ROLE_TASKS`), then the rest in the registry's order."""
    role = getattr(current_user, "role", None)
    key = (id(current_app.url_map), request.script_root, role, str(get_locale()), len(NAV))
    items = _NAV_CACHE.get(key)
    if items is None:
        items = _NAV_CACHE[key] = _build_nav(role)
    return items


def _build_nav(role: str | None) -> list[dict]:
    allowed = [i for i in NAV if i.permission is None or policy.can(current_user, i.permission)]
    names = [i.name for i in allowed]
    wanted = ROLE_TASKS.get(role) or tuple(names[:TASKS_SHOWN])
    tasks = [n for n in wanted if n in names][:TASKS_SHOWN]
    ordered = sorted(allowed, key=lambda i: tasks.index(i.name) if i.name in tasks else len(tasks))
    return [
        {"url": url_for(i.endpoint), "label": str(i.label), "endpoint": i.endpoint, "task": i.name in tasks}
        for i in ordered
    ]


def flash_error(e: ApiError) -> None:
    """Show a refused form on the next page: the message and what is wrong with which field."""
    flash(ui_errors.describe(e), "error")


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


# How a time is written, per language: Chinese pages keep the numeric form people expect
# (2026-12-02 20:33); English ones name the month (2 Dec 2026, 20:33).
_PATTERNS = {
    "zh": {"datetime": "yyyy-MM-dd HH:mm", "date": "yyyy-MM-dd", "time": "HH:mm", "short": "MM-dd HH:mm"},
    "en": {"datetime": "d MMM yyyy, HH:mm", "date": "d MMM yyyy", "time": "HH:mm", "short": "d MMM, HH:mm"},
}


def when(value, kind: str = "datetime") -> str:
    """A date or time in the reader's language and zone (``{{ t|when }}``, ``{{ t|when('date') }}``;
    kinds: datetime, date, time, short); "" for None. Aware times are shown in the configured zone
    (Asia/Shanghai), naive ones as they are."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    pattern = _PATTERNS.get(str(get_locale()), _PATTERNS["zh"])[kind]
    if not isinstance(value, dt.datetime):
        return format_date(value, pattern)
    return format_datetime(value, pattern, rebase=value.tzinfo is not None)


def yes_no(value) -> str:
    """A boolean said in words (是/否, yes/no); "" for None."""
    return "" if value is None else _("是") if value else _("否")


def search_placeholder() -> str:
    """What the search box finds, for this user (households only for those who read them)."""
    if policy.reads_personal(current_user):
        return _("地址、小区、楼栋、住户、事件编号")
    return _("地址、小区、楼栋、事件编号")


def web_manifest():
    """The web app manifest: the phone can add Wuwei to its home screen and open it without browser bars."""
    icon = lambda size: {
        "src": url_for("static", filename=f"icons/icon-{size}.png"),
        "sizes": f"{size}x{size}",
        "type": "image/png",
    }
    body = {
        "name": _("五微 · 网格治理地图"),
        "short_name": _("五微"),
        "lang": "en" if str(get_locale()) == "en" else "zh-CN",
        "start_url": url_for("mappage.index"),
        "scope": url_for("mappage.index"),
        "display": "standalone",
        "background_color": "#f5f7fa",
        "theme_color": "#b42318",
        "icons": [icon(192), icon(512), {**icon(512), "purpose": "maskable"}],
    }
    answer = jsonify(body)
    answer.mimetype = "application/manifest+json"
    answer.cache_control.public = True
    answer.cache_control.max_age = 86400
    return answer


def favicon():
    """``/favicon.ico``: browsers ask for it whatever the page says (JSON answers, downloads)."""
    answer = send_from_directory(Path(current_app.static_folder) / "icons", "favicon.ico")
    answer.cache_control.public = True
    answer.cache_control.max_age = 604800
    return answer


def init_app(app) -> None:
    """Expose the helpers to templates; the manifest and the favicon."""
    app.add_template_filter(when, "when")
    app.add_template_filter(yes_no, "yes_no")
    app.add_template_filter(ui_errors.say, "say")
    app.add_url_rule("/manifest.webmanifest", "web_manifest", web_manifest)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    app.jinja_env.globals.update(
        nav_items=nav_items,
        role_label=policy.role_label,
        get_locale=get_locale,
        can=lambda permission: policy.can(current_user, permission),
        search_placeholder=search_placeholder,
    )
