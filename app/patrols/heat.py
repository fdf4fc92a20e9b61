"""The patrols' heat sources: phones' positions (where a named person was: personal, counted in people per
day and coarse cell, bins only) and the bad-parking spots patrols found."""
from flask_babel import lazy_gettext as _l

from app.core.heat import HeatSource, register_source
from app.patrols.models import BadParkingSpot, Position

P = Position.__table__
S = BadParkingSpot.__table__

# Positions carry no grid (ingest speed): the user's area polygon limits them, and there is no choropleth.
register_source(HeatSource(
    name="positions", title=_l("巡查覆盖"), table=P, geom=P.c.geom, time=P.c.fixed_at, grid=None,
    drill=(("fixed_at", P.c.fixed_at), ("patrol_id", P.c.patrol_id)), drill_order=P.c.fixed_at,
    personal=True, person=P.c.user_id, people=_l("人"), people_days=_l("人·天"), unit=_l("个定位点"), order=50))
register_source(HeatSource(
    name="bad_parking_spots", title=_l("巡查发现乱停放"), table=S, geom=S.c.geom, time=S.c.found_at,
    grid=S.c.grid_id, drill=(("id", S.c.id), ("found_at", S.c.found_at), ("bikes", S.c.bikes),
                             ("reparked", S.c.reparked)), drill_order=S.c.found_at, unit=_l("处"), order=35))
