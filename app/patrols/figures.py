"""The patrols' dashboard figures: kilometres walked, and grids no phone walked through."""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.areas.models import Area
from app.core.figures import (
    P0,
    T0,
    T1,
    Figure,
    Frame,
    Source,
    Values,
    grouped,
    in_area,
    register_figure,
)
from app.patrols.models import Patrol, Position
from gis.tracks import MAX_ACCURACY_M

PATROLS, POSITIONS, AREAS = Patrol.__table__, Position.__table__, Area.__table__


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


def _walked(grid, t0, t1):
    """A usable fix (accuracy within ``MAX_ACCURACY_M``) inside ``grid`` between ``t0`` and ``t1``."""
    p = POSITIONS
    return sa.exists().where(
        p.c.street_code == func.left(grid.c.code, 9),  # the grid's street: its shard (docs/scaling.md)
        p.c.fixed_at >= t0,
        p.c.fixed_at < t1,
        p.c.geom.op("&&")(grid.c.geom),
        func.ST_Intersects(p.c.geom, grid.c.geom),
        sa.or_(p.c.accuracy.is_(None), p.c.accuracy <= MAX_ACCURACY_M),
    )


def _grids_not_walked(frame: Frame) -> Values:
    """Grids without one usable fix inside them in the period: the patrol coverage page's rule, from the
    phones' positions, so a grid worker's walk counts whether or not it was logged as a patrol."""

    def build():
        g = AREAS.alias("g")
        grids = (
            select(g.c.code, _walked(g, T0, T1).label("walked"), _walked(g, P0, T0).label("walked_before"))
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
