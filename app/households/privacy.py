"""Who may read personal data (households, members, visits, wish details), and the
k-anonymity rule for every aggregate over people.

DESIGN.md, Security: household and resident data is read only by the grid's own grid
workers, community staff of that community and admins. Everybody else (leaders,
planners, patrol) gets counts, and every count over people shown to them — on a map,
in a table, in a heat map — goes through :func:`suppress` first.
"""
from sqlalchemy import ColumnElement, false, or_, select

from app.auth.access import grid_clause, scope_of

K_ANONYMITY = 5
PERSONAL_ROLES = ("admin", "staff", "grid_worker")


def suppress(count: int | None, k: int = K_ANONYMITY) -> int | None:
    """A count fit to publish: ``None`` when 0 < count < k, else the count itself.

    Zero is shown (it identifies nobody); 1..k-1 would single people out, so the cell
    is blanked and shown as "<k" (see :func:`suppressed_label`). Use this for every
    aggregate over people that reaches a reader without access to the files:
    per building, per grid, per heat-map cell, per team.
    """
    if count is None:
        return None
    count = int(count)
    return None if 0 < count < k else count


def suppressed_label(count: int | None, k: int = K_ANONYMITY) -> str:
    """The text for a suppressed count: the number, or "<5"."""
    value = suppress(count, k)
    return f"<{k}" if value is None else str(value)


def reads_personal(user) -> bool:
    """Whether ``user``'s role may ever read household files (within their area)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role == "admin":
        return True
    if user.role == "staff":
        return user.area is not None and user.area.level in ("community", "grid", "micro_grid")
    if user.role == "grid_worker":
        return True
    return False


def personal_clause(user, grid_col) -> ColumnElement[bool]:
    """SQL condition: ``user`` may read personal rows whose grid is ``grid_col``.

    Admins: their scope (everything without an area). Staff: grids of their community.
    Grid workers: the grids they are assigned to (``grid_workers``) and the grid of their area.
    """
    from app.areas.models import Area, grid_workers
    if not reads_personal(user):
        return false()
    if user.role in ("admin", "staff"):
        return grid_clause(scope_of(user), grid_col)
    assigned = select(grid_workers.c.area_id).where(grid_workers.c.user_id == user.id)
    clauses = [grid_col.in_(assigned)]
    if user.area is not None and user.area.level in ("grid", "micro_grid"):
        own = select(Area.id).where(Area.code == user.area.code[:15])
        clauses.append(grid_col.in_(own))
    return or_(*clauses)


def counts_clause(user, grid_col) -> ColumnElement[bool]:
    """SQL condition for aggregate (count-only) reads: the user's whole area."""
    return grid_clause(scope_of(user), grid_col)
