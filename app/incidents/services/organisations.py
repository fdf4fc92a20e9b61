"""Departments and property companies that work in Wuwei (处置端): who belongs to which organisation, what
is dispatched to it (its desk), and who holds a dispatched incident.

An incident dispatched to a person is held by that person; dispatched to an organisation with active
members, by its members — only they accept it, return it, ask for time and report it done. An organisation
none of whose people work in Wuwei yet has its steps recorded on its behalf by the people in the field, as
before (the timeline says so).
"""

from sqlalchemy import and_, or_, select

from app.audit.services import record
from app.auth import policy
from app.auth.models import User
from app.basemap.models import PropertyCompany
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents.models import Department, Incident, Organisation, OrganisationMember
from app.incidents.services.records import MAX_ID

DESK = "incidents.respond"  # the permission of an organisation's people
# What an organisation sees of the incidents dispatched to it: its work, then what it handed back.
DESK_STATES = ("dispatched", "in_progress", "responded", "closed", "evaluated")


def organisation_of(user) -> Organisation | None:
    """The organisation ``user`` belongs to."""
    if user is None or getattr(user, "id", None) is None:
        return None
    return db.session.scalar(select(Organisation).join(OrganisationMember).where(OrganisationMember.user_id == user.id))


def organisations() -> list[Organisation]:
    """Every organisation, departments first, by name."""
    rows = list(db.session.scalars(select(Organisation)))
    return sorted(rows, key=lambda o: (o.department_id is None, o.name))


def organisation_for(
    department_id: int | None = None, property_company_id: int | None = None, create: bool = False
) -> Organisation | None:
    """The organisation of a department or a property company (made when ``create``; 422 for an unknown one)."""
    column, value = (
        (Organisation.department_id, department_id)
        if department_id is not None
        else (Organisation.property_company_id, property_company_id)
    )
    org = db.session.scalar(select(Organisation).where(column == value)) if value is not None else None
    if org is None and create:
        target = db.session.get(Department if department_id is not None else PropertyCompany, value)
        if target is None:
            raise ApiError(422, "no such department or property company", {"target": "unknown"})
        org = Organisation(department_id=department_id, property_company_id=property_company_id)
        db.session.add(org)
        db.session.flush()
        record(
            "insert",
            "organisations",
            org.id,
            after={"department_id": department_id, "property_company_id": property_company_id},
        )
    return org


def member_ids(org: Organisation | None) -> list[int]:
    """The active members of ``org``."""
    if org is None:
        return []
    return list(
        db.session.scalars(
            select(User.id)
            .join(OrganisationMember, OrganisationMember.user_id == User.id)
            .where(OrganisationMember.organisation_id == org.id, User.active.is_(True))
            .order_by(User.id)
        )
    )


def members(org: Organisation) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(OrganisationMember, OrganisationMember.user_id == User.id)
            .where(OrganisationMember.organisation_id == org.id)
            .order_by(User.username)
        )
    )


def set_members(org: Organisation, usernames: list[str], commit: bool = True) -> list[User]:
    """Replace the members of ``org``: users of role ``department`` (422 for anyone else), each in one
    organisation only (moved here from another)."""
    users = list(db.session.scalars(select(User).where(User.username.in_(usernames)))) if usernames else []
    found = {u.username for u in users}
    errors = {name: "no such user" for name in usernames if name not in found}
    errors.update(
        {
            u.username: "only users of role department belong to an organisation"
            for u in users
            if not policy.can(u, DESK)
        }
    )
    if errors:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    before = [u.username for u in members(org)]
    db.session.execute(
        OrganisationMember.__table__.delete().where(
            or_(OrganisationMember.organisation_id == org.id, OrganisationMember.user_id.in_([u.id for u in users]))
        )
    )
    for user in users:
        db.session.add(OrganisationMember(user_id=user.id, organisation_id=org.id))
    db.session.flush()
    record("update", "organisation_members", org.id, before={"members": before}, after={"members": sorted(found)})
    if commit:
        db.session.commit()
    return users


def target_of(incident: Incident) -> Organisation | None:
    """The organisation an incident is dispatched to (a property company before a department)."""
    if incident.property_company_id is not None:
        return organisation_for(property_company_id=incident.property_company_id)
    if incident.department_id is not None:
        return organisation_for(department_id=incident.department_id)
    return None


def target_name(incident: Incident) -> str | None:
    """Whom an incident is dispatched to, in words: a person, a property company or a department."""
    if incident.assignee_id is not None:
        user = db.session.get(User, incident.assignee_id)
        return user.display_name if user else None
    if incident.property_company_id is not None:
        company = db.session.get(PropertyCompany, incident.property_company_id)
        return company.name if company else None
    if incident.department_id is not None:
        department = db.session.get(Department, incident.department_id)
        return department.name if department else None
    return None


def holder_ids(incident: Incident) -> list[int]:
    """The users holding a dispatched incident: the person, or the organisation's active members
    (empty when nobody of the organisation works in Wuwei)."""
    if incident.assignee_id is not None:
        return [incident.assignee_id]
    return member_ids(target_of(incident))


def holds(incident: Incident, user) -> bool:
    """Whether ``user`` may take the holder's steps of ``incident`` (accept, return, ask for time, respond)."""
    if incident.assignee_id is not None:
        return user.id == incident.assignee_id
    holders = holder_ids(incident)
    if holders:
        return user.id in holders
    return not policy.can(user, DESK)  # on the organisation's behalf: anyone in the field, no other desk


def dispatched_to(org: Organisation):
    """SQL condition: the incident is dispatched to ``org`` (and to no single person)."""
    if org.property_company_id is not None:
        return and_(Incident.property_company_id == org.property_company_id, Incident.assignee_id.is_(None))
    return and_(
        Incident.department_id == org.department_id,
        Incident.property_company_id.is_(None),
        Incident.assignee_id.is_(None),
    )


def load_for_desk(incident_id, user, lock: bool = False) -> Incident:
    """An incident dispatched to ``user``'s organisation (404 for any other: ids are not probed)."""
    org = organisation_of(user)
    if org is None or not isinstance(incident_id, int) or not 0 < incident_id < MAX_ID:
        raise ApiError(404, "no such incident")
    stmt = select(Incident).where(Incident.id == incident_id, dispatched_to(org), Incident.state.in_(DESK_STATES))
    if lock:
        stmt = stmt.with_for_update(of=Incident).execution_options(populate_existing=True)
    incident = db.session.scalar(stmt)
    if incident is None:
        raise ApiError(404, f"no incident {incident_id} dispatched to {org.name}")
    return incident
