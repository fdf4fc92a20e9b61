"""The households' heat source: visits (personal: counted in households, listed only to file readers)."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.core.heat import Filter, HeatSource, register_source
from app.households.models import VISIT_PURPOSES, Visit

T = Visit.__table__


def _key(prefix: str, column) -> sa.ColumnElement:
    return sa.literal(prefix) + sa.cast(column, sa.Text)


# Whom a visit is about: its household, else its building, else whoever logged a visit to a place, else
# the visit itself. The heat map and the dashboard count these, not visits (docs/heatmaps.md).
VISIT_PERSON = sa.func.coalesce(_key("h", T.c.household_id), _key("b", T.c.building_id), _key("u", T.c.created_by),
                                _key("v", T.c.id))

register_source(HeatSource(
    name="visits", title=_l("入户走访"), table=T, geom=T.c.geom, time=T.c.visited_at, grid=T.c.grid_id,
    filters=(Filter("purpose", T.c.purpose, _l("目的"), lambda: [(p, p) for p in VISIT_PURPOSES]),),
    drill=(("id", T.c.id), ("visited_at", T.c.visited_at), ("purpose", T.c.purpose)), drill_order=T.c.visited_at,
    personal=True, person=VISIT_PERSON, people=_l("户"), people_days=_l("户·天"), unit=_l("次"), order=40))
