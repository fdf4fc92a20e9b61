"""Patrol rules and the position store: devices, ingest, patrols, tracks, results, coverage.

Ingest is the hot path (phones report every few seconds): one ``INSERT … ON CONFLICT DO
NOTHING`` per fix with bound parameters, device and open-patrol lookups cached for a few
seconds per process, no ORM object and no audit row per fix (patrol start/stop and edits
are audited instead). Tracks, cleaning and statistics are SQL over ``positions``.
"""
import datetime as dt
import io
import threading
import time
from zoneinfo import ZoneInfo

import psycopg2.errors
import psycopg2.extensions
from flask import current_app
from geoalchemy2.shape import from_shape
from sqlalchemy import and_, exists, false, or_, select, text, true
from sqlalchemy.engine import Connection
from shapely.geometry import shape

from app.areas.models import Area
from app.areas.services import get_area_by_code
from app.audit.services import record, snapshot
from app.auth.access import Scope, in_scope_code, scope_of
from app.auth.models import User
from app.core.errors import ApiError
from app.core.extensions import db
from app.patrols.models import (DEVICE_KINDS, PATROL_KINDS, BadParkingSpot, Device, Patrol, PatrolTeam,
                                patrol_participants)
from gis.geometry import GeometryError, parse_geometry
from gis.tracks import MAX_ACCURACY_M, MAX_SPEED_MS, Fix, FixError

SHANGHAI = ZoneInfo("Asia/Shanghai")
CACHE_SECONDS = 10.0
PARTITION_CHECK_SECONDS = 6 * 3600
# Who may read patrols and tracks (personal data: where people were).
TRACK_READERS = ("admin", "staff", "grid_worker", "patrol")
AGGREGATE_ONLY = ("leader", "planner")
MAX_SEGMENT_GAP_S = 300     # a gap longer than this is not counted as moving or as time in a grid
MOVING_SPEED_MS = 0.3

_lock = threading.Lock()
_devices: dict[str, tuple[float, tuple[int, int] | None]] = {}
_open_patrols: dict[int, tuple[float, tuple[int, dt.datetime] | None]] = {}
_partitions_checked = [0.0]


def clear_caches() -> None:
    """Forget cached devices and open patrols (after registering, starting or stopping)."""
    with _lock:
        _devices.clear()
        _open_patrols.clear()


# --------------------------------------------------------------------------- partitions
def ensure_partitions(months_ahead: int = 3, months_back: int = 1) -> int:
    """Create missing monthly partitions of ``positions`` around now; returns how many were made."""
    n = db.session.execute(text("SELECT wuwei_ensure_position_partitions(:a, :b)"),
                           {"a": months_ahead, "b": months_back}).scalar()
    db.session.commit()
    return n


def ensure_partitions_for(times) -> None:
    """Partitions for the months (Asia/Shanghai) of ``times``, e.g. before importing an old track."""
    months = sorted({t.astimezone(SHANGHAI).date().replace(day=1) for t in times})
    for m in months:
        db.session.execute(text("SELECT wuwei_position_partition(:m)"), {"m": m})


def _maybe_ensure_partitions(raw) -> None:
    """Once every few hours per process, on the ingest path: months ahead exist before they start."""
    now = time.monotonic()
    if now - _partitions_checked[0] < PARTITION_CHECK_SECONDS and _partitions_checked[0]:
        return
    _partitions_checked[0] = now
    with raw.cursor() as cur:
        cur.execute("SELECT wuwei_ensure_position_partitions(2, 0)")


# --------------------------------------------------------------------------- devices
def register_device(username: str, identifier: str, name: str = "", kind: str = "traccar") -> Device:
    """Tie a device identifier (Traccar Client id, OwnTracks ``user/device``) to a user."""
    identifier = (identifier or "").strip()
    errors = {}
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        errors["user"] = f"no user {username!r}"
    if not identifier or len(identifier) < 3 or len(identifier) > 64 or \
            not all(c.isalnum() and c.isascii() or c in "_.:/@-" for c in identifier):
        errors["identifier"] = "3–64 characters: letters, digits and _ . : / @ -"
    if kind not in DEVICE_KINDS:
        errors["kind"] = f"one of {', '.join(DEVICE_KINDS)}"
    if len(name or "") > 128:
        errors["name"] = "at most 128 characters"
    if errors:
        raise ApiError(422, "invalid device", errors)
    if db.session.scalar(select(Device.id).where(Device.identifier == identifier)):
        raise ApiError(409, f"device {identifier!r} is already registered", {"identifier": "taken"})
    device = Device(identifier=identifier, user_id=user.id, name=name or identifier, kind=kind, active=True)
    db.session.add(device)
    db.session.flush()
    record("insert", "devices", device.id, after=snapshot(device))
    db.session.commit()
    clear_caches()
    return device


def devices_of(user) -> list[Device]:
    """A user's devices."""
    return list(db.session.scalars(select(Device).where(Device.user_id == user.id).order_by(Device.id)))


def web_device(user) -> Device:
    """The phone page's own device for ``user`` (created on first use)."""
    ident = f"web-{user.username}"[:64]
    dev = db.session.scalar(select(Device).where(Device.identifier == ident))
    if dev is None:
        dev = Device(identifier=ident, user_id=user.id, name="手机网页", kind="web", active=True)
        db.session.add(dev)
        db.session.flush()
        record("insert", "devices", dev.id, after=snapshot(dev))
    return dev


