"""The wishes' worker measures (网格员考核): wishes a grid worker registered for households, and wishes
fulfilled in the period that they registered or took on as a volunteer. Residents' records: personal."""

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from app.core.extensions import db
from app.core.workload import Measure, register_measure
from app.volunteers.models import Volunteer
from app.wishes.models import Wish


def posted(ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, float]:
    stmt = (
        select(Wish.posted_by, func.count())
        .where(Wish.posted_by.in_(ids), Wish.posted_at >= start, Wish.posted_at < end)
        .group_by(Wish.posted_by)
    )
    return dict(db.session.execute(stmt).all())


def fulfilled(ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, float]:
    who = func.coalesce(Volunteer.user_id, Wish.posted_by)
    stmt = (
        select(who, func.count())
        .select_from(Wish)
        .outerjoin(Volunteer, Volunteer.id == Wish.claimed_by_volunteer_id)
        .where(
            Wish.status == "fulfilled",
            Wish.fulfilled_at >= start,
            Wish.fulfilled_at < end,
            or_(Volunteer.user_id.in_(ids), Wish.posted_by.in_(ids)),
        )
        .group_by(who)
    )
    return {u: v for u, v in db.session.execute(stmt) if u in ids}


register_measure(
    Measure("wishes_posted", _l("登记微心愿"), _l("个"), posted, personal=True, order=40, help=_l("为住户登记的微心愿"))
)
register_measure(
    Measure(
        "wishes_fulfilled",
        _l("实现微心愿"),
        _l("个"),
        fulfilled,
        personal=True,
        order=41,
        help=_l("本人登记或认领、期间内实现的"),
    )
)
