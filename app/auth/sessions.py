"""Server-side login sessions: a copied cookie stops working at logout.

The session cookie (and the remember-me cookie) carry ``<user id>:<session token>``; the token's
SHA-256 is a row of ``user_sessions``. Every request loads the user and checks the session in one
query; logout, deactivating the user or ``revoke_sessions`` end it on the server, whatever copies of
the cookie exist.
"""

import functools
import secrets

from flask import request
from sqlalchemy import bindparam, func, select, update

from app.auth.models import User, UserSession
from app.auth.services import hash_token, with_area
from app.core.extensions import db


@functools.cache
def _user_by_session():
    """The user of an open session, with their area (built on first use, once)."""
    return (
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.id == bindparam("uid"),
            UserSession.token_hash == bindparam("h"),
            UserSession.revoked_at.is_(None),
            User.active.is_(True),
        )
        .options(with_area())
    )


def open_session(user: User) -> str:
    """A new server-side session for ``user`` (call before ``login_user``); returns its token."""
    token = secrets.token_urlsafe(32)
    agent = (request.user_agent.string or "")[:200] if request else None
    db.session.add(UserSession(user_id=user.id, token_hash=hash_token(token), user_agent=agent))
    db.session.commit()
    user.session_token = token
    return token


def _parse(raw: str | None) -> tuple[int, str] | None:
    if not raw or ":" not in raw:
        return None
    uid, _, token = raw.partition(":")
    if not uid.isdigit() or len(uid) > 10 or not token or len(token) > 100:
        return None
    return int(uid), token


def load_user(raw: str) -> User | None:
    """Flask-Login's loader: the user of an open session, or None (logged out, revoked, deactivated)."""
    parsed = _parse(raw)
    if parsed is None:
        return None
    uid, token = parsed
    user = db.session.scalar(_user_by_session(), {"uid": uid, "h": hash_token(token)})
    if user is not None:
        user.session_token = token
    return user


def close_session(raw: str | None) -> None:
    """End the session named by a cookie's id (logout)."""
    parsed = _parse(raw)
    if parsed is None:
        return
    uid, token = parsed
    db.session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == uid, UserSession.token_hash == hash_token(token), UserSession.revoked_at.is_(None)
        )
        .values(revoked_at=func.now())
    )
    db.session.commit()


def revoke_sessions(user_id: int) -> int:
    """End every open session of a user (deactivation, a stolen laptop); returns how many."""
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    db.session.commit()
    return result.rowcount
