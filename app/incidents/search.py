"""The search box finds an incident by its number (19, #19) or its case number (ABCD-EFGH)."""

import re

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.auth import policy
from app.core.extensions import db
from app.core.registry import register_search
from app.incidents.models import Incident
from app.incidents.services.categories import category_name

_NUMBER = re.compile(r"^#?\s*(\d{1,18})$")
_CASE = re.compile(r"^[2-9A-HJ-NP-Z]{4}-?[2-9A-HJ-NP-Z]{4}$", re.IGNORECASE)


def search(user, text: str, limit: int) -> list[dict]:
    """Incidents numbered ``text`` within the user's area (the list's own rule)."""
    text = text.strip()
    if m := _NUMBER.match(text):
        number = int(m.group(1))
        if number > 2**63 - 1:
            return []
        cond = Incident.id == number
    elif _CASE.match(text):
        cond = Incident.case_number == text.upper().replace("-", "")  # shown as ABCD-EFGH, stored without
    else:
        return []
    rows = db.session.execute(
        select(Incident, func.ST_X(Incident.geom), func.ST_Y(Incident.geom))
        .where(cond, policy.grid_clause(policy.scope_of(user), Incident.grid_id, Incident.geom))
        .limit(limit)
    ).all()
    return [
        {
            "title": f"#{i.id} {category_name(i.category)}",
            "subtitle": i.address or i.description[:40],
            "lon": lon,
            "lat": lat,
            "url": url_for("incidents.detail", incident_id=i.id),
        }
        for i, lon, lat in rows
    ]


def register() -> None:
    register_search("incidents", _l("事件"), search, order=10)
