"""Household situation files (民情档案), visits and care plans: models, services, API, pages, map overlay.

Services by reason to change: :mod:`~app.households.files` (files and members), :mod:`~app.households.tags`,
:mod:`~app.households.visits`, :mod:`~app.households.care` (care plans, who is due),
:mod:`~app.households.stats`, :mod:`~app.households.rosters` (yearly obligations, 网格员名册); :mod:`~app.households.sections` lets features above add to a file's page.
"""

from flask_babel import lazy_gettext as _l

from app.core.registry import Overlay, register_demo_step, register_nav, register_overlay
from app.households import api, models, views  # noqa: F401
from app.households.demo import seed_households


def init_app(app) -> None:
    """Blueprints, navigation, the map overlay and the demo step."""
    from app.households import roster_api, roster_views, rosters
    from app.households.sections import FileSection, register_file_section

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(roster_api.bp)
    app.register_blueprint(roster_views.bp)
    register_file_section(
        FileSection(
            "obligations",
            _l("年度事项"),
            rosters.household_lines,
            link_label=_l("添加年度事项"),
            link_endpoint="rosters.new",
            order=20,
        )
    )
    app.add_template_filter(views.tag_name, "tag_name")
    register_nav("households.index", _l("民情档案"), "households.view", 40)
    register_nav("households.due", _l("待走访"), "visits.round", 41)
    register_nav("rosters.index", _l("年度名册"), "personal.read", 42)
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
    from app.households import figures, heat, workload  # noqa: F401  (dashboard figures, heat sources, worker measures)

    register_demo_step("households", seed_households, order=60)
    from app.households.roster_demo import seed_roster

    register_demo_step("households_roster", seed_roster, order=61)
