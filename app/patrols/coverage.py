"""Patrol coverage per grid: which grids were walked this week or month, and which were not.

Aggregates only (fixes, patrols, days per grid): shown to every role with ``patrols.figures``.
Counted from the phones' positions, so a grid worker's walk counts whether or not it was logged
as a patrol.
"""

import datetime as dt

from sqlalchemy import and_, distinct, func, or_, select, true
from sqlalchemy.orm import aliased

from app.areas.models import Area
from app.auth.policy import can, scope_of
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import TZ, TZ_NAME, today
from app.patrols.models import Position
from gis.tracks import MAX_ACCURACY_M

PERIODS = ("week", "month")


def period_bounds(period: str, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The Asia/Shanghai week (Monday first) or month holding ``day``, as aware datetimes."""
    if period == "week":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    else:
        raise ApiError(400, "period must be week or month", {"period": "week or month"})
    return dt.datetime.combine(start, dt.time(), TZ), dt.datetime.combine(end, dt.time(), TZ)


def _coverage_query(scope, start: dt.datetime, end: dt.datetime):
    grid, community, pos = aliased(Area), aliased(Area), Position
    walked_here = and_(
        pos.street_code == func.left(grid.code, 9),  # the grid's street: its shard (docs/scaling.md)
        pos.fixed_at >= start,
        pos.fixed_at < end,
        pos.geom.op("&&")(grid.geom),
        func.ST_Intersects(pos.geom, grid.geom),
        or_(pos.accuracy.is_(None), pos.accuracy <= MAX_ACCURACY_M),
    )
    in_scope = true() if scope.everything else grid.code.startswith(scope.area_code, autoescape=True)
    return (
        select(
            grid.code,
            grid.name,
            community.name.label("community"),
            func.count(pos.fixed_at).label("fixes"),
            func.count(distinct(pos.patrol_id)).label("patrols"),
            func.count(distinct(func.date_trunc("day", func.timezone(TZ_NAME, pos.fixed_at)))).label("days"),
            func.max(pos.fixed_at).label("last_walked"),
        )
        .select_from(grid)
        .outerjoin(community, community.id == grid.parent_id)
        .outerjoin(pos, walked_here)
        .where(grid.level == "grid", in_scope)
        .group_by(grid.code, grid.name, community.name)
        .order_by(grid.code)
    )


def coverage(user, period: str = "week", day: dt.date | None = None) -> dict:
    """Per grid in the user's area: fixes, patrols and days walked in the period; grids not walked."""
    if not can(user, "patrols.figures"):
        raise ApiError(403, "no access to patrol coverage")
    start, end = period_bounds(period, day or today())
    rows = [dict(r) for r in db.session.execute(_coverage_query(scope_of(user), start, end)).mappings()]
    for r in rows:
        r["walked"] = r["fixes"] > 0
        r["last_walked"] = r["last_walked"].astimezone(TZ).isoformat() if r["last_walked"] else None
    return {
        "period": period,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "grids": rows,
        "not_walked": [r["code"] for r in rows if not r["walked"]],
    }
