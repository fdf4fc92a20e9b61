"""The households' dashboard figures: visits done, visits the care plans call for, and the share done.

Visits done and due are personal: counted per grid over the households they are about, a grid with
fewer than the small count of households left out (:func:`app.core.figures.people_statement`)."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from app.areas.models import Area
from app.auth.policy import SMALL_COUNT
from app.core.figures import (
    D0,
    D1,
    PD0,
    Figure,
    Frame,
    Source,
    Values,
    count_figure,
    grouped,
    register_figure,
)
from app.households.heat import VISIT_PERSON
from app.households.models import CarePlan, Household, Visit

GRIDS = Area.__table__
PLANS, HOUSEHOLDS = CarePlan.__table__, Household.__table__

visits_done = register_figure(count_figure("visits_done", _l("入户走访"), Visit.__table__.c.visited_at, areas=GRIDS,
                                           personal=True, person=VISIT_PERSON, unit=_l("次"), order=30))


def _visits_due(frame: Frame) -> Values:
    """Visits the active care plans call for in the period: per plan, the days of the period since the
    plan started divided by its frequency (a weekly plan over 30 days: 4.3 visits), summed per unit.

    Plans are taken as they are now (one stopped since is not counted for the past), the way the
    households feature decides who is due. The people are the households whose plan calls for a visit
    in the period (it started before the period's end).
    """
    def calls_for(d0, d1):
        days = func.greatest(0, d1 - func.greatest(d0, PLANS.c.start_date))
        return func.sum(sa.cast(days, sa.Float) / PLANS.c.frequency_days)
    return grouped(frame, ("visits_due",), lambda: Source(
        PLANS.join(HOUSEHOLDS, HOUSEHOLDS.c.id == PLANS.c.household_id).join(GRIDS, GRIDS.c.id == HOUSEHOLDS.c.grid_id),
        GRIDS.c.code, calls_for(D0, D1), (PLANS.c.active.is_(True),), prev_value=calls_for(PD0, D0),
        person=PLANS.c.household_id, person_in=(PLANS.c.start_date < D1, PLANS.c.start_date < D0)))


def _visits_done_share(frame: Frame) -> Values:
    """Visits done as a share of the visits due, in percent (either below the small count: not shown)."""
    done, due = visits_done.compute(frame), _visits_due(frame)

    def share(n, d):
        if n is None or d is None or n < SMALL_COUNT or d < SMALL_COUNT:
            return None
        return round(n * 100.0 / d, 1)
    return Values({u: share(done.cur.get(u), d) for u, d in due.cur.items()},
                  {u: share(done.prev.get(u), d) for u, d in due.prev.items()},
                  share(done.total, due.total), share(done.total_prev, due.total_prev))


register_figure(Figure("visits_due", _l("应走访"), _l("次"), _visits_due, personal=True, better="none", order=29))
register_figure(Figure("visits_done_pct", _l("走访完成率"), "%", _visits_done_share, better="higher", digits=1,
                       order=30, missing=None))
