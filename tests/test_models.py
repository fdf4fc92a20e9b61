"""Model constraints hold in the database itself, whatever program writes the row."""

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DataError, IntegrityError, InternalError

from app.areas.models import CODE_LENGTH, LEVELS
from app.core.extensions import db

SQUARE = "MULTIPOLYGON(((103.835 36.046,103.836 36.046,103.836 36.047,103.835 36.047,103.835 36.046)))"
BOWTIE = "MULTIPOLYGON(((103.835 36.046,103.836 36.047,103.836 36.046,103.835 36.047,103.835 36.046)))"
POINT = "POINT(103.8386 36.0496)"


def refused(sql: str, **params) -> str:
    """Run ``sql`` in a savepoint; it must fail. Returns the database's message."""
    with pytest.raises((IntegrityError, DataError, InternalError)) as info, db.session.begin_nested():
        db.session.execute(text(sql), params)
    return str(info.value.orig)


def accepted(sql: str, **params) -> None:
    with db.session.begin_nested():
        db.session.execute(text(sql), params)


AREA = "INSERT INTO areas (level, code, name, geom) VALUES (:level, :code, 'x', ST_GeomFromText(:wkt, 4326))"


@pytest.mark.parametrize(
    "level, code, constraint",
    [
        ("province", "6".ljust(18, "0"), "ck_areas_level"),
        ("district", "6201999", "ck_areas_code_length"),
        ("grid", "620103002001", "ck_areas_code_length"),
        ("micro_grid", "620103002001001", "ck_areas_code_length"),
        ("district", "62019A", "ck_areas_code_digits"),
        ("district", "６２０１９９", "ck_areas_code_digits"),
    ],
)
def test_area_level_and_code_are_checked_by_the_database(app, level, code, constraint):
    assert constraint in refused(AREA, level=level, code=code, wkt=SQUARE)


def test_every_level_accepts_its_own_code_length(app):
    for level in LEVELS:
        accepted(AREA, level=level, code="9" * CODE_LENGTH[level], wkt=SQUARE)


def test_area_codes_are_unique(app, demo):
    assert "areas_code_key" in refused(AREA, level="community", code="620103002001", wkt=SQUARE)


@pytest.mark.parametrize(
    "table, extra_cols, extra_vals",
    [
        ("areas", "level, code, name", "'district', '620199', 'x'"),
        ("compounds", "name", "'x'"),
        ("buildings", "name", "'x'"),
        ("bike_zones", "capacity, kind, status", "1, 'mixed', 'planned'"),
    ],
)
def test_invalid_polygons_are_refused(app, table, extra_cols, extra_vals):
    message = refused(
        f"INSERT INTO {table} ({extra_cols}, geom) VALUES ({extra_vals}, ST_GeomFromText(:wkt, 4326))", wkt=BOWTIE
    )
    assert f"ck_{table}_geom_valid" in message


@pytest.mark.parametrize(
    "table, wkt, srid, fragment",
    [
        ("buildings", POINT, 4326, "Geometry type (Point) does not match column type (MultiPolygon)"),
        ("chargers", SQUARE, 4326, "does not match column type (Point)"),
        ("buildings", SQUARE, 3857, "SRID"),
    ],
)
def test_geometry_type_and_srid_are_fixed_per_column(app, table, wkt, srid, fragment):
    cols, vals = ("ports, status", "1, 'planned'") if table == "chargers" else ("name", "'x'")
    message = refused(
        f"INSERT INTO {table} ({cols}, geom) VALUES ({vals}, ST_GeomFromText(:wkt, :srid))", wkt=wkt, srid=srid
    )
    assert fragment in message


@pytest.mark.parametrize(
    "column, value, constraint",
    [
        ("households", -1, "ck_buildings_households"),
        ("floors", 0, "ck_buildings_floors"),
        ("floors", 201, "ck_buildings_floors"),
        ("ebikes", -3, "ck_buildings_ebikes"),
    ],
)
def test_building_counts_are_checked(app, column, value, constraint):
    message = refused(
        f"INSERT INTO buildings (name, {column}, geom) VALUES ('x', :v, ST_GeomFromText(:wkt, 4326))",
        v=value,
        wkt=SQUARE,
    )
    assert constraint in message


@pytest.mark.parametrize(
    "ports, status, power, constraint",
    [
        (10, "broken", None, "ck_chargers_status"),
        (0, "planned", None, "ck_chargers_ports"),
        (201, "planned", None, "ck_chargers_ports"),
        (10, "planned", 0, "ck_chargers_power"),
        (10, "planned", -1, "ck_chargers_power"),
    ],
)
def test_charger_status_ports_and_power_are_checked(app, ports, status, power, constraint):
    message = refused(
        "INSERT INTO chargers (ports, status, power_kw, geom)"
        " VALUES (:ports, :status, :power, ST_GeomFromText(:wkt, 4326))",
        ports=ports,
        status=status,
        power=power,
        wkt=POINT,
    )
    assert constraint in message


@pytest.mark.parametrize(
    "capacity, kind, status, constraint",
    [
        (-1, "mixed", "active", "ck_bike_zones_capacity"),
        (5, "cars", "active", "ck_bike_zones_kind"),
        (5, "mixed", "demolished", "ck_bike_zones_status"),
    ],
)
def test_bike_zone_kind_status_and_capacity_are_checked(app, capacity, kind, status, constraint):
    message = refused(
        "INSERT INTO bike_zones (capacity, kind, status, geom) VALUES (:c, :k, :s, ST_GeomFromText(:wkt, 4326))",
        c=capacity,
        k=kind,
        s=status,
        wkt=SQUARE,
    )
    assert constraint in message


def test_alliance_standing_and_user_role_are_checked(app, demo):
    assert "ck_property_companies_standing" in refused(
        "INSERT INTO property_companies (name, alliance_standing) VALUES ('新物业', 'gold')"
    )
    assert "ck_users_role" in refused(
        "INSERT INTO users (username, display_name, password_hash, role, active)"
        " VALUES ('root', 'root', 'x', 'superuser', true)"
    )
    assert "users_username_key" in refused(
        "INSERT INTO users (username, display_name, password_hash, role, active)"
        " VALUES ('planner', 'dup', 'x', 'planner', true)"
    )


def test_required_columns_are_not_null(app):
    assert "null value" in refused("INSERT INTO chargers (ports, status) VALUES (1, 'planned')")
    assert "null value" in refused(
        "INSERT INTO areas (level, code, geom) VALUES ('district', '620199', ST_GeomFromText(:wkt, 4326))", wkt=SQUARE
    )


def test_deleting_a_parent_area_with_children_is_refused(app, demo):
    assert "foreign key" in refused("DELETE FROM areas WHERE code = '620103002001'")


def test_spatial_columns_have_gist_indexes(app):
    insp = inspect(db.session.connection())
    for table in ("areas", "compounds", "buildings", "chargers", "bike_zones"):
        indexes = (
            db.session.execute(text("SELECT indexdef FROM pg_indexes WHERE tablename = :t"), {"t": table})
            .scalars()
            .all()
        )
        assert any("USING gist (geom)" in d for d in indexes), table
        assert insp.has_table(table)
