"""The sewage story end to end in Chromium, with five people and a real SMTP server.

A resident phones the 幸福号 hotline about sewage in front of the Xijin East Road housing office: community
staff (``staff``) enter the call and read out the case number; the grid's worker (``hls2``) is told of a new
incident in their grid and adds a photo from the site; staff file it and dispatch it to the district drainage
office; its man (``paishui``) accepts it on his phone, asks for a day more, reports it done with a photo; staff
verify and close it with a reply to the resident; the resident (no login: the status link) is not satisfied,
so staff send it back, the drainage office fixes the rest, staff close it again and the resident is
satisfied; the leader (``leader``) was told of the unsatisfied resident and reads the case.

Every hand-off produces exactly the expected notices, and the jobs worker mails exactly the expected
e-mails to the aiosmtpd server. Screenshots of the new pages at 390×844 and 1440×900 go to
``var/screenshots/notify-*.png`` (the three the README shows to ``docs/img/``).
"""

import io
import os
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from app.auth.models import User
from app.core.extensions import db
from app.core.jobs import run_worker
from app.notices.models import Notice
from tests.conftest import live_demo_server, local_chromium_people, make_test_app
from tests.smtp_server import SMTPServer

pytestmark = [pytest.mark.browser, pytest.mark.no_transaction]

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
SHOTS = ROOT / "var" / "screenshots"  # the others, to look at (not kept in git)
README_SHOTS = {"desk-390", "status-390", "inbox-390"}
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1440, "height": 900}
PASSWORDS = {"staff": "wuwei-staff", "hls2": "wuwei-grid", "paishui": "wuwei-dept", "leader": "wuwei-leader"}
CALLER = ("王秀芝", "13812345678")


@pytest.fixture(scope="module")
def story():
    """The SMTP server, the live demo server pointed at it, and an app for the jobs worker on its database."""
    saved = {k: os.environ.get(k) for k in ("WUWEI_SMTP_HOST", "WUWEI_SMTP_PORT")}
    with SMTPServer() as smtp:
        os.environ.update(WUWEI_SMTP_HOST="127.0.0.1", WUWEI_SMTP_PORT=str(smtp.port))
        try:
            for base, url in live_demo_server("notify"):
                worker_app = make_test_app(url)
                yield {"base": base, "smtp": smtp, "worker_app": worker_app}
                with worker_app.app_context():
                    db.engine.dispose()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        person, close = local_chromium_people(pw)
        yield person
        close()


class Person:
    """One of the five, on a device of their own (cookies too) and a page of its size."""

    def __init__(self, browser, base, username=None, viewport=DESKTOP):
        self.base, self.username = base, username
        self.context = browser(viewport)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def login(self):
        """Log in, unless this device still is (the login page then goes on to the map)."""
        self.page.goto(f"{self.base}/login?lang=zh")
        if urlsplit(self.page.url).path != "/login":
            return self
        self.page.fill("input[name=username]", self.username)
        self.page.fill("input[name=password]", PASSWORDS[self.username])
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.base}/")
        return self

    def go(self, path):
        self.page.goto(self.base + path)
        return self.page

    def bell(self) -> int:
        count = self.page.locator(".topbar .bell .count")
        return int(count.inner_text()) if count.count() else 0

    def shot(self, name):
        folder = IMG if name in README_SHOTS else SHOTS
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / f"notify-{name}.png"), full_page=False)


def photo_file(tmp: Path, name: str) -> str:
    path = tmp / name
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), (70, 110, 90)).save(buf, format="JPEG")
    path.write_bytes(buf.getvalue())
    return str(path)


def step(staff: Person, iid: int, to: str, note: str = "", public: str = "", **selects):
    page = staff.go(f"/incidents/{iid}")
    form = page.locator(f"form[action$='/incidents/{iid}/transition']")
    form.locator("select[name=to]").select_option(to)
    for name, label in selects.items():
        form.locator(f"select[name={name}]").select_option(label=label)
    if note:
        form.locator("textarea[name=note]").fill(note)
    if public:
        form.locator("textarea[name=public_note]").fill(public)
    form.locator("button.primary").click()
    page.wait_for_selector(".flash")


def work(app) -> None:
    """Run the jobs worker until the queue is empty (in a thread: Playwright holds this one's event loop)."""
    failed = []
    thread = threading.Thread(target=lambda: _run(app, failed))
    thread.start()
    thread.join(120)
    assert not thread.is_alive() and failed == []


