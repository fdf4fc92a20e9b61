"""Heat maps: bins count exactly the rows in them, personal sources are suppressed below 5,
filters and periods narrow, and a leader sees only their own area."""

import datetime as dt
import math
import random

import pytest
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy import text

from app.core.extensions import db
from app.core.heat import HEAT_SOURCES, HeatSource, register_source
from app.core.time import TZ
from gis import heat
from tests.conftest import remote_references

MARCH = {"from": "2021-03-01", "to": "2021-03-31"}
HUALINSHAN_BBOX = "103.779,36.043,103.791,36.053"
BOTH_BBOX = "103.77,36.03,103.85,36.06"  # Hualinshan and Zhangjiayuan
ZJY = (103.833, 36.045, 103.843, 36.054)


def categories():
    from app.seed.scale import ensure_categories

    return ensure_categories()


def add_incident(lon, lat, when, category="env.litter", state="filed", source="hotline", closed=None):
    cats = categories()
    return db.session.execute(
        text(
            "INSERT INTO incidents (category_id, source, state, description, reporter_name, reporter_phone, "
            "reported_at, closed_at, geom) VALUES (:c, :s, :st, '测试事件', '张三', '13900000000', :t, :cl, "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
        ),
        {"c": cats[category], "s": source, "st": state, "t": when, "cl": closed, "x": lon, "y": lat},
    ).scalar()


def scatter(n, bb, seed=1, when=dt.datetime(2021, 3, 10, 9, tzinfo=TZ), **kw):
    rnd = random.Random(seed)
    pts = []
    for _ in range(n):
        x, y = rnd.uniform(bb[0], bb[2]), rnd.uniform(bb[1], bb[3])
        add_incident(x, y, when + dt.timedelta(hours=rnd.randint(0, 400)), **kw)
        pts.append((x, y))
    # Commit (a savepoint in tests): a request that fails rolls back to here, not past the data.
    db.session.commit()
    return pts


def get(client, url, **params):
    from urllib.parse import urlencode

    r = client.get(url + "?" + urlencode(params))
    return r, (r.get_json() if r.is_json or r.mimetype.endswith("json") else None)


# ---- pure rules ------------------------------------------------------------------------------------


def test_cell_size_grows_as_the_map_zooms_out_and_is_a_round_number():
    sizes = [heat.cell_size(z) for z in range(19, 7, -1)]
    assert sizes == sorted(sizes)
    for s in sizes:
        mant = s / 10 ** math.floor(math.log10(s))
        assert round(mant, 6) in (1, 2, 5)


def test_classes_have_increasing_breaks_and_cover_the_maximum():
    c = heat.classify([1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144])
    assert list(c.breaks) == sorted(set(c.breaks))
    assert c.breaks[-1] >= 144
    assert c.color(144) == c.colors[-1] and c.color(1) == c.colors[0]
    assert heat.classify([]).breaks == (1.0,)


def test_frames_cut_a_period_by_week_and_month():
    start = dt.datetime(2021, 1, 1, tzinfo=TZ)
    weeks = heat.frame_steps(start, dt.datetime(2021, 1, 20, tzinfo=TZ), "week")
    assert [a.day for a, _ in weeks] == [1, 8, 15] and weeks[-1][1].day == 20
    months = heat.frame_steps(start, dt.datetime(2021, 4, 1, tzinfo=TZ), "month")
    assert [a.month for a, _ in months] == [1, 2, 3]


def test_hexagon_of_a_point_is_the_postgis_hexagon_that_contains_it(app):
    rnd = random.Random(3)
    size = heat.hex_size(15)
    for _ in range(40):
        lon, lat = rnd.uniform(103.7, 103.95), rnd.uniform(36.0, 36.1)
        x, y = heat.lonlat_to_mercator(lon, lat)
        i, j = heat.hex_of(x, y, size)
        row = db.session.execute(
            text(
                "SELECT h.i, h.j FROM ST_HexagonGrid(:s, ST_Expand(ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 4326), "
                "3857), :s)) h WHERE ST_Intersects(h.geom, ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 4326), 3857))"
            ),
            {"s": size, "x": lon, "y": lat},
        ).first()
        assert (i, j) == (row.i, row.j)


