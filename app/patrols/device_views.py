"""The tracking devices page: a user's phones and apps, registering one and renewing its secret (shown once)."""

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core.errors import ApiError
from app.patrols import devices as devices_
from app.patrols.views import bp
from app.web.pages import flash_error


@bp.route("/devices", methods=["GET", "POST"])
@login_required
def devices():
    """Your tracking devices; register one (the server issues its secret, shown once)."""
    issued = None
    if request.method == "POST":
        try:
            d, secret = devices_.register_device(
                current_user.username, request.form.get("name", ""), request.form.get("kind", "traccar")
            )
        except ApiError as e:
            flash_error(e)
            return redirect(url_for("patrols.devices"))
        issued = {"device": d, "secret": secret}
    return _devices_page(issued)


@bp.post("/devices/<int:device_id>/secret")
@login_required
def renew_device_secret(device_id: int):
    """A new secret for one of your devices; the page shows it once."""
    try:
        d, secret = devices_.renew_secret(current_user, device_id)
    except ApiError as e:
        abort(e.status, e.message)
    return _devices_page({"device": d, "secret": secret})


def _devices_page(issued):
    resp = make_response(
        render_template(
            "patrols/devices.html",
            devices=devices_.devices_of(current_user),
            issued=issued,
            osmand_url=_tracking_url("osmand"),
            owntracks_url=_tracking_url("owntracks"),
        )
    )
    resp.headers["Cache-Control"] = "no-store"  # a secret may be on it
    return resp


def _tracking_url(protocol: str) -> str:
    """Where a tracking app sends fixes: the protocol adapters (``app.tracking``) answer ``/track/<protocol>``,
    a contract with the apps in the field (DESIGN.md)."""
    return request.url_root + "track/" + protocol
