"""Personal data on the heat map and the dashboard (issue 14, items 2 and 3): nobody who may only read counts
can follow a person or recover a count hidden below 5.

* The red team's attack: a leader followed one patrol member minute by minute through
  ``/api/v1/heat/cells?source=positions&zoom=19&from=…09:31:55&to=…09:32:55`` (one cell of 7–10 fixes).
* Overlapping and shifted windows, bboxes cutting a cell, zooms and shapes: no difference of two answers
  tells that one more person was somewhere.
* The differencing attack on areas (``level=community`` less the grids shown: 10 − 7 = 3) and on the
  dashboard (the area's total less its units).
* Staff and admins, who read personal data, still list the records.
"""
import csv
import datetime as dt
import io
import itertools
from urllib.parse import urlencode

import pytest
from sqlalchemy import text

from app.auth.policy import SMALL_COUNT
from app.core.extensions import db
from app.core.time import TZ

BASE = 500                                     # the edge of personal bins at the zoom floor (Mercator metres)
DAY = dt.date(2021, 3, 5)
HUALINSHAN = (103.7845, 36.0475)               # inside Hualinshan community (620103002001)
BBOX = "103.779,36.043,103.791,36.053"
GRIDS = {g: f"620103002001{g}" for g in ("001", "002", "003", "004")}
WALKERS = ("hls2", "hls3", "hls4", "gridworker", "liailan", "zjy1")


def at(day: dt.date, hour=9, minute=0, second=0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=TZ)


def get(client, url, **params):
    r = client.get(url + "?" + urlencode(params))
    return r, r.get_json()


def walk(username: str, start: dt.datetime, minutes: int = 10, per_minute: int = 10, origin=HUALINSHAN,
         step=(0.00002, 0.00001)) -> None:
    """A phone's fixes: ``per_minute`` a minute for ``minutes`` minutes, walking from ``origin``."""
    user = db.session.scalar(text("SELECT id FROM users WHERE username = :u"), {"u": username})
    device = db.session.scalar(text(
        "INSERT INTO devices (identifier, user_id, name, kind, active) VALUES (:i, :u, 'phone', 'traccar', true) "
        "ON CONFLICT (identifier) DO UPDATE SET active = true RETURNING id"), {"i": f"privacy-{username}", "u": user})
    db.session.execute(text(
        "INSERT INTO positions (device_id, user_id, fixed_at, geom, accuracy, source) "
        "SELECT :d, :u, :t + k * (:every * interval '1 second'), "
        "ST_SetSRID(ST_MakePoint(:x + k * :dx, :y + k * :dy), 4326), 5, 'csv' FROM generate_series(0, :n - 1) k"),
        {"d": device, "u": user, "t": start, "every": 60.0 / per_minute, "x": origin[0], "y": origin[1],
         "dx": step[0], "dy": step[1], "n": minutes * per_minute})
    db.session.commit()


def cells(client, *, start, end, zoom=19, shape="square", bbox=BBOX):
    r, data = get(client, "/api/v1/heat/cells", source="positions", bbox=bbox, zoom=zoom, shape=shape,
                  **{"from": start.isoformat(), "to": end.isoformat()})
    assert r.status_code == 200, data
    return data


def as_map(data) -> dict:
    return {(i, j): n for i, j, n in data["cells"]}


# --------------------------------------------------------------------------- positions

def test_one_patrol_member_cannot_be_followed_minute_by_minute(client, auth):
    """The red team's request: one grid worker's fixes, a one-minute window at zoom 19."""
    walk("hls2", at(DAY, 9, 30), minutes=10, per_minute=10)
    auth.login("leader")
    data = cells(client, start=at(DAY, 9, 31, 55), end=at(DAY, 9, 32, 55), zoom=19)
    assert data["cells"] == [] and data["total"] == 0
    assert data["suppressed"] is None                      # not even "1 cell hidden": that would locate him
    assert data["size"] >= BASE                            # the zoom floor: never the 10 m cells of z19
    # The window is counted as the whole day.
    assert data["privacy"]["from"] == at(DAY, 0).isoformat()
    assert data["privacy"]["to"] == at(DAY + dt.timedelta(days=1), 0).isoformat()
    for minute, zoom, shape in itertools.product(range(30, 40), (13, 16, 19), ("square", "hexagon")):
        data = cells(client, start=at(DAY, 9, minute), end=at(DAY, 9, minute + 1), zoom=zoom, shape=shape)
        assert data["cells"] == [] and data["suppressed"] is None, (minute, zoom, shape)


def test_positions_count_people_not_fixes(client, auth):
    for name in WALKERS[:4]:
        walk(name, at(DAY, 10), minutes=5, step=(0, 0))
    auth.login("leader")
    assert cells(client, start=at(DAY, 0), end=at(DAY, 23))["cells"] == []      # four people, 200 fixes
    walk(WALKERS[4], at(DAY, 15), minutes=5, step=(0, 0))
    data = cells(client, start=at(DAY, 0), end=at(DAY, 23))
    assert [n for _, _, n in data["cells"]] == [5] and data["total"] == 5        # five people, not 250 fixes
    assert data["unit"] == "人·天"


