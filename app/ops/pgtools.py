"""PostgreSQL's own programs (pg_dump, pg_restore) and libpq connections for the database URL."""

import os
import re
import shutil
import subprocess  # nosec B404 (PostgreSQL's own tools, with argument lists, no shell)
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url


class OpsError(Exception):
    """A backup, restore or retention step that cannot go on; the message says what to do."""


def pg_program(name: str) -> str:
    """``WUWEI_PG_BIN/name``, else the newest ``/usr/lib/postgresql/*/bin/name``, else ``name`` on PATH."""
    candidates = []
    if os.environ.get("WUWEI_PG_BIN"):
        candidates.append(Path(os.environ["WUWEI_PG_BIN"]) / name)
    candidates += sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)] or [0],
    )[::-1]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which(name)
    if not found:
        raise OpsError(
            f"{name} not found: install postgresql-client (the server's major version or newer) "
            "or set WUWEI_PG_BIN to its bin directory"
        )
    return found


def libpq(url: str) -> tuple[list[str], dict]:
    """Connection options for a PostgreSQL program (``-h -p -U -d``) and its environment (the password
    goes in ``PGPASSWORD``, never on the command line, where ``ps`` would show it)."""
    u = make_url(url)
    args = ["-d", u.database or "postgres"]
    if u.host:
        args += ["-h", u.host]
    if u.port:
        args += ["-p", str(u.port)]
    if u.username:
        args += ["-U", u.username]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if u.password:
        env["PGPASSWORD"] = u.password
    for key, value in u.query.items():  # sslmode=… and the like
        if key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
            env["PG" + key.upper()] = value if isinstance(value, str) else value[0]
    return args, env


def connect(url: str):
    """A psycopg2 connection (autocommit off) to ``url`` (a SQLAlchemy or libpq URL)."""
    u = make_url(url)
    return psycopg2.connect(
        dbname=u.database,
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        options="-c timezone=Asia/Shanghai",
        application_name="wuwei-ops",
        **{k: v for k, v in u.query.items() if isinstance(v, str)},
    )


def version_of(program: str) -> str:
    return subprocess.run([program, "--version"], capture_output=True, text=True, check=True).stdout.strip()  # nosec B603 (argument list)


def run(cmd: list[str], env: dict, what: str) -> None:
    """Run a PostgreSQL program; its own message in the error when it fails."""
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # nosec B603 (argument list built by the code)
    if r.returncode != 0:
        raise OpsError(f"{what} failed ({Path(cmd[0]).name} exit {r.returncode}): {r.stderr.strip()[-2000:]}")
