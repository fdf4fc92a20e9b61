"""Household situation files (民情档案), visits and care plans: models, services, API, pages, map overlay.

Services by reason to change: :mod:`~app.households.files` (files and members), :mod:`~app.households.tags`,
:mod:`~app.households.visits`, :mod:`~app.households.care` (care plans, who is due),
:mod:`~app.households.stats`; :mod:`~app.households.sections` lets features above add to a file's page.
"""

from flask_babel import lazy_gettext as _l

from app.core.registry import Overlay, register_demo_step, register_nav, register_overlay
from app.households import api, models, views  # noqa: F401
from app.households.demo import seed_households


def init_app(app) -> None:
    """Blueprints, navigation, the map overlay and the demo step."""
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    app.add_template_filter(views.tag_name, "tag_name")
    register_nav("households.index", _l("民情档案"), "households.view", 40)
    register_nav("households.due", _l("待走访"), "visits.round", 41)
    from app.households import search

    search.register()
    register_overlay(
        Overlay(
            name="visits_due",
            title=_l("待走访楼栋"),
            endpoint="households_api.overlay_visits_due",
            geom_type="Point",
            popup=["building", "due", "overdue"],
            min_zoom=12,
            style={"radius": 8, "color": "#b42318", "fillColor": "#f59e0b", "fillOpacity": 0.8},
            order=60,
            labels={"building": _l("楼栋"), "due": _l("待走访户数"), "overdue": _l("已逾期")},
            list_endpoint="households.overview",
            label="due",
        )
    )
    from app.households import figures, heat  # noqa: F401  (they register dashboard figures and heat sources)

    register_demo_step("households", seed_households, order=60)
