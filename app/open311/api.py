"""``/api/v1/open311-keys``: the admin issues, lists and revokes the Open311 API keys."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.open311 import keys
from app.web.api import ApiBlueprint, endpoint, json_response
from app.web.params import Body

bp = ApiBlueprint("open311_api", __name__, tag="open311")
PERMISSION = "open311.keys"


class Open311KeyIn(Body):
    """Who gets the key, and the incident source their requests are recorded with."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    source: Literal[*keys.KEY_SOURCES] = "open311"


class Open311Key(BaseModel):
    id: int
    name: str
    prefix: str
    source: str
    created_at: dt.datetime
    revoked: bool


class Open311Keys(BaseModel):
    """Every key, newest first (prefixes only: a key is shown once, when issued)."""

    keys: list[Open311Key]


class Open311KeyIssued(BaseModel):
    """The new key: ``api_key`` is shown this once."""

    id: int
    name: str
    prefix: str
    source: str
    api_key: str


@bp.get("/open311-keys")
@endpoint(response=Open311Keys, permission=PERMISSION)
def list_keys():
    """The Open311 API keys (prefixes only)."""
    return json_response(
        {
            "keys": [
                {
                    "id": k.id,
                    "name": k.name,
                    "prefix": k.prefix,
                    "source": k.source,
                    "created_at": k.created_at.isoformat(),
                    "revoked": k.revoked,
                }
                for k in keys.list_keys()
            ]
        }
    )


@bp.post("/open311-keys")
@endpoint(body=Open311KeyIn, response=Open311KeyIssued, status=201, permission=PERMISSION)
def create_key(body: Open311KeyIn):
    """Issue a key; the answer holds it, once."""
    row, key = keys.create_key(body.name, source=body.source)
    return json_response(
        {"id": row.id, "name": row.name, "prefix": row.prefix, "source": row.source, "api_key": key}, 201
    )


@bp.delete("/open311-keys/<int:key_id>")
@endpoint(status=204, permission=PERMISSION, errors=(404,))
def revoke_key(key_id: int):
    """Revoke a key: requests posted with it are refused (403) from now on."""
    keys.revoke_key_id(key_id)
    return "", 204
