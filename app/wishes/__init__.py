"""微心愿 (micro-wishes): models, services, API, the board, the public wall, the map overlay, and the
wishes section of a household's file page."""

from flask_babel import lazy_gettext as _l

from app.core.registry import Overlay, register_demo_step, register_nav, register_overlay
from app.households.sections import FileSection, register_file_section
from app.wishes import api, models, views  # noqa: F401
from app.wishes.demo import seed_wishes
from app.wishes.services import household_wishes


def init_app(app) -> None:
    """Blueprints, navigation, the map overlay, the household file section and the demo step."""
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    from app.wishes import figures, heat, workload  # noqa: F401  (a dashboard figure, a heat source, worker measures)

    register_nav("wishes.board", _l("微心愿"), "wishes.board", 42)
    register_overlay(
        Overlay(
            name="wishes_open",
            title=_l("未实现微心愿（按网格）"),
            endpoint="wishes_api.overlay_open_wishes",
            geom_type="MultiPolygon",
            popup=["grid_name", "label"],
            style={"color": "#7c3aed", "weight": 1, "fillOpacity": 0.15},
            order=61,
            labels={"grid_name": _l("网格"), "label": _l("未实现心愿")},
            list_endpoint="wishes.wall",
            label="label",
        )
    )
    register_file_section(
        FileSection("wishes", _l("微心愿"), household_wishes, link_label=_l("登记微心愿"), link_endpoint="wishes.new")
    )
    register_demo_step("wishes", seed_wishes, order=62)
