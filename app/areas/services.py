"""Area rules: codes nest, children lie in parents, sibling grids do not overlap.

``assign_grid`` is done by PostGIS: the trigger function ``wuwei_assign_grid()``
(created by the migration) sets ``grid_id`` on every insert or geometry update
of a spatial table; :func:`grid_for` asks the same question for one geometry.
"""

from geoalchemy2.shape import from_shape
from sqlalchemy import func, select, text

from app.areas.models import Area
from app.audit.services import record, snapshot
from app.core.errors import ApiError
from app.core.extensions import db
from gis.gridcodes import PARENT_LEVEL, GridCodeError, check_code

# A child may stick out of its parent by this much (metres): hand-drawn borders rarely agree exactly.
CONTAINMENT_TOLERANCE_M = 5.0
# Sibling grids may share borders and overlap by slivers below this area (m²).
OVERLAP_TOLERANCE_M2 = 1.0


class AreaGeometryError(ApiError):
    """A 422 for an area's geometry, with what a map can show: ``kind`` (``outside_parent``,
    ``overlaps``, ``leaves_child``), the other area (``other``: code and name), the square metres,
    and ``shape``: the part to draw (outside the parent, the overlap, the child left out) as GeoJSON."""

    def __init__(self, message: str, fields: dict, kind: str, other: dict, m2: float, shape: dict | None):
        super().__init__(422, message, fields)
        self.kind, self.other, self.m2, self.shape = kind, other, m2, shape


def get_area_by_code(code: str) -> Area | None:
    """An area by its code."""
    return db.session.scalar(select(Area).where(Area.code == code))


def grid_for(geom_wkt: str) -> int | None:
    """The id of the grid holding a geometry (its point on surface), as the trigger computes it."""
    return db.session.execute(text("SELECT wuwei_grid_of(ST_GeomFromText(:wkt, 4326))"), {"wkt": geom_wkt}).scalar()


def check_area_geometry(level: str, geom, parent: Area | None, exclude_id: int | None = None) -> None:
    """Raise 422 when ``geom`` leaves its parent or overlaps a sibling grid."""
    wkt = geom.wkt
    if parent is not None:
        outside, part = db.session.execute(
            text(
                "SELECT ST_Area(d::geography), ST_AsGeoJSON(d, 7)::json FROM (SELECT ST_Difference("
                "ST_GeomFromText(:wkt, 4326), ST_Buffer(p.geom::geography, :tol)::geometry) AS d"
                " FROM areas p WHERE p.id = :pid) s"
            ),
            {"wkt": wkt, "tol": CONTAINMENT_TOLERANCE_M, "pid": parent.id},
        ).one()
        if outside and outside > 1.0:
            raise AreaGeometryError(
                f"the {level} lies partly outside its parent {parent.name} "
                f"({outside:.0f} m² outside, tolerance {CONTAINMENT_TOLERANCE_M:.0f} m)",
                {"geometry": "outside parent"},
                "outside_parent",
                {"code": parent.code, "name": parent.name},
                outside,
                part,
            )
    if level in ("grid", "micro_grid") and parent is not None:
        clash = db.session.execute(
            text(
                "SELECT a.code, a.name, ST_Area(ST_Intersection(a.geom, g)::geography) AS m2,"
                " ST_AsGeoJSON(ST_Intersection(a.geom, g), 7)::json AS part"
                " FROM areas a, ST_GeomFromText(:wkt, 4326) g"
                " WHERE a.parent_id = :pid AND a.level = :level AND a.geom && g"
                " AND (:exclude IS NULL OR a.id <> :exclude)"
                " AND ST_Area(ST_Intersection(a.geom, g)::geography) > :tol LIMIT 1"
            ),
            {"wkt": wkt, "pid": parent.id, "level": level, "exclude": exclude_id, "tol": OVERLAP_TOLERANCE_M2},
        ).first()
        if clash:
            raise AreaGeometryError(
                f"overlaps {clash.name} ({clash.code}) by {clash.m2:.0f} m²",
                {"geometry": "overlaps a sibling"},
                "overlaps",
                {"code": clash.code, "name": clash.name},
                clash.m2,
                clash.part,
            )