def register_owntracks_device(identifier: str) -> None:
    """Register ``user/device`` for its user when a token vouched for it (OwnTracks Basic auth)."""
    username = identifier.split("/", 1)[0]
    try:
        register_device(username, identifier, name=f"OwnTracks {identifier}", kind="owntracks")
    except ApiError as e:
        if e.status != 409:
            raise ApiError(400, f"cannot register OwnTracks device {identifier!r}: {e.message}", e.fields) from None
        raise ApiError(403, f"device {identifier!r} belongs to someone else") from None


# The ingest path talks to psycopg2 directly (plain SQL, pyformat parameters): per fix, SQLAlchemy's
# statement compilation and result wrapping cost more than the round trip itself.
_DEVICE_SQL = ("SELECT d.id, d.user_id FROM devices d JOIN users u ON u.id = d.user_id"
               " WHERE d.identifier = %(i)s AND d.active AND u.active")
_OPEN_PATROL_SQL = (
    "SELECT p.id, p.started_at FROM patrols p WHERE p.state = 'active' AND (p.created_by = %(u)s OR EXISTS "
    "(SELECT 1 FROM patrol_participants pp WHERE pp.patrol_id = p.id AND pp.user_id = %(u)s)) "
    "ORDER BY p.started_at DESC LIMIT 1")
_INSERT_SQL = (
    "INSERT INTO positions (device_id, user_id, patrol_id, fixed_at, geom, accuracy, speed, heading,"
    " altitude, battery, source) VALUES (%(d)s, %(u)s, %(p)s, %(t)s,"
    " ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), %(acc)s, %(spd)s, %(hdg)s, %(alt)s, %(bat)s, %(src)s)"
    " ON CONFLICT (device_id, fixed_at) DO NOTHING")


def _session_raw():
    """The psycopg2 connection under the request's session (inside its transaction)."""
    return db.session.connection().connection.driver_connection


def _cached(cache: dict, key, raw, sql: str, params: dict):
    now = time.monotonic()
    hit = cache.get(key)
    if hit and hit[0] > now:
        return hit[1]
    with (raw or _session_raw()).cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    value = (row[0], row[1]) if row else None
    with _lock:
        if len(cache) > 50_000:
            cache.clear()
        cache[key] = (now + CACHE_SECONDS, value)
    return value


def device_lookup(identifier: str, raw=None) -> tuple[int, int] | None:
    """(device id, user id) for an active device identifier; cached briefly per process.

    ``raw`` is a psycopg2 connection; without it the request's session connection is used.
    """
    return _cached(_devices, identifier, raw, _DEVICE_SQL, {"i": identifier})


def open_patrol_of(user_id: int, raw=None) -> tuple[int, dt.datetime] | None:
    """The user's active patrol (id, started_at); cached briefly per process."""
    return _cached(_open_patrols, user_id, raw, _OPEN_PATROL_SQL, {"u": user_id})


# --------------------------------------------------------------------------- ingest
def store_fix(raw, identifier: str, fix: Fix, source: str) -> bool:
    """Store one fix from a tracking app on the psycopg2 connection ``raw``; False for a resend.

    One round trip when the caches are warm: an ``INSERT … ON CONFLICT DO NOTHING`` that ignores a
    fix already stored (same device and time). The caller owns the transaction (an autocommit
    connection commits at once). Raises a 404 :class:`ApiError` for an unknown or inactive device
    (the protocol chooses the status it answers).
    """
    dev = device_lookup(identifier, raw)
    if dev is None:
        raise ApiError(404, f"unknown device {identifier!r}: register it first", {"id": "unknown device"})
    _maybe_ensure_partitions(raw)
    device_id, user_id = dev
    patrol = open_patrol_of(user_id, raw)
    patrol_id = patrol[0] if patrol and fix.fixed_at >= patrol[1] else None
    with raw.cursor() as cur:
        cur.execute(_INSERT_SQL, {
            "d": device_id, "u": user_id, "p": patrol_id, "t": fix.fixed_at, "lon": fix.lon, "lat": fix.lat,
            "acc": fix.accuracy, "spd": fix.speed, "hdg": fix.heading, "alt": fix.altitude, "bat": fix.battery,
            "src": source})
        return cur.rowcount == 1


def ingest_fix(identifier: str, fix: Fix, source: str) -> bool:
    """Store one fix through the request's session (OwnTracks); False when it was a resend."""
    raw = _session_raw()
    # When no transaction is open on the session's connection, the INSERT runs in autocommit mode
    # (psycopg2 would otherwise send BEGIN and COMMIT as trips of their own). Bound to an outer
    # transaction (the test suite's), or after a lookup opened one, it runs inside it and the
    # session commits.
    own = not isinstance(db.session.bind, Connection) and \
        raw.status == psycopg2.extensions.STATUS_READY and not raw.autocommit
    if own:
        raw.autocommit = True
        try:
            return store_fix(raw, identifier, fix, source)
        finally:
            raw.autocommit = False
    added = store_fix(raw, identifier, fix, source)
    db.session.commit()
    return added


# Bulk statements, written out once (fixed column lists, no values: those travel in the COPY stream).
_COLS = "(device_id, user_id, patrol_id, fixed_at, geom, accuracy, speed, heading, altitude, battery, source)"
_COPY_POSITIONS = "COPY positions " + _COLS + " FROM STDIN"
_COPY_POSITIONS_LOAD = "COPY positions_load " + _COLS + " FROM STDIN"
_MERGE_POSITIONS_LOAD = ("INSERT INTO positions " + _COLS + " SELECT device_id, user_id, patrol_id, fixed_at,"
                         " geom::geometry, accuracy, speed, heading, altitude, battery, source FROM positions_load"
                         " ON CONFLICT (device_id, fixed_at) DO NOTHING")


