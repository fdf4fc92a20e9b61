"""Open311 XML: the same dicts as the JSON answers, as GeoReport v2 elements.

A list under a plural name becomes one child element per item named by the
singular (``attributes`` → ``attribute``, ``values`` → ``value``); ``None``
becomes an empty element, booleans ``true``/``false``.
"""

import re
from xml.sax.saxutils import escape  # nosec B406 (escapes what we write; nothing here parses XML)

# Characters XML 1.0 cannot carry at all (a resident's text may hold them).
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

SINGULAR = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
    "keywords": "keyword",
    # mySociety's extension, as open311-adapter writes it (XML::Simple): several media_url nest
    # as <media_url><media_url>…</media_url>…</media_url>
    "service_request_updates": "request_update",
    "media_url": "media_url",
    # the discovery document's "supported"
    "methods": "method",
    "attribute_datatypes": "datatype",
    "update_statuses": "status",
}


def _value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return escape(_INVALID.sub("", str(v)))


def _element(name: str, value, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append(f"<{name}>")
        for k, v in value.items():
            _element(k, v, out)
        out.append(f"</{name}>")
    elif isinstance(value, list):
        out.append(f"<{name}>")
        child = SINGULAR.get(name, "item")
        for item in value:
            _element(child, item, out)
        out.append(f"</{name}>")
    else:
        text = _value(value)
        out.append(f"<{name}>{text}</{name}>" if text else f"<{name}></{name}>")


def to_xml(root: str, value) -> str:
    """``value`` (a list for collections, a dict for single documents) under the element ``root``."""
    out = ['<?xml version="1.0" encoding="utf-8"?>']
    _element(root, value, out)
    return "".join(out)
