"""Planning (规划): the e-bike survey (电动车入户摸排), charger siting (充电桩选址, MCLP with spopt) and
bike-zone gaps (共享单车停放区缺口, ST_ClusterDBSCAN). docs/planning.md tells how to use them."""

from flask_babel import lazy_gettext as _l

from app.core import jobs
from app.core.registry import register_demo_step, register_nav
from app.planning import api, models, tasks, views  # noqa: F401  (tasks: the queue's task)
from app.planning.demo import seed_surveys


def init_app(app) -> None:
    """Blueprints, the top-bar links, the demo step and the jobs command."""
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    jobs.init_app(app)
    register_nav("planning.chargers", _l("选址规划"), "planning.read", 36)
    register_nav("planning.survey", _l("电动车摸排"), "planning.survey", 37)
    register_demo_step("ebike_surveys", seed_surveys, order=66)
