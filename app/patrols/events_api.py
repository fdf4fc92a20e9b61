"""``/api/v1/patrols/<id>/events``, ``/api/v1/devices/<id>/events`` and acknowledging an alarm:
the device events API, on the patrols API blueprint (:mod:`app.patrols.api`)."""

from app.auth import policy
from app.patrols import alarms, eventlog
from app.patrols.api import bp
from app.patrols.schemas import DeviceEventList, DeviceEventOut, DeviceEventsQuery, PatrolEventsQuery
from app.web.api import endpoint, json_response


@bp.get("/patrols/<int:patrol_id>/events")
@endpoint(query=PatrolEventsQuery, response=DeviceEventList, permission="patrols.run", errors=(404,))
def patrol_events(patrol_id: int, query: PatrolEventsQuery):
    """A patrol's device events (alarms, heartbeats, reports without a position, region transitions),
    newest first; for whoever may read its track."""
    page, total = eventlog.patrol_events(
        policy.require_login(), patrol_id, query.kind, limit=query.limit, offset=query.offset
    )
    return json_response({"total": total, "events": page})


@bp.get("/devices/<int:device_id>/events")
@endpoint(query=DeviceEventsQuery, response=DeviceEventList, permission="patrols.run", errors=(404,))
def device_events(device_id: int, query: DeviceEventsQuery):
    """One of your devices' events in ``from``/``to`` (default the last 30 days), newest first (admins: the
    devices of users in their area)."""
    start, end = query.bounds()
    page, total = eventlog.device_events(
        policy.require_login(), device_id, query.kind, start, end, limit=query.limit, offset=query.offset
    )
    return json_response({"total": total, "events": page})


@bp.post("/device-events/<int:event_id>/acknowledge")
@endpoint(response=DeviceEventOut, permission="patrols.oversee", errors=(404, 409))
def acknowledge(event_id: int):
    """Acknowledge an alarm (SOS): it leaves the live map; stored with who and when, audited. 409 when
    someone was first."""
    user = policy.require_login()
    event = alarms.acknowledge(user, event_id)
    page, _total = eventlog.events_by_id([event.id])
    return json_response(page[0])
