#!/usr/bin/env bash
# A streaming replica (hot standby) of the local cluster of scripts/db.sh, for DATABASE_READ_URL.
#
#   scripts/replica.sh start    create it on first use (pg_basebackup -R with a replication slot of its
#                               own), start it on REPLICA_PORT, print the DATABASE_READ_URL to use
#   scripts/replica.sh stop     stop it (the slot stays, so it catches up when started again; the
#                               primary keeps the WAL it has not received meanwhile)
#   scripts/replica.sh status   say where it is, whether it runs and how far behind (exit 3: not running)
#   scripts/replica.sh destroy  stop it, delete its data and drop its slot on the primary
#
# Port: REPLICA_PORT, default PGPORT + 1 (55433). Home: beside the primary's home (var/pg.path), as
# "<home>-replica" (var/pg-replica, or ~postgres/wuwei/pg-<hash>-replica), owned by the OS user that
# runs PostgreSQL (postgres as root), like the primary's. TCP on 127.0.0.1 only: no Unix socket, so the
# home's path length does not matter. A server named by DATABASE_URL is not the local cluster: make
# its replica with your own tools (docs/operations.md).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
VAR=${WUWEI_VAR:-var}
case $VAR in /*) ;; *) VAR="$(pwd -P)/$VAR" ;; esac
PGPORT=${PGPORT:-55432}
REPLICA_PORT=${REPLICA_PORT:-$((PGPORT + 1))}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
STEP="starting"
die() { echo "replica: $*" >&2; exit 1; }
trap 'rc=$?; echo "replica: failed while $STEP (exit status $rc); fix the cause shown above and run the command again" >&2; exit $rc' ERR

if [ "$(id -u)" -eq 0 ]; then PGOS=postgres; else PGOS=$(id -un); fi
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && exec runuser -u postgres -- "$@") 9>&-; else (cd / && exec "$@") 9>&-; fi
}
port_busy() { timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# The primary's home (scripts/db.sh records it in var/pg.path) and the replica's beside it.
find_homes() {
  if [ -d "$VAR/pg" ] && [ ! -L "$VAR/pg" ] && [ -f "$VAR/pg/data/PG_VERSION" ]; then
    PHOME=$(realpath -e -- "$VAR/pg")
  else
    PHOME=$(head -n1 "$VAR/pg.path" 2>/dev/null || true)
  fi
  [ -n "$PHOME" ] && [ -f "$PHOME/data/PG_VERSION" ] ||
    die "no local cluster for $VAR (no var/pg.path); run make db first (with DATABASE_URL set, make a replica of that server with your own tools)"
  local owner
  owner=$(head -n1 "$PHOME/checkout" 2>/dev/null || true)
  [ -z "$owner" ] || [ "$owner" = "$VAR" ] || [ ! -e "$owner" ] ||
    die "$VAR/pg.path names the cluster of $owner (this checkout is a copy of it); run make db here first"
  PDATA="$PHOME/data"
  RHOME="$PHOME-replica"
  RDATA="$RHOME/data"
  SLOT="wuwei_replica_$(printf '%s' "$RHOME" | sha256sum | cut -c1-12)"
}

running_pid() {  # the replica's postmaster, when one works in its data directory
  local pid
  pid=$(head -n1 "$RDATA/postmaster.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null || true)" = "$RDATA" ] || return 1
  echo "$pid"
}

primary_sql() { "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$1"; }

primary_up() {
  local pid port
  pid=$(head -n1 "$PDATA/postmaster.pid" 2>/dev/null || true)
  port=$(sed -n 4p "$PDATA/postmaster.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null || true)" = "$PDATA" ] && [ "$port" = "$PGPORT" ]
}

lock() {
  exec 9>>"$VAR/.replica.lock"
  flock -w 600 9 || die "another scripts/replica.sh still holds $VAR/.replica.lock after 10 minutes"
}

create() {
  STEP="checking the primary"
  primary_up || die "the local cluster does not run on port $PGPORT; run make db first (or give its PGPORT)"
  local level
  level=$(primary_sql "SHOW wal_level")
  [ "$level" != minimal ] || die "the primary has wal_level = minimal: set it to replica in $PDATA/postgresql.conf and restart it (make stop; make db)"
  STEP="preparing $RHOME"
  if [ -e "$RHOME" ] && [ ! -f "$RDATA/PG_VERSION" ]; then rm -rf -- "$RHOME"; fi  # a copy that failed half-way
  mkdir -m 700 -- "$RHOME"
  [ "$(id -u)" -ne 0 ] || chown postgres: -- "$RHOME"
  # A slot left by an earlier replica of this home would hold WAL for nobody: start afresh.
  primary_sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null
  STEP="copying the primary (pg_basebackup)"
  echo "replica: copying the primary on port $PGPORT into $RHOME (slot $SLOT)"
  if ! as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U postgres -D "$RDATA" -R -X stream -C -S "$SLOT" \
      -c fast --no-password >"$RHOME/basebackup.log" 2>&1; then
    tail -n 5 "$RHOME/basebackup.log" >&2
    rm -rf -- "$RHOME"
    primary_sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null || true
    die "pg_basebackup failed (output above); check the primary's max_wal_senders and pg_hba.conf (replication from 127.0.0.1)"
  fi
  as_pg tee -a "$RDATA/postgresql.conf" >/dev/null <<CONF
# Wuwei replica (scripts/replica.sh): a hot standby on TCP only; the port is given on the command line
unix_socket_directories = ''
hot_standby = on
hot_standby_feedback = on
CONF
}

start() {
  [ -n "$PGBIN" ] || die "no PostgreSQL binaries in /usr/lib/postgresql/*/bin; run make setup"
  [[ $REPLICA_PORT =~ ^[0-9]+$ ]] && [ "$REPLICA_PORT" != "$PGPORT" ] || die "REPLICA_PORT=$REPLICA_PORT must be a port number other than PGPORT"
  if [ -n "${DATABASE_URL:-}" ] && [ "$DATABASE_URL" != "postgresql://postgres@127.0.0.1:$PGPORT/wuwei" ]; then
    die "DATABASE_URL names your own server, not the local cluster: make its replica with your own tools (docs/operations.md, \"A read replica\")"
  fi
  mkdir -p -- "$VAR"
  lock
  find_homes
  [ -f "$RDATA/PG_VERSION" ] || create
  local pid
  if pid=$(running_pid); then
    echo "replica: running on 127.0.0.1:$(sed -n 4p "$RDATA/postmaster.pid"), PID $pid (in $RHOME)"
  else
    as_pg rm -f -- "$RDATA/postmaster.pid"   # left by a crash: no process works in the directory
    ! port_busy "$REPLICA_PORT" || die "another program listens on 127.0.0.1:$REPLICA_PORT; choose another, e.g. REPLICA_PORT=$((REPLICA_PORT + 1)) make replica"
    STEP="starting the replica"
    if ! as_pg "$PGBIN/pg_ctl" -D "$RDATA" -o "-p $REPLICA_PORT" -l "$RHOME/server.log" -w -t 120 start >/dev/null 2>&1; then
      tail -n 5 "$RHOME/server.log" >&2 || true
      die "the replica did not start on port $REPLICA_PORT (last lines of $RHOME/server.log above)"
    fi
    echo "replica: hot standby started on 127.0.0.1:$REPLICA_PORT (in $RHOME)"
  fi
  echo "replica: read-only views use it with DATABASE_READ_URL=postgresql://postgres@127.0.0.1:$REPLICA_PORT/wuwei"
}

