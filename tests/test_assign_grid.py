"""assign_grid: PostGIS gives every spatial row its grid, and keeps it right when grids are redrawn."""

import json

from sqlalchemy import select, text

from app.areas.models import Area
from app.core.extensions import db

NE_POINT = (103.8386, 36.0496)  # Zhangjiayuan grid 2 (north-east)
SW_POINT = (103.8350, 36.0460)  # Zhangjiayuan grid 3 (south-west)
FAR_POINT = (103.7000, 36.0100)  # inside Lanzhou, outside every demo grid


def grid_id(code: str) -> int:
    return db.session.scalar(select(Area.id).where(Area.code == code))


def grid_code_of(table: str, row_id: int) -> str | None:
    return db.session.execute(
        text(f"SELECT g.code FROM {table} t LEFT JOIN areas g ON g.id = t.grid_id WHERE t.id = :id"), {"id": row_id}
    ).scalar()


def add_charger(lon: float, lat: float, grid: int | None = None) -> int:
    return db.session.execute(
        text(
            "INSERT INTO chargers (ports, status, grid_id, geom) VALUES (4, 'planned', :g,"
            " ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
        ),
        {"x": lon, "y": lat, "g": grid},
    ).scalar()


def test_point_gets_the_grid_it_lies_in(app, demo):
    cid = add_charger(*NE_POINT)
    assert grid_code_of("chargers", cid) == "620102005003002"


def test_polygon_gets_the_grid_of_its_point_on_surface(app, demo):
    # A building straddling the NW/NE border of Zhangjiayuan (x = 103.838), mostly in the NE grid.
    wkt = "MULTIPOLYGON(((103.8376 36.0500,103.8420 36.0500,103.8420 36.0504,103.8376 36.0504,103.8376 36.0500)))"
    bid = db.session.execute(
        text("INSERT INTO buildings (name, geom) VALUES ('跨界楼', ST_GeomFromText(:w, 4326)) RETURNING id"), {"w": wkt}
    ).scalar()
    expected = db.session.execute(
        text(
            "SELECT a.code FROM areas a WHERE a.level = 'grid'"
            " AND ST_Intersects(a.geom, ST_PointOnSurface(ST_GeomFromText(:w, 4326)))"
        ),
        {"w": wkt},
    ).scalar()
    assert grid_code_of("buildings", bid) == expected == "620102005003002"


def test_moving_a_geometry_reassigns_its_grid(app, demo):
    cid = add_charger(*NE_POINT)
    db.session.execute(
        text("UPDATE chargers SET geom = ST_SetSRID(ST_MakePoint(:x, :y), 4326) WHERE id = :id"),
        {"x": SW_POINT[0], "y": SW_POINT[1], "id": cid},
    )
    assert grid_code_of("chargers", cid) == "620102005003003"


def test_outside_every_grid_the_grid_is_null(app, demo):
    cid = add_charger(*FAR_POINT)
    assert grid_code_of("chargers", cid) is None


def test_a_typed_grid_id_is_overwritten_on_insert_and_update(app, demo):
    wrong = grid_id("620103002001001")  # a Hualinshan grid, far away
    cid = add_charger(*NE_POINT, grid=wrong)
    assert grid_code_of("chargers", cid) == "620102005003002"
    db.session.execute(text("UPDATE chargers SET grid_id = :g WHERE id = :id"), {"g": wrong, "id": cid})
    assert grid_code_of("chargers", cid) == "620102005003002"


def test_changing_other_columns_keeps_the_grid(app, demo):
    cid = add_charger(*NE_POINT)
    db.session.execute(text("UPDATE chargers SET ports = 8 WHERE id = :id"), {"id": cid})
    assert grid_code_of("chargers", cid) == "620102005003002"


def test_new_grid_takes_over_rows_that_had_none(app, demo):
    cid = add_charger(*FAR_POINT)
    db.session.execute(
        text(
            "INSERT INTO areas (level, code, name, geom) VALUES ('grid', '620103099001001', '新网格',"
            " ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint(:x, :y), 4326), 0.001)))"
        ),
        {"x": FAR_POINT[0], "y": FAR_POINT[1]},
    )
    assert grid_code_of("chargers", cid) == "620103099001001"