def store_fixes(device: Device, fixes: list[Fix], source: str, patrol_id: int | None) -> int:
    """Bulk-store fixes (phone batches, GPX/CSV imports) through COPY; returns rows added.

    The caller commits. Duplicates within the batch and already stored fixes are skipped.
    """
    if not fixes:
        return 0
    ensure_partitions_for([f.fixed_at for f in fixes])
    unique = {f.fixed_at: f for f in fixes}          # a file may repeat a point: keep one per time
    buf = io.StringIO()

    def v(x):
        return r"\N" if x is None else repr(float(x))
    pid = r"\N" if patrol_id is None else str(patrol_id)
    for f in unique.values():
        buf.write(f"{device.id}\t{device.user_id}\t{pid}\t{f.fixed_at.isoformat()}\t"
                  f"SRID=4326;POINT({f.lon!r} {f.lat!r})\t{v(f.accuracy)}\t{v(f.speed)}\t{v(f.heading)}\t"
                  f"{v(f.altitude)}\t{v(f.battery)}\t{source}\n")
    raw = db.session.connection().connection.driver_connection
    # Fresh fixes (the usual case) go straight in with COPY; when some were stored before (a resent
    # batch), the savepoint is rolled back and the batch goes through a staging table that skips them.
    buf.seek(0)
    with raw.cursor() as cur:
        cur.execute("SAVEPOINT wuwei_copy")
        try:
            cur.copy_expert(_COPY_POSITIONS, buf)
            cur.execute("RELEASE SAVEPOINT wuwei_copy")
            return len(unique)
        except psycopg2.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT wuwei_copy")
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS positions_load (device_id int, user_id int, patrol_id int,"
                    " fixed_at timestamptz, geom text, accuracy float8, speed float8, heading float8,"
                    " altitude float8, battery float8, source text) ON COMMIT DELETE ROWS")
        buf.seek(0)
        cur.copy_expert(_COPY_POSITIONS_LOAD, buf)
        cur.execute(_MERGE_POSITIONS_LOAD)
        added = cur.rowcount
        cur.execute("TRUNCATE positions_load")
    return added


# --------------------------------------------------------------------------- access
def is_team_leader(user) -> bool:
    """Whether ``user`` leads a patrol team."""
    return bool(db.session.scalar(select(PatrolTeam.id).where(PatrolTeam.leader_id == user.id).limit(1)))


def visible_clause(user):
    """SQL condition on ``Patrol``: the patrols ``user`` may read one by one.

    Members read their own patrols (created or joined), a team leader the team's, community
    staff those of their area, admins everything; leaders and planners only aggregates.
    """
    if user.role in AGGREGATE_ONLY:
        return false()
    own = or_(Patrol.created_by == user.id,
              exists().where(and_(patrol_participants.c.patrol_id == Patrol.id,
                                  patrol_participants.c.user_id == user.id)),
              Patrol.team_id.in_(select(PatrolTeam.id).where(PatrolTeam.leader_id == user.id)))
    if user.role == "admin":
        scope = scope_of(user)
        if scope.everything:
            return true()
        return or_(own, Patrol.area_id.in_(_areas_under(scope)))
    if user.role == "staff":
        return or_(own, Patrol.area_id.in_(_areas_under(scope_of(user))))
    return own


def _areas_under(scope: Scope):
    return select(Area.id).where(Area.code.startswith(scope.area_code, autoescape=True))


def require_track_reader(user) -> None:
    """403 for roles that see only aggregates."""
    if user.role not in TRACK_READERS:
        raise ApiError(403, f"role {user.role!r} sees patrol figures per grid only, not single patrols or tracks")


def get_patrol(user, patrol_id: int) -> Patrol:
    """A patrol the user may read, or 404 (403 for aggregate-only roles)."""
    require_track_reader(user)
    p = db.session.scalar(select(Patrol).where(Patrol.id == patrol_id, visible_clause(user)))
    if p is None:
        raise ApiError(404, f"no patrol {patrol_id} that you may see")
    return p


def can_edit(user, p: Patrol) -> bool:
    """The creator, a participant, the team leader, area staff and admins edit a patrol."""
    if user.role == "admin":
        return True
    if p.created_by == user.id or user in p.participants:
        return True
    if p.team is not None and p.team.leader_id == user.id:
        return True
    return user.role == "staff" and in_scope_code(scope_of(user), p.area.code)


def _editable(user, patrol_id: int) -> Patrol:
    p = get_patrol(user, patrol_id)
    if not can_edit(user, p):
        raise ApiError(403, "only the patrol's members, team leader or area staff may change it")
    return p


