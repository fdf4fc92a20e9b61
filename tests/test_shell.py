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
