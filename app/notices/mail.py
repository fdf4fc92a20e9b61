"""E-mail of notices: a job per notice on the procrastinate queue (:mod:`app.core.jobs`), sent by the jobs
worker over SMTP, so that a slow or absent mail server never holds a page.

Why :mod:`smtplib` and not Flask-Mail: sending happens in the worker, one message per job, and what it needs
— a timeout, STARTTLS or SSL, a login, telling a permanent refusal (5xx: give up) from a passing failure
(retry) — is a dozen lines of the standard library; Flask-Mail would add a dependency that wraps the same
calls and hides the SMTP reply codes the retry decision reads.

Exactly once, as far as SMTP allows: the worker claims the notice (``queued``/``sending`` → ``sending``,
committed) before it talks to the server and marks it ``sent`` as soon as the server accepted it; a job
run again for a ``sent`` notice does nothing. A worker killed mid-send leaves the job ``doing``: the next
worker retries it (:func:`app.core.jobs.retry_stalled`), and the message goes out then, once. The
Message-ID is the notice's own (``<wuwei-notice-<id>@…>``), so a mail system may drop the copy of the rare
message accepted in the instant before a crash.
"""

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

import procrastinate
from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import func, select, update

from app.core import jobs
from app.core.extensions import db
from app.notices.models import Notice, NoticeSetting
from app.notices.render import kind_label, notice_text

log = logging.getLogger(__name__)

TASK = "notices.send_email"
QUEUE = "notices"
RETRIES = 6  # after the first try: waits of 4 s, 16 s, 64 s … about 1.5 hours in all


class PermanentFailure(Exception):
    """The server refused the message for good (5xx): no retry."""


def message_id(notice: Notice) -> str:
    """The notice's own Message-ID (the same on every attempt)."""
    domain = parseaddr(current_app.config["WUWEI_MAIL_FROM"])[1].rpartition("@")[2] or "wuwei.invalid"
    return f"<wuwei-notice-{notice.id}@{domain}>"


def build_message(notice: Notice, language: str) -> EmailMessage:
    """The e-mail of ``notice`` in ``language``: the notice's words, its link, where to turn it off."""
    config = current_app.config
    base = config["WUWEI_BASE_URL"].rstrip("/")
    with current_app.test_request_context(), force_locale(language):
        text = notice_text(notice.kind, notice.params)
        subject = f"[{gettext('五微')}] {kind_label(notice.kind)}"
        body = [text, ""]
        if notice.link:
            body += [gettext("查看详情：") + base + notice.link, ""]
        body.append(gettext("不想收到此类邮件？请在“通知设置”中关闭：") + base + "/notices/settings")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = config["WUWEI_MAIL_FROM"]
    msg["To"] = formataddr(("", notice.email_to))
    msg["Message-ID"] = message_id(notice)
    msg["X-Wuwei-Notice"] = f"{notice.kind} {notice.key}"
    msg.set_content("\n".join(body))
    return msg


def send(message: EmailMessage) -> None:
    """Hand ``message`` to the configured SMTP server; :class:`PermanentFailure` on a 5xx refusal."""
    config = current_app.config
    user, security = config.get("WUWEI_SMTP_USER"), config.get("WUWEI_SMTP_SECURITY") or "none"
    smtp_class = smtplib.SMTP_SSL if security == "ssl" else smtplib.SMTP
    try:
        with smtp_class(
            config["WUWEI_SMTP_HOST"], int(config["WUWEI_SMTP_PORT"]), timeout=float(config["WUWEI_SMTP_TIMEOUT"])
        ) as smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if user:
                smtp.login(user, config.get("WUWEI_SMTP_PASSWORD") or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as e:
        if all(code >= 500 for code, _ in e.recipients.values()):
            raise PermanentFailure(str(e.recipients)) from None
        raise
    except smtplib.SMTPResponseException as e:
        if e.smtp_code >= 500:
            raise PermanentFailure(f"{e.smtp_code} {e.smtp_error!r}") from None
        raise


def _claim(notice_id: int) -> Notice | None:
    claimed = db.session.scalar(
        update(Notice)
        .where(Notice.id == notice_id, Notice.email_state.in_(("queued", "sending")))
        .values(email_state="sending", email_attempts=Notice.email_attempts + 1)
        .returning(Notice.id)
    )
    db.session.commit()
    return db.session.get(Notice, claimed) if claimed is not None else None


def _end(notice_id: int, state: str, error: str | None = None) -> None:
    values = {"email_state": state, "email_error": error}
    if state == "sent":
        values["sent_at"] = func.now()
    db.session.execute(update(Notice).where(Notice.id == notice_id).values(**values))
    db.session.commit()


def deliver(notice_id: int, last_attempt: bool = False) -> str | None:
    """Send the e-mail of one notice unless it went already; its e-mail state afterwards.

    A passing failure puts it back to ``queued`` and raises (the queue retries it), or ends ``failed``
    on the last attempt; a permanent one ends ``failed`` at once.
    """
    notice = _claim(notice_id)
    if notice is None:
        return db.session.scalar(select(Notice.email_state).where(Notice.id == notice_id))
    if not current_app.config.get("WUWEI_SMTP_HOST"):
        _end(notice_id, "failed", "no SMTP server configured (WUWEI_SMTP_HOST)")
        return "failed"
    language = db.session.scalar(select(NoticeSetting.language).where(NoticeSetting.user_id == notice.user_id))
    try:
        send(build_message(notice, language or "zh"))
    except PermanentFailure as e:
        log.warning("notice %s: the mail server refused it: %s", notice_id, e)
        _end(notice_id, "failed", str(e)[:1000])
        return "failed"
    except (OSError, smtplib.SMTPException) as e:
        log.warning("notice %s: sending failed (%s)%s", notice_id, e, "; giving up" if last_attempt else "; will retry")
        _end(notice_id, "failed" if last_attempt else "queued", f"{type(e).__name__}: {e}"[:1000])
        if last_attempt:
            return "failed"
        raise
    _end(notice_id, "sent")
    return "sent"


@jobs.queue.task(
    name=TASK,
    queue=QUEUE,
    pass_context=True,
    retry=procrastinate.RetryStrategy(max_attempts=RETRIES, exponential_wait=4),
)
def send_email(context, notice_id: int) -> None:
    """The queue's task: e-mail notice ``notice_id``."""
    with jobs.flask_app_of(context).app_context():
        deliver(notice_id, last_attempt=context.job.attempts >= RETRIES)
