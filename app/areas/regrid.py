"""Splitting a grid in two and merging two grids into one, in one transaction with everything inside.

Codes stay valid DB11/T 2157 codes: the part cut off becomes a new sibling with the next free code
under the same parent; micro-grids follow their part and are re-coded under it. The rows inside are
re-assigned by PostGIS in the same transaction: tables whose grid is set by ``wuwei_assign_grid``
(buildings, compounds, chargers, bike zones, incidents, bad-parking spots) through the area triggers
of migration 0005, households through their building (0004), visits and wishes through
``wuwei_regrid_followers``; a merge also moves what refers to the grid that goes (its users, grid
workers, teams, patrols: ``wuwei_move_area_refs``, migration 0014). Patrol positions have no grid
column: they are placed by their geometry whenever they are read.

``dry_run=True`` does all of it in a savepoint, reports what would happen and rolls it back.
"""

from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import delete, func, select, text, update

from app.areas.models import Area
from app.areas.services import CONTAINMENT_TOLERANCE_M
from app.audit.services import record, snapshot
from app.core.errors import ApiError
from app.core.extensions import db
from gis import gridcut
from gis.geometry import GeometryError
from gis.gridcodes import GridCodeError, next_child_code

GRID_LEVELS = ("grid", "micro_grid")
# A micro-grid lies in one part when less than this much of it (m², or share of its area) is in the other:
# a line drawn by hand along a micro-grid's border grazes it; it is clipped to the part it goes with.
_SLIVER_M2 = 1.0
_GRAZE = 0.03


def _grid_tables() -> list[str]:
    """Tables with a ``grid_id`` column referring to areas (whichever feature made them)."""
    return list(
        db.session.execute(
            text(
                "SELECT c.conrelid::regclass::text FROM pg_constraint c"
                " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
                " WHERE c.contype = 'f' AND c.confrelid = 'areas'::regclass AND a.attname = 'grid_id'"
                " ORDER BY 1"
            )
        ).scalars()
    )


def rows_in(grid_ids: list[int]) -> dict[str, dict[int, int]]:
    """Rows per table and grid, for ``grid_ids``: {table: {grid id: rows}} (tables with none left out)."""
    out: dict[str, dict[int, int]] = {}
    for table in _grid_tables():
        # The name comes from the catalogue (regclass text is quoted where it must be), never from a user.
        rows = db.session.execute(
            text(f"SELECT grid_id, count(*) FROM {table} WHERE grid_id = ANY(:ids) GROUP BY grid_id"),  # nosec B608
            {"ids": grid_ids},
        ).all()
        if rows:
            out[table] = {g: n for g, n in rows}
    return out


def _summary(area: Area) -> dict:
    return {
        "id": area.id,
        "code": area.code,
        "name": area.name,
        "level": area.level,
        "area_m2": round(db.session.scalar(select(func.ST_Area(func.geography(Area.geom))).where(Area.id == area.id))),
        "geometry": db.session.scalar(select(func.ST_AsGeoJSON(Area.geom, 7).cast(db.JSON)).where(Area.id == area.id)),
    }


def _check_grid(area: Area) -> None:
    if area.level not in GRID_LEVELS or area.parent_id is None:
        raise ApiError(
            422, f"{area.name} is a {area.level}: only grids and micro-grids are split or merged", {"id": "not a grid"}
        )


def _taken_codes(parent_code: str) -> list[str]:
    return list(db.session.scalars(select(Area.code).where(Area.code.startswith(parent_code, autoescape=True))))


def _recode_children(children: list[Area], new_parent: Area) -> list[dict]:
    """Move micro-grids under ``new_parent`` with codes in its sequence; what changed."""
    moved = []
    for child in children:
        code = next_child_code(new_parent.code, _taken_codes(new_parent.code))
        moved.append({"id": child.id, "name": child.name, "old_code": child.code, "code": code})
        db.session.execute(update(Area).where(Area.id == child.id).values(code=code, parent_id=new_parent.id))
    return moved


def _children_by_side(area: Area, kept, cut_off) -> list[Area]:
    """The micro-grids of ``area`` that lie in ``cut_off``. One that a hand-drawn line grazes (less than
    :data:`_GRAZE` of it on the other side) goes with its larger part and is clipped to it; 422 naming
    one that the line really cuts through."""
    children = list(db.session.scalars(select(Area).where(Area.parent_id == area.id).order_by(Area.code)))
    follow = []
    for child in children:
        inside, outside, whole = db.session.execute(
            text(
                "SELECT ST_Area(ST_Intersection(c.geom, g)::geography), ST_Area(ST_Difference(c.geom, g)::geography),"
                " ST_Area(c.geom::geography) FROM areas c, ST_GeomFromText(:wkt, 4326) g WHERE c.id = :id"
            ),
            {"wkt": cut_off.wkt, "id": child.id},
        ).one()
        graze = max(_SLIVER_M2, _GRAZE * whole)
        if inside > graze and outside > graze:
            raise ApiError(
                422,
                f"the line cuts through micro-grid {child.name} ({child.code}): draw the line along its "
                "border, or redraw the micro-grid first",
                {"line": "crosses a micro-grid", "micro_grid": f"{child.name} ({child.code})"},
                code="straddles",
            )
        side = cut_off if inside > outside else kept
        if min(inside, outside) > 0:
            before = snapshot(child)
            db.session.execute(
                text(
                    "UPDATE areas SET geom = ST_Multi(ST_CollectionExtract(ST_Intersection(geom,"
                    " ST_GeomFromText(:wkt, 4326)), 3)) WHERE id = :id"
                ),
                {"wkt": side.wkt, "id": child.id},
            )
            db.session.expire(child)
            record("update", "areas", child.id, before=before, after=snapshot(child))
        if inside > outside:
            follow.append(child)
    return follow


