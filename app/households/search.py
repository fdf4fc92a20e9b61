"""The search box finds households by the head's name, for those who may read household files (their
grids only); each search that shows households is recorded in the audit log, as reading a list is."""

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.audit.services import record
from app.auth import policy
from app.basemap.models import Building
from app.core.extensions import db
from app.core.registry import register_search
from app.core.sql import like_escape
from app.households.models import Household


def search(user, text: str, limit: int) -> list[dict]:
    """Households whose head's name holds ``text``, in the user's files only."""
    if not policy.reads_personal(user) or len(text.strip()) < 2:
        return []
    point = func.ST_PointOnSurface(Building.geom)
    rows = db.session.execute(
        select(Household.id, Household.head_name, Household.flat_no, Building.name, func.ST_X(point), func.ST_Y(point))
        .join(Building, Building.id == Household.building_id)
        .where(
            Household.head_name.ilike("%" + like_escape(text.strip()) + "%"),
            policy.personal_clause(user, Household.grid_id),
        )
        .order_by(Household.head_name, Household.id)
        .limit(limit)
    ).all()
    if rows:
        record("list", "households", None, after={"household_ids": [r[0] for r in rows], "search": text})
        db.session.commit()
    return [
        {
            "title": head,
            "subtitle": f"{building or ''} {flat}".strip(),
            "lon": lon,
            "lat": lat,
            "url": url_for("households.detail", household_id=hid),
        }
        for hid, head, flat, building, lon, lat in rows
    ]


def register() -> None:
    register_search("households", _l("住户"), search, order=40)
