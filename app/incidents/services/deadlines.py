"""Deadlines and overdue, in SQL: computed from the category's hours per stage, never typed in.

The dashboard counts overdue incidents with :func:`overdue_sql` too, so that its figure and the
incident lists agree.
"""

import datetime as dt

from sqlalchemy import Float, and_, case, cast, func, literal, select

from app.core.extensions import db
from app.incidents.models import Incident, IncidentCategory
from app.incidents.workflow import DEFAULT_DEADLINES, TIMED_STAGES


def stage_hours_sql(inc=Incident, cat=IncidentCategory):
    """Hours allowed in the incident's current stage: the category's figure, else the default."""
    default = case(
        {s: literal(float(h)) for s, h in DEFAULT_DEADLINES.items()}, value=inc.state, else_=literal(None, Float)
    )
    return func.coalesce(cast(cat.deadlines[inc.state].astext, Float), default)


def _stage_end(inc, cat):
    """The stage's start plus its hours and the hours granted on request (``extension_hours``)."""
    hours = stage_hours_sql(inc, cat) + inc.extension_hours
    return inc.state_changed_at + func.make_interval(0, 0, 0, 0, 0, 0, hours * 3600)


def due_at_sql(inc=Incident, cat=IncidentCategory):
    """When the current stage is due (NULL for final states)."""
    return case((inc.state.in_(TIMED_STAGES), _stage_end(inc, cat)), else_=None)


def overdue_sql(inc=Incident, cat=IncidentCategory):
    """True when an open incident has stayed in its stage longer than the category allows."""
    return and_(inc.state.in_(TIMED_STAGES), _stage_end(inc, cat) < func.now())


def overdue_of(incident: Incident) -> tuple[dt.datetime | None, bool]:
    """Due time and overdue flag for one incident, from SQL."""
    row = db.session.execute(
        select(due_at_sql(), overdue_sql())
        .select_from(Incident)
        .join(IncidentCategory, IncidentCategory.id == Incident.category_id)
        .where(Incident.id == incident.id, Incident.street_code == incident.street_code)
    ).one()
    return row[0], bool(row[1])
