#!/usr/bin/env bash
# Starts or stops Wuwei's own PostGIS cluster (var/pg, port $PGPORT), and makes
# sure the application database exists, has PostGIS and is migrated.
# With DATABASE_URL set, no cluster is started: that server is used as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PGPORT=${PGPORT:-55432}
VENV=${VENV:-.venv}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
PGDIR="$ROOT/var/pg"

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cluster_dir() {
  # The postgres OS user must be able to reach the data directory; a checkout
  # under a private home cannot, so the cluster then lives in /var/tmp and
  # var/pg links to it.
  mkdir -p "$ROOT/var"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$ROOT/var" 2>/dev/null; then
    local alt="/var/tmp/wuwei-pg-$(echo "$ROOT" | sha1sum | cut -c1-10)"
    mkdir -p "$alt"; chown postgres: "$alt"
    [ -L "$PGDIR" ] || ln -sfn "$alt" "$PGDIR"
  else
    mkdir -p "$PGDIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$PGDIR"
  fi
  true
}

start() {
  if [ -z "${DATABASE_URL:-}" ]; then
    cluster_dir
    if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
      echo "db: creating a PostGIS cluster in var/pg"
      as_pg mkdir -p "$PGDIR/data" "$PGDIR/run"
      as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
      cat >> "$PGDIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGDIR/run'
timezone = 'Asia/Shanghai'
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
fsync = on
max_connections = 200
CONF
    fi
    if ! as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
      as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -o "-p $PGPORT" -l "$PGDIR/server.log" -w -t 60 start >/dev/null
      echo "db: PostGIS started on 127.0.0.1:$PGPORT"
    fi
  fi
  source scripts/env.sh
  mkdir -p "$ROOT/var"
  "$VENV/bin/python" scripts/ensure_db.py "$DATABASE_URL"
  "$VENV/bin/python" -m flask --app app db upgrade heads >/dev/null 2>"$ROOT/var/migrate.log" || {
    cat "$ROOT/var/migrate.log" >&2; exit 1; }
}

stop() {
  if [ -f "$PGDIR/data/PG_VERSION" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 && echo "db: stopped" || echo "db: not running"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
