"""``/api/v1/notices``: the user's inbox; ``/api/v1/notice-settings`` and ``/api/v1/notice-subscriptions``:
their settings and area subscriptions."""

import datetime as dt
from typing import Annotated, Literal

from flask_login import current_user
from pydantic import BaseModel, Field

from app.notices import services, settings
from app.notices.render import kind_label, notice_text
from app.web.api import ApiBlueprint, endpoint, json_response
from app.web.params import AreaCode, Body, Id, Paging, Query

bp = ApiBlueprint("notices_api", __name__, tag="notices")
READ = "notices.read"


class NoticeQuery(Query, Paging):
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    unread: Annotated[bool, Field(description="true: only unread notices")] = False


class NoticeOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    text: str
    link: str | None
    created_at: dt.datetime
    read: bool


class NoticeList(BaseModel):
    """The user's notices, newest first, and how many are unread."""

    unread: int
    notices: list[NoticeOut]


class ReadIn(Body):
    """Mark notices read: the ones named, or all."""

    ids: Annotated[list[Id] | None, Field(max_length=500)] = None
    all: bool = False


class Unread(BaseModel):
    unread: int


def notice_dict(n) -> dict:
    return {
        "id": n.id,
        "kind": n.kind,
        "kind_label": kind_label(n.kind),
        "text": notice_text(n.kind, n.params),
        "link": n.link,
        "created_at": n.created_at.isoformat(),
        "read": n.read_at is not None,
    }


@bp.get("/notices")
@endpoint(query=NoticeQuery, response=NoticeList, permission=READ)
def notice_list(query: NoticeQuery):
    """Your notices, newest first, in your language."""
    rows = services.inbox(current_user.id, query.limit, query.offset, query.unread)
    return json_response({"unread": services.unread_count(current_user.id), "notices": [notice_dict(n) for n in rows]})


@bp.post("/notices/read")
@endpoint(body=ReadIn, response=Unread, permission=READ)
def notice_read(body: ReadIn):
    """Mark notices read (``ids``, or ``all: true``); answers how many stay unread."""
    if body.all or body.ids:
        services.mark_read(current_user.id, None if body.all else body.ids)
    return json_response({"unread": services.unread_count(current_user.id)})


KindName = Annotated[str, Field(max_length=64)]
# A plain check (an address with one @ and a dot after it): the mail server has the last word.
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class KindChoice(Body):
    inbox: bool | None = None
    email: bool | None = None


class SettingsIn(Body):
    """Change your notice settings: only the fields sent change."""

    email: Annotated[Email | Literal[""] | None, Field(description='"" removes the address')] = None
    language: Literal["zh", "en"] | None = None
    kinds: Annotated[dict[KindName, KindChoice] | None, Field(description="per kind: inbox and e-mail on or off")] = (
        None
    )


class KindSetting(BaseModel):
    kind: str
    label: str
    inbox: bool
    email: bool


class SettingsOut(BaseModel):
    email: str | None
    language: str
    kinds: list[KindSetting]


@bp.get("/notice-settings")
@endpoint(response=SettingsOut, permission=READ)
def settings_get():
    """Your e-mail address, the language of e-mails and, per kind of notice, inbox and e-mail on or off."""
    return json_response(settings.settings_dict(current_user))


@bp.put("/notice-settings")
@endpoint(body=SettingsIn, response=SettingsOut, permission=READ)
def settings_put(body: SettingsIn):
    """Change your notice settings."""
    kinds = {k: v.model_dump(exclude_none=True) for k, v in (body.kinds or {}).items()}
    settings.save_settings(current_user, email=body.email, language=body.language, kinds=kinds)
    return json_response(settings.settings_dict(current_user))


class SubscriptionIn(Body):
    """Hear of ``kinds`` for everything in an area of your scope (a grid, a community …)."""

    area: AreaCode
    kinds: Annotated[list[KindName], Field(min_length=1, max_length=20)]


class SubscriptionOut(BaseModel):
    id: int
    area: str
    area_name: str
    kinds: list[str]


class Subscriptions(BaseModel):
    subscriptions: list[SubscriptionOut]


def _subscription(s) -> dict:
    return {"id": s.id, "area": s.area.code, "area_name": s.area.name, "kinds": s.kinds}


@bp.get("/notice-subscriptions")
@endpoint(response=Subscriptions, permission=READ)
def subscription_list():
    """Your area subscriptions."""
    return json_response({"subscriptions": [_subscription(s) for s in settings.subscriptions(current_user.id)]})


@bp.post("/notice-subscriptions")
@endpoint(body=SubscriptionIn, response=SubscriptionOut, status=201, permission="notices.subscribe")
def subscription_create(body: SubscriptionIn):
    """Subscribe to an area (again: its kinds are replaced)."""
    return json_response(_subscription(settings.subscribe(current_user, body.area, body.kinds)), 201)


@bp.delete("/notice-subscriptions/<int:subscription_id>")
@endpoint(status=204, permission=READ, errors=(404,))
def subscription_delete(subscription_id: int):
    """End one of your subscriptions."""
    settings.unsubscribe(current_user, subscription_id)
    return "", 204
