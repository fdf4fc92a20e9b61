"""Account and token operations shared by the CLI, the views and the API."""

import functools
import hashlib
import secrets

from flask import current_app, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from app.areas.models import Area
from app.audit.services import audited_insert, record
from app.auth.models import ROLES, ApiToken, User
from app.core.errors import ApiError
from app.core.extensions import db


def hash_token(token: str) -> str:
    """Tokens are random, so a fast hash is enough (unlike passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()


def with_area():
    """Load a user with their area, but not its polygon: scopes need the area's id, code and level only."""
    return joinedload(User.area).defer(Area.geom)


def user_from_request(req) -> User | None:
    """``Authorization: Bearer <token>`` for API clients."""
    header = req.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    token = header.split(None, 1)[1].strip() if len(header.split(None, 1)) == 2 else ""
    user = user_for_token(token)
    if user is not None:
        req.environ["wuwei.bearer"] = True
    return user


@functools.cache
def _user_by_token():
    """One round trip per API request: the user and their area joined to the token.

    Built once (constructing it took longer than running it), on first use: building it at import
    would configure every mapper before all the features' models are imported.
    """
    return (
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == bindparam("h"), ApiToken.revoked.is_(False), User.active.is_(True))
        .options(with_area())
    )


def user_for_token(token: str) -> User | None:
    """The active user owning a non-revoked token, or None."""
    if not token or len(token) > 200:
        return None
    return db.session.scalar(_user_by_token(), {"h": hash_token(token)})


def find_user(username: str) -> User | None:
    """A user by username."""
    return db.session.scalar(select(User).where(User.username == username))


_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash of the configured method to check against when there is no such user."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_urlsafe(16), method=method)
    return _DUMMY_HASHES[method]


def authenticate(username: str, password: str) -> User | None:
    """The user when the password matches and the account is active.

    An unknown or inactive user costs the same password hashing as a known one, so the answer's
    timing does not tell which usernames exist.
    """
    # HMAC pads keys with zero bytes, so "pw" and "pw\0" would hash alike: NUL is never part of a password.
    if not username or not password or "\x00" in username + password or len(username) > 64:
        check_password_hash(_dummy_hash(), "x")
        return None
    user = find_user(username)
    if user is None or not user.active:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def create_user(
    username: str,
    password: str,
    role: str,
    area_code: str | None = None,
    display_name: str = "",
    phone: str | None = None,
) -> User:
    """Create an account; admins may have no area, everyone else needs one."""
    from app.areas.services import get_area_by_code

    errors = {}
    if not username or len(username) > 64 or not username.isprintable() or username != username.strip():
        errors["username"] = "required, at most 64 printable characters, no surrounding spaces"
    elif find_user(username):
        raise ApiError(409, f"user {username!r} already exists", {"username": "taken"})
    if role not in ROLES:
        errors["role"] = f"one of {', '.join(ROLES)}"
    if not password or len(password) < 8:
        errors["password"] = "at least 8 characters"  # nosec B105 (a message)
    elif len(password) > 256 or "\x00" in password:
        errors["password"] = "at most 256 characters, no NUL"  # nosec B105 (a message)
    area = None
    if area_code and not area_code.isdecimal():
        errors["area"] = f"no area with code {area_code!r}: codes are digits"
    elif area_code:
        area = get_area_by_code(area_code)
        if area is None:
            errors["area"] = f"no area with code {area_code}"
    elif role != "admin":
        errors["area"] = "required for every role except admin"
    if errors:
        raise ApiError(422, "invalid user", errors)
    user = User(
        username=username,
        password_hash=generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"]),
        role=role,
        area_id=area.id if area else None,
        display_name=display_name or username,
        phone=phone,
    )
    return audited_insert(user)


def create_token(username: str, device: str | None = None) -> tuple[ApiToken, str]:
    """A new token for a user; the clear token is returned once and never stored."""
    user = find_user(username)
    if user is None:
        raise ApiError(404, f"no user {username!r}")
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, device=device, token_hash=hash_token(token), prefix=token[:8])
    return audited_insert(row, lambda t: {"user_id": t.user_id, "device": t.device, "prefix": t.prefix}), token


def list_tokens(username: str | None = None) -> list[ApiToken]:
    """Tokens (newest first), of one user or of everyone; the clear tokens are not known."""
    q = select(ApiToken).order_by(ApiToken.id.desc())
    if username:
        user = find_user(username)
        if user is None:
            raise ApiError(404, f"no user {username!r}")
        q = q.where(ApiToken.user_id == user.id)
    return list(db.session.scalars(q))


def revoke_tokens(prefix: str) -> int:
    """Revoke the tokens starting with ``prefix`` (the first 8 characters shown by ``tokens list``)."""
    if not prefix or len(prefix) < 6:
        raise ApiError(422, "give at least the first 6 characters of the token", {"prefix": "too short"})
    rows = [
        t
        for t in db.session.scalars(select(ApiToken).where(ApiToken.revoked.is_(False)))
        if t.prefix.startswith(prefix[: len(t.prefix)]) and prefix.startswith(t.prefix[: len(prefix)])
    ]
    for t in rows:
        t.revoked = True
        record("update", "api_tokens", t.id, before={"revoked": False}, after={"revoked": True})
    db.session.commit()
    return len(rows)


def via_bearer() -> bool:
    """Whether the current request was authenticated by a bearer token (no CSRF needed).

    Flask-Login loads the user lazily; touching ``current_user`` runs the request loader,
    which marks bearer requests. A session cookie, when present, wins (and needs CSRF).
    """
    from flask_login import current_user

    current_user.is_authenticated  # noqa: B018 (loads the user)
    return bool(request.environ.get("wuwei.bearer"))