def list_patrols(user, kind=None, state=None, start=None, end=None, area_code=None, team_id=None,
                 limit=50, offset=0) -> tuple[list[Patrol], int]:
    """Patrols the user may read, newest first, with filters; (page, total)."""
    from sqlalchemy import func
    require_track_reader(user)
    q = select(Patrol).where(visible_clause(user))
    if kind:
        q = q.where(Patrol.kind == kind)
    if state:
        q = q.where(Patrol.state == state)
    if start:
        q = q.where(func.coalesce(Patrol.started_at, Patrol.planned_start) >= start)
    if end:
        q = q.where(func.coalesce(Patrol.started_at, Patrol.planned_start) < end)
    if area_code:
        q = q.where(Patrol.area_id.in_(select(Area.id).where(Area.code.startswith(area_code, autoescape=True))))
    if team_id:
        q = q.where(Patrol.team_id == team_id)
    total = db.session.scalar(select(func.count()).select_from(q.subquery()))
    rows = db.session.scalars(q.order_by(func.coalesce(Patrol.started_at, Patrol.planned_start).desc().nullslast(),
                                         Patrol.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


# --------------------------------------------------------------------------- patrol life cycle
def _parse_route(route):
    if route is None:
        return None
    try:
        g = parse_geometry(route, allowed=("LineString", "MultiLineString"))
    except GeometryError as e:
        raise ApiError(422, f"planned_route: {e}", {"planned_route": str(e)}) from None
    if g.geom_type == "LineString":
        from shapely.geometry import MultiLineString
        g = MultiLineString([g])
    return from_shape(g, 4326)


def create_patrol(user, kind: str, title: str, area_code: str | None = None, team_id: int | None = None,
                  participants: list[str] | None = None, planned_start: dt.datetime | None = None,
                  planned_route=None, start: bool = False, cleanup_width_m: float | None = None,
                  commit: bool = True) -> Patrol:
    """Plan a patrol (or start it at once) inside the user's area."""
    if user.role in AGGREGATE_ONLY:
        raise ApiError(403, f"role {user.role!r} does not run patrols")
    errors = {}
    if kind not in PATROL_KINDS:
        errors["kind"] = f"one of {', '.join(PATROL_KINDS)}"
    title = (title or "").strip()
    if not title or len(title) > 200:
        errors["title"] = "required, at most 200 characters"
    area = get_area_by_code(area_code) if area_code else user.area
    if area is None:
        errors["area"] = f"no area with code {area_code}" if area_code else "required"
    elif not in_scope_code(scope_of(user), area.code) and not (
            # A grid worker may organise a patrol of the whole community (a cleanup, a rectification round).
            user.area is not None and len(user.area.code) > 12 and area.code == user.area.code[:12]):
        raise ApiError(403, f"area {area.code} is outside your area", {"area": "outside your area"})
    team = None
    if team_id is not None:
        team = db.session.get(PatrolTeam, team_id)
        if team is None:
            errors["team_id"] = f"no team {team_id}"
    people = []
    for name in participants or []:
        u = db.session.scalar(select(User).where(User.username == name))
        if u is None:
            errors["participants"] = f"no user {name!r}"
        else:
            people.append(u)
    if cleanup_width_m is not None and not (0 < cleanup_width_m <= 200):
        errors["cleanup_width_m"] = "between 0 and 200 metres"
    route = _parse_route(planned_route)
    if errors:
        raise ApiError(422, "invalid patrol", errors)
    if user not in people:
        people.insert(0, user)
    p = Patrol(kind=kind, title=title, area_id=area.id, team_id=team.id if team else None, created_by=user.id,
               planned_start=planned_start, planned_route=route, state="planned",
               cleanup_width_m=cleanup_width_m or 10)
    p.participants = people
    db.session.add(p)
    db.session.flush()
    record("insert", "patrols", p.id, after=snapshot(p))
    if start:
        _start(p)
    if commit:
        db.session.commit()
    clear_caches()
    return p


def _start(p: Patrol, at: dt.datetime | None = None) -> None:
    before = snapshot(p)
    p.state = "active"
    p.started_at = at or dt.datetime.now(dt.timezone.utc)
    record("update", "patrols", p.id, before=before, after=snapshot(p))


def start_patrol(user, patrol_id: int) -> Patrol:
    """Start a planned patrol now."""
    p = _editable(user, patrol_id)
    if p.state != "planned":
        raise ApiError(409, f"patrol {p.id} is {p.state}, only a planned patrol can start")
    _start(p)
    db.session.commit()
    clear_caches()
    return p


def stop_patrol(user, patrol_id: int, at: dt.datetime | None = None) -> Patrol:
    """End an active patrol, attach its members' fixes of the period, and build its track."""
    p = _editable(user, patrol_id)
    if p.state != "active":
        raise ApiError(409, f"patrol {p.id} is {p.state}, only an active patrol can stop")
    before = snapshot(p)
    p.state = "finished"
    p.ended_at = at or dt.datetime.now(dt.timezone.utc)
    db.session.flush()
    # Fixes that arrived while the open-patrol cache was stale, or from a late resend, join now.
    db.session.execute(text(
        "UPDATE positions SET patrol_id = :p WHERE patrol_id IS NULL AND fixed_at >= :s AND fixed_at <= :e"
        " AND user_id IN (SELECT user_id FROM patrol_participants WHERE patrol_id = :p)"),
        {"p": p.id, "s": p.started_at, "e": p.ended_at})
    refresh_track(p)
    record("update", "patrols", p.id, before=before, after=snapshot(p))
    db.session.commit()
    clear_caches()
    return p


RESULT_FIELDS = {"title": str, "bags": int, "weight_kg": float, "volunteers": int, "bikes_reparked": int,
                 "riders_guided": int, "note": str, "cleanup_width_m": float}


def update_results(user, patrol_id: int, values: dict) -> Patrol:
    """Change a patrol's title or results (bags, weight, volunteers, bikes re-parked …)."""
    p = _editable(user, patrol_id)
    errors, clean = {}, {}
    for k, v in values.items():
        if k not in RESULT_FIELDS:
            errors[k] = "unknown field"
            continue
        kind = RESULT_FIELDS[k]
        if v is None and k != "title":
            clean[k] = None
            continue
        if kind is str:
            if not isinstance(v, str) or len(v) > (200 if k == "title" else 4000) or (k == "title" and not v.strip()):
                errors[k] = "text, at most 200 characters" if k == "title" else "text, at most 4000 characters"
            else:
                clean[k] = v.strip()
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not float(v).is_integer()):
            errors[k] = "must be a number" if kind is float else "must be an integer"
            continue
        if v < 0 or v > 1_000_000 or (k == "cleanup_width_m" and not 0 < v <= 200):
            errors[k] = "out of range" if k != "cleanup_width_m" else "between 0 and 200 metres"
            continue
        clean[k] = kind(v)
    if errors:
        raise ApiError(422, "invalid results", errors)
    before = snapshot(p)
    for k, v in clean.items():
        setattr(p, k, v)
    db.session.flush()
    if "cleanup_width_m" in clean:
        refresh_track(p)
    record("update", "patrols", p.id, before=before, after=snapshot(p))
    db.session.commit()
    return p


def import_track(user, patrol_id: int, fixes: list[Fix], source: str, device_identifier: str | None = None) -> int:
    """Add a GPX/CSV track to a patrol (a finished one too); returns fixes added."""
    p = _editable(user, patrol_id)
    if device_identifier:
        dev = db.session.scalar(select(Device).where(Device.identifier == device_identifier))
        if dev is None or (dev.user_id != user.id and user.role != "admin"):
            raise ApiError(422, f"no device {device_identifier!r} of yours", {"device": "unknown"})
    else:
        dev = web_device(user)
    added = store_fixes(dev, fixes, source, p.id)
    if dev.user not in p.participants:
        p.participants.append(dev.user)
    times = [f.fixed_at for f in fixes]
    before = snapshot(p)
    if p.state == "planned":
        p.state = "finished"
    p.started_at = min([p.started_at or times[0]] + times)
    if p.state == "finished":
        p.ended_at = max([p.ended_at or times[-1]] + times)
    db.session.flush()
    refresh_track(p)
    record("import", "patrols", p.id, before=before, after={**snapshot(p), "fixes_added": added, "source": source})
    db.session.commit()
    return added


def upload_batch(user, patrol_id: int, fixes: list[Fix]) -> int:
    """The phone page's queued fixes for the user's own patrol; resends are skipped."""
    p = get_patrol(user, patrol_id)
    if user not in p.participants:
        raise ApiError(403, "only the patrol's members upload positions to it")
    if p.state == "cancelled":
        raise ApiError(409, f"patrol {p.id} was cancelled")
    dev = web_device(user)
    added = store_fixes(dev, fixes, "web", p.id)
    db.session.commit()
    return added


# --------------------------------------------------------------------------- tracks and statistics
# Cleaning, per device, in time order: drop fixes with poor accuracy; drop spikes (a fix that
# is reached and left at impossible speed); consecutive identical points are removed when lines
# are built. Resent fixes never reach here twice (unique device + time).
CLEAN_SQL = """
WITH raw AS (
    SELECT device_id, fixed_at, geom, accuracy FROM positions
    WHERE patrol_id = :pid AND (accuracy IS NULL OR accuracy <= :max_acc)
), nb AS (
    SELECT *,
        ST_Distance(geom::geography, lag(geom) OVER w::geography)
            / NULLIF(extract(epoch FROM fixed_at - lag(fixed_at) OVER w), 0) AS v_in,
        ST_Distance(geom::geography, lead(geom) OVER w::geography)
            / NULLIF(extract(epoch FROM lead(fixed_at) OVER w - fixed_at), 0) AS v_out
    FROM raw WINDOW w AS (PARTITION BY device_id ORDER BY fixed_at)
), clean AS (
    SELECT device_id, fixed_at, geom FROM nb
    WHERE NOT (coalesce(v_in, 0) > :max_v AND coalesce(v_out, 0) > :max_v)
      AND NOT (v_in IS NULL AND v_out > :max_v)
      AND NOT (v_out IS NULL AND v_in > :max_v)
), seg AS (
    SELECT device_id, fixed_at, geom,
        lead(geom) OVER w AS next_geom,
        extract(epoch FROM lead(fixed_at) OVER w - fixed_at) AS dt_s
    FROM clean WINDOW w AS (PARTITION BY device_id ORDER BY fixed_at)
)
"""

_STATS_SQL = text(CLEAN_SQL + """
, lines AS (
    SELECT device_id, ST_RemoveRepeatedPoints(ST_MakeLine(geom ORDER BY fixed_at)) AS line, count(*) AS n
    FROM clean GROUP BY device_id
), main AS (
    SELECT line, n FROM lines WHERE ST_NPoints(line) >= 2 ORDER BY n DESC LIMIT 1
), moving AS (
    SELECT coalesce(sum(dt_s) FILTER (WHERE dt_s <= :gap AND
        ST_Distance(geom::geography, next_geom::geography) / NULLIF(dt_s, 0) >= :moving), 0) AS s
    FROM seg
)
SELECT (SELECT line FROM main) AS track,
       (SELECT ST_Length(line::geography) FROM main) AS distance_m,
       (SELECT coalesce(sum(n), 0)::int FROM lines) AS fixes,
       (SELECT count(*)::int FROM positions WHERE patrol_id = :pid) AS raw_fixes,
       (SELECT extract(epoch FROM max(fixed_at) - min(fixed_at))::float8 FROM clean) AS duration_s,
       (SELECT s::float8 FROM moving) AS moving_s,
       -- Buffered in the track's UTM zone (metres), simplified to 0.5 m first: buffering every
       -- raw vertex of a long, self-crossing walk costs seconds and changes the area by < 0.5 %.
       (SELECT ST_Area(ST_Buffer(ST_Simplify(ST_Transform(u, srid), 0.5), :half_width))
          FROM (SELECT ST_Collect(line) AS u,
                       32600 + floor((ST_X(ST_Centroid(ST_Collect(line))) + 180) / 6)::int + 1 AS srid
                FROM lines) x WHERE u IS NOT NULL) AS area_m2
""")


def track_figures(patrol_id: int, width_m: float) -> dict:
    """Clean a patrol's fixes and measure them (distance on the geography, area in UTM metres)."""
    row = db.session.execute(_STATS_SQL, {"pid": patrol_id, "max_acc": MAX_ACCURACY_M, "max_v": MAX_SPEED_MS,
                                          "gap": MAX_SEGMENT_GAP_S, "moving": MOVING_SPEED_MS,
                                          "half_width": float(width_m) / 2}).mappings().one()
    return dict(row)


def refresh_track(p: Patrol) -> None:
    """Rebuild the cached track and figures of ``p`` from its positions."""
    f = track_figures(p.id, float(p.cleanup_width_m or 10))
    p.track = f["track"]
    p.distance_m = f["distance_m"]
    p.fixes = f["fixes"]
    p.area_m2 = f["area_m2"] if p.kind == "cleanup" else None
    db.session.flush()


_GRIDS_SQL = text(CLEAN_SQL + """
, cells AS (
    SELECT s.*, (SELECT a.id FROM areas a WHERE a.level = 'grid' AND ST_Intersects(a.geom, s.geom)
                 ORDER BY a.id LIMIT 1) AS grid_id
    FROM seg s
), lines AS (
    SELECT ST_MakeLine(geom ORDER BY fixed_at) AS line FROM clean GROUP BY device_id
), buffered AS (
    SELECT ST_Transform(ST_Buffer(ST_Simplify(ST_Transform(u, srid), 0.5), :half_width), 4326) AS g
    FROM (SELECT ST_Collect(line) AS u,
                 32600 + floor((ST_X(ST_Centroid(ST_Collect(line))) + 180) / 6)::int + 1 AS srid
          FROM lines WHERE ST_NPoints(line) >= 2) x WHERE u IS NOT NULL
)
SELECT a.id, a.code, a.name, count(*) AS fixes,
       coalesce(sum(c.dt_s) FILTER (WHERE c.dt_s <= :gap), 0) AS seconds,
       (SELECT ST_Area(ST_Intersection(b.g, a.geom)::geography) / NULLIF(ST_Area(a.geom::geography), 0)
          FROM buffered b) AS coverage
FROM cells c JOIN areas a ON a.id = c.grid_id
GROUP BY a.id, a.code, a.name ORDER BY seconds DESC
""")


def grids_visited(patrol_id: int, width_m: float = 20) -> list[dict]:
    """Grids a patrol passed through, time spent in each and the share of each grid's area covered."""
    rows = db.session.execute(_GRIDS_SQL, {"pid": patrol_id, "max_acc": MAX_ACCURACY_M, "max_v": MAX_SPEED_MS,
                                           "gap": MAX_SEGMENT_GAP_S, "half_width": float(width_m) / 2})
    return [dict(r) for r in rows.mappings()]


def patrol_stats(p: Patrol) -> dict:
    """Figures shown on the detail page and in the API."""
    f = track_figures(p.id, float(p.cleanup_width_m or 10))
    people = len(p.participants) + (p.volunteers or 0)
    hours = (f["duration_s"] or 0) / 3600
    if p.started_at and p.ended_at:
        hours = (p.ended_at - p.started_at).total_seconds() / 3600
    spots = db.session.execute(text(
        "SELECT count(*) AS spots, coalesce(sum(bikes), 0) AS bikes FROM bad_parking_spots WHERE patrol_id = :p"),
        {"p": p.id}).mappings().one()
    return {
        "fixes": f["fixes"], "raw_fixes": f["raw_fixes"], "dropped_fixes": f["raw_fixes"] - f["fixes"],
        "distance_m": round(f["distance_m"] or 0, 1), "duration_s": round(f["duration_s"] or 0),
        "moving_s": round(f["moving_s"] or 0), "area_m2": round(f["area_m2"] or 0, 1) if p.kind == "cleanup" else None,
        "people": people, "hours": round(hours, 2), "person_hours": round(hours * people, 2),
        "grids": [{"code": g["code"], "name": g["name"], "minutes": round(float(g["seconds"]) / 60, 1),
                   "coverage": round(float(g["coverage"] or 0), 3)} for g in grids_visited(p.id)],
        "bad_parking_spots": spots["spots"], "bad_parked_bikes": spots["bikes"],
    }


_TRACK_GEOJSON = text(CLEAN_SQL + """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
    'type', 'Feature', 'geometry', ST_AsGeoJSON(ST_Simplify(line, :tol), 7)::json,
    'properties', json_build_object('device', device_id, 'fixes', n, 'start', t0, 'end', t1,
                                    'distance_m', round(ST_Length(line::geography)::numeric, 1))
)), '[]'::json))::text
FROM (SELECT device_id, ST_MakeLine(geom ORDER BY fixed_at) AS line, count(*) AS n,
             min(fixed_at) AS t0, max(fixed_at) AS t1 FROM clean GROUP BY device_id) l
WHERE ST_NPoints(line) >= 2
""")


def audit_track_read(user, p: Patrol, what: str) -> None:
    """Where someone else was is personal data: reading another person's track is audited."""
    if user not in p.participants:
        record("read_personal", "patrols", p.id, after={"what": what})
        db.session.commit()


def track_geojson(p: Patrol, simplify_m: float = 2.0) -> str:
    """The cleaned track per device as GeoJSON, simplified for display (tolerance in metres)."""
    return db.session.execute(_TRACK_GEOJSON, {
        "pid": p.id, "max_acc": MAX_ACCURACY_M, "max_v": MAX_SPEED_MS,
        "tol": simplify_m / 111_320.0}).scalar()


def clean_fixes(p: Patrol) -> list[dict]:
    """The cleaned fixes in time order (for GPX export)."""
    rows = db.session.execute(text(CLEAN_SQL + """
        SELECT c.device_id, c.fixed_at, ST_Y(c.geom) AS lat, ST_X(c.geom) AS lon, pos.altitude, pos.speed
        FROM clean c JOIN positions pos ON pos.device_id = c.device_id AND pos.fixed_at = c.fixed_at
        ORDER BY c.device_id, c.fixed_at"""), {"pid": p.id, "max_acc": MAX_ACCURACY_M, "max_v": MAX_SPEED_MS})
    return [dict(r) for r in rows.mappings()]


def export_gpx(p: Patrol) -> str:
    """The patrol's cleaned track as GPX 1.1 (one track segment per device)."""
    import gpxpy.gpx
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "Wuwei 五微"
    gpx.name = p.title
    trk = gpxpy.gpx.GPXTrack(name=p.title, description=p.kind)
    gpx.tracks.append(trk)
    seg, last = None, None
    for r in clean_fixes(p):
        if r["device_id"] != last:
            seg = gpxpy.gpx.GPXTrackSegment()
            trk.segments.append(seg)
            last = r["device_id"]
        seg.points.append(gpxpy.gpx.GPXTrackPoint(r["lat"], r["lon"], elevation=r["altitude"],
                                                  time=r["fixed_at"].astimezone(dt.timezone.utc), speed=r["speed"]))
    return gpx.to_xml(version="1.1")


# --------------------------------------------------------------------------- bad parking
_NEAREST_ZONE = text(
    "SELECT z.id, ST_Distance(z.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS m"
    " FROM bike_zones z WHERE z.status = 'active'"
    " ORDER BY z.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 1")


def add_bad_parking(user, patrol_id: int, lon: float, lat: float, bikes: int = 1, reparked: bool = False,
                    note: str | None = None, found_at: dt.datetime | None = None) -> BadParkingSpot:
    """Record a bad-parking spot on a patrol, linked to the nearest active bike zone and its distance."""
    p = _editable(user, patrol_id)
    errors = {}
    if isinstance(lon, bool) or not isinstance(lon, (int, float)) or not -180 <= lon <= 180:
        errors["lon"] = "a number in -180..180"
    if isinstance(lat, bool) or not isinstance(lat, (int, float)) or not -90 <= lat <= 90:
        errors["lat"] = "a number in -90..90"
    if isinstance(bikes, bool) or not isinstance(bikes, int) or not 0 <= bikes <= 10000:
        errors["bikes"] = "an integer 0..10000"
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        errors["note"] = "text, at most 2000 characters"
    if errors:
        raise ApiError(422, "invalid bad-parking spot", errors)
    zone = db.session.execute(_NEAREST_ZONE, {"lon": lon, "lat": lat}).first()
    spot = BadParkingSpot(patrol_id=p.id, bikes=bikes, reparked=bool(reparked), note=note,
                          geom=from_shape(shape({"type": "Point", "coordinates": [lon, lat]}), 4326),
                          nearest_zone_id=zone[0] if zone else None, zone_distance_m=zone[1] if zone else None)
    if found_at:
        spot.found_at = found_at
    db.session.add(spot)
    db.session.flush()
    record("insert", "bad_parking_spots", spot.id, after=snapshot(spot))
    db.session.commit()
    return spot


_SPOTS_GEOJSON = text("""
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
    'type', 'Feature', 'id', s.id, 'geometry', ST_AsGeoJSON(s.geom, 7)::json,
    'properties', json_build_object('patrol_id', s.patrol_id, 'found_at', s.found_at, 'bikes', s.bikes,
        'reparked', s.reparked, 'note', s.note, 'nearest_zone', z.name,
        'zone_distance_m', round(s.zone_distance_m::numeric, 1), 'grid', g.code)) ORDER BY s.id), '[]'::json))::text
FROM (SELECT * FROM bad_parking_spots s WHERE (CAST(:pid AS int) IS NULL OR s.patrol_id = :pid)
      AND (CAST(:x0 AS float8) IS NULL OR s.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))
      AND (:everything OR s.grid_id IN (SELECT id FROM areas WHERE code LIKE :prefix)
           OR s.patrol_id IN (SELECT id FROM patrols WHERE area_id IN (SELECT id FROM areas WHERE code LIKE :prefix)))
      ORDER BY s.id DESC LIMIT :limit) s
LEFT JOIN bike_zones z ON z.id = s.nearest_zone_id LEFT JOIN areas g ON g.id = s.grid_id
""")


def spots_geojson(scope: Scope, patrol_id: int | None = None, bbox=None, limit: int = 1000) -> str:
    """Bad-parking spots in the user's area (not personal data: places and bike counts only)."""
    x0, y0, x1, y1 = bbox or (None, None, None, None)
    prefix = (scope.area_code or "\x00").replace("%", "").replace("_", "") + "%"
    return db.session.execute(_SPOTS_GEOJSON, {"pid": patrol_id, "x0": x0, "y0": y0, "x1": x1, "y1": y1,
                                               "everything": scope.everything, "prefix": prefix,
                                               "limit": limit}).scalar()


# --------------------------------------------------------------------------- live map
_LIVE_SQL = text("""
WITH act AS (
    SELECT p.id, p.title, p.kind, p.started_at FROM patrols p WHERE p.state = 'active' AND p.id = ANY(:ids)
), last AS (
    SELECT DISTINCT ON (pos.device_id) pos.device_id, pos.patrol_id, pos.user_id, pos.fixed_at, pos.geom,
           pos.accuracy, pos.battery
    FROM positions pos JOIN act ON act.id = pos.patrol_id
    WHERE pos.fixed_at >= now() - make_interval(mins => :minutes)
    ORDER BY pos.device_id, pos.fixed_at DESC
), trail AS (
    SELECT pos.device_id, ST_MakeLine(pos.geom ORDER BY pos.fixed_at) AS line
    FROM positions pos JOIN act ON act.id = pos.patrol_id
    WHERE pos.fixed_at >= now() - make_interval(mins => :minutes)
    GROUP BY pos.device_id HAVING count(*) >= 2
)
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(f), '[]'::json))::text FROM (
    SELECT json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(l.geom, 6)::json,
        'properties', json_build_object('kind', 'position', 'patrol_id', a.id, 'patrol', a.title,
            'patrol_kind', a.kind, 'who', u.display_name, 'fixed_at',
            to_char(l.fixed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'),
            'accuracy', round(l.accuracy::numeric, 0), 'battery', round(l.battery::numeric, 0))) AS f
    FROM last l JOIN act a ON a.id = l.patrol_id JOIN users u ON u.id = l.user_id
    WHERE CAST(:x0 AS float8) IS NULL OR l.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
    UNION ALL
    SELECT json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(ST_Simplify(t.line, 0.00001), 6)::json,
        'properties', json_build_object('kind', 'trail', 'patrol_id', l.patrol_id))
    FROM trail t JOIN last l ON l.device_id = t.device_id
    WHERE CAST(:x0 AS float8) IS NULL OR t.line && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
    LIMIT :limit
) x
""")


def live_geojson(user, bbox=None, minutes: int = 30, limit: int = 2000) -> str:
    """Active patrols the user may see: each device's last position and its trail of the last ``minutes``."""
    require_track_reader(user)
    ids = list(db.session.scalars(select(Patrol.id).where(Patrol.state == "active", visible_clause(user))))
    x0, y0, x1, y1 = bbox or (None, None, None, None)
    return db.session.execute(_LIVE_SQL, {"ids": ids, "minutes": minutes, "x0": x0, "y0": y0, "x1": x1, "y1": y1,
                                          "limit": limit}).scalar()


# --------------------------------------------------------------------------- coverage per grid
def period_bounds(period: str, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The Asia/Shanghai week (Monday first) or month holding ``day``, as aware datetimes."""
    if period == "week":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    else:
        raise ApiError(400, "period must be week or month", {"period": "week or month"})
    return (dt.datetime.combine(start, dt.time(), SHANGHAI), dt.datetime.combine(end, dt.time(), SHANGHAI))


_COVERAGE_SQL = text("""
SELECT g.code, g.name, c.name AS community,
       count(pos.fixed_at) AS fixes, count(DISTINCT pos.patrol_id) AS patrols,
       count(DISTINCT date_trunc('day', pos.fixed_at AT TIME ZONE 'Asia/Shanghai')) AS days,
       max(pos.fixed_at) AS last_walked
FROM areas g LEFT JOIN areas c ON c.id = g.parent_id
LEFT JOIN positions pos ON pos.fixed_at >= :start AND pos.fixed_at < :end AND pos.geom && g.geom
     AND ST_Intersects(pos.geom, g.geom) AND (pos.accuracy IS NULL OR pos.accuracy <= :max_acc)
WHERE g.level = 'grid' AND (:everything OR g.code LIKE :prefix)
GROUP BY g.code, g.name, c.name ORDER BY g.code
""")


def coverage(user, period: str = "week", day: dt.date | None = None) -> dict:
    """Per grid in the user's area: fixes, patrols and days walked in the period; grids not walked."""
    if user.role not in TRACK_READERS + AGGREGATE_ONLY:
        raise ApiError(403, "no access to patrol coverage")
    day = day or dt.datetime.now(SHANGHAI).date()
    start, end = period_bounds(period, day)
    scope = scope_of(user)
    prefix = (scope.area_code or "\x00") + "%"
    rows = [dict(r) for r in db.session.execute(_COVERAGE_SQL, {
        "start": start, "end": end, "max_acc": MAX_ACCURACY_M, "everything": scope.everything,
        "prefix": prefix}).mappings()]
    for r in rows:
        r["walked"] = r["fixes"] > 0
        r["last_walked"] = r["last_walked"].astimezone(SHANGHAI).isoformat() if r["last_walked"] else None
    return {"period": period, "start": start.isoformat(), "end": end.isoformat(), "grids": rows,
            "not_walked": [r["code"] for r in rows if not r["walked"]]}
