"""The admin-managed list of key-group tags (重点人群标签) and resolving tag codes on files and members."""
from sqlalchemy import select

from app.audit.services import record, snapshot
from app.core.errors import ApiError
from app.core.extensions import db
from app.households.common import conflict_as_409, require
from app.households.models import Tag
from app.households.schemas import TagIn, TagPatch

ADMINS_ONLY = "only admins manage the tag list"


def list_tags(include_inactive: bool = False) -> list[Tag]:
    """The tag list (tag names are not personal)."""
    q = select(Tag).order_by(Tag.id)
    if not include_inactive:
        q = q.where(Tag.active.is_(True))
    return list(db.session.scalars(q))


def tag_exists(code: str) -> bool:
    """Whether a tag (active or retired) has this code."""
    return db.session.scalar(select(Tag.id).where(Tag.code == code)) is not None


def create_tag(user, body: TagIn) -> Tag:
    """Admins add a tag."""
    require(user, "households.tags", ADMINS_ONLY)
    tag = Tag(**body.model_dump())
    with conflict_as_409(f"tag {body.code!r} exists", {"code": "taken"}):
        db.session.add(tag)
        db.session.flush()
    record("insert", "tags", tag.id, after=snapshot(tag))
    db.session.commit()
    return tag


def get_tag(tag_id: int) -> Tag:
    """One tag of the list (tag names are not personal)."""
    tag = db.session.get(Tag, tag_id)
    if tag is None:
        raise ApiError(404, f"no tag {tag_id}")
    return tag


def update_tag(user, tag_id: int, body: TagPatch) -> Tag:
    """Admins rename or retire a tag (retired tags stay on old files)."""
    require(user, "households.tags", ADMINS_ONLY)
    tag = get_tag(tag_id)
    before = snapshot(tag)
    for k, v in body.model_dump(exclude_unset=True).items():
        setattr(tag, k, v)
    record("update", "tags", tag.id, before, snapshot(tag))
    db.session.commit()
    return tag


def resolve_tags(codes: list[str] | None, field: str = "tags") -> list[Tag]:
    """Active tags for a list of codes; unknown codes are a 422 naming them."""
    if not codes:
        return []
    tags = list(db.session.scalars(select(Tag).where(Tag.code.in_(codes), Tag.active.is_(True))))
    unknown = sorted(set(codes) - {t.code for t in tags})
    if unknown:
        raise ApiError(422, f"unknown tag(s): {', '.join(unknown)}", {field: f"unknown: {', '.join(unknown)}"})
    return tags


def tag_dict(t: Tag) -> dict:
    return {"id": t.id, "code": t.code, "name": t.name, "name_en": t.name_en, "key_group": t.key_group,
            "active": t.active}
