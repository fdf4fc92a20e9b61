"""A table (or the rows of a query) to a Parquet file, streamed: GeoParquet 1.0 when it has geometries.

Rows are read with a server-side cursor in chunks and written as row groups, so a month of GPS
positions (10 million rows) never sits in memory whole. Geometry columns leave PostGIS as WKB
(``ST_AsBinary``) and the file carries the GeoParquet ``geo`` metadata (encoding, types, CRS as
PROJJSON), so ``geopandas.read_parquet`` gives them back as geometries with their CRS. Time stamps keep
their instant (UTC in the file), JSON columns become text.
"""

import datetime as dt
import decimal
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from psycopg2 import sql
from pyproj import CRS

CHUNK = 100_000
ARROW = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us"),
    "geometry": pa.binary(),
    "bytea": pa.binary(),
}

GEOMETRY_TYPES = {
    n.upper(): n
    for n in ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection")
}


@dataclass
class Column:
    name: str
    pg_type: str
    srid: int | None = None
    geometry_type: str | None = None

    @property
    def arrow(self) -> pa.DataType:
        return ARROW.get(self.pg_type, pa.string())


def columns_of(cur, table: str) -> list[Column]:
    """The columns of ``table`` (a name in the search path), geometries with their SRID and type."""
    cur.execute(
        """
        SELECT a.attname, t.typname, gc.srid, gc.type
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN geometry_columns gc ON gc.f_table_name = %s AND gc.f_geometry_column = a.attname
             AND gc.f_table_schema = current_schema()
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
        (table, table),
    )
    return [Column(name, typ, srid, gtype) for name, typ, srid, gtype in cur.fetchall()]


def _geo_metadata(geoms: list[Column]) -> bytes:
    cols = {}
    for c in geoms:
        kind = GEOMETRY_TYPES.get((c.geometry_type or "").upper())
        entry = {"encoding": "WKB", "geometry_types": [kind] if kind else []}
        if c.srid:
            entry["crs"] = CRS.from_epsg(c.srid).to_json_dict()
        cols[c.name] = entry
    return json.dumps({"version": "1.0.0", "primary_column": geoms[0].name, "columns": cols}).encode()


def _plain(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, (dt.datetime, dt.date, int, float, str, bytes, bool)) or value is None:
        return value
    return str(value)


def export_rows(conn, table: str, where: sql.Composable | None, params: tuple, path: Path) -> int:
    """Write the rows of ``table`` (matching ``where``) to ``path`` (via ``path.part``); the row count.

    Runs in ``conn``'s current transaction (the caller decides its isolation and what follows)."""
    with conn.cursor() as cur:
        cols = columns_of(cur, table)
    geoms = [c for c in cols if c.pg_type == "geometry"]
    select = sql.SQL(", ").join(
        sql.SQL("ST_AsBinary({0}) AS {0}").format(sql.Identifier(c.name))
        if c.pg_type == "geometry"
        else sql.Identifier(c.name)
        for c in cols
    )
    query = sql.SQL("SELECT {} FROM {}").format(select, sql.Identifier(table))
    if where is not None:
        query = query + sql.SQL(" WHERE ") + where
    schema = pa.schema(
        [pa.field(c.name, c.arrow) for c in cols], metadata={b"geo": _geo_metadata(geoms)} if geoms else None
    )
    part = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        with (
            conn.cursor(name=f"wuwei_archive_{abs(hash(path)) % 10**9}") as cur,
            pq.ParquetWriter(part, schema, compression="zstd") as writer,
        ):
            cur.itersize = CHUNK
            cur.execute(query, params)
            while True:
                rows = cur.fetchmany(CHUNK)
                if not rows:
                    break
                arrays = [pa.array([_plain(r[i]) for r in rows], type=c.arrow) for i, c in enumerate(cols)]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                total += len(rows)
        if pq.read_metadata(part).num_rows != total:
            raise OSError(f"{part}: the file holds another number of rows than were read")
        part.rename(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return total
