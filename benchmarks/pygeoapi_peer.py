"""pygeoapi as a peer of the OGC benchmark: installed into its own venv under ``var/bench/`` at bench
time (never committed), configured to serve the bench database's ``buildings`` through its
PostgreSQL provider, run by gunicorn like Wuwei.

pygeoapi 0.22 and later need Python 3.12: a pyenv 3.12 is used when there is one
(``/root/.pyenv/versions/3.12*``, or ``WUWEI_PYGEOAPI_PYTHON``), else Debian's ``python3`` with
pygeoapi 0.21. Nothing is installed when the venv already has the wanted version.
"""
import glob
import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from benchmarks.common import ROOT

HOME = ROOT / "var" / "bench" / "pygeoapi"
PROPERTIES = ["name", "address", "floors", "compound_id"]


def _python() -> tuple[str, str]:
    """(interpreter, pygeoapi version) for the peer's venv."""
    chosen = os.environ.get("WUWEI_PYGEOAPI_PYTHON")
    if not chosen:
        found = sorted(glob.glob("/root/.pyenv/versions/3.1[2-9]*/bin/python")) + \
            sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python")))
        chosen = found[0] if found else shutil.which("python3")
    out = subprocess.run([chosen, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return chosen, "0.24.0" if out == "True" else "0.21.0"


def ensure_venv() -> tuple[Path, str]:
    """The peer venv's bin directory and the pygeoapi version in it (installed when missing)."""
    python, version = _python()
    venv = HOME / "venv"
    bin_ = venv / "bin"
    have = subprocess.run([str(bin_ / "python"), "-c", "import pygeoapi; print(pygeoapi.__version__)"],
                          capture_output=True, text=True, check=False).stdout.strip() if bin_.exists() else ""
    if have != version:
        HOME.mkdir(parents=True, exist_ok=True)
        subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(bin_ / "pip"), "install", "-q", f"pygeoapi=={version}", "geoalchemy2",
                        "psycopg2-binary", "gunicorn"], check=True)
    return bin_, version


def write_config(db_url: str, port: int) -> tuple[Path, Path]:
    """pygeoapi's configuration and its generated OpenAPI document for ``buildings`` in ``db_url``."""
    url = make_url(db_url)
    config = HOME / "config.yml"
    config.write_text(f"""server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 100, max_items: 10000}}
  map: {{url: 'https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png', attribution: OSM}}
logging: {{level: ERROR}}
metadata:
  identification: {{title: bench, description: bench, keywords: [bench], keywords_type: theme,
                    terms_of_service: none, url: 'http://example.org'}}
  license: {{name: CC-BY 4.0, url: 'https://creativecommons.org/licenses/by/4.0/'}}
  provider: {{name: bench, url: 'http://example.org'}}
  contact: {{name: bench, position: bench, address: x, city: x, stateorprovince: x, postalcode: x, country: x,
            phone: x, fax: x, email: bench@example.org, url: 'http://example.org', hours: x, instructions: x,
            role: pointOfContact}}
resources:
  buildings:
    type: collection
    title: buildings
    description: buildings
    keywords: [buildings]
    extents:
      spatial: {{bbox: [103.5, 35.8, 104.2, 36.3], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: {url.host}, port: {url.port or 5432}, dbname: {url.database}, user: {url.username or 'postgres'},
                password: '{url.password or ''}'}}
        id_field: id
        table: buildings
        geom_field: geom
        properties: [{', '.join(PROPERTIES)}]
""")
    openapi = HOME / "openapi.yml"
    bin_, _ = ensure_venv()
    subprocess.run([str(bin_ / "pygeoapi"), "openapi", "generate", str(config), "--output-file", str(openapi)],
                   check=True, capture_output=True, env={**os.environ, "PYGEOAPI_CONFIG": str(config)})
    return config, openapi


def server_args(db_url: str, port: int) -> tuple[list[str], dict]:
    """(gunicorn command, environment) serving pygeoapi on ``port``: 2 workers × 2 threads, as Wuwei."""
    bin_, _ = ensure_venv()
    config, openapi = write_config(db_url, port)
    cmd = [str(bin_ / "gunicorn"), "--workers", "2", "--threads", "2", "--worker-class", "gthread",
           "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "pygeoapi.flask_app:APP"]
    return cmd, {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
