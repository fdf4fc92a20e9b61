"""Incidents (事件): reporting, the 数字城管 workflow, photos, routing, pages, API and the map overlay.

Features above add to an incident through :mod:`app.incidents.hooks` (step data, related records).
Departments and property companies work their incidents at their desk (:mod:`.desk`); residents follow
theirs on a status page (:mod:`.status`); each hand-off is told through :mod:`app.notices`.
"""

from app.incidents import models  # noqa: F401


def init_app(app) -> None:
    """Register the pages, the API, the map overlay, the navigation entries and the demo step."""
    from flask_babel import lazy_gettext as _l

    from app.core import jobs
    from app.core.registry import Overlay, register_demo_step, register_overlay
    from app.incidents import api, desk, desk_api, status, tasks, views
    from app.incidents.demo import seed_incidents
    from app.incidents.models import OPEN_STATES
    from app.incidents.workflow import SOURCE_LABELS, STATE_COLORS, STATE_LABELS

    app.register_blueprint(api.bp)
    app.register_blueprint(desk_api.bp)
    app.register_blueprint(desk.bp)  # /incidents/desk before /incidents/<id>
    app.register_blueprint(views.bp)
    app.register_blueprint(status.bp)
    app.cli.add_command(tasks.incidents_cli)
    jobs.init_app(app)
    register_overlay(
        Overlay(
            name="incidents",
            title=_l("未结事件"),
            endpoint="incidents_api.incidents",
            color_by="state",
            colors={s: STATE_COLORS[s] for s in OPEN_STATES},
            popup=["id", "category_name", "state", "address", "reported_at", "overdue"],
            url_kwargs={"open": "true"},
            style={"radius": 6},
            visible=True,
            order=20,
            labels={
                "id": _l("编号"),
                "category_name": _l("类别"),
                "state": _l("状态"),
                "address": _l("地址"),
                "reported_at": _l("上报时间"),
                "overdue": _l("超时"),
            },
            value_labels={
                "state": STATE_LABELS,
                "source": SOURCE_LABELS,
                "overdue": {"true": _l("是"), "false": _l("否")},
            },
            item_endpoint="incidents_api.item",
            item_id_arg="incident_id",
            list_endpoint="incidents.index",
            tiles="incidents",  # app/tiles/incidents.py: the same open incidents, id/state/category only
        )
    )
    _register_pages(app)
    from app.incidents import figures, heat, workload  # noqa: F401  (dashboard figures, heat sources, worker measures)

    register_demo_step("incidents", seed_incidents, order=40)


def _register_pages(app) -> None:
    """Top-bar links, the search box's finder, the category name helper of templates."""
    from flask_babel import lazy_gettext as _l

    from app.core.registry import register_nav
    from app.incidents import search
    from app.incidents.services.categories import category_name

    app.add_template_global(category_name, "category_name")
    register_nav("incidents.index", _l("事件"), permission="incidents.report", order=20)
    register_nav("incident_desk.index", _l("处置台"), permission="incidents.respond", order=19)
    register_nav("incidents.new", _l("上报"), permission="incidents.report", order=21)
    search.register()
