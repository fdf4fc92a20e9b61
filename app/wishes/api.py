"""``/api/v1/wishes``: post, claim, fulfil, withdraw; ``/api/v1/wishes/wall`` is public."""
from typing import Annotated, Literal

from flask import request, url_for
from pydantic import Field

from app.auth import policy
from app.core.extensions import limiter
from app.web.api import (
    ApiBlueprint,
    endpoint,
    geojson_response,
    json_response,
    parse_body,
)
from app.web.etags import Versioned
from app.web.params import AreaCode, Bbox, Query
from app.wishes import services as ws
from app.wishes.models import WISH_STATUSES, Wish
from app.wishes.schemas import (
    ClaimIn,
    FulfilIn,
    PublicWish,
    WishIn,
    WishOut,
    WithdrawIn,
)

bp = ApiBlueprint("wishes_api", __name__, tag="wishes")

BOARD = "wishes.board"      # who may hold wish details; which ones is personal_clause's business
# A versioned record (app.web.etags): ETag on its answers, If-Match → 412 on its steps.
WISH = Versioned("wishes", Wish.__table__, key="wish_id",
                 visible=lambda: policy.personal_clause(policy.require_login(), Wish.grid_id))


class WallQuery(Query):
    community: Annotated[str, Field(pattern="^[0-9]{12}$", description="12-digit community code")] | None = None
    status: Literal[ws.PUBLIC_STATUSES] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 200


@bp.get("/wishes/wall")
@limiter.limit("60 per minute")
@endpoint(query=WallQuery, response=list[PublicWish], public=True)
def wall(query: WallQuery):
    """The public wish wall: titles and progress, no login, no personal data."""
    return json_response(ws.wall(query.community, query.status, query.limit))


class WishQuery(Query):
    status: Literal[WISH_STATUSES] | None = None
    grid: AreaCode | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 500


@bp.get("/wishes")
@endpoint(query=WishQuery, response=list[WishOut], permission=BOARD)
def wish_list(query: WishQuery):
    """Wishes in full, newest first (readers of household files)."""
    rows = ws.list_wishes(policy.require_login(), query.status, query.grid, query.limit)
    return json_response([ws.wish_dict(w) for w in rows])


@bp.post("/wishes")
@endpoint(body=WishIn, response=WishOut, status=201, permission=BOARD)
def wish_create(body: WishIn):
    """Post a wish for a household or building."""
    w = ws.post_wish(policy.require_login(), body)
    return json_response(ws.wish_dict(w), 201, {"Location": url_for("wishes_api.wish", wish_id=w.id)})


@bp.get("/wishes/<int:wish_id>")
@endpoint(response=WishOut, permission=BOARD, errors=(404,), versioned=WISH)
def wish(wish_id: int):
    """One wish (the read is audited)."""
    return json_response(ws.wish_dict(ws.get_wish(policy.require_login(), wish_id)))


@bp.post("/wishes/<int:wish_id>/claim")
@endpoint(body=ClaimIn, response=WishOut, permission=BOARD, errors=(404, 409), versioned=WISH)
def claim(wish_id: int, body: ClaimIn):
    """posted → claimed, by a volunteer or a team of the wish's community."""
    return json_response(ws.wish_dict(ws.claim_wish(policy.require_login(), wish_id, body)))


@bp.post("/wishes/<int:wish_id>/release")
@endpoint(response=WishOut, permission=BOARD, errors=(404, 409), versioned=WISH)
def release(wish_id: int):
    """claimed → posted (the claimer gave up)."""
    return json_response(ws.wish_dict(ws.release_wish(policy.require_login(), wish_id)))


@bp.post("/wishes/<int:wish_id>/fulfil")
@endpoint(response=WishOut, permission=BOARD, errors=(400, 404, 409, 413, 415, 422), versioned=WISH)
def fulfil(wish_id: int):
    """claimed → fulfilled, with a note and optionally a photo.

    JSON ``{"note": "…"}``, or ``multipart/form-data`` with a ``note`` field and a ``photo`` file (JPEG, PNG
    or WebP); the multipart form is not described by this document's schema.
    """
    u = policy.require_login()
    if (request.mimetype or "").startswith("multipart/form-data"):
        body = parse_body(FulfilIn, {"note": request.form.get("note")})
        return json_response(ws.wish_dict(ws.fulfil_wish(u, wish_id, body, request.files.get("photo"))))
    return json_response(ws.wish_dict(ws.fulfil_wish(u, wish_id, parse_body(FulfilIn))))


@bp.post("/wishes/<int:wish_id>/withdraw")
@endpoint(body=WithdrawIn, response=WishOut, permission=BOARD, errors=(404, 409), versioned=WISH)
def withdraw(wish_id: int, body: WithdrawIn):
    """posted or claimed → withdrawn, with a reason."""
    return json_response(ws.wish_dict(ws.withdraw_wish(policy.require_login(), wish_id, body)))


class OverlayQuery(Query):
    bbox: Bbox | None = None
    limit: Annotated[int, Field(ge=1, le=10000)] = 1000


@bp.get("/overlays/wishes-open")
@endpoint(query=OverlayQuery)
def overlay_open_wishes(query: OverlayQuery):
    """Map overlay: open wishes per grid (GeoJSON; counts below 5 hidden for counts-only readers)."""
    return geojson_response(ws.open_wishes_geojson(policy.require_login(), query.bbox, query.limit))
