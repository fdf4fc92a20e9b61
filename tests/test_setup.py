"""The set-up itself, run as a new user runs it (issue 12): scripts/db.sh and `make stop` in a fresh
`git clone` inside a private (0700) temporary directory whose path has a space and Chinese
characters, on a port of its own, with this run's virtualenv (VENV) and no DATABASE_URL.

The clone gets this working tree's Makefile and scripts/, so what is tested is the set-up about to
be committed. Every cluster made here is stopped and deleted, and the directory removed, also when
a test fails. About half a minute; `make test` runs it.
"""

import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0
PGBINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PGBINS, reason="no PostgreSQL binaries (/usr/lib/postgresql/*/bin)"),
    pytest.mark.skipif(
        shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a git checkout to clone"
    ),
]


@pytest.fixture(autouse=True)
def _transaction():
    """These tests need no application database: the conftest's per-test transaction is not used."""
    yield


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not Path(f"/tmp/.s.PGSQL.{port}").exists()


def _free_ports(count: int) -> list[int]:
    """Ports for the clones: WUWEI_SETUP_TEST_PGPORT and the next ones, else free ones drawn at random
    from 55460-59999 (another run of this test, e.g. a colleague's `make test`, may be choosing too)."""
    if os.environ.get("WUWEI_SETUP_TEST_PGPORT"):
        first = int(os.environ["WUWEI_SETUP_TEST_PGPORT"])
        return list(range(first, first + count))
    taken = {os.environ.get("PGPORT", "55432")}
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(55460, 59999)
        if str(port) not in taken and port not in ports and _port_free(port):
            ports.append(port)
    return ports


class Checkout:
    """A fresh clone and the commands a user types in it."""

    def __init__(self, path: Path, port: int):
        self.path, self.port = path, port

    def env(self, **extra) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PG", "WUWEI_", "MAKE")) and k not in ("DATABASE_URL", "SECRET_KEY", "MFLAGS")
        }
        env.update(PGPORT=str(self.port), VENV=sys.prefix, LC_ALL="C.UTF-8")
        env.update(extra)
        return env

    def run(self, *cmd, **extra) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(cmd), cwd=self.path, env=self.env(**extra), capture_output=True, text=True, timeout=300, check=False
        )

    def db(self, *args, **extra) -> subprocess.CompletedProcess:
        return self.run("bash", "scripts/db.sh", *args, **extra)

    def start(self) -> subprocess.CompletedProcess:
        out = self.db("start")
        assert out.returncode == 0, out.stdout + out.stderr
        return out

    def first_start(self) -> subprocess.CompletedProcess:
        """The first start, on another free port when something took this one in the meantime."""
        for _ in range(5):
            out = self.db("start")
            if out.returncode == 0 or "already listens" not in out.stderr or os.environ.get("WUWEI_SETUP_TEST_PGPORT"):
                break
            self.port = _free_ports(1)[0]
        assert out.returncode == 0, out.stdout + out.stderr
        return out

    @property
    def home(self) -> Path:
        return Path((self.path / "var" / "pg.path").read_text().strip())

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.home / "data" / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def connect(self, dbname="wuwei"):
        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, connect_timeout=5)

    def query(self, sql: str):
        conn = self.connect()
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def cleanup(self) -> None:
        """Stop and delete this clone's cluster, by the script and, should that fail, by hand."""
        pg_path = self.path / "var" / "pg.path"
        home = Path(pg_path.read_text().strip()) if pg_path.exists() else None
        self.db("destroy")
        if home is not None and (home / "data").exists():
            pg_ctl = [str(PGBINS[-1]), "-D", str(home / "data"), "-m", "immediate", "stop"]
            if IS_ROOT:
                pg_ctl = ["runuser", "-u", "postgres", "--", *pg_ctl]
            subprocess.run(pg_ctl, cwd="/", capture_output=True, timeout=60, check=False)
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def workdir():
    """A private (0700) temporary directory with a space and Chinese characters; clones made in it."""
    tmp = Path(tempfile.mkdtemp(prefix="wuwei setup 五微 "))  # mode 0700, like ~root or mktemp -d
    made: list[Checkout] = []

    def clone(name: str, port: int) -> Checkout:
        path = tmp / name
        subprocess.run(
            ["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(path)], check=True, capture_output=True, timeout=300
        )
        shutil.copy2(ROOT / "Makefile", path / "Makefile")
        shutil.copytree(ROOT / "scripts", path / "scripts", dirs_exist_ok=True)
        made.append(Checkout(path, port))
        return made[-1]

    try:
        yield clone
    finally:
        for checkout in made:
            checkout.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def _one_line_failure(out: subprocess.CompletedProcess) -> str:
    """A failed set-up: non-zero, and one line on standard error saying what failed and what to do."""
    assert out.returncode != 0, out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("db: ")
    return lines[0]


def _first_start_creates_and_migrates(checkout: Checkout) -> None:
    out = checkout.first_start()
    assert "creating a PostGIS cluster" in out.stdout
    assert f"PostGIS started on 127.0.0.1:{checkout.port}" in out.stdout
    home = checkout.home
    if IS_ROOT:
        # The clone is private: postgres cannot reach it, so the cluster lives elsewhere ...
        assert (
            subprocess.run(
                ["runuser", "-u", "postgres", "--", "test", "-x", str(checkout.path / "var")], cwd="/", check=False
            ).returncode
            != 0
        )
        assert checkout.path not in home.parents
        assert home.stat().st_uid == pwd.getpwnam("postgres").pw_uid
        assert home.stat().st_mode & 0o777 == 0o700
        # ... where postgres can reach it; the server was given that real path, not var/pg.
        assert (
            subprocess.run(
                ["runuser", "-u", "postgres", "--", "test", "-w", str(home / "data")], cwd="/", check=False
            ).returncode
            == 0
        )
    else:
        assert home == (checkout.path / "var" / "pg").resolve()
    assert checkout.query("SHOW data_directory") == [(str(home / "data"),)]
    assert checkout.query("SHOW unix_socket_directories")[0][0].strip('"') == str(home / "run")
    assert checkout.query("SELECT count(*) FROM alembic_version")[0][0] >= 1, "not migrated"
    assert checkout.query("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'") == [(1,)]
    checkout.query("CREATE TABLE setup_probe (x int); INSERT INTO setup_probe VALUES (42)")


def _second_start_reuses_the_running_cluster(checkout: Checkout) -> None:
    pid = checkout.postmaster_pid()
    out = checkout.start()
    assert "creating" not in out.stdout and "started" not in out.stdout, out.stdout
    assert f"running on 127.0.0.1:{checkout.port}" in out.stdout
    assert checkout.postmaster_pid() == pid
    assert checkout.query("SELECT x FROM setup_probe") == [(42,)]


def _make_stop_stops_it_and_a_start_reuses_the_cluster(checkout: Checkout) -> None:
    out = checkout.run("make", "-s", "stop")
    assert out.returncode == 0 and "db: stopped" in out.stdout, out.stdout + out.stderr
    with pytest.raises(psycopg2.OperationalError):
        checkout.connect()
    assert checkout.postmaster_pid() is None
    again = checkout.run("make", "-s", "stop")
    assert again.returncode == 0 and "not running" in again.stdout, again.stdout + again.stderr
    out = checkout.start()
    assert "creating" not in out.stdout and "PostGIS started" in out.stdout, out.stdout
    assert checkout.query("SELECT x FROM setup_probe") == [(42,)]


def _a_crashed_server_is_started_again(checkout: Checkout) -> None:
    pid = checkout.postmaster_pid()
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):  # gone (or a zombie nobody reaps): it no longer works in the data directory
        try:
            os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            break
        time.sleep(0.1)
    assert (checkout.home / "data" / "postmaster.pid").exists()
    out = checkout.start()
    assert "stale postmaster.pid" in out.stdout and "PostGIS started" in out.stdout, out.stdout
    assert checkout.query("SELECT x FROM setup_probe") == [(42,)]


