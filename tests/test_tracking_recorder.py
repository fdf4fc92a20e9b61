"""OwnTracks naming a user and device "like the Recorder" (issue 20): ``?u=&d=`` in the URL, or the headers
``X-Limit-U``/``X-Limit-D`` the apps send, checked against the device the Basic-auth secret authenticates.

Requests quoted from their sources, with a secret added as the Basic-auth password:

* the Recorder's README, "HTTP mode" (github.com/owntracks/recorder)::

      curl --data "${payload}" 'http://127.0.0.1:8085/pub?u=jane&d=3s'
      curl -H 'X-Limit-U: jane' -H 'X-Limit-D: 3s' --data "${payload}" 'http://127.0.0.1:8085/pub'

* the booklet's ``docs/tech/http.md`` (github.com/owntracks/booklet): the headers the Android and iOS apps
  add (``Content-Type: application/json``, ``X-Limit-U: jjolie``, ``X-Limit-D: myphone``), and its test
  script's payload (``jo _type=location t=u batt=11 lat=48.856826 lon=2.292713 tid=JJ tst=… topic=…``)
  posted to ``/pub?u=${user}&d=${device}`` with ``user=jane``, ``device=phone``.
"""

import base64
import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.services import create_user
from app.core.extensions import db
from app.patrols.devices import register_device
from app.patrols.models import Device, Position


def booklet_payload(user="jane", device="phone") -> dict:
    tst = int(dt.datetime.now(dt.UTC).timestamp()) - 60
    return {"_type": "location", "t": "u", "batt": 11, "lat": 48.856826, "lon": 2.292713, "tid": "JJ", "tst": tst,
            "topic": f"owntracks/{user}/{device}"}  # fmt: skip


def curl_data(client, url, payload, secret, user="jane", headers=None):
    """``curl --data`` (form content type, as curl sends it) with Basic auth."""
    auth = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    return client.post(
        url,
        data=json.dumps(payload),
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": auth, **(headers or {})},
    )


@pytest.fixture
def jane(app, demo):
    create_user("jane", "jane-password-1", "patrol", "620102011002", "Jane")
    return {name: register_device("jane", name, "owntracks")[1] for name in ("3s", "phone")}


def stored(identifier: str) -> int:
    q = select(func.count()).select_from(Position).join(Device).where(Device.identifier == identifier)
    return db.session.scalar(q)


@pytest.mark.parametrize(
    "url,headers",
    [("/track/owntracks?u=jane&d=3s", {}), ("/track/owntracks", {"X-Limit-U": "jane", "X-Limit-D": "3s"})],
    ids=["recorder README ?u=&d=", "recorder README X-Limit headers"],
)
def test_the_recorders_own_requests_are_stored_for_the_device_they_name(client, jane, url, headers):
    r = curl_data(client, url, booklet_payload(device="3s"), jane["3s"], headers=headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == []
    assert (stored("jane/3s"), stored("jane/phone")) == (1, 0)


def test_the_booklets_test_script_and_the_apps_headers_pass(client, jane):
    r = curl_data(client, "/track/owntracks?u=jane&d=phone", booklet_payload(), jane["phone"])
    assert r.status_code == 200
    create_user("jjolie", "jjolie-password-1", "patrol", "620102011002", "Jane Jolie")
    _, secret = register_device("jjolie", "myphone", "owntracks")
    app_headers = {"X-Limit-U": "jjolie", "X-Limit-D": "myphone"}
    r = curl_data(client, "/track/owntracks", booklet_payload("jjolie", "myphone"), secret, "jjolie", app_headers)
    assert r.status_code == 200
    assert (stored("jane/phone"), stored("jjolie/myphone")) == (1, 1)


@pytest.mark.parametrize(
    "url,headers,field",
    [
        ("/track/owntracks?u=jane&d=phone", {}, "d"),  # the 3s secret, naming Jane's other phone
        ("/track/owntracks", {"X-Limit-U": "jane", "X-Limit-D": "phone"}, "d"),
        ("/track/owntracks?u=patrol&d=3s", {}, "u"),  # another user
        ("/track/owntracks?u=jane&d=3s", {"X-Limit-U": "patrol"}, "u"),  # the header wins, as in the Recorder
    ],
)
def test_a_user_or_device_other_than_the_secrets_is_403_and_nothing_is_stored(client, jane, url, headers, field):
    r = curl_data(client, url, booklet_payload(device="3s"), jane["3s"], headers=headers)
    assert r.status_code == 403
    error = r.get_json()["error"]
    assert error["code"] == "forbidden" and list(error["fields"]) == [field]
    assert "jane/3s" in error["message"] and "Identification" in error["message"]
    assert stored("jane/3s") == 0 and stored("jane/phone") == 0


def test_a_wrong_secret_is_401_whatever_u_and_d_say(client, jane):
    for url in ("/track/owntracks?u=jane&d=3s", "/track/owntracks?u=nobody&d=x"):
        r = curl_data(client, url, booklet_payload(), "not-" + jane["3s"])
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    assert stored("jane/3s") == 0


def test_names_are_compared_as_the_recorder_writes_them_lowercased(client, jane):
    r = curl_data(client, "/track/owntracks?u=JANE&d=3S", booklet_payload(), jane["3s"])
    assert r.status_code == 200 and stored("jane/3s") == 1


def test_a_device_registered_without_a_name_takes_the_name_d_reports(client, jane):
    device, secret = register_device("jane", "", "owntracks")
    assert device.name == device.identifier == "jane/owntracks"
    r = curl_data(client, "/track/owntracks", booklet_payload(), secret, headers={"X-Limit-D": "Pixel-7"})
    assert r.status_code == 200
    db.session.refresh(device)
    assert device.name == "pixel-7" and stored("jane/owntracks") == 1
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.table_name == "devices", AuditEntry.row_id == str(device.id))
        .order_by(AuditEntry.id.desc())
    ).first()  # fmt: skip
    assert (entry.before, entry.after) == ({"name": "jane/owntracks"}, {"name": "pixel-7"})
    # From now on the name is set: another d is refused.
    r = curl_data(client, "/track/owntracks", booklet_payload(), secret, headers={"X-Limit-D": "ipad"})
    assert r.status_code == 403 and stored("jane/owntracks") == 1


def test_an_unusable_name_is_400_and_nothing_is_stored(client, jane):
    r = curl_data(client, "/track/owntracks?d=" + "x" * 129, booklet_payload(), jane["3s"])
    assert r.status_code == 400 and r.get_json()["error"]["fields"] == {"d": "unusable name"}
    assert stored("jane/3s") == 0
