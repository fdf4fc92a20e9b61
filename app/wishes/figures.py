"""The wishes' dashboard figure: wishes fulfilled in the period (personal: counted per grid over households,
a grid with fewer than the small count left out)."""
from flask_babel import lazy_gettext as _l

from app.areas.models import Area
from app.core.figures import count_figure, register_figure
from app.wishes.heat import WISH_PERSON
from app.wishes.models import Wish

register_figure(count_figure("wishes_fulfilled", _l("微心愿实现"), Wish.__table__.c.fulfilled_at, areas=Area.__table__,
                             personal=True, person=WISH_PERSON, unit=_l("个"), order=31))
