"""A user's notice settings (e-mail address, language of e-mails, each kind on or off in the inbox and by
e-mail) and their area subscriptions."""

from sqlalchemy import select

from app.areas.models import Area
from app.audit.services import record
from app.auth import policy
from app.core.errors import ApiError
from app.core.extensions import db
from app.notices.kinds import KINDS, area_kinds
from app.notices.models import NoticeSetting, Subscription
from app.notices.services import wants

MAX_AREAS = 200
LANGUAGES = ("zh", "en")


def setting_of(user_id: int) -> NoticeSetting | None:
    return db.session.get(NoticeSetting, user_id)


def settings_dict(user) -> dict:
    """The user's settings with every registered kind (their choice or its default)."""
    setting = setting_of(user.id)
    kinds = []
    for kind in KINDS:
        inbox, email = wants(setting, kind)
        kinds.append({"kind": kind.name, "label": str(kind.label), "inbox": inbox, "email": email})
    return {
        "email": setting.email if setting else None,
        "language": setting.language if setting else "zh",
        "kinds": kinds,
    }


def save_settings(
    user, email: str | None = None, language: str | None = None, kinds: dict | None = None, commit: bool = True
) -> NoticeSetting:
    """Change the fields given (``kinds``: ``{kind: {"inbox": bool, "email": bool}}``, unknown kinds 422)."""
    unknown = [k for k in (kinds or {}) if k not in KINDS]
    if unknown:
        raise ApiError(422, f"unknown notice kinds: {', '.join(unknown)}", {"kinds": "unknown kind"})
    setting = setting_of(user.id)
    if setting is None:
        setting = NoticeSetting(user_id=user.id, kinds={}, language="zh")
        db.session.add(setting)
    if email is not None:
        setting.email = email.strip() or None
    if language is not None:
        setting.language = language
    if kinds:
        merged = dict(setting.kinds or {})
        for name, choice in kinds.items():
            merged[name] = {**merged.get(name, {}), **choice}
        setting.kinds = merged
    db.session.flush()
    record(
        "update",
        "notice_settings",
        user.id,
        after={"email": setting.email, "language": setting.language, "kinds": setting.kinds},
        user_id=user.id,
    )
    if commit:
        db.session.commit()
    return setting


# --------------------------------------------------------------------------- area subscriptions


def subscribable_areas(user) -> list[Area]:
    """The user's area and the areas below it, by code (at most :data:`MAX_AREAS`)."""
    scope = policy.scope_of(user)
    stmt = select(Area).order_by(Area.code).limit(MAX_AREAS)
    if not scope.everything:
        stmt = stmt.where(Area.code.startswith(scope.area_code, autoescape=True))
    return list(db.session.scalars(stmt))


def subscriptions(user_id: int) -> list[Subscription]:
    return list(
        db.session.scalars(select(Subscription).where(Subscription.user_id == user_id).order_by(Subscription.id))
    )


def subscribe(user, area_code: str, kinds: list[str], commit: bool = True) -> Subscription:
    """Subscribe ``user`` to ``kinds`` in the area ``area_code`` (inside their scope; 422 otherwise).
    Subscribing again to the same area replaces its kinds."""
    allowed = {k.name for k in area_kinds()}
    bad = [k for k in kinds if k not in allowed]
    if bad or not kinds:
        raise ApiError(422, f"kinds: choose among {', '.join(sorted(allowed))}", {"kinds": "unknown or empty"})
    area = db.session.scalar(select(Area).where(Area.code == area_code))
    if area is None or not policy.in_scope_code(policy.scope_of(user), area.code):
        raise ApiError(422, f"no area {area_code} in your scope", {"area": "outside your scope"})
    sub = db.session.scalar(
        select(Subscription).where(Subscription.user_id == user.id, Subscription.area_id == area.id)
    )
    if sub is None:
        sub = Subscription(user_id=user.id, area_id=area.id)
        db.session.add(sub)
    sub.kinds = sorted(set(kinds))
    db.session.flush()
    record("insert", "notice_subscriptions", sub.id, after={"area": area.code, "kinds": sub.kinds}, user_id=user.id)
    if commit:
        db.session.commit()
    return sub


def unsubscribe(user, subscription_id: int) -> None:
    """Remove one of the user's subscriptions (404 for anyone else's)."""
    sub = db.session.get(Subscription, subscription_id) if 0 < subscription_id < 2**62 else None
    if sub is None or sub.user_id != user.id:
        raise ApiError(404, f"no subscription {subscription_id}")
    db.session.delete(sub)
    record("delete", "notice_subscriptions", subscription_id, user_id=user.id)
    db.session.commit()
