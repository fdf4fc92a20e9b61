"""The search box finds compounds and buildings by name or address, within the user's area."""

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from app.auth import policy
from app.basemap.models import Building, Compound
from app.core.extensions import db
from app.core.registry import register_search
from app.core.sql import like_escape


def _finder(model, layer: str):
    def search(user, text: str, limit: int) -> list[dict]:
        pattern = "%" + like_escape(text) + "%"
        point = func.ST_PointOnSurface(model.geom)
        rows = db.session.execute(
            select(model.id, model.name, model.address, func.ST_X(point), func.ST_Y(point))
            .where(
                or_(model.name.ilike(pattern), model.address.ilike(pattern)),
                policy.grid_clause(policy.scope_of(user), model.grid_id, model.geom),
            )
            .order_by(func.length(model.name), model.id)
            .limit(limit)
        ).all()
        return [
            {
                "title": name or address or f"#{rid}",
                "subtitle": address if name else None,
                "lon": lon,
                "lat": lat,
                "url": url_for("mappage.index", focus=f"{layer}:{rid}"),
            }
            for rid, name, address, lon, lat in rows
        ]

    return search


def register() -> None:
    register_search("compounds", _l("小区"), _finder(Compound, "compounds"), order=20)
    register_search("buildings", _l("楼栋"), _finder(Building, "buildings"), order=30)
