"""Household files (民情档案) and their members: create, read (audited), list, change, delete.

Every function takes the acting user; see :mod:`app.households.common` for who reads what.
"""

from sqlalchemy import func, or_, select

from app.areas.models import Area
from app.audit.services import audited_delete, audited_insert, audited_read, audited_update, record
from app.auth import policy
from app.basemap.models import Building
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import get_or_404
from app.core.time import today
from app.households.common import building_for, personal_or_404, require, require_personal
from app.households.models import CarePlan, Household, Member, Tag
from app.households.schemas import HouseholdIn, HouseholdPatch, MemberIn, MemberPatch
from app.households.tags import resolve_tags, tag_exists

_NOT_COLUMNS = {"age", "birth_date", "tags", "members"}


def member_values(body: MemberPatch, prefix: str = "") -> tuple[dict, list[Tag] | None]:
    """Column values of a member body (``age`` or ``birth_date`` become ``birth_year``) and its tags
    (``None``: not sent)."""
    sent = body.model_dump(exclude_unset=True)
    values = {k: v for k, v in sent.items() if k not in _NOT_COLUMNS}
    if body.age is not None:
        values["birth_year"] = today().year - body.age
    if body.birth_date is not None:
        values["birth_year"] = body.birth_date.year
    tags = resolve_tags(body.tags, f"{prefix}tags") if "tags" in sent else None
    return values, tags


def create_household(user, body: HouseholdIn) -> Household:
    """A new file at a building, with tags and members (all or nothing); 409 when the flat has one."""
    require_personal(user)
    values = body.model_dump(exclude={"tags", "members"})
    tags = resolve_tags(body.tags)
    members = [member_values(m, prefix=f"members.{i}.") for i, m in enumerate(body.members or [])]
    b = building_for(user, body.building_id)
    h = Household(**values, grid_id=b.grid_id, created_by=user.id)
    h.tags = tags
    for mv, mtags in members:
        m = Member(**mv)
        m.tags = mtags or []
        h.members.append(m)
    return audited_insert(
        h, household_dict, conflict=(f"{b.name} {body.flat_no} already has a file", {"flat_no": "taken"})
    )


def get_household(user, household_id: int, audit: bool = True) -> Household:
    """One file, if the user may read it; the read is audited."""
    require_personal(user)
    h = personal_or_404(user, Household, household_id, "household")
    return audited_read(h) if audit else h


def list_households(
    user,
    tag: str | None = None,
    grid: str | None = None,
    building_id: int | None = None,
    q: str | None = None,
    limit: int = 200,
    offset: int = 0,
    audit: bool = True,
    action: str = "list",
) -> tuple[list[Household], int]:
    """Files the user may read, filtered; the ids returned are audited."""
    require_personal(user)
    cond = [policy.personal_clause(user, Household.grid_id)]
    if tag:
        if not tag_exists(tag):
            raise ApiError(400, f"unknown tag {tag!r}", {"tag": "unknown"})
        cond.append(Household.tags.any(Tag.code == tag))
    if grid:
        cond.append(Household.grid_id.in_(select(Area.id).where(Area.code.startswith(grid, autoescape=True))))
    if building_id:
        cond.append(Household.building_id == building_id)
    if q:
        like = f"%{q}%"
        cond.append(
            or_(
                Household.head_name.ilike(like),
                Household.flat_no.ilike(like),
                Household.members.any(Member.name.ilike(like)),
            )
        )
    total = db.session.scalar(select(db.func.count()).select_from(Household).where(*cond))
    order = (Household.building_id, Household.flat_no)
    ids = list(db.session.scalars(select(Household.id).where(*cond).order_by(*order).limit(limit).offset(offset)))
    if audit:
        # Audit and commit before loading: a commit expires loaded rows, and serialising
        # expired rows would cost one query per household.
        record(action, "households", None, after={"ids": ids, "tag": tag, "grid": grid, "q": q})
        db.session.commit()
    rows = (
        list(db.session.scalars(select(Household).where(Household.id.in_(ids)).order_by(*order)).unique())
        if ids
        else []
    )
    return rows, total


