"""Leaders' heat maps (热力图): server-side bins and per-area choropleths of what features register.

The sources are the features' (:data:`app.core.heat.HEAT_SOURCES`, each registered in the feature's
``heat.py``); ``services.py`` is the SQL, ``params.py`` the query strings, ``views.py`` the page ``/heat``
and the API under ``/api/v1/heat/``; the binning rules are in :mod:`gis.heat`.
"""

from flask_babel import lazy_gettext as _l

from app.core.registry import Overlay, register_nav, register_overlay
from gis.heat import PALETTE


def init_app(app) -> None:
    """Register the page, the API, the nav link and the map overlay."""
    from app.heatmaps import views

    app.register_blueprint(views.bp)
    app.register_blueprint(views.api)
    register_nav("heatmaps.page", _l("热力图"), permission="heat.view", order=30)
    register_overlay(
        Overlay(
            name="heat_incidents",
            title=_l("事件热力（按区域）"),
            endpoint="heat_api.areas",
            url_kwargs={"source": "incidents", "shape": "grid"},
            geom_type="Polygon",
            style={"weight": 1, "color": "#7f0000", "fillOpacity": 0.55},
            popup=["name", "n", "rate", "households"],
            color_by="cls",
            colors={k: c for k, c in enumerate(PALETTE)},
            permission="heat.view",
            order=80,
            labels={"name": _l("名称"), "n": _l("事件数（近30天）"), "rate": _l("每千户"), "households": _l("户数")},
        )
    )
