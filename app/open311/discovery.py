"""The Service Discovery document: the endpoint, once per specification it speaks, and what it supports.

``endpoints`` lists the endpoint under GeoReport v2 and again under mySociety's extension
(``servicerequestupdates``), as Service Discovery lists one entry per specification; ``supported``
(an addition) says in words which optional parts of GeoReport v2 this server implements and how.
"""

from app.core.time import TZ_NAME
from app.incidents.services.attributes import MAX_VALUES
from app.open311.schemas import MAX_MEDIA
from app.open311.services import MAX_ROWS
from app.open311.statuses import EXTENDED_UPPER, INCOMING

CHANGESET = "2026-12-05T00:00:00+08:00"
GEOREPORT_V2 = "http://wiki.open311.org/GeoReport_v2"
MYSOCIETY = "https://github.com/mysociety/FixMyStreet/wiki/Open311-FMS---Proposed-differences-to-Open311"
DATATYPES = ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
METHODS = [
    "GET discovery",
    "GET services",
    "GET services/{service_code}",
    "POST requests",
    "GET requests",
    "GET requests/{service_request_id}",
    "GET tokens/{token}",
    "GET servicerequestupdates",
    "POST servicerequestupdates",
]


def _endpoint(specification: str, url: str) -> dict:
    return {
        "specification": specification,
        "url": url,
        "changeset": CHANGESET,
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }


def discovery_document(url: str) -> dict:
    """The document for the endpoint at ``url`` (``…/open311/v2``)."""
    steps = ", ".join(f"{status} → {state}" for status, state in INCOMING.items())
    return {
        "changeset": CHANGESET,
        "contact": "五微 Wuwei — 街道城管/网格中心",
        "key_service": "API keys are issued by the Wuwei administrator",
        "endpoints": [_endpoint(GEOREPORT_V2, url), _endpoint(MYSOCIETY, url)],
        "supported": {
            "methods": METHODS,
            "jurisdiction_id": "ignored: one jurisdiction",
            "location": "lat and long inside the areas served here, or an address_string naming one building or "
            "compound of the base map; address_id is not supported; elsewhere → 400",
            "attribute_datatypes": DATATYPES,
            "multivaluelist": f"attribute[code][]=a&attribute[code][]=b or attribute[code]=a&attribute[code]=b "
            f"(at most {MAX_VALUES} values, each a declared key)",
            "media_url": f"several per request or update (media_url repeated, at most {MAX_MEDIA}); answered as "
            "a string, or a list when there are several",
            "update_statuses": list(EXTENDED_UPPER),
            "update_steps": f"{steps} when the workflow allows it; other statuses are notes",
            "times": f"W3C date-times; without an offset they are read in {TZ_NAME}",
            "paging": f"page and page_size on GET requests and GET servicerequestupdates (at most {MAX_ROWS})",
        },
    }
