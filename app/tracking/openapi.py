"""The tracking protocols in ``/api/v1/openapi.json``.

They are not JSON API endpoints (their requests and answers are the apps' own, and ``/track/osmand``
is answered before Flask's routing by the gateway), so their path items are written here and added
with :func:`app.web.openapi.register_paths`.
"""

from app.web.openapi import ERROR

_FIELDS = {
    "id": "the device's secret, issued on /patrols/devices (also `deviceid`)",
    "lat": "latitude",
    "lon": "longitude",
    "location": "`lat,lon` instead of lat and lon",
    "timestamp": "epoch seconds or milliseconds, or ISO 8601",
    "speed": "knots",
    "bearing": "degrees (also `heading`)",
    "altitude": "metres",
    "accuracy": "metres",
    "hdop": "used when accuracy is missing",
    "batt": "battery % (-1: unknown)",
    "charge": "charging (ignored)",
    "alarm": "an alarm (`sos` raises an alert for the patrol area's staff); stored as a device event",
    "cell": "cell tower (without a position: stored as a device event, POST only)",
    "wifi": "Wi-Fi access point (without a position: stored as a device event, POST only)",
}
_STORED = {"description": "stored, or a resend already stored (empty body); HEAD changes nothing"}


def _osmand_params() -> list[dict]:
    return [
        {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
        for name, text in _FIELDS.items()
    ]


TRACCAR_JSON = {
    "type": "object",
    "required": ["device_id", "location"],
    "properties": {
        "device_id": {"type": "string", "description": "the device's secret"},
        "location": {
            "type": "object",
            "required": ["timestamp"],
            "properties": {
                "timestamp": {"type": "string", "format": "date-time"},
                "coords": {
                    "type": "object",
                    "properties": {
                        "latitude": {"type": "number"},
                        "longitude": {"type": "number"},
                        "accuracy": {"type": "number"},
                        "speed": {"type": "number", "description": "m/s; -1: unknown"},
                        "heading": {"type": "number", "description": "-1: unknown"},
                        "altitude": {"type": "number"},
                    },
                },
                "event": {"type": "string", "description": "`heartbeat` without coords: a device event"},
                "alarm": {"type": "string", "description": "also in `extras`; `sos` raises an alert"},
                "is_moving": {"type": "boolean"},
                "odometer": {"type": "number"},
                "battery": {
                    "type": "object",
                    "properties": {
                        "level": {"type": "number", "description": "0..1; -1: unknown"},
                        "is_charging": {"type": "boolean"},
                    },
                },
            },
        },
    },
}

OWNTRACKS_LOCATION = {
    "type": "object",
    "required": ["_type"],
    "properties": {
        "_type": {
            "type": "string",
            "description": "`location` is a fix, `transition` a device event, `encrypted` is refused (422), "
            "other types are ignored",
        },
        "lat": {"type": "number"},
        "lon": {"type": "number"},
        "tst": {"type": "integer", "description": "epoch s"},
        "tid": {"type": "string"},
        "acc": {"type": "number"},
        "alt": {"type": "number"},
        "batt": {"type": "number"},
        "vel": {"type": "number", "description": "km/h"},
        "cog": {"type": "number", "description": "-1: unknown"},
        "event": {"type": "string", "description": "transition: `enter` or `leave`"},
        "desc": {"type": "string", "description": "transition: the region"},
    },
}


def paths() -> dict:
    """Path items of ``/track/osmand`` and ``/track/owntracks``."""
    return {"/track/osmand": _osmand_path(), "/track/owntracks": _owntracks_path()}


def _osmand_path() -> dict:
    form = {"type": "object", "properties": {k: {"type": "string", "description": v} for k, v in _FIELDS.items()}}
    return {
        "get": {
            "summary": "One fix in the OsmAnd protocol (Traccar Client, OsmAnd)",
            "tags": ["tracking"],
            "security": [],
            "parameters": _osmand_params(),
            "responses": {"200": _STORED, "400": ERROR, "413": ERROR, "503": ERROR},
        },
        "head": {
            "summary": "Answered 200 with nothing stored (link checkers, proxies)",
            "tags": ["tracking"],
            "security": [],
            "responses": {"200": _STORED},
        },
        "post": {
            "summary": "OsmAnd form fields, or the JSON body of newer Traccar Clients",
            "tags": ["tracking"],
            "security": [],
            "parameters": _osmand_params(),
            "requestBody": {
                "content": {
                    "application/x-www-form-urlencoded": {"schema": form},
                    "application/json": {"schema": TRACCAR_JSON},
                }
            },
            "responses": {"200": _STORED, "400": ERROR, "404": ERROR, "413": ERROR, "503": ERROR},
        },
    }


def _owntracks_path() -> dict:
    return {
        "post": {
            "summary": "OwnTracks HTTP mode (Basic auth: user name or device name, and the device's secret)",
            "description": "User and device as the OwnTracks Recorder names them: X-Limit-U/X-Limit-D, else "
            "?u=&d= (lowercased). They authenticate nothing: checked against the device the secret "
            "authenticates, 403 when they name another user or device; a device registered without a name "
            "takes the name d reports.",
            "tags": ["tracking"],
            "security": [],
            "parameters": [
                {"name": n, "in": "header", "required": False, "schema": {"type": "string", "maxLength": 128}}
                for n in ("X-Limit-U", "X-Limit-D")
            ]
            + [
                {"name": n, "in": "query", "required": False, "schema": {"type": "string", "maxLength": 128}}
                for n in ("u", "d")
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                OWNTRACKS_LOCATION,
                                {"type": "array", "items": OWNTRACKS_LOCATION, "maxItems": 1000},
                            ]
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "the other members of the device owner's open patrol: a `card` and "
                    "their last `location` each (as the OwnTracks Recorder answers); `[]` outside a patrol",
                    "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
                },
                "400": ERROR,
                "401": ERROR,
                "403": ERROR,
                "413": ERROR,
                "422": ERROR,
                "503": ERROR,
            },
        }
    }