def _run(app, failed: list) -> None:
    try:
        run_worker(app, wait=False, queues=["notices"])
    except Exception as e:  # noqa: BLE001 (reported in the test's thread)
        failed.append(e)


def notices(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(User.username, Notice.kind).join(User, User.id == Notice.user_id).order_by(Notice.id)
        ).all()
        db.session.remove()
    return [(r[0], r[1]) for r in rows]


def test_the_sewage_story_with_five_people_and_real_email(story, browser, tmp_path):
    base, smtp, worker_app = story["base"], story["smtp"], story["worker_app"]
    before = len(notices(worker_app))

    # 1. The hotline call, entered by community staff.
    staff = Person(browser, base, "staff").login()
    page = staff.go("/incidents/new")
    page.select_option("#category", "drainage.sewage")
    page.fill("textarea[name=description]", "西津东路房管所门前污水外溢，路面积水发臭（幸福号来电）")
    page.fill("input[name=address]", "七里河区西津东路房管所门前")
    page.select_option("select[name=source]", "hotline")
    page.fill("input[name=reporter_name]", CALLER[0])
    page.fill("input[name=reporter_phone]", CALLER[1])
    page.evaluate(
        "() => { document.getElementById('lon').value = '103.78865';"
        " document.getElementById('lat').value = '36.05085'; }"
    )
    page.click("#report-form button.primary")
    page.wait_for_selector(".case-box")
    iid = int(re.search(r"/incidents/(\d+)$", page.url).group(1))
    case = page.inner_text(".case-box .case")
    status_url = page.get_attribute(".case-box .status-link", "href")
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", case) and "/status/" in status_url
    staff.shot("detail-1440")

    # 2. The grid's worker hears of it on the phone and adds a photo from the site.
    grid = Person(browser, base, "hls2", PHONE).login()
    assert grid.bell() == 1
    page = grid.go("/notices/")
    assert "新事件" in page.inner_text(".notice-list") and case in page.inner_text(".notice-list")
    grid.shot("inbox-390")
    page.click(".notice-list li.unread a")
    page.wait_for_url(f"{base}/incidents/{iid}")
    page.set_input_files("form[action$='/photos'] input[name=photo]", photo_file(tmp_path, "site.jpg"))
    page.click("form[action$='/photos'] button[type=submit]")
    page.wait_for_selector(".flash")
    assert grid.bell() == 0

    # 3. Staff file it and dispatch it to the drainage office.
    staff.login()
    step(staff, iid, "filed", note="网格员现场照片已上传，属实")
    step(staff, iid, "dispatched", note="请区排水管理所处置", department_id="区排水管理所")

    # 4. The drainage office accepts it on the phone and asks for a day more.
    drain = Person(browser, base, "paishui", PHONE).login()
    assert drain.bell() == 1
    page = drain.go("/incidents/desk/")
    assert "污水外溢" in page.inner_text(".desk-list") and "时限" in page.inner_text(".desk-list")
    drain.shot("desk-390")
    page.click(f"a[href='/incidents/desk/{iid}']")
    page.wait_for_selector("form[action$='/accept']")
    assert CALLER[1] not in page.content()
    drain.shot("desk-item-390")
    page.click("form[action$='/accept'] button")
    page.wait_for_selector("form[action$='/done']")
    page.click("details.desk-action summary >> text=申请延期")
    page.select_option("select[name=hours]", "24")
    page.fill("textarea[name=reason]", "需更换约20米排污管道，材料明天到")
    page.click("form[action$='/extension'] button")
    page.wait_for_selector(".notice-line")

    # 5. Staff grant the day.
    staff.login()
    page = staff.go(f"/incidents/{iid}")
    page.click("button[name=decision][value=grant]")
    page.wait_for_selector(".flash")

    # 6. The drainage office reports it done with a photo.
    drain.login()
    page = drain.go(f"/incidents/desk/{iid}")
    page.fill("form[action$='/done'] textarea[name=note]", "已更换破损排污管道并疏通，路面已冲洗")
    page.set_input_files("form[action$='/done'] input[name=photos]", photo_file(tmp_path, "done.jpg"))
    page.click("form[action$='/done'] button")
    page.wait_for_selector(".flash")

    # 7. Staff verify and close, with a reply to the resident.
    staff.login()
    step(staff, iid, "closed", note="周干事现场核查：无积水", public="排污管道已更换，路面已清洗。感谢您的反映！")

    # 8. The resident follows the link: no personal data, the reply; not satisfied.
    resident = Person(browser, base, viewport=PHONE)
    page = resident.go(urlsplit(status_url).path + "?lang=zh")
    text = page.inner_text("main")
    assert case in text and "排污管道已更换，路面已清洗" in text and "核查结案" in text
    for private in (*CALLER, "周干事", "现场核查", "赵师傅", "材料明天到", "网格员现场照片"):
        assert private not in page.content(), private
    resident.shot("status-390")
    page.click("button[name=satisfaction][value=unsatisfied]")
    page.wait_for_selector(".flash")
    assert "办理过程" in page.inner_text("main") and "rate-form" not in page.content()

    # 9–11. Staff send it back, the office fixes the rest, staff close it again.
    staff.login()
    step(staff, iid, "in_progress", note="居民反映仍有异味，请复查支管")
    drain.login()
    page = drain.go(f"/incidents/desk/{iid}")
    page.fill("form[action$='/done'] textarea[name=note]", "已疏通支管，异味消除")
    page.click("form[action$='/done'] button")
    page.wait_for_selector(".flash")
    staff.login()
    step(staff, iid, "closed", public="支管已疏通，异味已消除。")

    # 12. Satisfied now.
    page = resident.go(urlsplit(status_url).path)
    page.click("button[name=satisfaction][value=satisfied]")
    page.wait_for_selector(".flash")
    assert "满意" in page.inner_text("main")
    page.set_viewport_size(DESKTOP)
    resident.shot("status-1440")

    # 13. The leader was told of the unsatisfied resident and reads the case.
    leader = Person(browser, base, "leader").login()
    assert leader.bell() == 1
    page = leader.go("/notices/")
    assert "居民不满意" in page.inner_text(".notice-list")
    leader.shot("inbox-1440")
    page.click(".notice-list li.unread a")
    page.wait_for_url(f"{base}/incidents/{iid}")
    assert "综合评价" in page.inner_text("h1") and "满意" in page.inner_text(".detail-grid")
    assert CALLER[1] not in page.content()  # a leader reads no personal data
    page = leader.go("/notices/settings")
    leader.shot("settings-1440")
    leader.page.set_viewport_size(PHONE)
    leader.shot("settings-390")
    drain.go("/incidents/desk/?view=done")
    drain.page.set_viewport_size(DESKTOP)
    drain.shot("desk-1440")

    # Exactly these notices, in this order …
    expected = [
        ("hls2", "incident.new"),
        ("paishui", "incident.dispatched"),
        ("staff", "incident.extension_requested"),
        ("liailan", "incident.extension_requested"),
        ("paishui", "incident.extension_granted"),
        ("staff", "incident.responded"),
        ("liailan", "incident.responded"),
        ("paishui", "incident.closed"),
        ("staff", "incident.unsatisfied"),
        ("liailan", "incident.unsatisfied"),
        ("leader", "incident.unsatisfied"),
        ("paishui", "incident.rework"),
        ("staff", "incident.responded"),
        ("liailan", "incident.responded"),
        ("paishui", "incident.closed"),
    ]
    assert notices(worker_app)[before:] == expected

    # … and exactly these e-mails ("new incident" and "closed" are not mailed by default), each once.
    assert smtp.recorder.messages == []  # nothing was sent by a page
    work(worker_app)
    work(worker_app)  # a second worker run sends nothing again
    mailed = sorted((m["To"], m["Subject"]) for m in smtp.recorder.messages)
    want = sorted(
        (f"{u}@wuwei.example", subject)
        for u, subject in [
            ("paishui", "[五微] 新派遣"),
            ("staff", "[五微] 延期申请"),
            ("liailan", "[五微] 延期申请"),
            ("paishui", "[五微] 延期已批准"),
            ("staff", "[五微] 办结待核查"),
            ("liailan", "[五微] 办结待核查"),
            ("staff", "[五微] 居民不满意"),
            ("liailan", "[五微] 居民不满意"),
            ("leader", "[五微] 居民不满意"),
            ("paishui", "[五微] 退回重办"),
            ("staff", "[五微] 办结待核查"),
            ("liailan", "[五微] 办结待核查"),
        ]
    )
    assert mailed == want
    assert len({m["Message-ID"] for m in smtp.recorder.messages}) == len(want)
    dispatched = next(m for m in smtp.recorder.messages if m["Subject"] == "[五微] 新派遣").get_content()
    assert case in dispatched and f"/incidents/desk/{iid}" in dispatched and CALLER[1] not in dispatched

    for person in (staff, grid, drain, resident, leader):
        assert person.errors == [], person.errors
