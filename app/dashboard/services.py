"""The leaders' dashboard: figures per street/community/grid for a period, beside the previous period.

The area a leader looks at must lie in their own area; its child units (streets of a district,
communities of a street, grids of a community) are the rows. The figures, daily series and breakdowns
are the features' (:mod:`app.core.figures`, each registered in the feature's ``figures.py``); every
figure is one grouped query over both periods, the units and the area's total.
"""
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from app.areas.models import Area
from app.auth.policy import SMALL_COUNT, Scope, in_scope_code
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.figures import (
    BREAKDOWNS,
    FIGURES,
    SERIES,
    Figure,
    Frame,
    Values,
    prefetch,
)
from app.core.time import TZ
from gis.heat import whole_days

CHILD_LENGTH = {4: 9, 6: 9, 9: 12, 12: 15, 15: 15, 18: 18}
LEVEL_OF_LENGTH = {4: "city", 6: "district", 9: "street", 12: "community", 15: "grid", 18: "micro_grid"}
PICKER_LEVELS = ("city", "district", "street", "community")
PARENT_LENGTHS = (4, 6, 9, 12, 15)
AREAS = Area.__table__      # Core columns: these run on every page view, without the ORM's execution path


@dataclass
class AreaRef:
    code: str
    name: str
    level: str


def _refs(stmt) -> list[AreaRef]:
    return [AreaRef(*r) for r in db.session.execute(stmt).all()]


def area_choices(scope: Scope, current: str) -> list[AreaRef]:
    """The area picker around ``current``: the areas above it, beside it and below it (city down to
    community), in code order, within the user's area.

    A city leader's whole tree is hundreds of areas; a picker of the path, the siblings and the
    children stays short, and the unit names in the table lead one level further down.
    """
    above = [current[:k] for k in PARENT_LENGTHS if k < len(current)]
    parent = above[-1] if above else ""
    code = AREAS.c.code
    near = or_(code.in_(above),
               (func.length(code) == len(current)) & code.startswith(parent, autoescape=True),
               (func.length(code) == CHILD_LENGTH.get(len(current), len(current)))
               & code.startswith(current, autoescape=True))
    stmt = select(code, AREAS.c.name, AREAS.c.level) \
        .where(or_(AREAS.c.level.in_(PICKER_LEVELS), code == current), near).order_by(code).limit(2000)
    if not scope.everything:
        stmt = stmt.where(code.startswith(scope.area_code, autoescape=True))
    return _refs(stmt)


def resolve_area(scope: Scope, code: str | None) -> tuple[AreaRef, list[AreaRef], int]:
    """The requested area (default: the user's own, or the top area), its child units shown as rows and
    their code length; 404 outside the user's area. One query for the area and its units."""
    if code is None:
        if not scope.everything:
            code = scope.area_code
        else:
            code = db.session.scalar(select(AREAS.c.code).order_by(func.length(AREAS.c.code), AREAS.c.code).limit(1))
            if code is None:
                raise ApiError(404, "no areas yet")
    if not code.isdigit() or len(code) not in LEVEL_OF_LENGTH:
        raise ApiError(400, "area must be an area code", {"area": "malformed code"})
    if not in_scope_code(scope, code):
        raise ApiError(404, f"no area {code} in your area", {"area": "not in your area"})
    length = CHILD_LENGTH[len(code)]
    c = AREAS.c
    rows = _refs(select(c.code, c.name, c.level)
                 .where(or_(c.code == code, (func.length(c.code) == length) & c.code.startswith(code, autoescape=True)))
                 .order_by(c.code))
    if not rows or rows[0].code != code:
        raise ApiError(404, f"no area {code} in your area", {"area": "not in your area"})
    area = rows[0]
    return area, (rows[1:] if length != len(code) else [area]), length


