"""Heat bins made once: counts per source, shape, cell size, local day, street and cell (issue 18).

Binning a month of a million incidents for a city screen cost 100–300 ms per request and most of
the database's time under load. Here a day's bins are computed once, for the whole district, the
first time a request needs them (:func:`cell_rows`), and stored in ``heat_bins`` (migration 0015);
a request then sums the stored days of its window for the cells of its bbox. A write to the binned
table drops the bins of the days it touched (a statement trigger with transition tables, so every
writer counts: the API, imports, ``COPY``, psql; an UPDATE only when a binned column changed, not a
state change), and the next request makes them again. A refill takes an advisory lock that every
writer of the table holds shared until it commits, so a refill never misses a concurrent write; while a
write is still open (a bulk load) the request bins live instead of waiting.

Used only where the answer is the same as the live count's:

* sources that are not personal (people are counted per day and cell by :mod:`app.heatmaps.people`,
  with its small-count rule: never from these bins), with a time, a location and a grid, over a table
  with the trigger (:data:`TABLES`), and no filter asked for;
* windows of whole local days; the last :data:`RECENT_DAYS` days (where writes land) are binned live;
* bins of at least :data:`MIN_SIZE` (zoom 14 and out: finer screens hold few rows and bin live fast);
* users who see the whole district or a street or more: rows are stored per street (the street of
  their grid, else the street the point lies in), so a scope is a code prefix. Smaller areas bin live.

A cell at the edge of the screen counts all of its rows (the live count only those in the bbox).
On a read replica (which cannot write) missing days make the request bin live.
"""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import func, select, text

from app.areas.models import Area
from app.auth.policy import Scope
from app.core.extensions import db
from app.core.time import TZ
from app.heatmaps.services import HeatRequest, binned, live_cells, point
from gis import heat

MIN_SIZE = heat.cell_size(14)
RECENT_DAYS = 2  # today and yesterday: binned live
STREET = 9  # code length of a street: bins are stored per street
TABLES = frozenset({"incidents"})  # tables whose writes drop stale bins (migration 0015's triggers)
AREAS = Area.__table__
HEAT_BINS = sa.table("heat_bins", *(sa.column(c) for c in ("source", "shape", "size", "day", "area", "i", "j", "n")))
HEX_AREA = (2.0 / (3.0 * heat.SQRT3)) ** 0.5  # hexagon size / square size (gis.heat.hex_size)


def _midnight(t: dt.datetime) -> bool:
    return t.astimezone(TZ).time() == dt.time()


def usable(q: HeatRequest, scope: Scope, size: float) -> bool:
    """Whether the stored bins answer ``q`` exactly as binning its rows would (see the module doc)."""
    src = q.source
    if src.personal or src.time is None or src.geom is None or src.grid is None or src.table.name not in TABLES:
        return False
    if any(q.filters.get(f.name) for f in src.filters):
        return False
    if q.start is None or q.end is None or not (_midnight(q.start) and _midnight(q.end)):
        return False
    square = size if q.shape == "square" else size / HEX_AREA
    if square < MIN_SIZE * 0.999:
        return False
    return scope.everything or (bool(scope.area_code) and len(scope.area_code) <= STREET)


def cell_rows(q: HeatRequest, scope: Scope, size: float) -> list:
    """``[(i, j, n)]`` of ``q``: stored bins for the older whole days, live binning for the recent ones."""
    if not usable(q, scope, size):
        return live_cells(q, scope, size)
    d0, d1 = q.start.astimezone(TZ).date(), q.end.astimezone(TZ).date()
    cut = min(d1, max(d0, dt.datetime.now(TZ).date() - dt.timedelta(days=RECENT_DAYS - 1)))
    counts: dict[tuple[int, int], int] = {}
    if d0 < cut:
        if not fill(q, size, d0, cut):
            return live_cells(q, scope, size)
        for i, j, n in stored(q, scope, size, d0, cut):
            counts[(i, j)] = counts.get((i, j), 0) + int(n)
    if cut < d1:
        start = dt.datetime(cut.year, cut.month, cut.day, tzinfo=TZ)
        recent = HeatRequest(q.source, q.bbox, q.zoom, q.shape, start, q.end, q.filters, q.finest_zoom)
        for i, j, n in live_cells(recent, scope, size):
            counts[(i, j)] = counts.get((i, j), 0) + int(n)
    return [(i, j, n) for (i, j), n in sorted(counts.items())]


HEAT_BIN_DAYS = sa.table("heat_bin_days", *(sa.column(c) for c in ("tbl", "source", "shape", "size", "day")))
_NEW_DAYS = text(
    "INSERT INTO heat_bin_days (tbl, source, shape, size, day) SELECT :tbl, :source, :shape, :size, d "
    "FROM unnest(CAST(:days AS date[])) AS d ON CONFLICT DO NOTHING RETURNING day"
)


