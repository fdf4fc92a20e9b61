#!/usr/bin/env bash
# Wuwei's own PostGIS cluster (port $PGPORT), used when DATABASE_URL is unset.
#
#   scripts/db.sh start    start the cluster (creating it on first use), then make sure the
#                          application database exists, has PostGIS and is migrated
#   scripts/db.sh stop     stop this checkout's cluster
#   scripts/db.sh status   say where the cluster is and whether it runs (exit 3 when it does not)
#   scripts/db.sh destroy  stop it and delete its data
#
# With DATABASE_URL set, `start` starts no cluster: that server is only created into and migrated.
#
# Where the cluster lives (its "home": data/, run/ for the Unix socket, server.log):
#   - $WUWEI_VAR/pg (var/pg by default), when the OS user that runs PostgreSQL (`postgres` when we
#     are root, else ourselves) can reach it, pg_ctl can quote its path and a socket fits in it;
#   - otherwise (a checkout under a private home or in a `mktemp -d` directory, ...) in
#     ~postgres/wuwei/pg-<hash of the var path> as root, ~/.local/state/wuwei/pg-<hash> otherwise.
#     var/pg is then only a link for people; no PostgreSQL command goes through it.
# The home in use is kept in var/pg.path, and the home names its var directory in its file
# `checkout`, so a copy of a checkout never takes over the cluster of the original.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd -P)
VENV=${VENV:-.venv}
VAR=${WUWEI_VAR:-var}
case $VAR in /*) ;; *) VAR="$ROOT/$VAR" ;; esac
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)

STEP="starting"
die() { echo "db: $*" >&2; exit 1; }
# Anything not foreseen below still ends with one line saying what was being done.
trap 'rc=$?; echo "db: failed while $STEP (exit status $rc); fix the cause shown above and run the command again" >&2; exit $rc' ERR

if [ "$(id -u)" -eq 0 ]; then PGOS=postgres; else PGOS=$(id -un); fi

# Runs a command as the OS user of the cluster, from /, without our lock descriptor (a server
# started from here must not keep the lock held).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && exec runuser -u postgres -- "$@") 9>&-
  else
    (cd / && exec "$@") 9>&-
  fi
}
pg_can() { as_pg test "$@" 2>/dev/null; }

# pg_ctl hands the data directory and log path to /bin/sh in double quotes, and a Unix socket
# path has at most 107 bytes: a home must pass both.
usable_path() {
  case $1 in *[\"\$\`\\]* | *$'\n'*) return 1 ;; esac
  [ "$(printf '%s/run/.s.PGSQL.65535' "$1" | LC_ALL=C wc -c)" -le 107 ]
}

alt_home() {
  local hash base
  hash=$(printf '%s' "$VAR" | sha256sum | cut -c1-16)
  if [ "$(id -u)" -eq 0 ]; then
    base="$(getent passwd postgres | cut -d: -f6)/wuwei"
  else
    base="${XDG_STATE_HOME:-$HOME/.local/state}/wuwei"
  fi
  printf '%s/pg-%s' "$base" "$hash"
}

# HOME_DIR: the real path of this var directory's existing cluster, or "" when there is none.
find_home() {
  HOME_DIR=""
  local h="" owner
  if [ -d "$VAR/pg" ] && [ ! -L "$VAR/pg" ] && [ -f "$VAR/pg/data/PG_VERSION" ]; then
    h="$VAR/pg"
  else
    local c seen=""
    for c in "$(head -n1 "$VAR/pg.path" 2>/dev/null || true)" "$(readlink "$VAR/pg" 2>/dev/null || true)"; do
      [ -n "$c" ] && [ "$c" != "$seen" ] && [ -f "$c/data/PG_VERSION" ] || continue
      seen=$c
      owner=$(head -n1 "$c/checkout" 2>/dev/null || true)
      if [ "$owner" != "$VAR" ] && [ -n "$owner" ] && [ -e "$owner" ]; then
        echo "db: $VAR/pg.path names the cluster of $owner (this checkout is a copy of it); not using it" >&2
        continue
      fi
      h=$c
      [ "$owner" = "$VAR" ] || printf '%s\n' "$VAR" | as_pg tee "$c/checkout" >/dev/null  # moved checkout
      break
    done
  fi
  [ -n "$h" ] || return 0
  HOME_DIR=$(realpath -e -- "$h")
  DATA="$HOME_DIR/data"
  local who
  who=$(stat -c %U -- "$DATA")
  [ "$who" = "$PGOS" ] || die "the cluster in $DATA belongs to the OS user $who, not to $PGOS who runs PostgreSQL here; run make as $who (or as root when it is postgres), or remove that cluster"
  pg_can -w "$DATA" || die "the $PGOS user cannot reach the cluster in $DATA (a parent directory is private); make the parent directories traversable (chmod o+x) or move the checkout, then run again"
}

# A home for a new cluster (sets HOME_DIR and DATA); var/pg itself when the cluster user can use it.
make_home() {
  local h="$VAR/pg" err
  STEP="preparing the cluster directory"
  if [ -L "$h" ]; then rm -f -- "$h"; fi  # a link to a cluster that is gone
  if usable_path "$h" && pg_can -x "$VAR"; then
    # var/pg may be left without data by an older run that failed: it is used as it is
    if [ ! -d "$h" ]; then
      err=$(mkdir -m 700 -- "$h" 2>&1) || die "cannot create $h ($err); check the permissions of $VAR"
    fi
    [ "$(id -u)" -ne 0 ] || chown postgres: -- "$h"
    if pg_can -w "$h" && [ ! -e "$h/data" ]; then
      HOME_DIR=$(realpath -e -- "$h"); DATA="$HOME_DIR/data"; return 0
    fi
    [ -e "$h/data" ] && die "$h/data exists but holds no cluster (no PG_VERSION); move it away or delete it, then run again"
  fi
  rmdir -- "$h" 2>/dev/null || true  # empty: the link below takes its place
  h=$(alt_home)
  usable_path "$h" || die "no usable place for the cluster: $VAR is not reachable by the $PGOS user and $h is too long or has characters pg_ctl cannot quote; set WUWEI_VAR to a shorter path"
  if [ -L "$h" ] || { [ -e "$h" ] && [ "$(stat -c %U -- "$h")" != "$PGOS" ]; }; then
    die "$h exists but is not a directory of the $PGOS user; remove it and run again"
  fi
  err=$(as_pg mkdir -p -m 700 -- "$h" 2>&1) ||
    die "cannot create $h as the $PGOS user ($err); give that user its home directory back (chown), or make the checkout's directories traversable (chmod o+x) so the cluster can stay in var/pg"
  printf '%s\n' "$VAR" | as_pg tee "$h/checkout" >/dev/null
  echo "db: $VAR is not usable by the $PGOS user (private directory, or a path too long or unquotable); the cluster lives in $h"
  if [ ! -e "$VAR/pg" ]; then ln -s -- "$h" "$VAR/pg"; fi  # for people only
  HOME_DIR=$(realpath -e -- "$h"); DATA="$HOME_DIR/data"
}

conf_path() {  # a directory as a postgresql.conf list element: '"…"', quotes doubled
  local s=${1//\"/\"\"}
  s=${s//\'/\'\'}
  printf "'\"%s\"'" "$s"
}

create_cluster() {
  STEP="creating the cluster in $DATA"
  echo "db: creating a PostGIS cluster in $HOME_DIR"
  if ! as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$HOME_DIR/initdb.log" 2>&1; then
    tail -n 5 "$HOME_DIR/initdb.log" >&2
    die "initdb failed for $DATA (output above, all of it in $HOME_DIR/initdb.log); fix the cause and run again"
  fi
  as_pg mkdir -p -m 700 -- "$HOME_DIR/run"
  cat >>"$DATA/postgresql.conf" <<CONF
# Wuwei (scripts/db.sh); the port is given on the command line (PGPORT)
listen_addresses = '127.0.0.1'
unix_socket_directories = $(conf_path "$HOME_DIR/run")
timezone = 'Asia/Shanghai'
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
fsync = on
max_connections = 200
log_min_duration_statement = 250ms
max_slot_wal_keep_size = 4GB
CONF
}

# PID of this cluster's postmaster when it runs (the PID file may name a process that is gone,
# or a PID since reused by another program: only a process working in our data directory counts).
running_pid() {
  local pid
  pid=$(head -n1 "$DATA/postmaster.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null || true)" = "$DATA" ] || return 1
  echo "$pid"
}
running_port() { sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true; }
data_users() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/cwd" 2>/dev/null || true)" != "$DATA" ] || echo -n "${p#/proc/} "
  done
}

# A server that crashed (or a machine that stopped) leaves postmaster.pid behind.
clear_stale() {
  local users old i
  users=$(data_users)
  for ((i = 0; i < 15 && ${#users} > 0; i++)); do  # children of a killed server exit on their own
    sleep 1; users=$(data_users)
  done
  [ -z "$users" ] || die "processes ${users% } still work in $DATA although its server is gone (left over from a crash); stop them (kill ${users% }) and run again"
  if [ -f "$DATA/postmaster.pid" ]; then
    old=$(head -n1 "$DATA/postmaster.pid" 2>/dev/null || true)
    as_pg rm -f -- "$DATA/postmaster.pid"
    echo "db: removed a stale postmaster.pid (PID ${old:-?} is not a server of this cluster: it crashed or was killed); no process uses the data, starting it again"
  fi
  # The socket's lock file names the same dead server (run/ belongs to this cluster alone).
  as_pg find "$HOME_DIR/run" -maxdepth 1 -name '.s.PGSQL.*' -delete 2>/dev/null || true
}

port_busy() { timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }
check_port() {
  port_busy "$PGPORT" || return 0
  local p free=""
  for ((p = PGPORT + 1; p <= 65535 && p <= PGPORT + 200; p++)); do
    port_busy "$p" || { free=$p; break; }
  done
  local what="another program"
  if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" -t 3 >/dev/null 2>&1 ||
    [ $? -eq 1 ]; then
    what="another PostgreSQL server (not this checkout's cluster)"
  fi
  die "$what already listens on 127.0.0.1:$PGPORT; choose a free port for this checkout, e.g. PGPORT=${free:-56000} make run"
}

check_port_number() {
  [[ $PGPORT =~ ^[0-9]{1,5}$ ]] && ((10#$PGPORT >= 1024 && 10#$PGPORT <= 65535)) ||
    die "PGPORT=$PGPORT is not a port number between 1024 and 65535; run e.g. PGPORT=55433 make run"
  PGPORT=$((10#$PGPORT))
  export PGPORT
}

need_pgbin() {
  [ -n "$PGBIN" ] && [ -x "$PGBIN/pg_ctl" ] ||
    die "no PostgreSQL binaries in /usr/lib/postgresql/*/bin; run make setup (scripts/bootstrap.sh installs postgresql-15) or set DATABASE_URL to a server"
  [ "$(id -u)" -ne 0 ] || id postgres >/dev/null 2>&1 ||
    die "there is no postgres OS user to run the cluster; reinstall postgresql-15 (apt-get install --reinstall postgresql-15)"
}

