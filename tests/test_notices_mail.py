"""E-mail of notices through a real SMTP server (aiosmtpd, tests/smtp_server.py), sent by the jobs worker:
each message once, permanent refusals not retried, passing failures retried, and a worker killed in the
middle of a message neither loses nor doubles it.

These tests commit (the worker has connections of its own): they are ``no_transaction`` and remove what
they added afterwards.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text

from app.auth.models import User
from app.core.extensions import db
from app.core.jobs import run_worker
from app.notices.mail import deliver
from app.notices.models import Notice
from app.notices.services import notify
from tests.smtp_server import SMTPServer

pytestmark = pytest.mark.no_transaction
ROOT = Path(__file__).resolve().parent.parent
PEOPLE = ("staff", "liailan", "paishui", "shenghe")  # the demo gives them e-mail addresses


@pytest.fixture
def smtp(app):
    """A real SMTP server, and the app pointed at it; notices and jobs added by the test removed after."""
    with app.app_context():
        mark = db.session.scalar(select(func.coalesce(func.max(Notice.id), 0)))
        db.session.remove()
    saved = {k: app.config.get(k) for k in ("WUWEI_SMTP_HOST", "WUWEI_SMTP_PORT", "WUWEI_SMTP_TIMEOUT")}
    with SMTPServer() as server:
        app.config.update(WUWEI_SMTP_HOST="127.0.0.1", WUWEI_SMTP_PORT=str(server.port), WUWEI_SMTP_TIMEOUT="10")
        yield server
    app.config.update(saved)
    with app.app_context():
        db.session.execute(delete(Notice).where(Notice.id > mark))
        db.session.execute(text("DELETE FROM procrastinate_jobs WHERE queue_name = 'notices'"))
        db.session.execute(text("DELETE FROM procrastinate_workers"))
        db.session.commit()
        db.session.remove()


def tell(app, key: str, usernames=PEOPLE) -> list[int]:
    """Notices of one event to ``usernames``, committed with their e-mail jobs; their ids."""
    with app.app_context(), app.test_request_context():
        ids = list(db.session.scalars(select(User.id).where(User.username.in_(usernames))))
        notify(
            ids,
            "incident.dispatched",
            key,
            {
                "case": "K7QM-3XPA",
                "category": "污水外溢",
                "address": "西津东路房管所门前",
                "holder": "区排水管理所",
                "due_at": "2026-04-15T13:00:00+08:00",
            },
            "/incidents/desk/1",
        )
        db.session.commit()
        notices = list(db.session.scalars(select(Notice.id).where(Notice.key == key).order_by(Notice.id)))
        db.session.remove()
        return notices


def states(app, ids) -> dict[int, tuple]:
    with app.app_context():
        rows = db.session.execute(
            select(Notice.id, Notice.email_state, Notice.email_attempts).where(Notice.id.in_(ids))
        ).all()
        db.session.remove()
        return {r.id: (r.email_state, r.email_attempts) for r in rows}


def test_each_notice_is_mailed_once_with_its_words_link_and_message_id(app, smtp):
    ids = tell(app, "mail:words")
    assert len(ids) == len(PEOPLE)
    assert smtp.recorder.messages == []  # nothing is sent in the request
    run_worker(app, wait=False, queues=["notices"])
    got = smtp.recorder.messages
    assert sorted(m["To"] for m in got) == sorted(f"{u}@wuwei.example" for u in PEOPLE)
    assert {m["Message-ID"] for m in got} == {f"<wuwei-notice-{i}@localhost>" for i in ids}
    first = got[0]
    body = first.get_content()
    assert first["Subject"] == "[五微] 新派遣"
    assert "事件 K7QM-3XPA（污水外溢，西津东路房管所门前）已派遣给区排水管理所，本环节时限 2026-04-15 13:00" in body
    assert "http://127.0.0.1:5000/incidents/desk/1" in body and "/notices/settings" in body
    assert set(states(app, ids).values()) == {("sent", 1)}
    with app.app_context():  # the job run again sends nothing
        assert deliver(ids[0]) == "sent"
        db.session.remove()
    run_worker(app, wait=False, queues=["notices"])
    assert len(smtp.recorder.messages) == len(PEOPLE)


def test_the_language_of_the_email_is_the_users(app, smtp):
    with app.app_context():
        paishui = db.session.scalar(select(User).where(User.username == "paishui"))
        from app.notices.settings import save_settings

        save_settings(paishui, language="en")
        db.session.remove()
    try:
        tell(app, "mail:english", ["paishui"])
        run_worker(app, wait=False, queues=["notices"])
        message = smtp.recorder.messages[0]
        assert message["Subject"] == "[Wuwei] Dispatched to you"
        assert (
            "Incident K7QM-3XPA (污水外溢, 西津东路房管所门前) was dispatched to 区排水管理所; due 2026-04-15 13:00"
            in message.get_content()
        )
    finally:
        with app.app_context():
            db.session.execute(text("UPDATE notice_settings SET language = 'zh'"))
            db.session.commit()
            db.session.remove()


def test_a_refused_address_fails_for_good_and_a_down_server_is_retried(app, smtp):
    smtp.recorder.refuse["shenghe@wuwei.example"] = "550 5.1.1 no such mailbox"
    ids = tell(app, "mail:refused", ["shenghe", "staff"])
    run_worker(app, wait=False, queues=["notices"])
    with app.app_context():
        rows = {n.email_to: n for n in db.session.scalars(select(Notice).where(Notice.id.in_(ids)))}
        assert rows["shenghe@wuwei.example"].email_state == "failed"
        assert "550" in rows["shenghe@wuwei.example"].email_error
        assert rows["staff@wuwei.example"].email_state == "sent"
        failed = db.session.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'notices' AND status <> 'succeeded'")
        )
        assert failed == 0  # no retry of a permanent refusal
        db.session.remove()

    app.config["WUWEI_SMTP_PORT"] = "1"  # nobody listens: a passing failure
    (notice_id,) = tell(app, "mail:down", ["liailan"])
    with app.app_context():
        with pytest.raises(OSError):
            deliver(notice_id)
        row = db.session.get(Notice, notice_id)
        assert row.email_state == "queued" and row.email_error and row.email_attempts == 1
        assert deliver(notice_id, last_attempt=True) == "failed"
        db.session.remove()


def _worker_process(app, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "WUWEI_SMTP_HOST": "127.0.0.1",
        "WUWEI_SMTP_PORT": str(port),
        "RATELIMIT_ENABLED": "0",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker", "--queue", "notices"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_worker_killed_mid_message_neither_loses_nor_doubles_it(app, smtp):
    ids = tell(app, "mail:restart")
    held = ids[1]
    smtp.recorder.hold(lambda m: m["Message-ID"] == f"<wuwei-notice-{held}@localhost>")
    worker = _worker_process(app, smtp.port)
    try:
        assert smtp.recorder.held.wait(90), worker.stderr.read1().decode() if worker.poll() is not None else "no hold"
        assert states(app, [held])[held] == ("sending", 1)
        worker.send_signal(signal.SIGKILL)  # in the middle of the SMTP transaction
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(30)
    smtp.recorder.release()
    time.sleep(0.5)
    assert len(smtp.recorder.messages) == 1  # the first one; the held one was never accepted
    with app.app_context():
        doing = db.session.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'notices' AND status = 'doing'")
        )
        assert doing == 1  # left running by the dead worker
        db.session.remove()

    time.sleep(1.5)  # its heartbeat is now older than the limit below
    app.config["WUWEI_JOBS_STALLED_SECONDS"] = 1
    try:
        run_worker(app, wait=False, queues=["notices"])  # a new worker: the stalled job is queued again
    finally:
        app.config.pop("WUWEI_JOBS_STALLED_SECONDS")
    sent = [m["Message-ID"] for m in smtp.recorder.messages]
    assert sorted(sent) == sorted(f"<wuwei-notice-{i}@localhost>" for i in ids)  # each once, none lost
    final = states(app, ids)
    assert {s for s, _ in final.values()} == {"sent"} and final[held] == ("sent", 2)
