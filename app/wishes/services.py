"""微心愿 (micro-wishes): post, claim, fulfil, withdraw; the public wish wall.

A wish is posted by a grid worker or community staff for a household they keep (or
for a building). Its ``title`` and category are public on the wish wall; details, the
household, the claiming volunteer and the photo are personal (:func:`app.auth.policy.reads_personal`).
"""
import json
import os
import uuid

from flask import current_app
from sqlalchemy import func, select

from app.areas.models import Area
from app.audit.services import record, snapshot
from app.auth import policy
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.images import clean_image
from app.core.time import TZ, now
from app.households.common import building_in_reach, require_personal
from app.households.files import household_in_reach
from app.volunteers.teams import team_in_community, volunteer_in_community
from app.wishes.models import TRANSITIONS, Wish
from app.wishes.schemas import ClaimIn, FulfilIn, WishIn, WithdrawIn

PUBLIC_STATUSES = ("posted", "claimed", "fulfilled")
OPEN_STATUSES = ("posted", "claimed")


def post_wish(user, body: WishIn) -> Wish:
    """A new wish for a household (or a building) the user keeps."""
    require_personal(user)
    if not body.household_id and not body.building_id:
        raise ApiError(422, "invalid wish", {"household_id": "a wish belongs to a household or a building"})
    if body.household_id:
        h = household_in_reach(user, body.household_id)
        if h is None:
            raise ApiError(422, "unknown household", {"household_id": "unknown or not yours"})
        grid_id = h.grid_id
    else:
        b = building_in_reach(user, body.building_id)
        if b is None:
            raise ApiError(422, "unknown building", {"building_id": "unknown or not yours"})
        grid_id = b.grid_id
    w = Wish(**body.model_dump(exclude={"building_id"}), grid_id=grid_id, posted_by=user.id, status="posted")
    db.session.add(w)
    db.session.flush()
    record("insert", "wishes", w.id, after=snapshot(w))
    db.session.commit()
    return w


def get_wish(user, wish_id: int) -> Wish:
    """One wish with its personal details (audited)."""
    require_personal(user)
    w = db.session.scalar(select(Wish).where(Wish.id == wish_id, policy.personal_clause(user, Wish.grid_id)))
    if w is None:
        raise ApiError(404, f"no wish {wish_id} among those you may read")
    record("read", "wishes", w.id)
    db.session.commit()
    return w


def list_wishes(user, status: str | None = None, grid: str | None = None, limit: int = 500) -> list[Wish]:
    """Wishes the user may read in full."""
    require_personal(user)
    cond = [policy.personal_clause(user, Wish.grid_id)]
    if status:
        cond.append(Wish.status == status)
    if grid:
        cond.append(Wish.grid_id.in_(select(Area.id).where(Area.code.startswith(grid, autoescape=True))))
    return list(db.session.scalars(select(Wish).where(*cond).order_by(Wish.posted_at.desc()).limit(limit)))


def household_wishes(user, household) -> list[str]:
    """The wishes of a household, one line each, for its file page (the page checked the user keeps it)."""
    rows = db.session.scalars(select(Wish).where(Wish.household_id == household.id,
                                                 policy.personal_clause(user, Wish.grid_id))
                              .order_by(Wish.posted_at.desc()))
    return [f"{w.title} — {w.status}" for w in rows]


def _move(user, wish_id: int, to: str) -> tuple[Wish, dict]:
    require_personal(user)
    w = db.session.scalar(select(Wish).where(Wish.id == wish_id, policy.personal_clause(user, Wish.grid_id))
                          .with_for_update(of=Wish))
    if w is None:
        raise ApiError(404, f"no wish {wish_id} among those you may read")
    if to not in TRANSITIONS[w.status]:
        raise ApiError(409, f"a {w.status} wish cannot become {to}", {"status": w.status})
    return w, snapshot(w)


def _save(w: Wish, before: dict) -> Wish:
    db.session.flush()
    record("update", "wishes", w.id, before, snapshot(w))
    db.session.commit()
    return w


def claim_wish(user, wish_id: int, body: ClaimIn) -> Wish:
    """posted → claimed by a volunteer or a team of the wish's community."""
    if bool(body.volunteer_id) == bool(body.team_id):
        raise ApiError(422, "invalid claim", {"volunteer_id": "give a volunteer_id or a team_id"})
    w, before = _move(user, wish_id, "claimed")
    community = w.grid.code[:12] if w.grid else ""
    if body.volunteer_id:
        v = volunteer_in_community(body.volunteer_id, community)
        if v is None:
            raise ApiError(422, "unknown volunteer in this community", {"volunteer_id": "unknown"})
        w.claimed_by_volunteer_id, w.claimed_by_team_id = v.id, v.team_id
    else:
        t = team_in_community(body.team_id, community)
        if t is None:
            raise ApiError(422, "unknown team in this community", {"team_id": "unknown"})
        w.claimed_by_team_id, w.claimed_by_volunteer_id = t.id, None
    w.status, w.claimed_at = "claimed", now()
    return _save(w, before)


