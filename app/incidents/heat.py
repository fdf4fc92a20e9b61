"""The incidents' heat sources: all incidents, e-bike hazards and bad parking, with their filters."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.extensions import db
from app.core.heat import Filter, HeatSource, register_source
from app.incidents.models import SOURCES, STATES, Incident, IncidentCategory
from app.incidents.services.categories import category_name_sql
from app.incidents.workflow import SOURCE_LABELS, STATE_LABELS

# Categories that make the e-bike hazard and bad-parking sources (code prefix: the demo's ``ebike``/``ebike.*``
# and ``bikes``/``bikes.*``).
EBIKE_HAZARD_PREFIX = "ebike"
BAD_PARKING_PREFIX = "bikes"

T = Incident.__table__
C = IncidentCategory.__table__


def _category_rows() -> list:
    return db.session.execute(
        select(C.c.id, C.c.code, category_name_sql().label("name"), C.c.parent_id)
        .where(C.c.active.is_(True))
        .order_by(C.c.code)
    ).all()


def _category_choices(prefix: str | None = None):
    def choices():
        return [(code, name) for _, code, name, _ in _category_rows() if prefix is None or code.startswith(prefix)]

    return choices


def resolve_categories(codes: list[str]) -> list[int]:
    """Category codes → ids, each with its whole subtree; unknown codes raise ``ValueError``."""
    rows = _category_rows()
    by_code = {code: cid for cid, code, _, _ in rows}
    unknown = [c for c in codes if c not in by_code]
    if unknown:
        raise ValueError(f"unknown category {', '.join(unknown)}")
    children: dict[int | None, list[int]] = {}
    for cid, _, _, parent in rows:
        children.setdefault(parent, []).append(cid)
    ids, stack = set(), [by_code[c] for c in codes]
    while stack:
        cid = stack.pop()
        if cid not in ids:
            ids.add(cid)
            stack.extend(children.get(cid, ()))
    return sorted(ids)


def _in_categories(prefix: str):
    return T.c.category_id.in_(select(C.c.id).where(C.c.code.startswith(prefix)))


CATEGORY = Filter("category", T.c.category_id, _l("类别"), _category_choices(), resolve_categories)
STATE = Filter("state", T.c.state, _l("状态"), lambda: [(s, STATE_LABELS.get(s, s)) for s in STATES])
CHANNEL = Filter("channel", T.c.source, _l("来源"), lambda: [(s, SOURCE_LABELS.get(s, s)) for s in SOURCES])
CATEGORY_NAME = select(C.c.name).where(C.c.id == T.c.category_id).scalar_subquery()
# What a drill-down lists: nothing about the reporter.
DRILL = (
    ("id", T.c.id),
    ("category_id", T.c.category_id),
    ("state", T.c.state),
    ("source", T.c.source),
    ("reported_at", T.c.reported_at),
    ("closed_at", T.c.closed_at),
    ("address", T.c.address),
    ("category", CATEGORY_NAME),
)
COMMON = {
    "table": T,
    "geom": T.c.geom,
    "time": T.c.reported_at,
    "grid": T.c.grid_id,
    "drill": DRILL,
    "drill_order": T.c.reported_at,
}

register_source(HeatSource(name="incidents", title=_l("事件"), filters=(CATEGORY, STATE, CHANNEL), order=10, **COMMON))
register_source(
    HeatSource(
        name="ebike_hazards",
        title=_l("电动车隐患"),
        order=20,
        where=_in_categories(EBIKE_HAZARD_PREFIX),
        filters=(
            Filter("category", T.c.category_id, _l("类别"), _category_choices(EBIKE_HAZARD_PREFIX), resolve_categories),
            STATE,
            CHANNEL,
        ),
        **COMMON,
    )
)
register_source(
    HeatSource(
        name="bad_parking",
        title=_l("车辆乱停放"),
        filters=(STATE, CHANNEL),
        order=30,
        where=_in_categories(BAD_PARKING_PREFIX),
        **COMMON,
    )
)
