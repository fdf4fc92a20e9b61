"""Who reads and changes which patrol (the rules of :mod:`app.auth.policy` applied to patrols).

Where someone walked is personal data. Members read their own patrols (created or joined), a team
leader the team's, overseers (``patrols.oversee``: community staff, admins) those of their area;
roles without ``patrols.run`` (leaders, planners) see per-grid figures only.
"""
from sqlalchemy import and_, exists, false, func, or_, select

from app.areas.models import Area
from app.auth.policy import can, grid_clause, in_scope_code, scope_of
from app.core.errors import ApiError
from app.core.extensions import db
from app.patrols.models import Patrol, PatrolTeam, patrol_participants


def visible_clause(user):
    """SQL condition on ``Patrol``: the patrols ``user`` may read one by one."""
    if not can(user, "patrols.run"):
        return false()
    own = or_(Patrol.created_by == user.id,
              exists().where(and_(patrol_participants.c.patrol_id == Patrol.id,
                                  patrol_participants.c.user_id == user.id)),
              Patrol.team_id.in_(select(PatrolTeam.id).where(PatrolTeam.leader_id == user.id)))
    if can(user, "patrols.oversee"):
        return or_(own, grid_clause(scope_of(user), Patrol.area_id))
    return own


def require_track_reader(user) -> None:
    """403 for roles that see only aggregates."""
    if not can(user, "patrols.run"):
        raise ApiError(403, f"role {user.role!r} sees patrol figures per grid only, not single patrols or tracks")


def get_patrol(user, patrol_id: int) -> Patrol:
    """A patrol the user may read, or 404 (403 for aggregate-only roles)."""
    require_track_reader(user)
    p = db.session.scalar(select(Patrol).where(Patrol.id == patrol_id, visible_clause(user)))
    if p is None:
        raise ApiError(404, f"no patrol {patrol_id} that you may see")
    return p


def can_edit(user, p: Patrol) -> bool:
    """The creator, a participant, the team leader and overseers of the patrol's area change a patrol."""
    if p.created_by == user.id or user in p.participants:
        return True
    if p.team is not None and p.team.leader_id == user.id:
        return True
    return can(user, "patrols.oversee") and in_scope_code(scope_of(user), p.area.code)


def editable(user, patrol_id: int) -> Patrol:
    """A patrol the user may change, or 404/403."""
    p = get_patrol(user, patrol_id)
    if not can_edit(user, p):
        raise ApiError(403, "only the patrol's members, team leader or area staff may change it")
    return p


def list_patrols(user, kind=None, state=None, start=None, end=None, area_code=None, team_id=None,
                 limit=50, offset=0) -> tuple[list[Patrol], int]:
    """Patrols the user may read, newest first, with filters; (page, total)."""
    require_track_reader(user)
    when = func.coalesce(Patrol.started_at, Patrol.planned_start)
    q = select(Patrol).where(visible_clause(user))
    if kind:
        q = q.where(Patrol.kind == kind)
    if state:
        q = q.where(Patrol.state == state)
    if start:
        q = q.where(when >= start)
    if end:
        q = q.where(when < end)
    if area_code:
        q = q.where(Patrol.area_id.in_(select(Area.id).where(Area.code.startswith(area_code, autoescape=True))))
    if team_id:
        q = q.where(Patrol.team_id == team_id)
    total = db.session.scalar(select(func.count()).select_from(q.subquery()))
    rows = db.session.scalars(q.order_by(when.desc().nullslast(), Patrol.id.desc()).limit(limit).offset(offset))
    return list(rows), total
