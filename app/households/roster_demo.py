"""Demo roster (网格员名册): Grandma Peng's yearly pension certification, done at home this year on the visit
the households demo logged; Mr Liu's certification due this month and his 低保 review overdue; the
disability card reviews of the key households at 三兆家园 and 九间楼 due this month.

Runs after the households demo step (finds its records through its helpers); idempotent.
"""

import datetime as dt

from sqlalchemy import select

from app.core.extensions import db
from app.core.time import now
from app.households.demo import demo_household, demo_households_at
from app.households.models import Household, Obligation, ObligationDone, Visit

PENSION_NOTE = "90岁，无法行走：网格员与社区党委委员上门，人脸识别认证"


def _peng(today: dt.date) -> list:
    peng = demo_household("彭奶奶")
    if peng is None:
        return []
    visit = db.session.scalar(
        select(Visit).where(Visit.household_id == peng.id, Visit.purpose == "pension_certification")
    )
    done_at = visit.visited_at if visit else now() - dt.timedelta(days=12)
    member = next((m for m in peng.members if m.name == "彭奶奶"), None)
    o = Obligation(
        household_id=peng.id,
        member_id=member.id if member else None,
        kind="pension_certification",
        due_month=done_at.month,
        at_home=True,
        note="行动不便，需上门认证",
    )
    by = visit.visitors[0].id if visit and visit.visitors else None
    return [
        o,
        lambda: ObligationDone(obligation_id=o.id, year=done_at.year, done_at=done_at, done_by=by, note=PENSION_NOTE),
    ]


def _others(today: dt.date) -> list:
    rows = []
    liu = demo_household("刘先生")
    if liu is not None:
        rows.append(Obligation(household_id=liu.id, kind="pension_certification", due_month=today.month))
        rows.append(
            Obligation(
                household_id=liu.id,
                kind="subsistence_review",
                due_month=max(1, today.month - 1),
                note="低保年审材料待收齐",
            )
        )
    for building in ("三兆家园1号楼", "九间楼"):
        for h in demo_households_at(building):
            if any(t.code == "disabled" for t in h.tags):
                rows.append(Obligation(household_id=h.id, kind="disability_review", due_month=today.month))
    return rows


def seed_roster() -> int:
    """The demo's yearly obligations (once: nothing if any obligation exists)."""
    if db.session.scalar(select(Obligation.id).limit(1)) or db.session.scalar(select(Household.id).limit(1)) is None:
        return 0
    today = now().date()
    items = _peng(today) + _others(today)
    objects = [i for i in items if isinstance(i, Obligation)]
    db.session.add_all(objects)
    db.session.flush()
    later = [i() for i in items if callable(i)]
    db.session.add_all(later)
    db.session.flush()
    return len(objects) + len(later)