def _a_pid_file_naming_another_live_process_is_neither_trusted_nor_signalled(checkout: Checkout) -> None:
    checkout.run("make", "-s", "stop")
    other = subprocess.Popen(["sleep", "120"])
    try:
        pidfile = checkout.home / "data" / "postmaster.pid"
        pidfile.write_text(f"{other.pid}\n{checkout.home / 'data'}\n0\n{checkout.port}\n")
        if IS_ROOT:
            pg = pwd.getpwnam("postgres")
            os.chown(pidfile, pg.pw_uid, pg.pw_gid)
        out = checkout.run("make", "-s", "stop")
        assert out.returncode == 0 and "not running" in out.stdout, out.stdout + out.stderr
        assert other.poll() is None
        out = checkout.start()
        assert "stale postmaster.pid" in out.stdout and "PostGIS started" in out.stdout, out.stdout
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def _failures_say_what_to_do_in_one_line(checkout: Checkout, spare_port: int) -> None:
    line = _one_line_failure(checkout.db("start", PGPORT=str(spare_port)))
    assert f"already runs on port {checkout.port}" in line
    checkout.run("make", "-s", "stop")
    assert "not a port number" in _one_line_failure(checkout.db("start", PGPORT="55x"))
    with socket.socket() as busy:  # a port held by another program
        busy.bind(("127.0.0.1", spare_port))
        busy.listen()
        line = _one_line_failure(checkout.db("start", PGPORT=str(spare_port)))
        assert f"another program already listens on 127.0.0.1:{spare_port}" in line and "PGPORT=" in line
    line = _one_line_failure(checkout.db("start", WUWEI_VAR=str(checkout.path / "Makefile" / "var")))
    assert line.startswith("db: cannot create")


def _a_second_checkout_beside_the_first_has_its_own_cluster(first: Checkout, second: Checkout) -> None:
    first.start()
    pid = first.postmaster_pid()
    out = second.first_start()
    assert "creating a PostGIS cluster" in out.stdout, out.stdout
    assert second.home != first.home
    assert second.query("SELECT count(*) FROM pg_tables WHERE tablename = 'setup_probe'") == [(0,)]
    assert second.run("make", "-s", "stop").returncode == 0
    assert first.postmaster_pid() == pid
    assert first.query("SELECT x FROM setup_probe") == [(42,)]


def test_setup_in_a_fresh_clone_in_a_private_directory(workdir):
    """One test, steps in order (pytest-xdist must not spread them over workers)."""
    port, second_port, spare_port = _free_ports(3)
    checkout = workdir("检出 one", port)
    _first_start_creates_and_migrates(checkout)
    _second_start_reuses_the_running_cluster(checkout)
    _make_stop_stops_it_and_a_start_reuses_the_cluster(checkout)
    _a_crashed_server_is_started_again(checkout)
    _a_pid_file_naming_another_live_process_is_neither_trusted_nor_signalled(checkout)
    _failures_say_what_to_do_in_one_line(checkout, spare_port)
    _a_second_checkout_beside_the_first_has_its_own_cluster(checkout, workdir("检出 two", second_port))