# ---- bins ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["square", "hexagon"])
def test_each_bin_counts_exactly_the_incidents_inside_it(client, auth, shape):
    pts = scatter(60, (103.780, 36.044, 103.790, 36.052))
    auth.login("leader")
    r, data = get(client, "/api/v1/heat/cells", source="incidents", bbox=HUALINSHAN_BBOX, zoom=16, shape=shape, **MARCH)
    assert r.status_code == 200
    assert data["total"] == 60 and sum(c[2] for c in data["cells"]) == 60
    expected = {}
    for lon, lat in pts:
        x, y = heat.lonlat_to_mercator(lon, lat)
        key = heat.square_of(x, y, data["size"]) if shape == "square" else heat.hex_of(x, y, data["size"])
        expected[key] = expected.get(key, 0) + 1
    assert {(i, j): n for i, j, n in data["cells"]} == expected


@pytest.mark.parametrize("shape", ["square", "hexagon"])
def test_a_window_of_two_days_is_read_by_time_with_the_same_bins(client, auth, shape):
    """Two days or less (the heat bins' live days): rows found by time, the bbox checked row by row
    (services.time_driven); the same bins as the month's over the same rows."""
    from app.heatmaps import services

    day = dt.datetime(2021, 3, 10, 9, tzinfo=TZ)
    rnd = random.Random(3)
    for k in range(20):
        add_incident(rnd.uniform(103.780, 103.790), rnd.uniform(36.044, 36.052), day + dt.timedelta(hours=k))
    for k in range(5):
        add_incident(rnd.uniform(ZJY[0], ZJY[2]), rnd.uniform(ZJY[1], ZJY[3]), day + dt.timedelta(hours=k))
    add_incident(103.785, 36.048, day + dt.timedelta(days=5))  # outside the two days
    db.session.commit()
    auth.login("leader")
    args = {"bbox": HUALINSHAN_BBOX, "zoom": 16, "shape": shape}
    _, two = get(client, "/api/v1/heat/cells", **args, **{"from": "2021-03-10", "to": "2021-03-11"})
    _, month = get(client, "/api/v1/heat/cells", **args, **{"from": "2021-03-01", "to": "2021-03-11"})
    assert two["total"] == 20 and sorted(two["cells"]) == sorted(month["cells"])
    src = HEAT_SOURCES["incidents"]
    short = services.HeatRequest(src, (0, 0, 1, 1), 16, start=day, end=day + dt.timedelta(days=2))
    assert services.time_driven(short)
    assert not services.time_driven(
        services.HeatRequest(src, (0, 0, 1, 1), 16, start=day, end=day + dt.timedelta(days=3))
    )


def test_bins_never_carry_points_or_personal_fields(client, auth):
    scatter(30, (103.780, 36.044, 103.790, 36.052))
    auth.login("leader")
    r, _ = get(client, "/api/v1/heat/cells", bbox=HUALINSHAN_BBOX, zoom=16, **MARCH)
    body = r.get_data(as_text=True)
    assert "张三" not in body and "13900000000" not in body and "coordinates" not in body


def test_only_the_visible_bbox_is_binned(client, auth):
    scatter(10, (103.780, 36.044, 103.790, 36.052))
    scatter(7, ZJY, seed=2)
    auth.login("leader")
    _, data = get(client, "/api/v1/heat/cells", bbox=HUALINSHAN_BBOX, zoom=15, **MARCH)
    assert data["total"] == 10


def test_empty_period_gives_no_cells(client, auth):
    scatter(10, (103.780, 36.044, 103.790, 36.052))
    auth.login("leader")
    r, data = get(
        client, "/api/v1/heat/cells", bbox=HUALINSHAN_BBOX, zoom=15, **{"from": "2019-01-01", "to": "2019-01-31"}
    )
    assert r.status_code == 200 and data["cells"] == [] and data["total"] == 0
    r, fc = get(
        client, "/api/v1/heat/areas", bbox=HUALINSHAN_BBOX, zoom=15, **{"from": "2019-01-01", "to": "2019-01-31"}
    )
    assert r.status_code == 200 and all(f["properties"]["n"] == 0 for f in fc["features"])


def test_category_state_and_channel_filters_narrow_the_bins(client, auth):
    bb = (103.780, 36.044, 103.790, 36.052)
    scatter(5, bb, seed=1, category="env.litter", state="closed", source="hotline")
    scatter(3, bb, seed=2, category="drainage.sewage", state="filed", source="grid_worker")
    scatter(2, bb, seed=3, category="ebike.flying_wire", state="filed", source="hotline")
    auth.login("leader")
    total = lambda **f: get(client, "/api/v1/heat/cells", bbox=HUALINSHAN_BBOX, zoom=15, **MARCH, **f)[1]["total"]
    assert total() == 10
    assert total(category="drainage") == 3  # a parent takes its sub-categories
    assert total(category="drainage.sewage,env.litter") == 8
    assert total(state="filed") == 5
    assert total(channel="hotline") == 7
    assert total(channel="hotline", state="filed") == 2
    assert total(source="ebike_hazards") == 2


