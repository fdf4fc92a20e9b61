"""The base map's heat sources (chargers, bike-parking zones) and the households the choropleth's rates
are per (:func:`households_per_area`)."""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.areas.models import Area
from app.basemap.models import (
    BIKE_ZONE_STATUSES,
    CHARGER_STATUSES,
    BikeZone,
    Building,
    Charger,
)
from app.core.heat import Filter, HeatSource, register_source
from app.web.labels import value_label


def _status_filter(statuses):
    return lambda: [(s, value_label("status", s)) for s in statuses]


def households_per_area(length, codes) -> sa.Select:
    """Households living in each area whose code (``length`` digits) is among ``codes`` (a subquery of
    codes): the sum over the buildings of its grids, from ``buildings (grid_id) INCLUDE (households)``."""
    grids, b = Area.__table__, Building.__table__
    code = func.substr(grids.c.code, 1, length)
    return (
        select(code.label("code"), sa.cast(func.sum(b.c.households), sa.BigInteger).label("households"))
        .select_from(grids.join(b, b.c.grid_id == grids.c.id))
        .where(code.in_(codes))
        .group_by(code)
    )


CH = Charger.__table__
BZ = BikeZone.__table__

register_source(
    HeatSource(
        name="chargers",
        title=_l("充电桩"),
        table=CH,
        geom=CH.c.geom,
        time=None,
        grid=CH.c.grid_id,
        filters=(Filter("status", CH.c.status, _l("状态"), _status_filter(CHARGER_STATUSES)),),
        drill=(("id", CH.c.id), ("name", CH.c.name), ("ports", CH.c.ports), ("status", CH.c.status)),
        drill_order=CH.c.id,
        unit=_l("个"),
        order=60,
    )
)
register_source(
    HeatSource(
        name="bike_zones",
        title=_l("非机动车停放区"),
        table=BZ,
        geom=BZ.c.geom,
        time=None,
        grid=BZ.c.grid_id,
        filters=(Filter("status", BZ.c.status, _l("状态"), _status_filter(BIKE_ZONE_STATUSES)),),
        drill=(("id", BZ.c.id), ("name", BZ.c.name), ("capacity", BZ.c.capacity), ("status", BZ.c.status)),
        drill_order=BZ.c.id,
        unit=_l("处"),
        order=70,
    )
)