has_primary() { [ -f "$VAR/pg.path" ] || [ -f "$VAR/pg/data/PG_VERSION" ]; }

stop() {
  has_primary || { echo "replica: none"; return 0; }
  find_homes
  [ -f "$RDATA/PG_VERSION" ] || { echo "replica: none"; return 0; }
  local pid
  if ! pid=$(running_pid); then echo "replica: not running (in $RHOME)"; return 0; fi
  STEP="stopping the replica"
  as_pg "$PGBIN/pg_ctl" -D "$RDATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
    die "could not stop the replica (PID $pid); see $RHOME/server.log, or end it with kill $pid"
  echo "replica: stopped (in $RHOME)"
}

status() {
  find_homes
  [ -f "$RDATA/PG_VERSION" ] || { echo "replica: none (make replica creates it)"; exit 3; }
  local pid port lag
  if ! pid=$(running_pid); then echo "replica: not running (in $RHOME)"; exit 3; fi
  port=$(sed -n 4p "$RDATA/postmaster.pid")
  lag=$("$PGBIN/psql" -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -c \
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 1) END" 2>/dev/null || echo "?")
  echo "replica: running on 127.0.0.1:$port, PID $pid, ${lag}s behind the primary, in $RHOME"
}

destroy() {
  stop
  has_primary || return 0
  find_homes
  if [ -e "$RHOME" ]; then rm -rf -- "$RHOME"; echo "replica: deleted $RHOME"; fi
  if primary_up; then
    primary_sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null
  elif [ -f "$PDATA/PG_VERSION" ]; then
    echo "replica: the primary is not running: drop the slot $SLOT when it runs (it keeps WAL for the replica): scripts/replica.sh destroy"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  destroy) destroy ;;
  *) echo "usage: $0 start|stop|status|destroy" >&2; exit 2 ;;
esac
