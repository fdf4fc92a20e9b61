"""Notices (通知): every user's in-app inbox, e-mail through SMTP sent by the jobs worker, per-user settings
and area subscriptions ("new incidents in my grid").

A floor below the features: a feature registers the kinds it sends (:func:`app.notices.kinds.register_kind`)
and calls :func:`app.notices.services.notify` / :func:`~app.notices.services.notify_area` with the users it
means, inside its own transaction. Notices knows no feature.
"""

import os

from app.notices import models  # noqa: F401

# Settings read from the environment (tests and create_app(test_config) may set them first).
SETTINGS = {
    "WUWEI_SMTP_HOST": "",  # empty: no e-mail is queued (the inbox still works)
    "WUWEI_SMTP_PORT": "25",
    "WUWEI_SMTP_SECURITY": "none",  # none | starttls | ssl
    "WUWEI_SMTP_USER": "",
    "WUWEI_SMTP_PASSWORD": "",  # nosec B105 (empty: set from the environment)
    "WUWEI_SMTP_TIMEOUT": "30",
    "WUWEI_MAIL_FROM": "五微 Wuwei <wuwei@localhost>",
    "WUWEI_BASE_URL": "http://127.0.0.1:5000",  # links in e-mails
}


def init_app(app) -> None:
    """Settings, the pages, the API, the bell in the top bar, the e-mail task."""
    from flask_login import current_user

    from app.core import jobs
    from app.notices import api, mail, services, views  # noqa: F401  (mail declares the queue's task)

    for name, default in SETTINGS.items():
        app.config.setdefault(name, os.environ.get(name, default))
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    jobs.init_app(app)

    def unread_notices() -> int:
        """The bell's count (0 for nobody logged in)."""
        if not getattr(current_user, "is_authenticated", False):
            return 0
        return services.unread_count(current_user.id)

    app.jinja_env.globals["unread_notices"] = unread_notices
