"""Volunteer teams (志愿服务队) and volunteers with their skills."""
from sqlalchemy import select

from app.areas.models import Area
from app.audit.services import audited_insert, audited_update
from app.auth import policy
from app.core.errors import ApiError
from app.core.extensions import db
from app.volunteers.common import community, require_know, require_manage, visible, visible_or_404
from app.volunteers.models import Team, Volunteer
from app.volunteers.schemas import TeamIn, VolunteerIn, VolunteerPatch


def list_teams(user) -> list[Team]:
    """Teams in communities the user's area touches."""
    return list(db.session.scalars(select(Team).where(visible(user, Team)).order_by(Team.id)))


def create_team(user, body: TeamIn) -> Team:
    """A new team (community staff, admins); team names are unique (409)."""
    require_manage(user)
    area = community(user, body.community)
    team = Team(**body.model_dump(exclude={"community"}), area_id=area.id)
    return audited_insert(team, conflict=("a team with this name exists", {"name": "taken"}))


def get_team(user, team_id: int) -> Team:
    """A team the user sees, else 404."""
    return visible_or_404(user, Team, team_id, "team")


def team_in_community(team_id: int, community_code: str) -> Team | None:
    """The team if it belongs to that community (for records another feature attaches to it)."""
    team = db.session.get(Team, team_id)
    return team if team is not None and team.area.code == community_code else None


def team_dict(t: Team, members: int | None = None) -> dict:
    return {"id": t.id, "name": t.name, "leader_name": t.leader_name, "party_led": t.party_led,
            "note": t.note, "community": t.area.code, "community_name": t.area.name,
            **({"volunteers": members} if members is not None else {})}


# ----------------------------------------------------------------------------- volunteers

def create_volunteer(user, body: VolunteerIn) -> Volunteer:
    """A volunteer in a team (of the team's community) or directly in a community."""
    require_manage(user)
    if body.team_id:
        team = get_team(user, body.team_id)
        area_id = team.area_id
        if body.community and body.community != team.area.code:
            raise ApiError(422, "the team belongs to another community", {"community": "not the team's"})
    else:
        area_id = community(user, body.community).id
    values = body.model_dump(exclude={"community", "skills"})
    return audited_insert(Volunteer(**values, skills=sorted(set(body.skills or [])), area_id=area_id))


def get_volunteer(user, volunteer_id: int) -> Volunteer:
    """A volunteer the user may name, else 403/404."""
    require_know(user)
    return visible_or_404(user, Volunteer, volunteer_id, "volunteer")


def update_volunteer(user, volunteer_id: int, body: VolunteerPatch) -> Volunteer:
    """Change a volunteer; ``skills`` replaces the list."""
    require_manage(user)
    v = get_volunteer(user, volunteer_id)
    values = body.model_dump(exclude_unset=True)
    if values.get("team_id"):
        get_team(user, values["team_id"])
    if "skills" in values:
        values["skills"] = sorted(set(values["skills"] or []))
    return audited_update(v, values)


def list_volunteers(user, team_id: int | None = None, skill: str | None = None) -> list[Volunteer]:
    """Active volunteers the user may name, by team."""
    require_know(user)
    q = select(Volunteer).where(visible(user, Volunteer), Volunteer.active.is_(True))
    if team_id:
        q = q.where(Volunteer.team_id == team_id)
    if skill:
        q = q.where(Volunteer.skills.any(skill))
    return list(db.session.scalars(q.order_by(Volunteer.team_id, Volunteer.id)))


def volunteer_in_community(volunteer_id: int, community_code: str) -> Volunteer | None:
    """The volunteer if they belong to that community (for records another feature attaches to them)."""
    v = db.session.get(Volunteer, volunteer_id)
    return v if v is not None and db.session.get(Area, v.area_id).code == community_code else None


def volunteer_dict(v: Volunteer, user) -> dict:
    """A volunteer as JSON; the phone only for those who manage volunteers."""
    return {"id": v.id, "name": v.name, "phone": v.phone if policy.can(user, "volunteers.manage") else None,
            "team_id": v.team_id, "team": v.team.name if v.team else None, "skills": list(v.skills or []),
            "party_member": v.party_member, "active": v.active}