def household_choices(user) -> list[Household]:
    """The files the user keeps, for a form's household picker (not audited: names and flats only)."""
    require_personal(user)
    return list(
        db.session.scalars(
            select(Household)
            .where(policy.personal_clause(user, Household.grid_id))
            .order_by(Household.building_id, Household.flat_no)
        )
    )


def household_in_reach(user, household_id: int) -> Household | None:
    """The file if the user keeps it (for another feature attaching a record to it), else ``None``."""
    return db.session.scalar(
        select(Household).where(Household.id == household_id, policy.personal_clause(user, Household.grid_id))
    )


def update_household(user, household_id: int, body: HouseholdPatch) -> Household:
    """Change the file's fields and/or its tags (``tags`` replaces the list)."""
    h = get_household(user, household_id, audit=False)
    sent = body.model_dump(exclude_unset=True)
    values = {k: v for k, v in sent.items() if k != "tags"}
    tags = resolve_tags(body.tags) if "tags" in sent else None
    values["grid_id"] = (
        building_for(user, values["building_id"]).grid_id
        if values.get("building_id", h.building_id) != h.building_id
        else h.grid_id
    )
    if tags is not None:
        values["tags"] = tags
    return audited_update(h, values, household_dict, conflict=("that flat already has a file", {"flat_no": "taken"}))


def delete_household(user, household_id: int) -> None:
    """Remove a file (members, visits and plans go with it): community staff and admins."""
    h = get_household(user, household_id, audit=False)
    require(user, "households.manage", "only community staff and admins delete files")
    audited_delete(h, household_dict)


def household_place(household: Household) -> tuple[float, float] | None:
    """(lon, lat) of a point on the household's building, where an incident it reports is placed."""
    row = db.session.execute(
        select(
            func.ST_X(func.ST_PointOnSurface(Building.geom)), func.ST_Y(func.ST_PointOnSurface(Building.geom))
        ).where(Building.id == household.building_id)
    ).first()
    return (round(row[0], 7), round(row[1], 7)) if row and row[0] is not None else None


def active_plan(household: Household) -> CarePlan | None:
    """The household's active care plan, if any."""
    return db.session.scalar(select(CarePlan).where(CarePlan.household_id == household.id, CarePlan.active.is_(True)))


# ----------------------------------------------------------------------------- members


def add_member(user, household_id: int, body: MemberIn) -> Member:
    """A new member in a household the user keeps."""
    h = get_household(user, household_id, audit=False)
    values, tags = member_values(body)
    m = Member(**values, household_id=h.id)
    m.tags = tags or []
    return audited_insert(m, member_dict)


def _member(user, member_id: int) -> Member:
    m = get_or_404(Member, member_id, f"no member {member_id} among the files you may read")
    get_household(user, m.household_id, audit=False)
    return m


def get_member(user, member_id: int) -> Member:
    """One member of a file the user may read; the read is audited."""
    return audited_read(_member(user, member_id))


def update_member(user, member_id: int, body: MemberPatch) -> Member:
    """Change a member; ``tags`` replaces their tags."""
    m = _member(user, member_id)
    values, tags = member_values(body)
    if tags is not None:
        values["tags"] = tags
    return audited_update(m, values, member_dict)


def delete_member(user, member_id: int) -> None:
    """Remove a member."""
    audited_delete(_member(user, member_id), member_dict)


def member_dict(m: Member) -> dict:
    """A member as JSON (personal)."""
    return {
        "id": m.id,
        "name": m.name,
        "relation": m.relation,
        "gender": m.gender,
        "birth_year": m.birth_year,
        "age": m.age,
        "phone": m.phone,
        "party_member": m.party_member,
        "health": m.health,
        "notes": m.notes,
        "tags": [t.code for t in m.tags],
    }


def household_dict(h: Household, members: bool = True) -> dict:
    """A file as JSON (personal)."""
    out = {
        "id": h.id,
        "building_id": h.building_id,
        "building": h.building.name if h.building else None,
        "flat_no": h.flat_no,
        "head_name": h.head_name,
        "phone": h.phone,
        "notes": h.notes,
        "grid_code": h.grid.code if h.grid else None,
        "grid_name": h.grid.name if h.grid else None,
        "tags": [t.code for t in h.tags],
        "tag_names": [t.name for t in h.tags],
    }
    if members:
        out["members"] = [member_dict(m) for m in h.members]
    return out
