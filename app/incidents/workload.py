"""The incidents' worker measures (网格员考核): incidents a grid worker found (reported) in the period, how
many of them are closed, and how many were closed within the category's deadlines (the hours of every
stage from 信息采集 to 反馈, the category's figures or the defaults, plus time granted on request)."""

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, cast, func, literal, select

from app.core.extensions import db
from app.core.workload import Measure, register_measure
from app.incidents.models import Incident, IncidentCategory
from app.incidents.workflow import DEFAULT_DEADLINES

STAGES = ("reported", "filed", "dispatched", "in_progress", "responded")
DONE = ("closed", "evaluated")


def _allowed_hours():
    return sum(
        func.coalesce(cast(IncidentCategory.deadlines[s].astext, Float), literal(float(DEFAULT_DEADLINES[s])))
        for s in STAGES
    )


def _counts(ids: list[int], start: dt.datetime, end: dt.datetime, *extra) -> dict[int, float]:
    stmt = (
        select(Incident.reported_by, func.count())
        .join(IncidentCategory, IncidentCategory.id == Incident.category_id)
        .where(Incident.reported_by.in_(ids), Incident.reported_at >= start, Incident.reported_at < end, *extra)
        .group_by(Incident.reported_by)
    )
    return dict(db.session.execute(stmt).all())


def found(ids, start, end):
    return _counts(ids, start, end)


def closed(ids, start, end):
    return _counts(ids, start, end, Incident.state.in_(DONE))


def on_time(ids, start, end):
    hours = _allowed_hours() + Incident.extension_hours
    limit = Incident.reported_at + func.make_interval(0, 0, 0, 0, 0, 0, hours * 3600)
    return _counts(ids, start, end, Incident.state.in_(DONE), Incident.closed_at <= limit)


register_measure(
    Measure("incidents_found", _l("发现上报事件"), _l("件"), found, order=20, help=_l("期间内本人上报的事件"))
)
register_measure(
    Measure("incidents_closed", _l("其中已结案"), _l("件"), closed, order=21, help=_l("上报的事件中已核查结案的"))
)
register_measure(
    Measure(
        "incidents_on_time", _l("其中按时结案"), _l("件"), on_time, order=22, help=_l("在类别各阶段时限之和内结案的")
    )
)
