"""Telling users: a notice per user and event, in the inbox and (off the request) by e-mail.

Features call :func:`notify` with the users they mean, or :func:`notify_area` for the users subscribed to
an area, inside their own transaction: the notices and the e-mail jobs (:mod:`app.notices.mail`) are
committed with the change they tell of, or not at all. ``key`` names the event: the same event told to the
same user twice is stored, shown and sent once (a unique index, ``ON CONFLICT DO NOTHING``).
"""

from collections.abc import Iterable

from flask import current_app
from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import insert

from app.areas.models import Area
from app.auth import policy
from app.auth.models import User
from app.core import jobs
from app.core.extensions import db
from app.notices.kinds import KINDS, Kind
from app.notices.mail import TASK
from app.notices.models import Notice, NoticeSetting, Subscription


def wants(setting: NoticeSetting | None, kind: Kind) -> tuple[bool, bool]:
    """(in the inbox, by e-mail) for ``kind`` under ``setting``: the user's choice, else the kind's default."""
    chosen = (setting.kinds or {}).get(kind.name, {}) if setting is not None else {}
    return bool(chosen.get("inbox", True)), bool(chosen.get("email", kind.email))


def _mail_on() -> bool:
    return bool(current_app.config.get("WUWEI_SMTP_HOST"))


def notify(user_ids: Iterable[int], kind: str, key: str, params: dict, link: str | None) -> int:
    """Tell each active user of ``user_ids`` of the event ``key``; how many notices were new."""
    entry = KINDS[kind]
    ids = {int(i) for i in user_ids if i is not None}
    if not ids:
        return 0
    active = set(db.session.scalars(select(User.id).where(User.id.in_(ids), User.active.is_(True))))
    settings = {
        s.user_id: s for s in db.session.scalars(select(NoticeSetting).where(NoticeSetting.user_id.in_(active)))
    }
    created = 0
    for user_id in sorted(active):
        setting = settings.get(user_id)
        inbox, email = wants(setting, entry)
        to = setting.email if email and setting is not None and setting.email and _mail_on() else None
        if not inbox and not to:
            continue
        notice_id = db.session.scalar(
            insert(Notice)
            .values(
                user_id=user_id,
                kind=kind,
                key=key[:200],
                params=params,
                link=link,
                in_inbox=inbox,
                email_to=to,
                email_state="queued" if to else None,
            )
            .on_conflict_do_nothing(constraint="uq_notices_user_key")
            .returning(Notice.id)
        )
        if notice_id is None:
            continue
        created += 1
        if to:
            jobs.defer(TASK, notice_id=notice_id)
    return created


def subscribers(kind: str, grid_code: str | None) -> list[int]:
    """Users subscribed to ``kind`` in an area holding the grid ``grid_code`` and still allowed to see it."""
    if not grid_code:
        return []
    rows = (
        db.session.execute(
            select(User)
            .join(Subscription, Subscription.user_id == User.id)
            .join(Area, Area.id == Subscription.area_id)
            .where(User.active.is_(True), Subscription.kinds.contains([kind]), literal(grid_code).startswith(Area.code))
        )
        .scalars()
        .unique()
    )
    return [
        u.id for u in rows if policy.can(u, "notices.subscribe") and policy.in_scope_code(policy.scope_of(u), grid_code)
    ]


def notify_area(
    kind: str, grid_code: str | None, key: str, params: dict, link: str | None, exclude: Iterable[int] = ()
) -> int:
    """Tell the users subscribed to ``kind`` for an area holding ``grid_code`` (but not ``exclude``)."""
    skip = set(exclude)
    return notify([u for u in subscribers(kind, grid_code) if u not in skip], kind, key, params, link)


# --------------------------------------------------------------------------- the inbox


def unread_count(user_id: int) -> int:
    """Unread notices in the user's inbox."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notice)
            .where(Notice.user_id == user_id, Notice.read_at.is_(None), Notice.in_inbox.is_(True))
        )
        or 0
    )


def inbox(user_id: int, limit: int = 50, offset: int = 0, unread_only: bool = False) -> list[Notice]:
    """The user's notices, newest first."""
    stmt = select(Notice).where(Notice.user_id == user_id, Notice.in_inbox.is_(True))
    if unread_only:
        stmt = stmt.where(Notice.read_at.is_(None))
    return list(
        db.session.scalars(stmt.order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit).offset(offset))
    )


def mark_read(user_id: int, ids: list[int] | None = None) -> int:
    """Mark the user's notices ``ids`` (all when None) read; how many changed."""
    stmt = update(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None)).values(read_at=func.now())
    if ids is not None:
        stmt = stmt.where(Notice.id.in_(ids))
    changed = db.session.execute(stmt).rowcount
    db.session.commit()
    return changed


def get_notice(user_id: int, notice_id: int) -> Notice | None:
    """One of the user's notices (None for anyone else's)."""
    return db.session.scalar(select(Notice).where(Notice.id == notice_id, Notice.user_id == user_id))