def checked_parent(level: str, code: str, parent_code: str | None) -> Area | None:
    """The parent of a new or changed area, after checking that it exists, has the right level and
    that ``code`` nests in its code (DB11/T 2157); 422 naming the field otherwise."""
    parent = None
    if parent_code:
        parent = get_area_by_code(parent_code)
        if parent is None:
            raise ApiError(422, f"no parent area with code {parent_code}", {"parent_code": "unknown area"})
        if parent.level != PARENT_LEVEL.get(level):
            raise ApiError(422, f"a {level} cannot be inside a {parent.level}", {"parent_code": "wrong level"})
    try:
        check_code(level, code, parent_code)
    except GridCodeError as e:
        raise ApiError(422, str(e), {"code": str(e)}) from None
    return parent


def create_area(
    level: str, code: str, name: str, geom, parent_code: str | None = None, note: str | None = None, commit: bool = True
) -> Area:
    """Add an area after checking its code, parent and geometry."""
    parent = checked_parent(level, code, parent_code)
    if not name or len(name) > 128:
        raise ApiError(422, "name is required (at most 128 characters)", {"name": "required"})
    if get_area_by_code(code):
        raise ApiError(409, f"an area with code {code} exists", {"code": "taken"})
    check_area_geometry(level, geom, parent)
    area = Area(
        level=level,
        code=code,
        name=name,
        parent_id=parent.id if parent else None,
        note=note,
        geom=from_shape(geom, srid=4326),
    )
    db.session.add(area)
    db.session.flush()
    record("insert", "areas", area.id, after=snapshot(area))
    if commit:
        db.session.commit()
    return area


def set_grid_workers(area: Area, users: list) -> None:
    """Replace the grid workers of a grid or micro-grid."""
    if area.level not in ("grid", "micro_grid"):
        raise ApiError(422, "grid workers are assigned to grids and micro-grids only")
    before = sorted(u.id for u in area.workers)
    area.workers = list(users)
    record(
        "update", "grid_workers", area.id, before={"user_ids": before}, after={"user_ids": sorted(u.id for u in users)}
    )


def validate_area_write(values: dict, geom, row_id: int | None) -> dict:
    """Layer-API rule for areas: resolve ``parent_code``, check code nesting and geometry."""
    existing = db.session.get(Area, row_id) if row_id else None
    level = values.get("level", existing.level if existing else None)
    code = values.get("code", existing.code if existing else None)
    if "parent_code" in values:
        parent_code = values.pop("parent_code")
    else:
        parent_code = existing.parent.code if existing and existing.parent else None
    parent = checked_parent(level, code, parent_code)
    clash = db.session.scalar(select(Area.id).where(Area.code == code))
    if clash is not None and clash != row_id:
        raise ApiError(409, f"an area with code {code} exists", {"code": "taken"})
    if existing is not None and (code != existing.code or level != existing.level):
        children = db.session.scalar(select(func.count()).select_from(Area).where(Area.parent_id == existing.id))
        if children:
            raise ApiError(
                409,
                f"{existing.name} has {children} child area(s); their codes nest in its code "
                "and level, so move or delete them first",
                {"code": "has children"},
            )
    if geom is not None:
        check_area_geometry(level, geom, parent, exclude_id=row_id)
        if existing is not None:
            check_children_inside(existing, geom)
    values["parent_id"] = parent.id if parent else None
    return values


def check_children_inside(area: Area, geom) -> None:
    """Raise 422 when redrawing ``area`` as ``geom`` would leave one of its children outside it."""
    stray = db.session.execute(
        text(
            "SELECT c.code, c.name, ST_Area(ST_Difference(c.geom,"
            " ST_Buffer(ST_GeomFromText(:wkt, 4326)::geography, :tol)::geometry)::geography) AS m2,"
            " ST_AsGeoJSON(c.geom, 7)::json AS part"
            " FROM areas c WHERE c.parent_id = :pid"
            " AND ST_Area(ST_Difference(c.geom,"
            " ST_Buffer(ST_GeomFromText(:wkt, 4326)::geography, :tol)::geometry)::geography) > 1.0"
            " ORDER BY c.code LIMIT 1"
        ),
        {"wkt": geom.wkt, "tol": CONTAINMENT_TOLERANCE_M, "pid": area.id},
    ).first()
    if stray:
        raise AreaGeometryError(
            f"{stray.name} ({stray.code}) would lie {stray.m2:.0f} m² outside {area.name}; redraw or move it first",
            {"geometry": "leaves a child outside"},
            "leaves_child",
            {"code": stray.code, "name": stray.name},
            stray.m2,
            stray.part,
        )