lock() {
  local err
  err=$(mkdir -p -- "$VAR" 2>&1) || die "cannot create $VAR ($err); check the checkout's permissions or set WUWEI_VAR to a writable directory"
  VAR=$(cd -- "$VAR" && pwd -P)
  exec 9>>"$VAR/.db.lock"
  flock -w 600 9 || die "another scripts/db.sh still holds $VAR/.db.lock after 10 minutes; wait for it or end it, then run again"
}

start_cluster() {
  check_port_number
  need_pgbin
  find_home
  if [ -z "$HOME_DIR" ]; then
    make_home
    create_cluster
  fi
  local pid port
  if pid=$(running_pid); then
    port=$(running_port)
    [ "$port" = "$PGPORT" ] || die "this checkout's cluster already runs on port $port, not PGPORT=$PGPORT; run with PGPORT=$port, or make stop first"
    echo "db: PostGIS running on 127.0.0.1:$PGPORT (cluster in $HOME_DIR)"
  else
    clear_stale
    check_port
    STEP="starting PostgreSQL"
    if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" -o "-p $PGPORT" -l "$HOME_DIR/server.log" -w -t 60 start >/dev/null 2>&1; then
      tail -n 5 "$HOME_DIR/server.log" >&2 || true
      die "PostgreSQL did not start on port $PGPORT (last lines of $HOME_DIR/server.log above); fix the cause and run again"
    fi
    echo "db: PostGIS started on 127.0.0.1:$PGPORT (cluster in $HOME_DIR)"
  fi
  printf '%s\n' "$HOME_DIR" >"$VAR/pg.path"
}

