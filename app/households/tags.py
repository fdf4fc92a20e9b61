"""The admin-managed list of key-group tags (重点人群标签) and resolving tag codes on files and members."""
from sqlalchemy import select

from app.audit.services import audited_insert, audited_update
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import get_or_404
from app.households.common import require
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
    return audited_insert(Tag(**body.model_dump()), conflict=(f"tag {body.code!r} exists", {"code": "taken"}))


def get_tag(tag_id: int) -> Tag:
    """One tag of the list (tag names are not personal)."""
    return get_or_404(Tag, tag_id, f"no tag {tag_id}")


def update_tag(user, tag_id: int, body: TagPatch) -> Tag:
    """Admins rename or retire a tag (retired tags stay on old files)."""
    require(user, "households.tags", ADMINS_ONLY)
    return audited_update(get_tag(tag_id), body.model_dump(exclude_unset=True))


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
