"""``servicerequestupdates``: mySociety's Open311 extension, as open311-adapter serves it and FixMyStreet
calls it (``perllib/Open311.pm``: ``get_service_request_updates``, ``post_service_request_update``).

* GET lists the workflow steps that changed a request's state in a period, oldest first (FixMyStreet
  applies them in the order given): ``update_id`` (the step's id), ``service_request_id``, ``status``
  (the extended status, lower case), ``external_status_code`` (the internal state), ``description``
  (the reply staff wrote for the resident with the step — the same the resident's status page shows —
  else the state in words: staff notes stay internal, they may name residents), ``media_url`` (empty:
  staff photos are not public), ``updated_datetime``. Public, like ``GET requests``.
* POST records a client's update on a request it posted (with its key, or an earlier key of the same
  name): the text joins the timeline, and its status moves the incident when
  :data:`app.open311.statuses.INCOMING` names a step the workflow allows from the current state.
  The answer's ``update_id`` is the timeline step's id; the same client ``update_id`` sent again is
  answered with the same id and applied once.
"""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import now
from app.incidents import services as incidents
from app.open311.errors import Open311Error
from app.open311.models import Open311Key, Open311Update
from app.open311.schemas import UpdateForm
from app.open311.services import w3_time
from app.open311.statuses import INCOMING, extended_status, state_note

DEFAULT_HOURS = 24


def list_updates(start: dt.datetime | None, end: dt.datetime | None, page: int, page_size: int) -> list[dict]:
    """The state changes of ``start``..``end`` (default: the 24 hours up to ``end``, or up to now)."""
    end = end or now()
    start = start or end - dt.timedelta(hours=DEFAULT_HOURS)
    rows = incidents.state_changes(start, end, limit=page_size, offset=(page - 1) * page_size)
    return [
        {
            "update_id": r.id,
            "service_request_id": r.incident_id,
            "status": extended_status(r.to_state),
            "external_status_code": r.to_state,
            "description": r.public_note or state_note(r.to_state),
            "media_url": "",
            "updated_datetime": w3_time(r.created_at),
        }
        for r in rows
    ]


def _posted_update(key: Open311Key, client_update_id: str) -> Open311Update | None:
    return db.session.scalar(
        select(Open311Update).where(Open311Update.key_id == key.id, Open311Update.client_update_id == client_update_id)
    )


def _check_owner(key: Open311Key, request_id: int):
    """The incident, if ``key`` (or an earlier key of the same name) posted it."""
    try:
        incident = incidents.get_incident(request_id, None)
    except ApiError:
        raise Open311Error(404, f"service_request_id {request_id} not found") from None
    partner = select(Open311Key.id).where(Open311Key.name == key.name)
    if incident.open311_key_id is None or incident.open311_key_id not in set(db.session.scalars(partner)):
        raise Open311Error(403, f"service_request_id {request_id} was not posted with this api_key")
    return incident


def post_update(key: Open311Key | None, form: UpdateForm) -> dict:
    """Record a client's update; ``{"update_id": …}`` (the timeline step)."""
    if key is None:
        raise Open311Error(403, "api_key is missing or not valid")
    incident = _check_owner(key, int(form.service_request_id))
    earlier = _posted_update(key, form.update_id)
    if earlier is not None:
        if earlier.incident_id != incident.id:
            raise Open311Error(
                400, f"update_id {form.update_id} was already used for service_request_id {earlier.incident_id}"
            )
        return {"update_id": earlier.transition_id}
    data = {"source": "open311", "via": key.name, "status": form.status, "update_id": form.update_id}
    step, moved = incidents.external_step(incident.id, INCOMING.get(form.status), form.description, data, commit=False)
    name = " ".join(p for p in (form.first_name, form.last_name) if p) or None
    db.session.add(
        Open311Update(
            key_id=key.id,
            client_update_id=form.update_id,
            incident_id=incident.id,
            transition_id=step.id,
            status=form.status,
            applied=moved,
            description=form.description,
            updated_at=form.updated_datetime,
            author_name=name[:64] if name else None,
            author_phone=form.phone,
            media_urls=form.media_url,
        )
    )
    try:
        db.session.commit()
    except IntegrityError:  # the same update, sent twice at once: the first one stands
        db.session.rollback()
        earlier = _posted_update(key, form.update_id)
        if earlier is None:
            raise
        return {"update_id": earlier.transition_id}
    return {"update_id": step.id}
