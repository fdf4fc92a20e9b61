"""The page shell: the Content-Security-Policy on by default, the role's tasks, the manifest and favicon.

What the browser sees of it (bars, menus, cards) is in ``test_browser_shell.py``.
"""

import re

import pytest

from app.auth.demo import DEMO_USERS
from app.core.registry import NAV, ROLE_TASKS, TASKS_SHOWN

USERS = ["planner", "leader", "staff", "gridworker", "patrol", "paishui", "admin"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>")


def _nav_urls(html: str) -> list[str]:
    bar = html[html.index('class="tabbar"') :]
    return sorted(set(re.findall(r'href="(/[^"?]*)"', bar)))


@pytest.mark.parametrize("username", USERS)
def test_every_nav_page_is_served_under_the_policy_with_nonced_scripts(client, auth, demo, username):
    auth.login(username)
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    urls = _nav_urls(home.get_data(as_text=True))
    assert len(urls) >= 3
    for url in urls:
        r = client.get(url, follow_redirects=True)
        assert r.status_code == 200, url
        policy = r.headers["Content-Security-Policy"]
        nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", policy)
        assert nonce, (url, policy)
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        html = r.get_data(as_text=True)
        for attrs in INLINE_SCRIPT.findall(html):
            assert f'nonce="{nonce.group(1)}"' in attrs, (url, attrs)
        assert not re.search(r"\son(click|load|submit|change|error)=", html), url


def test_the_policy_can_be_turned_off_only_by_configuration(app, client, auth, demo):
    assert app.config["WUWEI_CSP"] is True
    app.config["WUWEI_CSP"] = False
    try:
        policy = client.get("/login").headers["Content-Security-Policy"]
    finally:
        app.config["WUWEI_CSP"] = True
    assert "script-src" not in policy and "frame-ancestors 'none'" in policy


def test_role_tasks_name_registered_pages():
    names = {i.name for i in NAV}
    for role, tasks in ROLE_TASKS.items():
        assert 3 <= len(tasks) <= TASKS_SHOWN, role
        assert set(tasks) <= names, (role, set(tasks) - names)


@pytest.mark.parametrize(
    ("username", "tabs"),
    [
        ("gridworker", ["地图", "待走访", "上报", "事件"]),
        ("patrol", ["巡查打卡", "上报", "地图", "巡查记录"]),
        ("leader", ["数据看板", "热力图", "地图", "事件"]),
        ("paishui", ["处置台", "地图", "图层列表"]),
    ],
)
def test_the_tab_bar_holds_the_roles_tasks_and_more_holds_the_rest(client, auth, demo, username, tabs):
    auth.login(username)
    html = client.get("/layers/").get_data(as_text=True)
    bar = html[html.index('class="tabbar"') :]
    shown = re.findall(r'<a class="tab[^"]*" href="[^"]+">.*?<span>([^<]+)</span></a>', bar)
    assert shown == tabs
    sheet = bar[bar.index('class="sheet"') :] if 'class="sheet"' in bar else ""
    for label in tabs:
        assert f"> {label}</a>" not in sheet, label


def test_the_user_menu_says_who_and_offers_language_and_logout(client, auth, demo):
    auth.login("gridworker")
    html = client.get("/households/due").get_data(as_text=True)
    panel = html[html.index('id="user-panel"') :]
    panel = panel[: panel.index("</form>")]
    user = next(u for u in DEMO_USERS if u["username"] == "gridworker")
    assert user["name"] in panel and "网格员" in panel
    assert "?lang=en" in panel and "退出" in panel


def test_manifest_and_favicon(client):
    m = client.get("/manifest.webmanifest")
    assert m.status_code == 200 and m.mimetype == "application/manifest+json"
    body = m.get_json()
    assert body["name"] == "五微 · 网格治理地图" and body["display"] == "standalone"
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    assert client.get("/manifest.webmanifest?lang=en").get_json()["short_name"] == "Wuwei"
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert 'rel="manifest"' in client.get("/login").get_data(as_text=True)


DETAIL = re.compile(
    r'href="(/(incidents|households|patrols|consultations/meetings|consultations/councils|volunteers/activities|wishes)/\d+)"'
)
RAW = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\b(true|false|True|False|None|null)\b|FREQ=")


def _visible_text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style|template)\b.*?</\1>", " ", html)
    html = re.sub(r"(?s)<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("username", USERS)
def test_no_raw_timestamps_or_booleans_on_any_nav_page(client, auth, demo, username, lang):
    auth.login(username)
    home = client.get(f"/?lang={lang}", follow_redirects=True)
    raw, seen, detail = [], set(), {}
    pages = _nav_urls(home.get_data(as_text=True))
    while pages:
        url = pages.pop(0)
        seen.add(url)
        html = client.get(url, follow_redirects=True).get_data(as_text=True)
        text = _visible_text(html)
        raw += [(url, text[max(0, m.start() - 40) : m.end() + 20]) for m in RAW.finditer(text)]
        for link in DETAIL.finditer(html):  # the first record page of each kind a list links to
            if link.group(2) not in detail:
                detail[link.group(2)] = link.group(1)
                pages.append(link.group(1))
    assert len(seen) >= 4
    assert raw == []


def test_every_message_id_of_the_app_has_an_english_translation():
    """Every string marked for translation in app/ and templates/ (Chinese, the source language) has an
    English entry in one of the catalogues Flask-Babel merges (app/translations, app/<feature>/translations)."""
    from pathlib import Path

    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parent.parent
    catalogues = []
    for po in sorted(root.glob("app/**/translations/en/LC_MESSAGES/messages.po")):
        with open(po, "rb") as f:
            catalogues.append(read_po(f))
    assert len(catalogues) >= 5

    def translated(msgid, ctx) -> bool:
        for c in catalogues:
            entry = c.get(msgid, context=ctx)
            if entry is not None and entry.string and not entry.fuzzy:
                strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
                if all(strings):
                    return True
        return False

    keywords = {
        "_": None,
        "_l": None,
        "gettext": None,
        "lazy_gettext": None,
        "ngettext": (1, 2),
        "pgettext": ((1, "c"), 2),
        "lazy_pgettext": ((1, "c"), 2),
    }
    files = [("python", p) for p in root.glob("app/**/*.py")] + [
        ("jinja2", p) for p in root.glob("templates/**/*.html")
    ]
    missing, checked = [], 0
    for method, path in files:
        for _, msg, _, ctx in extract_from_file(method, str(path), keywords=keywords):
            msgid = msg[0] if isinstance(msg, tuple) else msg
            checked += 1
            if not translated(msgid, ctx):
                missing.append((str(path.relative_to(root)), msgid))
    assert checked > 1000
    assert missing == [], "\n".join(f"{p}: {m}" for p, m in missing)


# --- said in the reader's language ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "zh", "en"),
    [
        ("FREQ=MONTHLY;BYMONTHDAY=4,14,24", "每月4日、14日、24日", "Monthly on the 4th, 14th and 24th"),
        ("FREQ=WEEKLY;BYDAY=FR", "每周五", "Weekly on Friday"),
        ("FREQ=MONTHLY;BYDAY=2SA", "每月第2个周六", "Monthly on the 2nd Saturday"),
        ("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", "每两周一、周四", "Every 2 weeks on Monday and Thursday"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=6", "每月最后一天，共6次", "Monthly on the last day, 6 times"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "每年2月29日", "Yearly in February on the 29th"),
    ],
)
def test_recurrence_rules_in_words(rule, zh, en):
    from app.volunteers.rule_words import in_words

    assert in_words(rule, "zh") == zh
    assert in_words(rule, "en") == en


def test_a_rule_that_cannot_be_said_stays_as_written(app):
    from app.volunteers.rule_words import in_words

    assert in_words("FREQ=HOURLY", "zh") is None and in_words("FREQ=WEEKLY;BYSETPOS=1", "en") is None
    ctx = _in(app, "zh")
    try:
        assert app.jinja_env.filters["rule_words"]("FREQ=HOURLY") == "FREQ=HOURLY"
    finally:
        ctx.pop()


def _in(app, lang):
    """A request context in ``lang`` (Flask-Babel caches the locale on the shared app context)."""
    from flask_babel import refresh

    ctx = app.test_request_context(f"/?lang={lang}")
    ctx.push()
    refresh()
    return ctx


def test_times_in_the_readers_language_and_zone(app):
    import datetime as dt

    when = app.jinja_env.filters["when"]
    t = dt.datetime(2026, 12, 2, 3, 31, 59, tzinfo=dt.UTC)  # 11:31 in Shanghai
    ctx = _in(app, "zh")
    try:
        assert when(t) == "2026-12-02 11:31" and when(t, "short") == "12-02 11:31"
        assert when(t.isoformat()) == "2026-12-02 11:31" and when(None) == ""
        assert app.jinja_env.filters["yes_no"](False) == "否"
    finally:
        ctx.pop()
    ctx = _in(app, "en")
    try:
        assert when(t) == "2 Dec 2026, 11:31" and when(dt.date(2026, 5, 4), "date") == "4 May 2026"
        assert app.jinja_env.filters["yes_no"](True).lower() == "yes"
    finally:
        ctx.pop()


def test_the_activity_calendar_says_its_rules_in_words(client, auth, demo):
    auth.login("staff")
    zh = client.get("/volunteers/activities").get_data(as_text=True)
    assert "每月4日、14日、24日" in zh and "FREQ=MONTHLY;BYMONTHDAY=4,14,24</" not in zh
    en = client.get("/volunteers/activities?lang=en").get_data(as_text=True)
    assert "Monthly on the 4th, 14th and 24th" in en


def test_a_refused_report_is_said_in_the_readers_language(client, auth, demo):
    auth.login("gridworker")
    form = {"category": "env.litter", "description": "路边有垃圾", "source": "grid_worker"}
    zh = _visible_text(client.post("/incidents/new", data=form).get_data(as_text=True))
    assert "请在地图上选择位置" in zh and "required" not in zh and "lon and lat" not in zh
    en = _visible_text(client.post("/incidents/new?lang=en", data=form).get_data(as_text=True))
    assert "pick the place on the map" in en.lower() and "请在" not in en


def test_a_flashed_refusal_names_fields_and_says_what_is_wrong(app):
    from app.core.errors import ApiError
    from app.web.ui_errors import describe

    e = ApiError(
        422, "invalid visit", {"summary": "at most 4000 characters", "visited_at": "must be an ISO 8601 date-time"}
    )
    for lang, said in (
        ("zh", "请检查：情况：最多 4000 个字；走访时间：须为日期和时间"),
        ("en", "Please check: Situation: at most 4000 characters; Visited at: must be a date and time"),
    ):
        ctx = _in(app, lang)
        try:
            assert describe(e) == said
        finally:
            ctx.pop()


def test_category_names_follow_the_language(client, auth, demo):
    auth.login("staff")
    en = client.get("/incidents/?lang=en").get_data(as_text=True)
    assert "Litter and dumped rubbish" in en and "垃圾杂物堆放" not in en
    zh = client.get("/incidents/?lang=zh").get_data(as_text=True)
    assert "垃圾杂物堆放" in zh


# --- maps with context, the basemap -----------------------------------------------------------------


def test_tianditu_is_the_basemap_when_a_key_is_configured(monkeypatch):
    from app.core.config import Config

    monkeypatch.delenv("WUWEI_BASEMAP", raising=False)
    monkeypatch.delenv("WUWEI_TIANDITU_KEY", raising=False)
    assert Config().WUWEI_BASEMAP == "osm"
    monkeypatch.setenv("WUWEI_TIANDITU_KEY", " abc123 ")
    c = Config()
    assert (c.WUWEI_BASEMAP, c.WUWEI_TIANDITU_KEY) == ("tianditu", "abc123")
    monkeypatch.setenv("WUWEI_BASEMAP", "none")
    assert Config().WUWEI_BASEMAP == "none"


def test_tianditu_pages_load_vector_and_annotation_tiles_and_the_policy_allows_them(app, client, auth, demo):
    app.config.update(WUWEI_BASEMAP="tianditu", WUWEI_TIANDITU_KEY="k123")
    try:
        auth.login("gridworker")
        r = client.get("/incidents/new")
        html = r.get_data(as_text=True)
        assert "vec_w/wmts" in html and "cva_w/wmts" in html and "tk=k123" in html
        assert "https://*.tianditu.gov.cn" in r.headers["Content-Security-Policy"].split("img-src")[1].split(";")[0]
    finally:
        app.config.update(WUWEI_BASEMAP="none", WUWEI_TIANDITU_KEY="")


@pytest.mark.parametrize(
    ("username", "url"),
    [("gridworker", "/incidents/new"), ("staff", "/incidents/19"), ("patrol", "/patrols/phone"), ("leader", "/heat")],
)
def test_maps_show_the_places_around_their_records(client, auth, demo, username, url):
    auth.login(username)
    html = client.get(url).get_data(as_text=True)
    for layer in ("ctx-areas", "ctx-grids", "ctx-compounds", "ctx-buildings"):
        assert f'"name": "{layer}"' in html, (url, layer)
    assert '"/api/v1/areas?level=street%2Ccommunity"' in html or "level=street,community" in html
    buildings = html[html.index('"name": "ctx-buildings"') :]
    assert '"min_zoom": 15' in buildings[:900]


def test_the_report_forms_layers_leave_taps_to_the_map(client, auth, demo):
    auth.login("gridworker")
    html = client.get("/incidents/new").get_data(as_text=True)
    config = html[html.index("Wuwei.init(") :]
    assert config.count('"interactive": false') >= 5 and '"interactive": true' not in config
    auth.logout()
    auth.login("staff")
    detail = client.get("/incidents/19").get_data(as_text=True)
    assert '"interactive": false' not in detail[detail.index("Wuwei.init(") :]
