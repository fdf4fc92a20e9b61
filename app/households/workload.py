"""The households' worker measures (网格员考核): visits done and visits due by the care plans a grid worker
keeps, and yearly obligations (网格员名册) marked done. All count residents' records: personal."""

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, cast, func, select

from app.core.extensions import db
from app.core.time import TZ
from app.core.workload import Measure, register_measure
from app.households.models import CarePlan, Visit, visit_visitors
from app.households.rosters import completions_by


def visits_done(ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, float]:
    """Visits the user took part in (as a visitor) in the period."""
    stmt = (
        select(visit_visitors.c.user_id, func.count())
        .join(Visit, Visit.id == visit_visitors.c.visit_id)
        .where(visit_visitors.c.user_id.in_(ids), Visit.visited_at >= start, Visit.visited_at < end)
        .group_by(visit_visitors.c.user_id)
    )
    return dict(db.session.execute(stmt).all())


def visits_due(ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, float]:
    """Visits the user's active care plans ask for in the period: per plan, the days of the period from the
    plan's start, divided by its frequency (whole visits)."""
    first = func.greatest(start.astimezone(TZ).date(), CarePlan.start_date)
    days = func.greatest(0, end.astimezone(TZ).date() - first)
    stmt = (
        select(CarePlan.worker_id, func.sum(func.floor(cast(days, Float) / CarePlan.frequency_days)))
        .where(CarePlan.worker_id.in_(ids), CarePlan.active)
        .group_by(CarePlan.worker_id)
    )
    return {u: float(v) for u, v in db.session.execute(stmt)}


def obligations_done(ids, start, end):
    return completions_by(ids, start, end)


register_measure(
    Measure(
        "visits_done", _l("入户走访"), _l("次"), visits_done, personal=True, order=30, help=_l("作为走访人参与的走访")
    )
)
register_measure(
    Measure(
        "visits_due",
        _l("应走访"),
        _l("次"),
        visits_due,
        personal=True,
        order=31,
        help=_l("其关爱计划在期间内要求的走访次数"),
    )
)
register_measure(
    Measure(
        "obligations_done",
        _l("年度事项办结"),
        _l("件"),
        obligations_done,
        personal=True,
        order=32,
        help=_l("养老金资格认证等年度事项"),
    )
)