def previous_period(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The period of the same length just before."""
    return start - (end - start), start


def change(cur, prev):
    """Relative change in percent (None when there is nothing to compare)."""
    if cur is None or prev in (None, 0):
        return None
    return round((cur - prev) * 100.0 / prev, 1)


def _column(f: Figure, values: Values, codes) -> tuple[dict, dict, float | None, float | None]:
    """A figure's shown values per unit now and before, and the area's total now and before.

    Nothing in a unit: 0, or "–" for a median or a share (there is none) and personal figures. A
    personal figure comes counted in people (:func:`app.core.figures.people_statement`: its values are
    sums of the grids with at least the small count of people), or not at all.
    """
    if f.personal and not values.people:
        raise RuntimeError(f"personal figure {f.name} is not counted in people (Source.person)")
    zero = None if f.personal else f.missing

    def shown(v):
        return zero if v is None else v
    cur = {code: shown(values.cur.get(code)) for code in codes}
    prev = {code: shown(values.prev.get(code)) for code in codes} if f.timed else cur
    if values.summed:
        # The units' sum. Hidden units stay out of it, so the total cannot reveal them by difference.
        tcur = sum(v for v in cur.values() if v is not None)
        tprev = sum(v for v in prev.values() if v is not None)
    else:
        tcur = shown(values.total)
        tprev = shown(values.total_prev) if f.timed else tcur
    return cur, prev, tcur, tprev


def _series(frame: Frame) -> list[dict]:
    """Each registered daily series as (day, this period, the same day of the period before)."""
    ndays = (frame.end - frame.start).days or 1
    start, pstart = frame.start.date(), frame.pstart.date()
    out = []
    for s in SERIES:
        daily = s.compute(frame)
        points = [(start + dt.timedelta(days=k), daily.get(start + dt.timedelta(days=k), 0),
                   daily.get(pstart + dt.timedelta(days=k), 0)) for k in range(ndays)]
        out.append({"name": s.name, "title": str(s.title), "points": points})
    return out


def _breakdowns(frame: Frame) -> list[dict]:
    return [{"name": b.name, "title": str(b.title), "empty": str(b.empty), "rows": b.compute(frame),
             "columns": [{"key": key, "header": header, "label": None if label is None else str(label)}
                         for key, header, label in b.columns]}
            for b in BREAKDOWNS]


def build_dashboard(scope: Scope, area_code: str | None, start: dt.datetime, end: dt.datetime) -> dict:
    """All figures for the area's units and the area itself, now and in the previous period.

    The period is widened to whole local days: figures over people are never counted for less than a
    day, so that two periods a minute apart cannot tell one visit by difference."""
    area, units, length = resolve_area(scope, area_code)
    start, end = whole_days(start, end, TZ)
    pstart, pend = previous_period(start, end)
    frame = Frame(area.code, length, start, end, pstart, SMALL_COUNT)
    rows = {u.code: {"code": u.code, "name": u.name, "values": {}} for u in units}
    total = {"code": area.code, "name": area.name, "values": {}}
    shown_figures = list(FIGURES)
    prefetch(frame, shown_figures)
    figures = []
    for f in shown_figures:
        cur, prev, tcur, tprev = _column(f, f.compute(frame), rows)
        figures.append({"name": f.name, "title": str(f.title), "unit": str(f.unit), "personal": f.personal,
                        "timed": f.timed, "better": f.better, "digits": f.digits})
        for code, row in rows.items():
            row["values"][f.name] = {"cur": cur[code], "prev": prev[code], "change": change(cur[code], prev[code])}
        total["values"][f.name] = {"cur": tcur, "prev": tprev, "change": change(tcur, tprev)}
    return {"area": area, "units": list(rows.values()), "total": total, "figures": figures,
            "period": {"start": start, "end": end, "prev_start": pstart, "prev_end": pend},
            "tables": _breakdowns(frame), "series": _series(frame), "unit_level": LEVEL_OF_LENGTH[length]}


def table_rows(data: dict) -> tuple[list[str], list[list]]:
    """The dashboard as a flat table (header, rows) for CSV/XLSX export."""
    header = ["code", "name"]
    for f in data["figures"]:
        header += [f"{f['name']}", f"{f['name']}_previous", f"{f['name']}_change_pct"]
    out = []
    for row in data["units"] + [data["total"]]:
        line = [row["code"], row["name"]]
        for f in data["figures"]:
            v = row["values"][f["name"]]
            line += [v["cur"], v["prev"], v["change"]]
        out.append(line)
    return header, out
