"""Unmodified third-party clients against a live server: GDAL (ogr2ogr and pyogrio's GDAL), OWSLib
and schemathesis.

Debian's GDAL 3.6 (the CLI) does not know Part 2: it pages with our cursors and reprojects itself;
pyogrio's bundled GDAL (3.12) asks the server for ``crs=``. Both send what they can of a ``-where``
to the server as property filters and evaluate the rest themselves.
"""
import os
import shutil
import subprocess
import sys
import threading

import pytest
from conftest import database_url, make_test_app

PROXIES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY")


@pytest.fixture(scope="module")
def live(app):
    """A threaded server on the committed demo data of the test database, and an admin bearer token."""
    from werkzeug.serving import make_server

    from app.auth.models import ApiToken
    from app.auth.services import create_token
    from app.core.extensions import db
    live_app = make_test_app(database_url("test"))
    with live_app.app_context():
        row, token = create_token("planner", "ogc-clients-test")
        token_id = row.id
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", token
    server.shutdown()
    with live_app.app_context():
        db.session.execute(db.delete(ApiToken).where(ApiToken.id == token_id))
        db.session.commit()
        db.engine.dispose()


def _count(sql: str) -> int:
    import sqlalchemy
    engine = sqlalchemy.create_engine(database_url("test"))
    with engine.connect() as conn:
        n = conn.execute(sqlalchemy.text(sql)).scalar()
    engine.dispose()
    return n


def _env(token: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PROXIES}
    return {**env, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}", "GDAL_HTTP_TIMEOUT": "30"}


@pytest.mark.no_transaction
@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin (ogr2ogr) is not installed")
def test_ogr2ogr_copies_a_filtered_collection_to_the_end_in_another_crs(live, tmp_path):
    base, token = live
    out = tmp_path / "chargers.gpkg"
    p = subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{base}/ogcapi", "chargers",
                        "-where", "status = 'installed' AND ports >= 2", "-t_srs", "EPSG:4544",
                        "-oo", "PAGE_SIZE=4"], env=_env(token), capture_output=True, text=True, timeout=300,
                       check=False)
    assert p.returncode == 0, p.stderr
    info = subprocess.run(["ogrinfo", "-ro", "-so", str(out), "chargers"], capture_output=True, text=True,
                          timeout=60, check=False).stdout
    expected = _count("SELECT count(*) FROM chargers WHERE status = 'installed' AND ports >= 2")
    assert f"Feature Count: {expected}" in info and "4544" in info


_PYOGRIO = """
import sys, pyogrio
pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": sys.argv[2]})
df = pyogrio.read_dataframe("OAPIF:" + sys.argv[1] + "/ogcapi", layer="buildings", where="floors >= 3",
                            CRS="EPSG:4544", PAGE_SIZE=7)
x, y = df.geometry.iloc[0].representative_point().coords[0]
print(len(df), df.crs.to_epsg(), x, y, "charging_note" in df.columns)
"""


@pytest.mark.no_transaction
def test_pyogrio_reads_to_the_end_with_a_filter_and_a_crs(live):
    """pyogrio's own GDAL (3.12 here) sends crs= (Part 2); run apart, as GDAL holds the GIL the live
    server in this process would need."""
    base, token = live
    p = subprocess.run([sys.executable, "-c", _PYOGRIO, base, token], capture_output=True, text=True,
                       timeout=300, check=False, env={k: v for k, v in os.environ.items() if k not in PROXIES})
    assert p.returncode == 0, p.stderr[-3000:]
    n, epsg, x, y, leaked = p.stdout.split()
    assert int(n) == _count("SELECT count(*) FROM buildings WHERE floors >= 3") > 7
    assert epsg == "4544" and leaked == "False"
    assert 3e5 < float(x) < 5e5 and 3.9e6 < float(y) < 4.1e6          # easting, northing in the Lanzhou zone


@pytest.mark.no_transaction
def test_owslib_lists_queryables_and_filters(live):
    from owslib.ogcapi.features import Features
    base, token = live
    w = Features(f"{base}/ogcapi/", headers={"Authorization": f"Bearer {token}"})
    queryables = w.collection_queryables("chargers")
    assert {"status", "ports", "geometry"} <= set(queryables["properties"])
    fc = w.collection_items("chargers", filter="status = 'installed' AND ports >= 2", limit=1000)
    assert fc["numberMatched"] == _count("SELECT count(*) FROM chargers WHERE status = 'installed' AND ports >= 2")
    sorted_fc = w.collection_items("chargers", sortby="-ports", limit=5)
    ports = [f["properties"]["ports"] for f in sorted_fc["features"]]
    assert ports == sorted(ports, reverse=True)


@pytest.mark.no_transaction
def test_schemathesis_finds_no_server_error_nor_schema_violation(live, tmp_path):
    base, token = live
    st = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    if not os.path.exists(st):
        pytest.skip("schemathesis is not installed")
    p = subprocess.run([st, "run", f"{base}/ogcapi/api", "-H", f"Authorization: Bearer {token}",
                        "-c", "not_a_server_error,response_schema_conformance", "-n", "8",
                        "--phases", "examples,coverage,fuzzing", "--seed", "7", "--generation-deterministic"],
                       env={k: v for k, v in os.environ.items() if k not in PROXIES}, cwd=tmp_path,
                       capture_output=True, text=True, timeout=900, check=False)
    assert p.returncode == 0, p.stdout[-4000:]
    assert "passed" in p.stdout
