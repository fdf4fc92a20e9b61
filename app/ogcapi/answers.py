"""How OGC API answers: the format a client wants, and OGC API exceptions instead of the API's envelope."""

import json

from flask import Response, render_template, request

from app.core.errors import ApiError
from app.ogcapi.params import GEOJSON, HTML, ParamError, format_of

JSON = "application/json"


def wanted_format() -> str:
    """ "json" or "html": ``?f=`` first, then ``Accept``; JSON when nothing is asked (OWSLib, GDAL)."""
    f = request.args.get("f")
    if f is not None:
        try:
            return format_of(f)
        except ParamError as e:
            raise ApiError(400, str(e), {"f": "unknown format"}) from None
    best = request.accept_mimetypes.best_match([GEOJSON, JSON, HTML])
    return "html" if best == HTML else "json"


_OGC_CODES = {
    400: "InvalidParameterValue",
    401: "NotAuthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    429: "TooManyRequests",
    500: "ServerError",
    503: "ServiceUnavailable",
}


def exception_response(status: int, message: str, fields: dict):
    """OGC API exceptions: ``{"code", "description"}`` (an HTML page for browsers)."""
    try:
        html = wanted_format() == "html"
    except ApiError:
        html = False
    if html:
        return render_template("error.html", status=status, message=message), status
    body = {"code": _OGC_CODES.get(status, "NoApplicableCode"), "description": message}
    headers = {"WWW-Authenticate": 'Bearer realm="wuwei"'} if status == 401 else {}
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=JSON, headers=headers)
