"""Transitional: the names of :mod:`app.auth.policy` under their old home, while features move over.

Deleted when no module imports it (the import-linter contracts forbid it then).
"""
from flask_login import current_user

from app.auth.policy import Scope, area_clause, current_scope, grid_clause, in_scope_code, require_login, scope_of  # noqa: F401
from app.core.errors import ApiError


def require_role(*roles: str):
    """Raise 401/403 unless the user has one of ``roles`` (use policy.require with a permission)."""
    require_login()
    if current_user.role not in roles:
        raise ApiError(403, f"role {current_user.role!r} may not do this; needs one of {', '.join(roles)}")