def test_bad_heat_parameters_are_400_with_the_field_named(client, auth):
    auth.login("leader")
    for params, field in (
        (dict(bbox="1,2,3"), "bbox"),
        (dict(bbox="200,0,201,1"), "bbox"),
        (dict(bbox=HUALINSHAN_BBOX, zoom="x"), "zoom"),
        (dict(bbox=HUALINSHAN_BBOX, shape="circle"), "shape"),
        (dict(bbox=HUALINSHAN_BBOX, category="nope"), "category"),
        (dict(bbox=HUALINSHAN_BBOX, state="lost"), "state"),
        (dict(bbox=HUALINSHAN_BBOX, source="secrets"), "source"),
        (dict(bbox=HUALINSHAN_BBOX, colour="red"), "colour"),
        (dict(bbox=HUALINSHAN_BBOX, **{"from": "2021-05-01", "to": "2021-04-01"}), "to"),
        (dict(bbox=HUALINSHAN_BBOX, **{"from": "yesterday"}), "from"),
    ):
        r, data = get(client, "/api/v1/heat/cells", **params)
        assert r.status_code == 400, params
        assert field in data["error"]["fields"], (params, data)


def test_heat_needs_a_leader_planner_staff_or_admin(client, auth):
    r, _ = get(client, "/api/v1/heat/cells", bbox=HUALINSHAN_BBOX)
    assert r.status_code == 401
    auth.login("gridworker")
    r, _ = get(client, "/api/v1/heat/cells", bbox=HUALINSHAN_BBOX)
    assert r.status_code == 403


# ---- area scope ------------------------------------------------------------------------------------


def test_street_leader_sees_only_incidents_of_their_street(client, auth):
    scatter(6, (103.780, 36.044, 103.790, 36.052))  # Xiyuan street (Hualinshan)
    scatter(9, ZJY, seed=2)  # Jiuquan Road street (Zhangjiayuan)
    auth.login("xiyuan")
    _, data = get(client, "/api/v1/heat/cells", bbox=BOTH_BBOX, zoom=14, **MARCH)
    assert data["total"] == 6
    _, fc = get(client, "/api/v1/heat/areas", bbox=BOTH_BBOX, zoom=12, **MARCH)
    assert {f["properties"]["code"] for f in fc["features"]} == {"620103002"}
    auth.logout()
    auth.login("leader")
    _, data = get(client, "/api/v1/heat/cells", bbox=BOTH_BBOX, zoom=14, **MARCH)
    assert data["total"] == 15


def test_choropleth_counts_per_grid_with_rate_per_thousand_households(client, auth):
    nw = (103.7795, 36.0485, 103.7845, 36.0525)  # Hualinshan grid 001 (north-west)
    scatter(8, nw)
    auth.login("leader")
    r, fc = get(client, "/api/v1/heat/areas", bbox=HUALINSHAN_BBOX, zoom=16, **MARCH)
    assert r.status_code == 200 and fc["level"] == "grid"
    by = {f["properties"]["code"]: f["properties"] for f in fc["features"]}
    g = by["620103002001001"]
    hh = db.session.scalar(
        text(
            "SELECT sum(households) FROM buildings b JOIN areas a ON a.id = b.grid_id WHERE a.code = '620103002001001'"
        )
    )
    assert g["n"] == 8 and g["households"] == hh
    assert g["rate"] == round(8 * 1000 / hh, 2)
    assert by["620103002001004"]["n"] == 0


# ---- personal sources: suppression -----------------------------------------------------------------


@pytest.fixture
def people_source(app):
    """A personal-data source over a scratch table (like visits), removed afterwards."""
    db.session.execute(
        text(
            "CREATE TABLE scratch_visits (id serial PRIMARY KEY, grid_id int, "
            "visited_at timestamptz, geom geometry(Point, 4326))"
        )
    )
    db.session.execute(
        text(
            "CREATE TRIGGER trg_scratch_assign_grid BEFORE INSERT ON scratch_visits "
            "FOR EACH ROW EXECUTE FUNCTION wuwei_assign_grid()"
        )
    )
    db.session.commit()
    t = sa.Table(
        "scratch_visits",
        sa.MetaData(),
        sa.Column("id", sa.Integer),
        sa.Column("grid_id", sa.Integer),
        sa.Column("visited_at", sa.DateTime(timezone=True)),
        sa.Column("geom", Geometry("POINT", 4326)),
    )
    src = register_source(
        HeatSource(
            name="scratch_visits",
            title="走访",
            table=t,
            geom=t.c.geom,
            time=t.c.visited_at,
            grid=t.c.grid_id,
            personal=True,
            person=t.c.id,
            drill=(("id", t.c.id),),
            drill_order=t.c.id,
        )
    )
    yield src
    del HEAT_SOURCES["scratch_visits"]


