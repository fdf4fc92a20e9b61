"""Lists of incidents: the map overlay's GeoJSON, the list page, the CSV export and their counts.

Built by PostgreSQL (``json_build_object``) and planned for index walks, so that a page of a
million-row table stays cheap. No personal data in any of them.
"""

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import JSON, Integer, cast, func, literal, literal_column, or_, select, true
from sqlalchemy.orm import aliased

from app.areas.models import Area
from app.auth.models import User
from app.auth.policy import Scope, grid_clause
from app.core.extensions import db
from app.core.sql import index_driven, like_escape
from app.incidents.models import OPEN_STATES, Incident, IncidentCategory, Offer
from app.incidents.services.categories import category_ids, category_name_sql
from app.incidents.services.deadlines import due_at_sql, overdue_sql

MAX_LIMIT = 10000
COUNT_CAP = 1000
SORTS = {
    "reported_at": Incident.reported_at,
    "id": Incident.id,
    "state": Incident.state,
    "state_changed_at": Incident.state_changed_at,
}
CSV_COLUMNS = [
    "id",
    "state",
    "category",
    "category_name",
    "source",
    "description",
    "address",
    "reported_at",
    "state_changed_at",
    "closed_at",
    "due_at",
    "overdue",
    "grid_code",
    "grid_name",
    "lon",
    "lat",
]


@dataclass(frozen=True)
class Filters:
    """What a list shows: every field narrows it (None: no condition)."""

    state: tuple[str, ...] | None = None
    source: tuple[str, ...] | None = None
    category: tuple[str, ...] | None = None  # codes; each with its subtree
    grid: str | None = None  # area code: its subtree
    overdue: bool | None = None
    open: bool | None = None
    mine: int | None = None  # a user id: offered or dispatched to them
    reporters: tuple[str, ...] | None = None  # usernames of who reported them (a patrol's members)
    reported_from: dt.datetime | None = None
    reported_to: dt.datetime | None = None  # exclusive
    bbox: tuple[float, float, float, float] | None = None
    q: str | None = None
    sort: str = "-reported_at"


def filter_conditions(scope: Scope, f: Filters) -> list:
    """SQL conditions for a list's filters, within the user's area."""
    conds = [grid_clause(scope, Incident.grid_id, Incident.geom)]
    if f.state:
        conds.append(Incident.state.in_(f.state))
    if f.source:
        conds.append(Incident.source.in_(f.source))
    if f.category:
        # Resolved to ids first: the planner then knows how selective the filter is.
        conds.append(Incident.category_id.in_(category_ids(list(f.category)) or [-1]))
    if f.grid:
        conds.append(Incident.grid_id.in_(select(Area.id).where(Area.code.startswith(f.grid, autoescape=True))))
    if f.overdue is not None:
        conds.append(overdue_sql() if f.overdue else ~overdue_sql())
    if f.open or f.mine:
        conds.append(Incident.state.in_(OPEN_STATES))
    if f.mine:
        conds.append(
            or_(
                Incident.assignee_id == f.mine,
                Incident.id.in_(select(Offer.incident_id).where(Offer.user_id == f.mine)),
            )
        )
    if f.reporters:
        conds.append(Incident.reported_by.in_(select(User.id).where(User.username.in_(f.reporters))))
    if f.reported_from:
        conds.append(Incident.reported_at >= f.reported_from)
    if f.reported_to:
        conds.append(Incident.reported_at < f.reported_to)
    if f.bbox:
        conds.append(Incident.geom.intersects(func.ST_MakeEnvelope(*f.bbox, 4326)))
    if f.q:
        conds.append(Incident.description.ilike("%" + like_escape(f.q) + "%"))
    return conds


def _base(scope: Scope, f: Filters):
    return (
        select()
        .select_from(Incident)
        .join(IncidentCategory, IncidentCategory.id == Incident.category_id)
        .where(*filter_conditions(scope, f))
    )


def _order(stmt, sort: str):
    col = SORTS[sort.lstrip("-")]
    return stmt.order_by(col.desc() if sort.startswith("-") else col.asc(), Incident.id.desc())


