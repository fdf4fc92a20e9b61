"""Patrols (巡查), cleanups and bike rectification, with GPS positions from phones and tracking apps.

The tracking protocols that feed ``positions`` (OsmAnd/Traccar Client, OwnTracks) are adapters one
floor up, in :mod:`app.tracking`; they call :mod:`app.patrols.ingest` and :mod:`app.patrols.devices`.
"""

from flask_babel import lazy_gettext as _l

from app.core.registry import Overlay, register_nav, register_overlay

# figures, heat and workload register the patrols' dashboard figures, heat sources and worker measures when
# imported; events its kind of notice (SOS); geofence its kinds of notice and its periodic job.
from app.patrols import (  # noqa: F401
    api,
    cli,
    demo,
    device_views,
    events,
    events_api,
    figures,
    geofence,
    heat,
    models,
    views,
    workload,
)


def init_app(app) -> None:
    """Register the pages, the API, the CLI, the map overlays and the demo (dashboard figures and heat
    sources register when :mod:`app.patrols.figures` and :mod:`app.patrols.heat` are imported)."""
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.cli.add_command(cli.devices_cli)
    app.cli.add_command(cli.patrols_cli)
    app.cli.add_command(geofence.geofence_cli)
    register_nav("patrols.phone", _l("巡查打卡"), permission="patrols.run", order=30)
    register_nav("patrols.live", _l("实时巡查"), permission="patrols.run", order=31)
    register_nav("patrols.index", _l("巡查记录"), permission="patrols.run", order=32)
    register_nav("patrols.coverage_page", _l("网格巡查覆盖"), order=33)
    register_overlay(
        Overlay(
            name="patrols",
            title=_l("进行中的巡查"),
            endpoint="patrols_api.live",
            geom_type="Point",
            style={"color": "#b42318", "fillColor": "#ef4444"},
            popup=["who", "patrol", "fixed_at"],
            permission="patrols.run",
            order=40,
        )
    )
    register_overlay(
        Overlay(
            name="bad-parking",
            title=_l("乱停放点"),
            endpoint="patrols_api.spots",
            geom_type="Point",
            style={"color": "#b42318", "fillColor": "#f97316"},
            popup=["bikes", "nearest_zone", "zone_distance_m", "found_at"],
            min_zoom=13,
            permission="patrols.figures",
            order=41,
        )
    )
    demo.register()