def save_photo(storage) -> str:
    """Check an uploaded image, re-encode it without metadata (:func:`app.core.images.clean_image`: no
    EXIF GPS) and store it under MEDIA_ROOT/wishes; the relative path. 415 not an image, 422 empty."""
    image = clean_image(storage.read(), "photo")
    rel = f"wishes/{uuid.uuid4().hex}{image.extension}"
    path = os.path.join(current_app.config["MEDIA_ROOT"], rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(image.data)
    return rel


def photo_path(w: Wish) -> str | None:
    """The file of a wish's photo, if it has one that exists."""
    if not w.photo_path:
        return None
    path = os.path.join(current_app.config["MEDIA_ROOT"], w.photo_path)
    return path if os.path.isfile(path) else None


def fulfil_wish(user, wish_id: int, body: FulfilIn, photo=None) -> Wish:
    """claimed → fulfilled, with a note and optionally a photo (one per wish: a second fulfil is 409)."""
    w, before = _move(user, wish_id, "fulfilled")
    saved = None
    if photo is not None and getattr(photo, "filename", ""):
        saved = w.photo_path = save_photo(photo)
    w.status, w.fulfilled_at, w.fulfilment_note = "fulfilled", now(), body.note
    try:
        return _save(w, before)
    except Exception:
        if saved:          # nothing stored: no file left behind either
            os.unlink(os.path.join(current_app.config["MEDIA_ROOT"], saved))
        raise


def withdraw_wish(user, wish_id: int, body: WithdrawIn) -> Wish:
    """posted/claimed → withdrawn, with a reason."""
    w, before = _move(user, wish_id, "withdrawn")
    w.status, w.withdrawn_at, w.withdraw_reason = "withdrawn", now(), body.reason
    return _save(w, before)


def release_wish(user, wish_id: int) -> Wish:
    """claimed → posted again (the claimer gave up)."""
    w, before = _move(user, wish_id, "posted")
    w.status, w.claimed_at, w.claimed_by_team_id, w.claimed_by_volunteer_id = "posted", None, None, None
    return _save(w, before)


def wish_dict(w: Wish) -> dict:
    """A wish in full (personal)."""
    return {**public_wish(w), "household_id": w.household_id,
            "household": f"{w.household.head_name} {w.household.flat_no}" if w.household else None,
            "details": w.details, "claimed_by_volunteer": w.claimed_by_volunteer.name if w.claimed_by_volunteer else None,
            "claimed_by_volunteer_id": w.claimed_by_volunteer_id, "claimed_by_team_id": w.claimed_by_team_id,
            "fulfilment_note": w.fulfilment_note, "has_photo": bool(w.photo_path),
            "withdraw_reason": w.withdraw_reason}


def public_wish(w: Wish) -> dict:
    """What the wish wall shows: no household, no names, no notes."""
    def iso(t):
        return t.astimezone(TZ).date().isoformat() if t else None
    return {"id": w.id, "title": w.title, "category": w.category, "status": w.status,
            "community": w.grid.code[:12] if w.grid else None, "grid_name": w.grid.name if w.grid else None,
            "posted_on": iso(w.posted_at), "claimed_on": iso(w.claimed_at), "fulfilled_on": iso(w.fulfilled_at),
            "claimed_by_team": w.claimed_by_team.name if w.claimed_by_team else None}


def wall(community: str | None = None, status: str | None = None, limit: int = 200) -> list[dict]:
    """The public wish wall (no login): open and fulfilled wishes, without personal data."""
    cond = [Wish.status.in_(PUBLIC_STATUSES)]
    if status:
        cond.append(Wish.status == status)
    if community:
        cond.append(Wish.grid_id.in_(select(Area.id).where(Area.code.startswith(community, autoescape=True))))
    return [public_wish(w) for w in db.session.scalars(select(Wish).where(*cond)
                                                       .order_by(Wish.posted_at.desc()).limit(limit))]


def open_wishes_geojson(user, bbox=None, limit: int = 1000) -> str:
    """Open wishes (posted or claimed) per grid, as GeoJSON polygons.

    Counts are suppressed below 5 for readers without file access.
    """
    personal = policy.reads_personal(user)
    clause = policy.personal_clause(user, Wish.grid_id) if personal else policy.counts_clause(user, Wish.grid_id)
    counts = (select(Wish.grid_id, func.count().label("open"))
              .where(Wish.status.in_(OPEN_STATUSES), clause).group_by(Wish.grid_id).subquery("c"))
    cond = []
    if bbox:
        cond.append(Area.geom.intersects(func.ST_MakeEnvelope(*bbox, 4326)))
    rows = db.session.execute(
        select(Area.id, Area.code, Area.name, counts.c.open, func.ST_AsGeoJSON(Area.geom, 6))
        .join(counts, counts.c.grid_id == Area.id).where(*cond).order_by(Area.code).limit(limit)).all()
    feats = []
    for r in rows:
        shown = r.open if personal else policy.suppress(r.open)
        feats.append({"type": "Feature", "id": r.id, "geometry": json.loads(r[4]),
                      "properties": {"grid_code": r.code, "grid_name": r.name, "open_wishes": shown,
                                     "label": str(shown) if shown is not None else "<5"}})
    return json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False)