def test_overlapping_and_shifted_windows_do_not_tell_one_more_person(client, auth):
    """Five colleagues walk on the 5th; on the 6th only the target walks the same streets. Counting each
    window as a whole, the 5th–6th would show six people where the 5th shows five: the target's day."""
    day2 = DAY + dt.timedelta(days=1)
    for name in WALKERS[:5]:
        walk(name, at(DAY, 10), minutes=8)
    walk(WALKERS[5], at(day2, 10), minutes=8)
    walk(WALKERS[5], at(DAY, 18), minutes=8, origin=(103.7815, 36.0505))        # and alone elsewhere on the 5th
    auth.login("leader")
    for zoom, shape in itertools.product((12, 13, 16, 19), ("square", "hexagon")):
        first = as_map(cells(client, start=at(DAY, 0), end=at(day2, 0), zoom=zoom, shape=shape))
        assert first and set(first.values()) == {5}, (zoom, shape)
        windows = [(at(DAY, 0), at(day2 + dt.timedelta(days=1), 0)),            # both days
                   (at(DAY, 12), at(day2, 12)),                                  # shifted by half a day
                   (at(DAY - dt.timedelta(days=3), 0), at(day2, 10, 5)),          # earlier start, ends mid-walk
                   (at(DAY, 9, 59), at(day2, 10, 1))]
        for start, end in windows:
            assert as_map(cells(client, start=start, end=end, zoom=zoom, shape=shape)) == first, (zoom, start, end)
        assert cells(client, start=at(day2, 0), end=at(day2, 23, 59), zoom=zoom, shape=shape)["cells"] == []


def test_a_bbox_cutting_a_cell_counts_the_whole_cell(client, auth):
    """A bbox around one end of the colleagues' walk cannot count a part of a cell (five people in the
    cell, three of them in the bbox: 5, never 3)."""
    for k, name in enumerate(WALKERS[:5]):
        walk(name, at(DAY, 10), minutes=2, origin=(HUALINSHAN[0] + 0.0005 * k, HUALINSHAN[1]), step=(0, 0))
    auth.login("leader")
    whole = as_map(cells(client, start=at(DAY, 0), end=at(DAY, 23)))
    assert list(whole.values()) == [5]
    for w, e in ((103.7844, 103.7856), (103.7862, 103.7866)):          # three of them; one
        part = as_map(cells(client, start=at(DAY, 0), end=at(DAY, 23), bbox=f"{w},36.0470,{e},36.0480"))
        assert part == whole


def test_staff_and_admin_still_list_the_fixes_of_a_cell_and_leaders_do_not(client, auth):
    for name in WALKERS[:5]:
        walk(name, at(DAY, 10), minutes=3, step=(0, 0))
    walk(WALKERS[5], at(DAY + dt.timedelta(days=1), 10), minutes=3, step=(0, 0))
    auth.login("leader")
    (i, j, n), = cells(client, start=at(DAY, 0), end=at(DAY, 23))["cells"]
    assert n == 5
    params = dict(source="positions", bbox=BBOX, zoom=19, i=i, j=j, **{"from": at(DAY, 10).isoformat(),
                                                             "to": at(DAY, 10, 1).isoformat()})
    r, _ = get(client, "/api/v1/heat/drill", **params)
    assert r.status_code == 403
    for user in ("staff", "admin"):
        auth.logout()
        auth.login(user)
        r, data = get(client, "/api/v1/heat/drill", **params)
        assert r.status_code == 200, data
        # The day's fixes in the cell (the window is the day the map showed), none of the next day.
        assert len(data["rows"]) == 150 and all(row["fixed_at"].startswith("2021-03-05") for row in data["rows"])
    assert db.session.scalar(text("SELECT count(*) FROM audit_log WHERE table_name = 'positions'")) >= 2


# --------------------------------------------------------------------------- areas and the dashboard

def households(grid: str, n: int) -> list[int]:
    building = db.session.scalar(text(
        "SELECT b.id FROM buildings b JOIN areas a ON a.id = b.grid_id WHERE a.code = :g LIMIT 1"), {"g": grid})
    return [db.session.scalar(text(
        "INSERT INTO households (building_id, flat_no, head_name) VALUES (:b, :f, '测试户') RETURNING id"),
        {"b": building, "f": f"p{k}"}) for k in range(n)]


def visit(household: int, when: dt.datetime) -> None:
    db.session.execute(text("INSERT INTO visits (household_id, grid_id, visited_at, purpose, follow_up_done) "
                            "SELECT id, grid_id, :t, 'care_visit', false FROM households WHERE id = :h"),
                       {"h": household, "t": when})