def count_incidents(scope: Scope, f: Filters, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many match, counted up to ``cap`` (True when there are more)."""
    index_driven()
    inner = _base(scope, f).add_columns(literal(1)).limit(cap + 1).subquery()
    n = db.session.scalar(select(func.count()).select_from(inner))
    return min(n, cap), n > cap


def _feature(grid):
    props = func.json_build_object(
        literal("id"),
        Incident.id,
        literal("state"),
        Incident.state,
        literal("category"),
        IncidentCategory.code,
        literal("category_name"),
        category_name_sql(),
        literal("source"),
        Incident.source,
        literal("description"),
        Incident.description,
        literal("address"),
        Incident.address,
        literal("reported_at"),
        Incident.reported_at,
        literal("state_changed_at"),
        Incident.state_changed_at,
        literal("closed_at"),
        Incident.closed_at,
        literal("due_at"),
        due_at_sql(),
        literal("overdue"),
        overdue_sql(),
        literal("grid_code"),
        grid.code,
        literal("grid_name"),
        grid.name,
        literal("duplicate_of"),
        Incident.duplicate_of_id,
        literal("meeting_id"),
        Incident.meeting_id,
    )
    return func.json_build_object(
        literal("type"),
        literal("Feature"),
        literal("id"),
        Incident.id,
        literal("geometry"),
        cast(func.ST_AsGeoJSON(Incident.geom, 7), JSON),
        literal("properties"),
        props,
    )


def feature_collection(scope: Scope, f: Filters, limit: int, offset: int) -> tuple[str, int]:
    """The ``features`` array (JSON text built by PostgreSQL) and how many it holds. No personal data."""
    index_driven()
    grid = aliased(Area)
    page = (
        _order(
            _base(scope, f).outerjoin(grid, grid.id == Incident.grid_id).add_columns(_feature(grid).label("f")), f.sort
        )
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    row = db.session.execute(
        select(func.coalesce(func.json_agg(page.c.f), literal_column("'[]'::json")), func.count())
    ).one()
    return json.dumps(row[0], ensure_ascii=False, default=str) if not isinstance(row[0], str) else row[0], row[1]


def list_rows(scope: Scope, f: Filters, limit: int, offset: int = 0) -> list[dict]:
    """Rows for the list page and the CSV export (:data:`CSV_COLUMNS`; no personal data)."""
    index_driven()
    grid = aliased(Area)
    stmt = (
        _order(
            _base(scope, f)
            .outerjoin(grid, grid.id == Incident.grid_id)
            .add_columns(
                Incident.id,
                Incident.state,
                IncidentCategory.code.label("category"),
                category_name_sql().label("category_name"),
                Incident.source,
                Incident.description,
                Incident.address,
                Incident.reported_at,
                Incident.state_changed_at,
                Incident.closed_at,
                due_at_sql().label("due_at"),
                overdue_sql().label("overdue"),
                grid.code.label("grid_code"),
                grid.name.label("grid_name"),
                func.ST_X(Incident.geom).label("lon"),
                func.ST_Y(Incident.geom).label("lat"),
            ),
            f.sort,
        )
        .limit(limit)
        .offset(offset)
    )
    return [dict(r._mapping) for r in db.session.execute(stmt)]


def state_counts(scope: Scope) -> dict:
    """Open incidents per state and how many are overdue, for the list page header."""
    rows = db.session.execute(
        _base(scope, Filters(open=True))
        .add_columns(Incident.state, func.count(), func.count().filter(overdue_sql()))
        .group_by(Incident.state)
    )
    return {r[0]: {"count": r[1], "overdue": r[2]} for r in rows}


def category_points(categories: tuple[str, ...], since: dt.datetime, streets=None):
    """A subquery of incidents of ``categories`` (each with its subtree) reported since ``since``, not
    rejected nor duplicates: ``id``, ``geom`` (point), ``bikes`` (the report's ``bike_count`` attribute, 1
    when not given). For planning: e-bike hazards near buildings, bad parking near bike zones.
    ``streets``: only these streets' incidents (a list or a subquery of street codes: the shards to read)."""
    digits = func.regexp_replace(Incident.attributes["bike_count"].astext, "[^0-9]", "", "g")
    bikes = func.coalesce(cast(func.nullif(func.left(digits, 4), ""), Integer), 1)
    return (
        select(
            Incident.id, Incident.geom, func.least(bikes, 500).label("bikes"), Incident.reported_at.label("found_at")
        )
        .where(
            Incident.category_id.in_(category_ids(list(categories))),
            Incident.reported_at >= since,
            Incident.state.not_in(("rejected", "duplicate")),
            true() if streets is None else Incident.street_code.in_(streets),
        )
        .subquery()
    )
