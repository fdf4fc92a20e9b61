"""Households per grid and per tag: an aggregate, suppressed below five for everybody."""

from sqlalchemy import func, select

from app.areas.models import Area
from app.auth import policy
from app.core.extensions import db
from app.households.models import Household, Tag, household_tags


def household_stats(user) -> list[dict]:
    """Households per grid and per tag in the user's files (or area, for counts-only readers)."""
    clause = (
        policy.personal_clause(user, Household.grid_id)
        if policy.reads_personal(user)
        else policy.counts_clause(user, Household.grid_id)
    )
    totals = db.session.execute(
        select(Area.code, Area.name, func.count(Household.id))
        .join(Area, Area.id == Household.grid_id)
        .where(clause)
        .group_by(Area.code, Area.name)
        .order_by(Area.code)
    ).all()
    per_tag = db.session.execute(
        select(Area.code, Tag.code, func.count(Household.id))
        .select_from(Household)
        .join(Area, Area.id == Household.grid_id)
        .join(household_tags, household_tags.c.household_id == Household.id)
        .join(Tag, Tag.id == household_tags.c.tag_id)
        .where(clause)
        .group_by(Area.code, Tag.code)
    ).all()
    tags: dict = {}
    for grid, tag, n in per_tag:
        tags.setdefault(grid, {})[tag] = policy.suppress(n)
    return [
        {"grid_code": code, "grid_name": name, "households": policy.suppress(n), "by_tag": tags.get(code, {})}
        for code, name, n in totals
    ]


def files_per_building():
    """A subquery: ``building_id``, ``households`` (how many household files each building has).

    For estimates inside a service (planning's e-bikes per building), never shown per building to
    readers without the files."""
    return (
        select(Household.building_id, func.count(Household.id).label("households"))
        .group_by(Household.building_id)
        .subquery()
    )