def test_redrawing_a_grid_in_sql_reassigns_every_spatial_table(app, demo):
    # Move the whole NE grid of Zhangjiayuan far away: its rows lose their grid, in one statement.
    in_ne = {
        t: db.session.execute(
            text(f"SELECT count(*) FROM {t} WHERE grid_id = :g"), {"g": grid_id("620102005003002")}
        ).scalar()
        for t in ("buildings", "chargers", "compounds")
    }
    assert in_ne["buildings"] > 0 and in_ne["chargers"] > 0
    db.session.execute(text("UPDATE areas SET geom = ST_Translate(geom, 1, 1) WHERE code = '620102005003002'"))
    for t in in_ne:
        assert (
            db.session.execute(
                text(f"SELECT count(*) FROM {t} WHERE grid_id = :g"), {"g": grid_id("620102005003002")}
            ).scalar()
            == 0
        )


def test_deleting_a_grid_leaves_its_rows_without_grid(app, demo):
    cid = add_charger(*NE_POINT)
    g = grid_id("620102005003002")
    db.session.execute(text("DELETE FROM grid_workers WHERE area_id = :g"), {"g": g})
    db.session.execute(
        text(
            "UPDATE users SET area_id = NULL, role = 'admin' WHERE area_id IN"
            " (SELECT id FROM areas WHERE code LIKE '620102005003002%')"
        )
    )
    db.session.execute(text("DELETE FROM areas WHERE code LIKE '620102005003002_%'"))
    db.session.execute(text("DELETE FROM areas WHERE id = :g"), {"g": g})
    assert grid_code_of("chargers", cid) is None


