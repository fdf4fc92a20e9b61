"""Personal heat sources (visits, wishes, patrol positions) are counted in people, never in rows.

The rule (docs/heatmaps.md, "Personal data"): every number a personal source puts on the map is a sum
of *published units*, and a unit is published only when it holds at least ``SMALL_COUNT`` people. So two
answers, however their windows, bboxes, zooms or filters overlap, differ by a sum of published units, and
no difference can show fewer than ``SMALL_COUNT`` people.

* **Bins** (:func:`heat_cells`): a unit is one whole local day × one square of :data:`BASE` metres
  (the zoom floor: :data:`BASE_ZOOM`) × one value of each of the source's filters; its number is the
  distinct people in it. A bin is the sum of the published units inside it over the window's days:
  people-days. The window is widened to whole days, the bbox to whole bins (a bin is never cut), hexagons
  are served as squares, and the answer does not say how many units were hidden (that would tell where
  a person was).
* **Areas** (:func:`area_people`): a unit is the area a row is attached to (its grid) over the window
  (whole days); its number is the distinct people in it. A grid below ``SMALL_COUNT`` shows "<5"; a
  community or street shows the sum of its published grids (never its own total, which would give a
  hidden grid as total − the others).
"""
import dataclasses
import math

import sqlalchemy as sa
from sqlalchemy import Integer, cast, func, select

from app.auth.policy import SMALL_COUNT, Scope
from app.core.sql import param
from app.core.time import TZ, TZ_NAME
from app.heatmaps import services
from app.heatmaps.services import AREAS, HeatRequest
from gis import heat

BASE_ZOOM = 13                       # the zoom floor of personal bins
BASE = heat.cell_size(BASE_ZOOM)     # 500 Mercator metres, ≈ 400 m on the ground in Lanzhou


def protect(q: HeatRequest) -> HeatRequest:
    """A personal source's request as it is answered: whole local days, squares no finer than :data:`BASE`."""
    start, end = q.start, q.end
    if start is not None and end is not None:
        start, end = heat.whole_days(start, end, TZ)
    return dataclasses.replace(q, start=start, end=end, finest_zoom=BASE_ZOOM,
                               shape="square" if q.shape == "hexagon" else q.shape)


def privacy(q: HeatRequest, per: str) -> dict:
    """What the answer says about the rule it was counted by (the page explains it)."""
    return {"counts": "people", "per": per, "k": SMALL_COUNT, "min_size": BASE,
            "from": q.start.isoformat() if q.start else None, "to": q.end.isoformat() if q.end else None}


def _units(q: HeatRequest, scope: Scope):
    """Published units: distinct people per base square, local day and filter value, at least ``:k``."""
    src = q.source
    g = func.ST_Transform(services.point(src), 3857)
    keys = [cast(func.floor(func.ST_X(g) / BASE), Integer).label("bi"),
            cast(func.floor(func.ST_Y(g) / BASE), Integer).label("bj")]
    if src.time is not None:
        keys.append(func.date(func.timezone(TZ_NAME, src.time)).label("d"))
    keys += [f.column.label(f"f{k}") for k, f in enumerate(src.filters)]
    people = func.count(sa.distinct(src.person))
    return select(*keys, people.label("people")).where(*services.conditions(q, scope)) \
        .group_by(*keys).having(people >= param("k")).subquery("units")


def _cells_select(q: HeatRequest, scope: Scope, size: float) -> sa.Select:
    """Bins of ``size`` (a multiple of :data:`BASE`): sums of units."""
    units = _units(q, scope)
    m = round(size / BASE)
    i = cast(func.floor(units.c.bi / float(m)), Integer) if m > 1 else units.c.bi
    j = cast(func.floor(units.c.bj / float(m)), Integer) if m > 1 else units.c.bj
    return select(i.label("i"), j.label("j"), func.sum(units.c.people).label("n")).group_by(i, j)


def _whole_bins(q: HeatRequest, size: float) -> tuple[dict, tuple[int, int, int, int]]:
    """The bbox widened to the bins it touches, a metre more (a bin is counted whole or not at all), as
    parameters, and those bins' index range (the bins of that metre are left out)."""
    i0, j0, i1, j1 = heat.bin_range(q.bbox, size)
    w, s = heat.mercator_to_lonlat(i0 * size - 1, j0 * size - 1)
    e, n = heat.mercator_to_lonlat((i1 + 1) * size + 1, (j1 + 1) * size + 1)
    return {"w": w, "s": s, "e": e, "n": n}, (i0, j0, i1, j1)


def heat_cells(q: HeatRequest, scope: Scope) -> dict:
    """People-days per bin for the visible bbox (``q`` as :func:`protect` made it)."""
    size = services.bin_size(q)
    if q.shape != "square" or size < BASE or not math.isclose(size / BASE, round(size / BASE)):
        raise ValueError(f"personal bins are whole squares of {BASE} m, not {q.shape} of {size} m")
    bbox, (i0, j0, i1, j1) = _whole_bins(q, size)
    rows = services.STATEMENTS.run(services.shape_key(q, scope, "people_cells", size),
                                   lambda: _cells_select(q, scope, size),
                                   {**services.values(q), **bbox, "k": SMALL_COUNT})
    # Filtered here, not in SQL: there the planner pushes the range into the scan (4 transforms more a row).
    cells = [[i, j, int(n)] for i, j, n in rows if i0 <= i <= i1 and j0 <= j <= j1]
    lat = (q.bbox[1] + q.bbox[3]) / 2
    return {"source": q.source.name, "shape": "square", "zoom": q.zoom, "size": size,
            "ground_m": round(heat.ground_metres(size, lat)), "unit": str(q.source.people_days),
            "total": sum(c[2] for c in cells), "suppressed": None,
            "classes": heat.classify([c[2] for c in cells]).as_dict(), "cells": cells,
            "privacy": privacy(q, "day")}


def _areas_select(q: HeatRequest, scope: Scope, length: int) -> sa.Select:
    """Per area code prefix (``length`` digits) among ``:codes``: the people of its published grids, and
    how many of its grids hold fewer than ``:k``."""
    src = q.source
    people = func.count(sa.distinct(src.person))
    base = select(AREAS.c.code.label("base"), people.label("people")) \
        .select_from(src.table.join(AREAS, AREAS.c.id == src.grid)) \
        .where(*services.conditions(q, scope, use_bbox=False),
               func.substr(AREAS.c.code, 1, length) == sa.any_(param("codes"))) \
        .group_by(AREAS.c.code).subquery("base")
    code = func.substr(base.c.base, 1, length)
    published = base.c.people >= param("k")
    return select(code.label("code"), func.coalesce(func.sum(base.c.people).filter(published), 0).label("n"),
                  func.count().filter(sa.not_(published)).label("hidden")).group_by(code)


def area_people(q: HeatRequest, scope: Scope, length: int, codes: list[str]) -> dict[str, tuple[int, int]]:
    """``{code: (people in its published grids, grids hidden)}`` for the areas ``codes`` (an
    :data:`app.heatmaps.services.AreaCounter`)."""
    rows = services.STATEMENTS.run(services.shape_key(q, scope, "people_areas", length),
                                   lambda: _areas_select(q, scope, length),
                                   {**services.values(q), "codes": codes, "k": SMALL_COUNT})
    return {code: (int(n), hidden) for code, n, hidden in rows}


def area_counts(q: HeatRequest, scope: Scope, level: str | None = None) -> dict:
    """The choropleth of a personal source (``q`` as :func:`protect` made it)."""
    return {**services.area_counts(q, scope, level, area_people), "privacy": privacy(q, "period")}