@pytest.fixture
def visited():
    """March 2021 in Hualinshan: grid 001 three households visited once; grid 002 seven households, ten
    visits; grid 003 one household visited six times; grid 004 nothing."""
    for h in households(GRIDS["001"], 3):
        visit(h, at(DAY, 10))
    for k, h in enumerate(households(GRIDS["002"], 7)):
        visit(h, at(DAY, 9, 31 + k))
        if k < 3:
            visit(h, at(DAY + dt.timedelta(days=k + 2), 11))
    (h3,) = households(GRIDS["003"], 1)
    for d in range(6):
        visit(h3, at(DAY + dt.timedelta(days=d), 15))
    db.session.commit()


MARCH = {"from": "2021-03-01", "to": "2021-03-31"}


def areas(client, level, source="visits", **extra):
    r, fc = get(client, "/api/v1/heat/areas", source=source, bbox=BBOX, zoom=16, level=level, **{**MARCH, **extra})
    assert r.status_code == 200, fc
    return {f["properties"]["code"]: f["properties"] for f in fc["features"]}


def test_areas_count_households_and_a_hidden_grid_is_not_the_total_less_the_others(client, auth, visited):
    auth.login("leader")
    grids = areas(client, "grid")
    assert grids[GRIDS["001"]]["n"] is None and grids[GRIDS["001"]]["suppressed"]         # three households
    assert grids[GRIDS["002"]]["n"] == 7 and not grids[GRIDS["002"]]["suppressed"]         # seven, not ten visits
    assert grids[GRIDS["003"]]["n"] is None and grids[GRIDS["003"]]["rate"] is None         # one household, 6 visits
    assert grids[GRIDS["004"]]["n"] == 0
    shown = sum(p["n"] for p in grids.values() if p["n"] is not None)
    for level, code in (("community", "620103002001"), ("street", "620103002")):
        parent = areas(client, level)[code]
        # 11 households live in the community's visited grids; the map may only say 7 (and that some are hidden).
        assert parent["n"] - shown == 0 and parent["suppressed"], (level, parent)


def test_wishes_per_area_count_households(client, auth):
    (h,) = households(GRIDS["002"], 1)
    for k in range(6):
        db.session.execute(text("INSERT INTO wishes (household_id, title, category, status, grid_id, posted_at) "
                                "SELECT id, '心愿', 'daily_needs', 'posted', grid_id, :t FROM households WHERE id = :h"),
                           {"h": h, "t": at(DAY, 10 + k)})
    db.session.commit()
    auth.login("leader")
    assert areas(client, "grid", source="wishes")[GRIDS["002"]]["n"] is None


def dashboard_csv(client, area, **period) -> dict:
    r = client.get(f"/dashboard/export.csv?{urlencode({'area': area, **period})}")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    header = rows[0]
    return {row[0]: dict(zip(header, row)) for row in rows[1:]}


def test_dashboard_total_does_not_tell_a_hidden_grid_nor_does_the_street_page(client, auth, visited):
    auth.login("leader")
    community = dashboard_csv(client, "620103002001", **MARCH)
    assert community[GRIDS["001"]]["visits_done"] == ""          # three households
    assert community[GRIDS["003"]]["visits_done"] == ""          # six visits, one household
    assert community[GRIDS["002"]]["visits_done"] == "10"
    # Not 19: the total less the grids shown would give the hidden ones.
    assert community["620103002001"]["visits_done"] == "10"
    street = dashboard_csv(client, "620103002", **MARCH)
    assert street["620103002001"]["visits_done"] == "10" and street["620103002"]["visits_done"] == "10"


def test_dashboard_counts_whole_days_not_a_minute(client, auth, visited):
    """Seven visits between 09:31 and 09:37 on the 5th: a minute's window would tell each one by difference."""
    auth.login("leader")
    day = dashboard_csv(client, "620103002001", **{"from": DAY.isoformat(), "to": DAY.isoformat()})
    assert day[GRIDS["002"]]["visits_done"] == "7"
    for minute in range(30, 38):
        window = {"from": at(DAY, 9, minute).isoformat(), "to": at(DAY, 9, minute + 1).isoformat()}
        assert dashboard_csv(client, "620103002001", **window) == day, minute


def test_staff_still_list_the_visits_of_a_grid_and_leaders_do_not(client, auth, visited):
    auth.login("leader")
    r, _ = get(client, "/api/v1/heat/drill", source="visits", area=GRIDS["001"], **MARCH)
    assert r.status_code == 403
    auth.logout()
    auth.login("staff")
    r, data = get(client, "/api/v1/heat/drill", source="visits", area=GRIDS["001"], **MARCH)
    assert r.status_code == 200 and len(data["rows"]) == 3


def test_the_rule_is_the_policys_small_count(client, auth):
    from app.heatmaps.people import BASE as base
    auth.login("leader")
    data = cells(client, start=at(DAY, 0), end=at(DAY, 1))
    assert data["privacy"]["k"] == SMALL_COUNT and data["privacy"]["min_size"] == base == BASE
