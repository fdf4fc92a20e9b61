"""微服务/微力量: volunteer teams, volunteers, recurring activities, sign-ups, attendance and hours.

Services by reason to change: :mod:`~app.volunteers.teams` (teams and volunteers),
:mod:`~app.volunteers.activities` (activities and the calendar), :mod:`~app.volunteers.signups`
(sign-ups, attendance, hours); :mod:`~app.volunteers.recurrence` expands RRULEs.
"""

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from app.core.registry import register_demo_step, register_nav
from app.volunteers import api, models, rule_words, views  # noqa: F401
from app.volunteers.demo import seed_volunteers


def _rule_words(rule: str | None) -> str:
    """An activity's recurrence in the reader's language (the rule as written when it can't be said)."""
    return rule_words.in_words(rule, str(get_locale())) or rule or ""


def init_app(app) -> None:
    """Blueprints, navigation and the demo step (after the households')."""
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    from app.volunteers import figures  # noqa: F401  (it registers a dashboard figure)

    app.add_template_filter(_rule_words, "rule_words")
    register_nav("volunteers.activities", _l("活动"), None, 43)
    register_nav("volunteers.hours", _l("志愿时长"), "volunteers.hours", 44)
    register_demo_step("volunteers", seed_volunteers, order=61)
