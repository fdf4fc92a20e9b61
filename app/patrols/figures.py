"""The patrols' dashboard figures: kilometres walked, and grids no phone walked through."""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.areas.models import Area
from app.core.figures import (
    D0,
    D1,
    PD0,
    Figure,
    Frame,
    Source,
    Values,
    grouped,
    in_area,
    register_figure,
)
from app.patrols.models import GridWalkedDay, Patrol

PATROLS, WALKED, AREAS = Patrol.__table__, GridWalkedDay.__table__, Area.__table__


def _patrol_km(frame: Frame) -> Values:
    """Kilometres walked by patrols that started in the period, per unit of the patrol's area."""
    return grouped(
        frame,
        ("patrol_km",),
        lambda: Source(
            PATROLS.join(AREAS, AREAS.c.id == PATROLS.c.area_id),
            AREAS.c.code,
            func.sum(PATROLS.c.distance_m / 1000.0),
            time=PATROLS.c.started_at,
        ),
    )


def _walked(grid, d0, d1):
    """The grid was walked on a local day from ``d0`` to before ``d1`` (``grid_walked_days``: a usable fix
    inside it, kept by triggers as fixes arrive; the periods are whole local days)."""
    w = WALKED
    return sa.exists().where(w.c.grid_id == grid.c.id, w.c.day >= d0, w.c.day < d1)


def _grids_not_walked(frame: Frame) -> Values:
    """Grids without one usable fix inside them in the period: the patrol coverage page's rule, from the
    phones' positions, so a grid worker's walk counts whether or not it was logged as a patrol."""

    def build():
        g = AREAS.alias("g")
        grids = (
            select(g.c.code, _walked(g, D0, D1).label("walked"), _walked(g, PD0, D0).label("walked_before"))
            .where(g.c.level == "grid", in_area(g.c.code))
            .subquery("gw")
        )
        return Source(
            grids,
            grids.c.code,
            func.count().filter(sa.not_(grids.c.walked)),
            (),
            prev_value=func.count().filter(sa.not_(grids.c.walked_before)),
        )

    return grouped(frame, ("grids_not_walked",), build)


register_figure(Figure("patrol_km", _l("巡查里程"), _l("公里"), _patrol_km, better="higher", digits=1, order=33))
register_figure(Figure("grids_not_walked", _l("未巡查网格"), _l("个"), _grids_not_walked, order=34))
