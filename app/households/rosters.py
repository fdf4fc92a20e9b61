"""The roster (网格员名册/年度任务): yearly obligations of households — pension certification
(养老金资格认证), disability card review (残疾人证年审) … — and who is due this month.

An obligation falls due in its month every year; it is *due* from the first day of that month until it is
marked done for the year, and *overdue* once its month has passed. Nothing about due or overdue is
stored: it is read from the completions (:class:`~app.households.models.ObligationDone`) of the year.
Like every household record this is personal information: the user reads and marks only what
:func:`app.auth.policy.personal_clause` lets them read (a grid worker: their grids).
"""

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select

from app.audit.services import audited_insert
from app.auth import policy
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import one_or_404
from app.core.time import TZ, day_start, now, today
from app.households.common import personal_or_404, require_personal
from app.households.models import Household, Member, Obligation, ObligationDone

KIND_LABELS = {
    "pension_certification": _l("养老金资格认证"),
    "disability_review": _l("残疾人证年审"),
    "subsistence_review": _l("低保年审"),
    "elderly_allowance": _l("高龄津贴认证"),
    "other": _l("其他年度事项"),
}


def add_obligation(user, household_id: int, values: dict) -> Obligation:
    """A yearly obligation of a household the user keeps (``kind``, ``due_month``, ``member_id``, ``at_home``,
    ``note``); the member, if named, must belong to the household (422)."""
    h = personal_or_404(user, Household, household_id, "household")
    member_id = values.get("member_id")
    if member_id is not None and not any(m.id == member_id for m in h.members):
        raise ApiError(422, "that person is not a member of this household", {"member_id": "not in the household"})
    row = Obligation(household_id=h.id, created_by=user.id, **values)
    return audited_insert(row, lambda r: {"household_id": r.household_id, "kind": r.kind, "due_month": r.due_month})


def _done_this_year(year: int):
    return select(ObligationDone.obligation_id).where(ObligationDone.year == year).scalar_subquery()


def roster(user, year: int | None = None, month: int | None = None, kind: str | None = None) -> list[dict]:
    """The year's obligations the user may read, due by ``month`` (default: all months), with their state:
    ``done`` (with when and by whom), ``overdue`` (month passed), ``due`` (this month) or ``upcoming``."""
    require_personal(user)
    on = today()
    year = year or on.year
    stmt = (
        select(Obligation, ObligationDone)
        .join(Household, Household.id == Obligation.household_id)
        .outerjoin(ObligationDone, and_(ObligationDone.obligation_id == Obligation.id, ObligationDone.year == year))
        .where(Obligation.active, policy.personal_clause(user, Household.grid_id))
        .order_by(Obligation.due_month, Household.building_id, Household.flat_no, Obligation.id)
    )
    if month is not None:
        stmt = stmt.where(Obligation.due_month <= month)
    if kind:
        stmt = stmt.where(Obligation.kind == kind)
    return [_row(o, done, year, on) for o, done in db.session.execute(stmt)]


def _state(o: Obligation, done, year: int, on: dt.date) -> str:
    if done is not None:
        return "done"
    if (year, o.due_month) < (on.year, on.month):
        return "overdue"
    return "due" if (year, o.due_month) == (on.year, on.month) else "upcoming"


def _row(o: Obligation, done: ObligationDone | None, year: int, on: dt.date) -> dict:
    h = o.household
    return {
        "id": o.id,
        "household_id": h.id,
        "household": h.head_name,
        "building": h.building.name if h.building else "",
        "flat_no": h.flat_no,
        "member": o.member.name if o.member else None,
        "kind": o.kind,
        "kind_label": str(KIND_LABELS[o.kind]),
        "due_month": o.due_month,
        "at_home": o.at_home,
        "note": o.note,
        "year": year,
        "state": _state(o, done, year, on),
        "done_at": done.done_at.astimezone(TZ).isoformat() if done else None,
        "done_note": done.note if done else None,
    }


def due_now(user) -> list[dict]:
    """What the user's households must still do this year by this month: overdue first, then this month's."""
    rows = [r for r in roster(user, month=today().month) if r["state"] in ("overdue", "due")]
    return sorted(rows, key=lambda r: (r["state"] != "overdue", r["due_month"]))


def mark_done(user, obligation_id: int, note: str | None = None, done_on: dt.date | None = None) -> ObligationDone:
    """Mark an obligation done for the year of ``done_on`` (default today); 409 if that year is done already,
    422 for a day in the future."""
    o = one_or_404(
        select(Obligation)
        .join(Household, Household.id == Obligation.household_id)
        .where(Obligation.id == obligation_id, policy.personal_clause(user, Household.grid_id))
        .with_for_update(of=Obligation),
        f"no obligation {obligation_id} among the files you may read",
    )
    day = done_on or today()
    if day > today():
        raise ApiError(422, "done_on: not in the future", {"done_on": "in the future"})
    if db.session.scalar(
        select(ObligationDone.id).where(ObligationDone.obligation_id == o.id, ObligationDone.year == day.year)
    ):
        raise ApiError(409, f"already done for {day.year}", {"year": str(day.year)})
    at = now() if day == today() else day_start(day) + dt.timedelta(hours=12)
    row = ObligationDone(obligation_id=o.id, year=day.year, done_at=at, done_by=user.id, note=note)
    return audited_insert(row, lambda r: {"obligation_id": r.obligation_id, "year": r.year})


def household_lines(user, household) -> list[str]:
    """The household file page's lines: each obligation and this year's state."""
    rows = [r for r in roster(user) if r["household_id"] == household.id]
    labels = {"done": _l("已办"), "overdue": _l("逾期未办"), "due": _l("本月应办"), "upcoming": _l("未到期")}
    return [
        f"{r['kind_label']}{'（' + r['member'] + '）' if r['member'] else ''} · "
        f"{_l('每年 %(m)s 月', m=r['due_month'])} · {labels[r['state']]}"
        for r in rows
    ]


def completions_by(user_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, int]:
    """How many obligations each user marked done in ``[start, end)`` (for the leaders' assessment)."""
    stmt = (
        select(ObligationDone.done_by, func.count())
        .where(ObligationDone.done_by.in_(user_ids), ObligationDone.done_at >= start, ObligationDone.done_at < end)
        .group_by(ObligationDone.done_by)
    )
    return dict(db.session.execute(stmt).all())


def members_of(user, household_id: int) -> list[Member]:
    """A household's members, for the form that names who the obligation is for."""
    return list(personal_or_404(user, Household, household_id, "household").members)
