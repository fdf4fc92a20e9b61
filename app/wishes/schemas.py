"""What the wishes API takes and answers."""
from typing import Literal

from pydantic import BaseModel, Field

from app.web.params import Body, Id
from app.web.values import Text
from app.wishes.models import WISH_CATEGORIES


class WishIn(Body):
    """A wish for a household (or a building) the user keeps; ``title`` is public on the wish wall."""
    household_id: Id | None = None
    building_id: Id | None = None
    title: Text(120, 1) = Field(description="public text: no names, phones or flat numbers")
    details: Text(4000) | None = None
    category: Literal[WISH_CATEGORIES]


class ClaimIn(Body):
    """Who claims the wish: a volunteer or a team of the wish's community (one of the two)."""
    volunteer_id: Id | None = None
    team_id: Id | None = None


class FulfilIn(Body):
    """How the wish was fulfilled (multipart forms may add a ``photo``: JPEG, PNG or WebP)."""
    note: Text(4000, 1)


class WithdrawIn(Body):
    """Why the wish is withdrawn."""
    reason: Text(2000, 1)


class PublicWish(BaseModel):
    """What the wish wall shows: no household, no names, no notes."""
    id: int
    title: str
    category: str
    status: str
    community: str | None
    grid_name: str | None
    posted_on: str | None
    claimed_on: str | None
    fulfilled_on: str | None
    claimed_by_team: str | None


class WishOut(PublicWish):
    """A wish in full (personal)."""
    household_id: int | None
    household: str | None
    details: str | None
    claimed_by_volunteer: str | None
    claimed_by_volunteer_id: int | None
    claimed_by_team_id: int | None
    fulfilment_note: str | None
    has_photo: bool
    withdraw_reason: str | None
