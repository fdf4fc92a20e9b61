"""The category tree (环境卫生 › 垃圾杂物堆放 …) with departments and stage deadlines, kept by the admin.

Codes nest with dots (``bikes.misparked`` lies under ``bikes``) and never change: Open311 clients
keep them as service codes.
"""

from flask import has_request_context
from flask_babel import get_locale
from sqlalchemy import func, or_, select

from app.audit.services import record, snapshot
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents.models import Department, IncidentCategory


def categories(active_only: bool = True) -> list[IncidentCategory]:
    """The category tree, parents before children."""
    stmt = select(IncidentCategory).order_by(IncidentCategory.code)
    if active_only:
        stmt = stmt.where(IncidentCategory.active.is_(True))
    return list(db.session.scalars(stmt))


def _english() -> bool:
    return has_request_context() and str(get_locale()) == "en"


def category_name(c: IncidentCategory) -> str:
    """The category's name in the reader's language (its English name on English pages, when it has one)."""
    return c.name_en if _english() and c.name_en else c.name


def category_name_sql():
    """:func:`category_name` as a SQL expression, for queries that select the name."""
    return func.coalesce(IncidentCategory.name_en, IncidentCategory.name) if _english() else IncidentCategory.name


def category_by_code(code: str) -> IncidentCategory | None:
    """An active category by its code."""
    return db.session.scalar(
        select(IncidentCategory).where(IncidentCategory.code == code, IncidentCategory.active.is_(True))
    )


def category_ids(codes: list[str]) -> list[int]:
    """Ids of the categories ``codes`` and their subtrees (codes nest with dots: ``bikes.misparked``)."""
    subtree = []
    for code in codes:
        subtree += [IncidentCategory.code == code, IncidentCategory.code.startswith(code + ".", autoescape=True)]
    return list(db.session.scalars(select(IncidentCategory.id).where(or_(*subtree))))


def departments() -> list[Department]:
    """Every department, by code."""
    return list(db.session.scalars(select(Department).order_by(Department.code)))


def _resolve(values: dict) -> dict:
    """Checked values → columns: the parent's code becomes its id, a department brings its name."""
    errors, out = {}, dict(values)
    if "parent" in out:
        parent = out.pop("parent")
        out["parent_id"] = None
        if parent is not None:
            out["parent_id"] = db.session.scalar(select(IncidentCategory.id).where(IncidentCategory.code == parent))
            if out["parent_id"] is None:
                errors["parent"] = "unknown category code"
    if out.get("department_id") is not None:
        department = db.session.get(Department, out["department_id"])
        if department is None:
            errors["department_id"] = "unknown department"
        else:
            out["department"] = department.name
    elif "department_id" in out:
        out["department"] = None
    if errors:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    return out


def create_category(values: dict) -> IncidentCategory:
    """Add a node to the category tree; ``values`` are checked fields (``parent`` is a code)."""
    columns = _resolve(values)
    if db.session.scalar(select(IncidentCategory.id).where(IncidentCategory.code == columns["code"])):
        raise ApiError(409, f"category {columns['code']} exists", {"code": "taken"})
    columns.setdefault("deadlines", {})
    columns.setdefault("attributes", [])
    cat = IncidentCategory(**columns)
    db.session.add(cat)
    db.session.flush()
    record("insert", "incident_categories", cat.id, after=snapshot(cat))
    db.session.commit()
    return cat


def update_category(code: str, values: dict) -> IncidentCategory:
    """Change a category's names, parent, department, deadlines, attributes or active flag."""
    cat = db.session.scalar(select(IncidentCategory).where(IncidentCategory.code == code))
    if cat is None:
        raise ApiError(404, f"no category {code}")
    columns = _resolve(values)
    if columns.get("parent_id") == cat.id:
        raise ApiError(422, "a category cannot be its own parent", {"parent": "itself"})
    if columns.get("code", cat.code) != cat.code:
        raise ApiError(422, "codes do not change (Open311 clients keep them)", {"code": "immutable"})
    before = snapshot(cat)
    for k, v in columns.items():
        setattr(cat, k, v)
    db.session.flush()
    record("update", "incident_categories", cat.id, before=before, after=snapshot(cat))
    db.session.commit()
    return cat
