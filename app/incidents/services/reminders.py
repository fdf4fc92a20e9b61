"""Deadline near and overdue (即将到期 / 已超时): told once per stage to whoever's stage it is.

Run every five minutes by the jobs worker (:mod:`app.incidents.tasks`) or by ``flask incidents remind``.
``incidents.deadline_notified`` remembers what was told for the current stage (1 near, 2 overdue; a new
stage or more time granted clears it), so a run looks only at open incidents not told yet, and two runs
at once skip each other's rows (``FOR UPDATE SKIP LOCKED``); the notices' keys would drop a double anyway.
"""

from sqlalchemy import case, func, select

from app.core.extensions import db
from app.incidents.models import Incident, IncidentCategory
from app.incidents.services.deadlines import due_at_sql, stage_hours_sql
from app.incidents.services.tell import deadline as tell_deadline
from app.incidents.workflow import TIMED_STAGES

WARN_HOURS = 2.0  # "near": this long before the deadline, or a quarter of a short stage
BATCH = 200


def _candidates(warn_hours: float):
    """Open incidents whose stage is due within the warning time and not yet told so, locked."""
    due = due_at_sql()
    stage_seconds = (stage_hours_sql() + Incident.extension_hours) * 3600
    warn = func.least(warn_hours * 3600, stage_seconds / 4)
    level = case((due <= func.now(), 2), else_=1)
    return (
        select(Incident.id, level.label("level"))
        .join(IncidentCategory, IncidentCategory.id == Incident.category_id)
        .where(
            Incident.state.in_(TIMED_STAGES),
            Incident.deadline_notified < level,
            due - func.make_interval(0, 0, 0, 0, 0, 0, warn) <= func.now(),
        )
        .order_by(Incident.id)
        .limit(BATCH)
        .with_for_update(of=Incident, skip_locked=True)
    )


def remind(warn_hours: float = WARN_HOURS) -> int:
    """Tell of every deadline now near or past that was not told yet; how many incidents were told of."""
    told = 0
    while True:
        rows = db.session.execute(_candidates(warn_hours)).all()
        if not rows:
            break
        for row in rows:
            incident = Incident.by_id(row.id)
            tell_deadline(incident, overdue=row.level == 2)
            incident.deadline_notified = row.level
            told += 1
        db.session.commit()
    return told