def _of(table, q: HeatRequest, size: float, d0: dt.date, d1: dt.date) -> list:
    """The conditions naming the rows of ``table`` for ``q``'s source, shape and size, days d0–d1."""
    c = table.c
    return [c.source == q.source.name, c.shape == q.shape, c.size == size, c.day >= d0, c.day < d1]


def fill(q: HeatRequest, size: float, d0: dt.date, d1: dt.date) -> bool:
    """Make the bins of the days ``d0``–``d1`` (exclusive) that are not stored; False when it can't now
    (a session on the read replica, or a write of the table still open) and days are missing."""
    key = {"source": q.source.name, "shape": q.shape, "size": size}
    have = set(db.session.scalars(select(HEAT_BIN_DAYS.c.day).where(*_of(HEAT_BIN_DAYS, q, size, d0, d1))))
    missing = [d0 + dt.timedelta(days=k) for k in range((d1 - d0).days) if d0 + dt.timedelta(days=k) not in have]
    if not missing:
        return True
    if db.session.info.get("replica"):
        return False
    tbl = q.source.table.name
    # Not waiting: a long write (a bulk load) holds the writers' shared lock to its commit; bin live meanwhile.
    if not db.session.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": f"heat_bins:{tbl}"}):
        return False
    fresh = [r[0] for r in db.session.execute(_NEW_DAYS, {**key, "tbl": tbl, "days": missing})]
    if fresh:
        db.session.execute(
            _insert(q, size), {"days": fresh, "lo": _at(min(fresh)), "hi": _at(max(fresh) + dt.timedelta(days=1))}
        )
    db.session.commit()
    return True


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=TZ)


def _insert(q: HeatRequest, size: float):
    """INSERT of the bins of the days ``:days`` (between ``:lo`` and ``:hi``), per street and cell."""
    src = q.source
    grid, street = AREAS.alias("g"), AREAS.alias("st")
    day = func.date(func.timezone(str(TZ), src.time))
    containing = (
        select(street.c.code)
        .where(street.c.level == "street", func.ST_Intersects(street.c.geom, point(src)))
        .limit(1)
        .scalar_subquery()
    )
    area = func.coalesce(func.substr(grid.c.code, 1, STREET), containing, "")
    g = func.ST_Transform(point(src), 3857)
    conds = [src.time >= sa.bindparam("lo"), src.time < sa.bindparam("hi"), day == sa.any_(sa.bindparam("days"))]
    if src.where is not None:
        conds.append(src.where)
    pts = (
        select(day.label("day"), area.label("area"), func.ST_X(g).label("x"), func.ST_Y(g).label("y"))
        .select_from(src.table.outerjoin(grid, grid.c.id == src.grid))
        .where(*conds)
    )
    b = binned(pts, q.shape, size, carry=("day", "area")).subquery("b")
    rows = select(
        sa.literal(src.name), sa.literal(q.shape), sa.literal(size, sa.Float), b.c.day, b.c.area, b.c.i, b.c.j, b.c.n
    )
    return sa.insert(HEAT_BINS).from_select(["source", "shape", "size", "day", "area", "i", "j", "n"], rows)


def _cell_range(q: HeatRequest, size: float) -> tuple[int, int, int, int]:
    """Cells (i0, j0, i1, j1) that may hold a point of the bbox."""
    x0, y0 = heat.lonlat_to_mercator(q.bbox[0], max(-85.0, q.bbox[1]))
    x1, y1 = heat.lonlat_to_mercator(q.bbox[2], min(85.0, q.bbox[3]))
    if q.shape == "square":
        return heat.bin_range(q.bbox, size)
    w, h = 1.5 * size, heat.SQRT3 * size
    return int(x0 // w) - 1, int(y0 // h) - 1, int(x1 // w) + 1, int(y1 // h) + 1


def stored(q: HeatRequest, scope: Scope, size: float, d0: dt.date, d1: dt.date) -> list:
    """``[(i, j, n)]`` summed over the stored days for the cells of the bbox, in the user's area."""
    i0, j0, i1, j1 = _cell_range(q, size)
    c = HEAT_BINS.c
    conds = [*_of(HEAT_BINS, q, size, d0, d1), c.i.between(i0, i1), c.j.between(j0, j1)]
    if not scope.everything:
        conds.append(c.area.startswith(scope.area_code, autoescape=True))
    stmt = select(c.i, c.j, func.sum(c.n)).where(*conds).group_by(c.i, c.j)
    return [tuple(r) for r in db.session.execute(stmt)]
