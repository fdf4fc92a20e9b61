"""The leaders' dashboard: figures per street/community/grid for a period, beside the previous period.

The area a leader looks at must lie in their own area; its child units (streets of a district,
communities of a street, grids of a community) are the rows. Every figure is one grouped query
over both periods, the units and the area's total (see :mod:`app.dashboard.figures`).
"""
import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from app.auth.access import Scope, in_scope_code
from app.dashboard.figures import Frame, available_figures, daily_reported, median_close_by_category, prefetch
from app.core.errors import ApiError
from app.core.extensions import db
from gis.heat import SUPPRESS_BELOW

CHILD_LENGTH = {4: 9, 6: 9, 9: 12, 12: 15, 15: 15, 18: 18}
LEVEL_OF_LENGTH = {4: "city", 6: "district", 9: "street", 12: "community", 15: "grid", 18: "micro_grid"}


@dataclass
class AreaRef:
    code: str
    name: str
    level: str


PICKER_LEVELS = ("city", "district", "street", "community")
PARENT_LENGTHS = (4, 6, 9, 12, 15)


def area_choices(scope: Scope, current: str) -> list[AreaRef]:
    """The area picker around ``current``: the areas above it, beside it and below it (city down to
    community), in code order, within the user's area.

    A city leader's whole tree is hundreds of areas; a picker of the path, the siblings and the
    children stays short, and the unit names in the table lead one level further down.
    """
    above = [current[:k] for k in PARENT_LENGTHS if k < len(current)]
    parent = above[-1] if above else ""
    child_length = CHILD_LENGTH.get(len(current), len(current))
    rows = db.session.execute(sa.text(
        "SELECT code, name, level FROM areas WHERE (level = ANY(:levels) OR code = :current) "
        "AND (:everything OR code LIKE :scope) "
        "AND (code = ANY(:above) OR (length(code) = :len AND code LIKE :parent) "
        "OR (length(code) = :child AND code LIKE :prefix)) ORDER BY code LIMIT 2000"),
        {"levels": list(PICKER_LEVELS), "everything": scope.everything, "scope": (scope.area_code or "") + "%",
         "above": above, "len": len(current), "parent": parent + "%", "child": child_length,
         "prefix": current + "%", "current": current}).all()
    return [AreaRef(*r) for r in rows]


def resolve_area(scope: Scope, code: str | None) -> tuple[AreaRef, list[AreaRef], int]:
    """The requested area (default: the user's own, or the top area), its child units shown as rows and
    their code length; 404 outside the user's area. One query for the area and its units."""
    if code is None:
        if not scope.everything:
            code = scope.area_code
        else:
            code = db.session.scalar(sa.text("SELECT code FROM areas ORDER BY length(code), code LIMIT 1"))
            if code is None:
                raise ApiError(404, "no areas yet")
    if not code.isdigit() or len(code) not in LEVEL_OF_LENGTH:
        raise ApiError(400, "area must be an area code", {"area": "malformed code"})
    if not in_scope_code(scope, code):
        raise ApiError(404, f"no area {code} in your area", {"area": "not in your area"})
    length = CHILD_LENGTH[len(code)]
    rows = [AreaRef(*r) for r in db.session.execute(sa.text(
        "SELECT code, name, level FROM areas WHERE code = :c OR (length(code) = :n AND code LIKE :p) ORDER BY code"),
        {"c": code, "n": length, "p": code + "%"})]
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


def build_dashboard(scope: Scope, area_code: str | None, start: dt.datetime, end: dt.datetime) -> dict:
    """All figures for the area's units and the area itself, now and in the previous period."""
    area, units, length = resolve_area(scope, area_code)
    pstart, pend = previous_period(start, end)
    frame = Frame(area.code, length, start, end, pstart)
    figures, rows = [], {u.code: {"code": u.code, "name": u.name, "values": {}} for u in units}
    total = {"code": area.code, "name": area.name, "values": {}}
    shown_figures = available_figures()
    prefetch(frame, shown_figures)
    for f in shown_figures:
        values = f.compute(frame)
        # Nothing in a unit: 0, or "–" for a median or a share (there is none) and personal figures.
        zero = None if f.personal else f.missing

        def shown(v):
            v = zero if v is None else v
            return None if f.personal and v is not None and v < SUPPRESS_BELOW else v
        cur = {code: shown(values.cur.get(code)) for code in rows}
        prev = {code: shown(values.prev.get(code)) for code in rows} if f.timed else cur
        if values.summed:
            # The units' sum. Suppressed units stay out of it, so the total cannot reveal them by difference.
            tcur = sum(v for v in cur.values() if v is not None)
            tprev = sum(v for v in prev.values() if v is not None)
        else:
            tcur = shown(values.total)
            tprev = shown(values.total_prev) if f.timed else tcur
        figures.append({"name": f.name, "title": str(f.title), "unit": str(f.unit), "personal": f.personal,
                        "timed": f.timed, "better": f.better, "digits": f.digits})
        for code, row in rows.items():
            row["values"][f.name] = {"cur": cur[code], "prev": prev[code], "change": change(cur[code], prev[code])}
        total["values"][f.name] = {"cur": tcur, "prev": tprev, "change": change(tcur, tprev)}
    daily = daily_reported(frame)
    ndays = (end - start).days or 1
    series = [(start.date() + dt.timedelta(days=k), daily.get(start.date() + dt.timedelta(days=k), 0),
               daily.get(pstart.date() + dt.timedelta(days=k), 0)) for k in range(ndays)]
    return {"area": area, "units": list(rows.values()), "total": total, "figures": figures,
            "period": {"start": start, "end": end, "prev_start": pstart, "prev_end": pend},
            "by_category": median_close_by_category(frame),
            "daily": series, "unit_level": LEVEL_OF_LENGTH[length]}


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
