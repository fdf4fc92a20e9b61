"""The households' heat source: visits (personal: hidden below the small count, listed only to file readers)."""
from flask_babel import lazy_gettext as _l

from app.core.heat import Filter, HeatSource, register_source
from app.households.models import VISIT_PURPOSES, Visit

T = Visit.__table__

register_source(HeatSource(
    name="visits", title=_l("入户走访"), table=T, geom=T.c.geom, time=T.c.visited_at, grid=T.c.grid_id,
    filters=(Filter("purpose", T.c.purpose, _l("目的"), lambda: [(p, p) for p in VISIT_PURPOSES]),),
    drill=(("id", T.c.id), ("visited_at", T.c.visited_at), ("purpose", T.c.purpose)), drill_order=T.c.visited_at,
    personal=True, unit=_l("次"), order=40))
