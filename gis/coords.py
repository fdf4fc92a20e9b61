"""Coordinate systems a file may come in, turned into WGS-84 lon/lat (what Wuwei stores).

* **WGS-84** (EPSG:4326) and **CGCS2000** (EPSG:4490): taken as they are (CGCS2000 is within
  centimetres of WGS-84 — far below what a street office draws).
* **GCJ-02** (国测局, the "Mars" coordinates of 高德/Amap, 腾讯/Tencent, Apple maps in China): an offset
  of up to ~700 m by a published obfuscation formula. Converting to it is exact; back to WGS-84 is
  the inverse found by fixed-point iteration (to ~1e-7°, about a centimetre).
* **BD-09** (百度/Baidu): GCJ-02 rotated and shifted again; its inverse is closed-form to GCJ-02.
* **any EPSG code** through pyproj (a projected CGCS2000 Gauss–Krüger zone, UTM …).

Outside China GCJ-02 equals WGS-84 (the formula is not applied), as the maps that use it do.
Plain functions over numbers and shapely geometries; no Flask, no database.
"""

import math

import shapely

# Krasovsky 1940 ellipsoid, as the GCJ-02 formula uses it.
_A = 6378245.0
_EE = 0.00669342162296594323
_BD_PI = math.pi * 3000.0 / 180.0

SYSTEMS = {
    "wgs84": "WGS-84 / CGCS2000 (EPSG:4326, EPSG:4490)",
    "gcj02": "GCJ-02 (高德 Amap, 腾讯 Tencent)",
    "bd09": "BD-09 (百度 Baidu)",
}


class CoordinateSystemError(ValueError):
    """A coordinate system that cannot be used; ``str()`` says why."""


def out_of_china(lon: float, lat: float) -> bool:
    """Whether the GCJ-02 offset is not applied here (a coarse box around mainland China)."""
    return not (73.66 < lon < 135.05 and 3.86 < lat < 53.55)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _offset(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 minus WGS-84 at a WGS-84 point, in degrees."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """The WGS-84 point whose GCJ-02 image is (lon, lat), by fixed-point iteration."""
    if out_of_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(30):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        wlon, wlat = wlon - dlon, wlat - dlat
        if abs(dlon) < 1e-9 and abs(dlat) < 1e-9:
            break
    return wlon, wlat


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _BD_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _BD_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_PI)
    return z * math.cos(theta), z * math.sin(theta)


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def parse_system(name: str | None) -> str | None:
    """``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:<code>`` (also a bare code, ``cgcs2000``, ``4490``);
    None for "as the file says". :class:`CoordinateSystemError` for anything else."""
    if name is None or not str(name).strip():
        return None
    text = str(name).strip().lower().replace(" ", "")
    aliases = {
        "wgs84": "wgs84",
        "wgs-84": "wgs84",
        "cgcs2000": "wgs84",
        "epsg:4326": "wgs84",
        "4326": "wgs84",
        "epsg:4490": "wgs84",
        "4490": "wgs84",
        "gcj02": "gcj02",
        "gcj-02": "gcj02",
        "amap": "gcj02",
        "bd09": "bd09",
        "bd-09": "bd09",
        "baidu": "bd09",
    }
    if text in aliases:
        return aliases[text]
    code = text.removeprefix("epsg:")
    if code.isdigit() and 0 < int(code) < 1_000_000:
        crs = pyproj_crs(int(code))
        return f"EPSG:{crs.to_epsg() or code}"
    raise CoordinateSystemError(
        f"unknown coordinate system {name!r}: say wgs84 (also CGCS2000), gcj02, bd09 or EPSG:<code>"
    )


def pyproj_crs(code: int):
    """pyproj's CRS for an EPSG code; :class:`CoordinateSystemError` when pyproj does not know it."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_epsg(code)
    except CRSError:
        raise CoordinateSystemError(f"EPSG:{code} is not a coordinate system pyproj knows") from None


def to_wgs84(geom, system: str | None):
    """``geom`` (shapely, in ``system`` as :func:`parse_system` names it) in WGS-84 lon/lat."""
    if system is None or system == "wgs84" or geom is None:
        return geom
    if system in _TO_WGS84:
        convert = _TO_WGS84[system]

        def each(coords):
            return [convert(float(x), float(y)) for x, y in coords]

        return shapely.transform(geom, lambda xy: _array(each(xy)))
    from pyproj import Transformer

    transformer = Transformer.from_crs(system, "EPSG:4326", always_xy=True)
    return shapely.transform(geom, lambda xy: _array(list(zip(*transformer.transform(xy[:, 0], xy[:, 1])))))


def _array(pairs):
    import numpy as np

    return np.asarray(pairs, dtype=float).reshape(-1, 2)