def add_visits(n, lon, lat):
    for _ in range(n):
        db.session.execute(
            text(
                "INSERT INTO scratch_visits (visited_at, geom) VALUES "
                "('2021-03-05 10:00+08', ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
            ),
            {"x": lon, "y": lat},
        )
    db.session.commit()


def test_personal_source_drops_cells_with_fewer_than_five_people(client, auth, people_source):
    add_visits(4, 103.7801, 36.0451)
    add_visits(5, 103.7891, 36.0511)
    auth.login("leader")
    _, data = get(client, "/api/v1/heat/cells", source="scratch_visits", bbox=HUALINSHAN_BBOX, zoom=17, **MARCH)
    assert [c[2] for c in data["cells"]] == [5]
    # The hidden cell is not even counted: "1 hidden" would say that someone was there.
    assert data["suppressed"] is None and data["total"] == 5 and data["size"] == 500
    _, fc = get(client, "/api/v1/heat/areas", source="scratch_visits", bbox=HUALINSHAN_BBOX, zoom=17, **MARCH)
    by = {f["properties"]["code"]: f["properties"] for f in fc["features"]}
    sw = by["620103002001003"]  # south-west grid: the 4 visits
    assert sw["n"] is None and sw["suppressed"] and sw["rate"] is None
    assert by["620103002001002"]["n"] == 5


def test_personal_drill_down_is_for_staff_not_leaders(client, auth, people_source):
    add_visits(6, 103.7891, 36.0511)
    auth.login("leader")
    r, _ = get(client, "/api/v1/heat/drill", source="scratch_visits", area="620103002001", **MARCH)
    assert r.status_code == 403
    auth.logout()
    auth.login("staff")
    r, data = get(client, "/api/v1/heat/drill", source="scratch_visits", area="620103002001", **MARCH)
    assert r.status_code == 200 and len(data["rows"]) == 6
    assert db.session.scalar(text("SELECT count(*) FROM audit_log WHERE table_name = 'scratch_visits'")) >= 1


# ---- drill down ------------------------------------------------------------------------------------


def test_drill_into_a_bin_lists_its_incidents_without_reporter_details(client, auth):
    scatter(12, (103.780, 36.044, 103.790, 36.052))
    auth.login("leader")
    _, data = get(client, "/api/v1/heat/cells", bbox=HUALINSHAN_BBOX, zoom=16, **MARCH)
    i, j, n = max(data["cells"], key=lambda c: c[2])
    r, rows = get(client, "/api/v1/heat/drill", bbox=HUALINSHAN_BBOX, zoom=16, i=i, j=j, **MARCH)
    assert r.status_code == 200 and len(rows["rows"]) == n
    assert all("reporter_name" not in row and "reporter_phone" not in row for row in rows["rows"])
    assert rows["rows"][0]["category"] == "垃圾杂物堆放"
    r, _ = get(client, "/api/v1/heat/drill", bbox=HUALINSHAN_BBOX, zoom=16, i="x", j=1)
    assert r.status_code == 400


def test_drill_into_another_streets_area_lists_nothing(client, auth):
    scatter(5, ZJY, seed=2)
    auth.login("xiyuan")
    _, data = get(client, "/api/v1/heat/drill", area="620102005003", **MARCH)
    assert data["rows"] == []


# ---- page ------------------------------------------------------------------------------------------


def test_heat_page_is_small_and_embeds_no_data(client, auth):
    scatter(20, (103.780, 36.044, 103.790, 36.052))
    auth.login("leader")
    r = client.get("/heat")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and len(r.data) < 300_000
    assert "WuweiHeat.init" in html and "/api/v1/heat/cells" in html
    assert "测试事件" not in html and remote_references(html) == []
    assert 'href="/heat"' in html and 'href="/dashboard"' in html


def test_heat_page_speaks_english_on_request(client, auth):
    auth.login("leader")
    html = client.get("/heat?lang=en").get_data(as_text=True)
    assert "Heat map" in html


def test_frames_cut_the_period_for_the_slider(client, auth):
    auth.login("leader")
    r, data = get(client, "/api/v1/heat/frames", step="week", **MARCH)
    assert r.status_code == 200 and len(data["frames"]) == 5
    assert data["frames"][0]["from"].startswith("2021-03-01") and data["frames"][-1]["to"].startswith("2021-04-01")
    r, _ = get(client, "/api/v1/heat/frames", step="year", **MARCH)
    assert r.status_code == 400