def _finish(result: dict, dry_run: bool, savepoint) -> dict:
    result["dry_run"] = dry_run
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
        db.session.commit()
    return result


def split_grid(area: Area, line, name: str | None = None, dry_run: bool = False) -> dict:
    """Cut ``area`` (a grid or micro-grid) along ``line`` (shapely): the larger part keeps its code,
    the smaller becomes a new sibling named ``name`` with the next free code. Returns what happened."""
    _check_grid(area)
    try:
        kept, cut_off = gridcut.cut(to_shape(area.geom), line)
    except GeometryError as e:
        raise ApiError(422, str(e), {"line": str(e)}, code="cut") from None
    parent = db.session.get(Area, area.parent_id)
    try:
        code = next_child_code(parent.code, [c for c in _taken_codes(parent.code) if len(c) == len(area.code)])
    except GridCodeError as e:
        raise ApiError(409, str(e), {"code": str(e)}) from None
    savepoint = db.session.begin_nested()
    before, before_rows = snapshot(area), rows_in([area.id])
    follow = _children_by_side(area, kept, cut_off)
    db.session.execute(update(Area).where(Area.id == area.id).values(geom=from_shape(kept, srid=4326)))
    new = Area(
        level=area.level,
        code=code,
        name=(name or f"{area.name} {code[-3:]}")[:128],
        parent_id=area.parent_id,
        geom=from_shape(cut_off, srid=4326),
    )
    db.session.add(new)
    db.session.flush()
    moved = _recode_children(follow, new)
    db.session.execute(text("SELECT wuwei_regrid_followers(:ids)"), {"ids": [area.id]})
    db.session.expire_all()
    area, new = db.session.get(Area, area.id), db.session.get(Area, new.id)
    record("update", "areas", area.id, before=before, after=snapshot(area))
    record("insert", "areas", new.id, after=snapshot(new))
    result = {
        "action": "split",
        "grids": [_summary(area), _summary(new)],
        "micro_grids": moved,
        "rows_before": _by_code(before_rows, {area.id: area.code}),
        "rows": _by_code(rows_in([area.id, new.id]), {area.id: area.code, new.id: new.code}),
    }
    record("split", "areas", area.id, after={k: v for k, v in result.items() if k != "grids"})
    return _finish(result, dry_run, savepoint)


def merge_grids(keep: Area, gone: Area, name: str | None = None, dry_run: bool = False) -> dict:
    """Join ``gone`` into ``keep`` (siblings of one level that touch): ``keep`` keeps its code and id
    and takes the union; ``gone``'s micro-grids, rows and references move to it; ``gone`` is deleted."""
    for a in (keep, gone):
        _check_grid(a)
    if keep.id == gone.id:
        raise ApiError(422, "choose two different grids to merge", {"ids": "the same grid twice"})
    if keep.parent_id != gone.parent_id or keep.level != gone.level:
        raise ApiError(
            422,
            f"{keep.name} and {gone.name} are not siblings: only grids of one community "
            "(micro-grids of one grid) are merged",
            {"ids": "not siblings"},
            code="not_siblings",
        )
    near = db.session.scalar(
        select(
            func.ST_DWithin(
                func.geography(Area.geom),
                select(func.geography(Area.geom)).where(Area.id == gone.id).scalar_subquery(),
                CONTAINMENT_TOLERANCE_M,
            )
        ).where(Area.id == keep.id)
    )
    if not near:
        raise ApiError(
            422,
            f"{keep.name} and {gone.name} do not share a border: only neighbouring grids are merged",
            {"ids": "not neighbours"},
            code="not_neighbours",
        )
    union = gridcut.join(to_shape(keep.geom), to_shape(gone.geom))
    savepoint = db.session.begin_nested()
    before_keep, before_gone = snapshot(keep), snapshot(gone)
    before_rows = rows_in([keep.id, gone.id])
    values = {"geom": from_shape(union, srid=4326)}
    if name:
        values["name"] = name[:128]
    db.session.execute(update(Area).where(Area.id == keep.id).values(**values))
    children = list(db.session.scalars(select(Area).where(Area.parent_id == gone.id).order_by(Area.code)))
    moved = _recode_children(children, keep)
    refs = db.session.scalar(text("SELECT wuwei_move_area_refs(:gone, :keep)"), {"gone": gone.id, "keep": keep.id})
    gone_id, gone_code = gone.id, gone.code
    db.session.execute(delete(Area).where(Area.id == gone_id))
    db.session.execute(text("SELECT wuwei_regrid_followers(:ids)"), {"ids": [keep.id]})
    db.session.expire_all()
    keep = db.session.get(Area, keep.id)
    record("update", "areas", keep.id, before=before_keep, after=snapshot(keep))
    record("delete", "areas", gone_id, before=before_gone)
    result = {
        "action": "merge",
        "grids": [_summary(keep)],
        "removed": {"id": gone_id, "code": gone_code, "name": before_gone["name"]},
        "micro_grids": moved,
        "references_moved": refs,
        "rows_before": _by_code(before_rows, {keep.id: keep.code, gone_id: gone_code}),
        "rows": _by_code(rows_in([keep.id]), {keep.id: keep.code}),
    }
    record("merge", "areas", keep.id, after={k: v for k, v in result.items() if k != "grids"})
    return _finish(result, dry_run, savepoint)


def _by_code(rows: dict[str, dict[int, int]], codes: dict[int, str]) -> dict[str, dict[str, int]]:
    return {table: {codes.get(g, str(g)): n for g, n in per.items()} for table, per in rows.items()}
