"""The distribution column: every row of a table that would shard carries the code of its street.

docs/scaling.md plans to distribute ``incidents`` and ``positions`` by street (Citus). Migration 0023
added ``street_code`` and ``wuwei_street_of(geom)`` (the street of the point's grid, else the street
polygon holding it, else the nearest street). Here: INSERTs made through the ORM name the column, its
value asked from PostgreSQL just before, so that a distributed table could route the row
(tests/test_distribution.py checks every statement the application sends).
"""

from geoalchemy2 import Geometry
from sqlalchemy import event, func, select, text, type_coerce
from sqlalchemy.sql.elements import ClauseElement

from app.core.extensions import db
from app.core.sql import like_escape


def streets_under(area_code: str) -> list[str]:
    """The street codes of the rows of an area (by code): its own street for a street or anything inside
    one; the streets whose codes start with it for a district or the city ("" for every street)."""
    if len(area_code) >= 9:
        return [area_code[:9]]
    rows = db.session.execute(
        text("SELECT code FROM areas WHERE level = 'street' AND code LIKE :p ESCAPE '\\' ORDER BY code"),
        {"p": like_escape(area_code) + "%"},
    )
    return [code for (code,) in rows]


def street_of(geom):
    """SQL: the street code of ``geom`` (a column, a SQL expression or a WKB/WKT element)."""
    if not isinstance(geom, ClauseElement):
        geom = type_coerce(geom, Geometry(srid=4326))
    return func.wuwei_street_of(geom)


def _on_insert(mapper, connection, target) -> None:
    # Asked first, on the flush's own connection, so that the INSERT carries the value itself (a distributed
    # table routes a row by a value it can read, and the ORM knows the row by it: no fetching back).
    if target.street_code is None and target.geom is not None:
        target.street_code = connection.scalar(select(street_of(target.geom)))


def carries_street(model) -> None:
    """Make every ORM INSERT of ``model`` (with ``geom`` and ``street_code``) name its street code."""
    event.listen(model, "before_insert", _on_insert)
