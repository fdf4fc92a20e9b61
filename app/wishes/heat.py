"""The wishes' heat source: a household's wish has no location of its own, so it is coloured per area only
(personal: counted in households)."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.core.heat import Filter, HeatSource, register_source
from app.wishes.models import WISH_STATUSES, Wish

T = Wish.__table__

# Whom a wish is about: its household, else the wish itself.
WISH_PERSON = sa.func.coalesce(sa.literal("h") + sa.cast(T.c.household_id, sa.Text),
                               sa.literal("w") + sa.cast(T.c.id, sa.Text))

register_source(HeatSource(
    name="wishes", title=_l("微心愿"), table=T, geom=None, time=T.c.posted_at, grid=T.c.grid_id,
    filters=(Filter("status", T.c.status, _l("状态"), lambda: [(s, s) for s in WISH_STATUSES]),),
    drill=(("id", T.c.id), ("posted_at", T.c.posted_at), ("status", T.c.status)), drill_order=T.c.posted_at,
    personal=True, person=WISH_PERSON, people=_l("户"), people_days=_l("户·天"), unit=_l("个"), order=45))
