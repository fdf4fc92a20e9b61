"""Patrols (巡查), cleanups and bike rectification, with GPS tracking from phones and tracking apps."""
from app.patrols import models  # noqa: F401


def init_app(app) -> None:
    """Register the pages, the API, the tracking protocols, the CLI, the map overlays and the demo."""
    from flask_babel import lazy_gettext as _l

    from app.web.openapi import register_paths
    from app.core.extensions import csrf, limiter
    from app.core.registry import Overlay, register_overlay
    from app.patrols import api, cli, demo, tracking, views
    from app.core.registry import register_nav

    csrf.exempt(api.bp)        # checked in api._protect for cookie sessions only
    csrf.exempt(tracking.bp)   # devices authenticate by identifier or token, never by cookie
    limiter.exempt(tracking.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(tracking.bp)
    app.cli.add_command(cli.devices_cli)
    app.cli.add_command(cli.patrols_cli)
    register_paths(api.openapi_paths())
    register_nav("patrols.phone", _l("巡查打卡"), permission="patrols.run", order=30)
    register_nav("patrols.live", _l("实时巡查"), permission="patrols.run", order=31)
    register_nav("patrols.index", _l("巡查记录"), permission="patrols.run", order=32)
    register_nav("patrols.coverage_page", _l("网格巡查覆盖"), order=33)
    register_overlay(Overlay(name="patrols", title=_l("进行中的巡查"), endpoint="patrols_api.live",
                             geom_type="Point", style={"color": "#b42318", "fillColor": "#ef4444"},
                             popup=["who", "patrol", "fixed_at"], permission="patrols.run",
                             order=40))
    register_overlay(Overlay(name="bad-parking", title=_l("乱停放点"), endpoint="patrols_api.spots",
                             geom_type="Point", style={"color": "#b42318", "fillColor": "#f97316"},
                             popup=["bikes", "nearest_zone", "zone_distance_m", "found_at"], min_zoom=13,
                             permission="patrols.figures", order=41))
    demo.register()
    from app.patrols import figures, heat  # noqa: F401  (they register dashboard figures and heat sources)
    from app.patrols.gateway import EXTENSION, TrackingGateway
    app.wsgi_app = app.extensions[EXTENSION] = TrackingGateway(app, app.wsgi_app)