def _patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def _box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def test_planner_redrawing_grids_leaves_no_stale_assignment(client, auth, app, demo):
    """Shrink the NE grid of Zhangjiayuan, draw a new grid in the freed strip: rows follow, via the API."""
    auth.login("planner")
    cid = add_charger(103.8410, 36.0530)  # the northern strip of the NE grid
    db.session.commit()
    assert grid_code_of("chargers", cid) == "620102005003002"
    ids = {a.code: a.id for a in db.session.scalars(select(Area).where(Area.code.like("620102005003002%")))}
    # NE grid: 103.838..103.843 × 36.0495..36.054; its micro-grids split it west/east at 103.8405.
    for code, (x0, x1) in (("620102005003002001", (103.838, 103.8405)), ("620102005003002002", (103.8405, 103.843))):
        r = _patch(client, f"/api/v1/grids/{ids[code]}", {"geometry": _box(x0, 36.0495, x1, 36.0520)})
        assert r.status_code == 200, r.get_json()
    r = _patch(
        client, f"/api/v1/grids/{ids['620102005003002']}", {"geometry": _box(103.838, 36.0495, 103.843, 36.0520)}
    )
    assert r.status_code == 200, r.get_json()
    assert grid_code_of("chargers", cid) is None
    r = client.post(
        "/api/v1/grids",
        data=json.dumps(
            {
                "type": "Feature",
                "geometry": _box(103.838, 36.0520, 103.843, 36.054),
                "properties": {
                    "level": "grid",
                    "code": "620102005003005",
                    "name": "张家园社区第5网格",
                    "parent_code": "620102005003",
                },
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 201, r.get_json()
    assert grid_code_of("chargers", cid) == "620102005003005"
    fc = client.get("/api/v1/chargers?grid=620102005003005").get_json()
    assert [f["id"] for f in fc["features"]] == [cid]
    assert client.delete(f"/api/v1/grids/{r.get_json()['id']}").status_code == 204
    assert grid_code_of("chargers", cid) is None


def test_redrawing_a_grid_that_would_strand_its_micro_grids_is_refused(client, auth, app, demo):
    auth.login("planner")
    ne = db.session.scalar(select(Area).where(Area.code == "620102005003002"))
    before = db.session.execute(text("SELECT ST_AsText(geom) FROM areas WHERE id = :id"), {"id": ne.id}).scalar()
    r = _patch(client, f"/api/v1/grids/{ne.id}", {"geometry": _box(103.838, 36.0495, 103.843, 36.0520)})
    assert r.status_code == 422 and "outside" in r.get_json()["error"]["message"]
    assert (
        db.session.execute(text("SELECT ST_AsText(geom) FROM areas WHERE id = :id"), {"id": ne.id}).scalar() == before
    )


def test_regrid_reaches_tables_of_other_features(app, demo):
    """Incidents carry the assign_grid trigger too, so redrawing a grid reassigns them as well."""
    cat = db.session.execute(
        text(
            "INSERT INTO incident_categories (code, name, deadlines, attributes, active)"
            " VALUES ('test-regrid', '测试', '{}', '{}', true) RETURNING id"
        )
    ).scalar()
    iid = db.session.execute(
        text(
            "INSERT INTO incidents (category_id, source, state, description, geom)"
            " VALUES (:c, 'web', 'reported', '测试', ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
        ),
        {"c": cat, "x": FAR_POINT[0], "y": FAR_POINT[1]},
    ).scalar()
    assert grid_code_of("incidents", iid) is None
    db.session.execute(
        text(
            "INSERT INTO areas (level, code, name, geom) VALUES ('grid', '620103099001001', '新网格',"
            " ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint(:x, :y), 4326), 0.001)))"
        ),
        {"x": FAR_POINT[0], "y": FAR_POINT[1]},
    )
    assert grid_code_of("incidents", iid) == "620103099001001"


def test_households_follow_their_building_when_its_grid_is_redrawn(app, demo):
    """Households take their building's grid (a trigger of that feature); a regrid carries them along."""
    bid = db.session.execute(
        text(
            "INSERT INTO buildings (name, geom) VALUES ('远郊楼', ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint(:x, :y),"
            " 4326), 0.0001))) RETURNING id"
        ),
        {"x": FAR_POINT[0], "y": FAR_POINT[1]},
    ).scalar()
    hid = db.session.execute(
        text("INSERT INTO households (building_id, flat_no, head_name) VALUES (:b, '101', '测试户') RETURNING id"),
        {"b": bid},
    ).scalar()
    assert grid_code_of("households", hid) is None
    db.session.execute(
        text(
            "INSERT INTO areas (level, code, name, geom) VALUES ('grid', '620103099001001', '新网格',"
            " ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint(:x, :y), 4326), 0.001)))"
        ),
        {"x": FAR_POINT[0], "y": FAR_POINT[1]},
    )
    assert grid_code_of("buildings", bid) == grid_code_of("households", hid) == "620103099001001"


def test_regrid_puts_an_edge_point_in_the_lowest_grid_and_a_typed_grid_still_never_sticks(app, demo):
    """wuwei_regrid_table (migration 0022): the rule of wuwei_grid_of as one join; only inside its own
    UPDATE is grid_id taken as written."""
    x, y = FAR_POINT
    cid = db.session.execute(
        text(
            "INSERT INTO chargers (name, status, ports, geom)"
            " VALUES ('边界充电桩', 'planned', 2, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
        ),
        {"x": x, "y": y},
    ).scalar()
    grids = []
    for code, x0, x1 in (("620103099001002", x, x + 0.002), ("620103099001001", x - 0.002, x)):  # edge at x
        grids.append(
            db.session.execute(
                text(
                    "INSERT INTO areas (level, code, name, geom) VALUES ('grid', :code, '边界网格',"
                    " ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))) RETURNING id"
                ),
                {"code": code, "x0": x0, "y0": y - 0.001, "x1": x1, "y1": y + 0.001},
            ).scalar()
        )

    def row():
        return tuple(
            db.session.execute(
                text("SELECT grid_id, wuwei_grid_of(geom) FROM chargers WHERE id = :i"), {"i": cid}
            ).one()
        )

    assert row() == (min(grids), min(grids))
    # Typed by hand (after a regrid ran in this transaction): recomputed by the trigger.
    db.session.execute(text("UPDATE chargers SET grid_id = :g WHERE id = :i"), {"g": max(grids), "i": cid})
    assert row()[0] == min(grids)
    assert db.session.execute(text("SELECT current_setting('wuwei.regrid', true)")).scalar() == "off"
    # Nothing left to change: the regrid writes no row.
    region = "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
    n = db.session.execute(
        text(f"SELECT wuwei_regrid_table('chargers', {region})"),
        {"x0": x - 0.01, "y0": y - 0.01, "x1": x + 0.01, "y1": y + 0.01},
    ).scalar()
    assert n == 0
    # Both grids gone: the point is in no grid.
    db.session.execute(text("DELETE FROM areas WHERE id = ANY(:ids)"), {"ids": grids})
    assert row() == (None, None)
