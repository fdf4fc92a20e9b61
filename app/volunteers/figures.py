"""The volunteers' dashboard figure: service hours of attended sign-ups."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from app.areas.models import Area
from app.core.figures import Figure, Frame, Source, Values, grouped, register_figure
from app.volunteers.models import Activity, SignUp

SIGNUPS, ACTIVITIES, AREAS = SignUp.__table__, Activity.__table__, Area.__table__


def _volunteer_hours(frame: Frame) -> Values:
    """Hours of attended sign-ups, per unit of the activity's area (an activity of a whole community
    counts for the community and above, not for one of its grids)."""
    return grouped(
        frame,
        ("volunteer_hours",),
        lambda: Source(
            SIGNUPS.join(ACTIVITIES, ACTIVITIES.c.id == SIGNUPS.c.activity_id).join(
                AREAS, AREAS.c.id == ACTIVITIES.c.area_id
            ),
            AREAS.c.code,
            func.sum(SIGNUPS.c.hours),
            (SIGNUPS.c.attended.is_(True),),
            SIGNUPS.c.occurs_on,
            dates=True,
        ),
    )


register_figure(
    Figure("volunteer_hours", _l("志愿服务时长"), _l("小时"), _volunteer_hours, better="higher", digits=1, order=32)
)