start() {
  lock
  [ -n "${DATABASE_URL:-}" ] || start_cluster
  [ -x "$VENV/bin/python" ] || die "no Python environment in $VENV; run make setup (scripts/bootstrap.sh) first"
  # shellcheck source=scripts/env.sh
  source scripts/env.sh
  STEP="creating the database"
  "$VENV/bin/python" scripts/ensure_db.py "$DATABASE_URL" || exit 1  # it says what failed
  STEP="migrating the database"
  if ! "$VENV/bin/python" -m flask --app app db upgrade head >/dev/null 2>"$VAR/migrate.log"; then
    tail -n 25 "$VAR/migrate.log" >&2
    die "migrating the database failed (output above, all of it in $VAR/migrate.log); fix the migration or the database, then run again"
  fi
}

stop() {
  lock
  find_home
  if [ -z "$HOME_DIR" ]; then echo "db: no local cluster"; return 0; fi
  local pid
  if ! pid=$(running_pid); then echo "db: not running (cluster in $HOME_DIR)"; return 0; fi
  need_pgbin
  STEP="stopping PostgreSQL"
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
    die "could not stop the server (PID $pid) of $DATA; see $HOME_DIR/server.log, or end it with kill $pid"
  echo "db: stopped (cluster in $HOME_DIR)"
}

status() {
  find_home
  if [ -z "$HOME_DIR" ]; then echo "db: no local cluster"; exit 3; fi
  local pid
  if pid=$(running_pid); then
    echo "db: running on 127.0.0.1:$(running_port), PID $pid, cluster in $HOME_DIR"
  else
    echo "db: not running, cluster in $HOME_DIR"; exit 3
  fi
}

destroy() {
  stop
  find_home
  if [ -n "$HOME_DIR" ]; then
    STEP="deleting $HOME_DIR"
    rm -rf -- "$HOME_DIR"
    echo "db: deleted the cluster in $HOME_DIR"
  fi
  if [ -L "$VAR/pg" ]; then rm -f -- "$VAR/pg"; fi
  rm -f -- "$VAR/pg.path"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) VAR=$(cd -- "$VAR" 2>/dev/null && pwd -P || echo "$VAR"); status ;;
  destroy) destroy ;;
  *) echo "usage: $0 start|stop|status|destroy" >&2; exit 2 ;;
esac