def test_one_frame_counts_only_its_own_days(client, auth):
    add_incident(103.785, 36.048, dt.datetime(2021, 3, 2, 10, tzinfo=TZ))
    add_incident(103.785, 36.048, dt.datetime(2021, 3, 9, 10, tzinfo=TZ))
    add_incident(103.785, 36.048, dt.datetime(2021, 3, 10, 10, tzinfo=TZ))
    auth.login("leader")
    _, frames = get(client, "/api/v1/heat/frames", step="week", **MARCH)
    counts = [
        get(client, "/api/v1/heat/cells", bbox=HUALINSHAN_BBOX, zoom=15, **{"from": f["from"], "to": f["to"]})[1][
            "total"
        ]
        for f in frames["frames"]
    ]
    assert counts == [1, 2, 0, 0, 0]


def test_heat_endpoints_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/heat/cells",
        "/api/v1/heat/areas",
        "/api/v1/heat/drill",
        "/api/v1/heat/frames",
        "/api/v1/heat/sources",
    ):
        assert path in doc["paths"], path


def test_choropleth_overlay_is_offered_on_the_main_map_to_leaders(client, auth):
    auth.login("leader")
    html = client.get("/").get_data(as_text=True)
    assert "heat_incidents" in html and "/api/v1/heat/areas" in html


def test_source_without_grids_is_scoped_by_geometry_and_binned_only(client, auth):
    """Patrol positions carry no grid (ingest speed): the user's area polygon limits them."""
    db.session.execute(
        text("CREATE TABLE scratch_positions (fixed_at timestamptz, user_id int, geom geometry(Point, 4326))")
    )
    for lon, lat, n in ((103.7845, 36.0475, 6), (103.838, 36.049, 7)):  # Xiyuan street; Jiuquan Road street
        for user in range(n):
            db.session.execute(
                text(
                    "INSERT INTO scratch_positions VALUES ('2021-03-05 10:00+08', :u, "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
                ),
                {"x": lon, "y": lat, "u": user},
            )
    db.session.commit()
    t = sa.Table(
        "scratch_positions",
        sa.MetaData(),
        sa.Column("fixed_at", sa.DateTime(timezone=True)),
        sa.Column("user_id", sa.Integer),
        sa.Column("geom", Geometry("POINT", 4326)),
    )
    register_source(
        HeatSource(
            name="scratch_positions",
            title="巡查",
            table=t,
            geom=t.c.geom,
            time=t.c.fixed_at,
            grid=None,
            personal=True,
            person=t.c.user_id,
            drill=(("fixed_at", t.c.fixed_at),),
            drill_order=t.c.fixed_at,
        )
    )
    try:
        auth.login("xiyuan")
        _, data = get(client, "/api/v1/heat/cells", source="scratch_positions", bbox=BOTH_BBOX, zoom=15, **MARCH)
        assert data["total"] == 6
        r, _ = get(client, "/api/v1/heat/areas", source="scratch_positions", bbox=BOTH_BBOX, zoom=15, **MARCH)
        assert r.status_code == 400
    finally:
        del HEAT_SOURCES["scratch_positions"]


def test_every_ui_string_of_the_heat_map_and_dashboard_has_an_english_translation():
    """Their pages, the features' sources and figures: in the heat maps' catalogue or the shared one."""
    from pathlib import Path

    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parent.parent
    catalogues = []
    for po in ("app/translations/en/LC_MESSAGES/messages.po", "app/heatmaps/translations/en/LC_MESSAGES/messages.po"):
        with open(root / po, "rb") as f:
            catalogues.append(read_po(f))
    keywords = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None}
    files = [
        ("python", p)
        for p in [
            *root.glob("app/heatmaps/*.py"),
            *root.glob("app/dashboard/*.py"),
            *root.glob("app/*/heat.py"),
            *root.glob("app/*/figures.py"),
        ]
    ] + [("jinja2", p) for p in [*root.glob("templates/heatmaps/*.html"), *root.glob("templates/dashboard/*.html")]]
    missing, checked = [], 0
    for method, path in files:
        for _, msg, _, _ in extract_from_file(method, str(path), keywords=keywords):
            checked += 1
            if not any((entry := c.get(msg)) is not None and entry.string for c in catalogues):
                missing.append((path.name, msg))
    assert checked > 80
    assert missing == []


def test_heat_page_explains_how_personal_sources_are_counted(client, auth):
    auth.login("leader")
    assert "个人数据：每格每天数不同的人" in client.get("/heat").get_data(as_text=True)
    assert "Personal data: distinct people per cell and day" in client.get("/heat?lang=en").get_data(as_text=True)
