# Sourced by the Makefile (and by you, from bash, before running flask by hand): the database URL
# of the local cluster when none is given, and where `make run`'s gunicorn keeps its control socket.
export PGPORT=${PGPORT:-55432}
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:${PGPORT}/wuwei}
export FLASK_APP=app

# gunicorn's control socket defaults to one path per OS user ($XDG_RUNTIME_DIR or ~/.gunicorn),
# which a second server takes over and either server deletes when it exits: keep one per checkout,
# in var/run, or (when that path is too long for a Unix socket) in ~/.gunicorn under a name of its own.
if [ -z "${WUWEI_CONTROL_SOCKET:-}" ]; then
  _wuwei_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd -P)
  _wuwei_var=${WUWEI_VAR:-var}
  case $_wuwei_var in /*) ;; *) _wuwei_var="$_wuwei_root/$_wuwei_var" ;; esac
  WUWEI_CONTROL_SOCKET="$_wuwei_var/run/gunicorn.ctl"
  if [ "$(printf '%s' "$WUWEI_CONTROL_SOCKET" | LC_ALL=C wc -c)" -gt 100 ]; then
    WUWEI_CONTROL_SOCKET="$HOME/.gunicorn/wuwei-$(printf '%s' "$_wuwei_var" | sha256sum | cut -c1-16).ctl"
  fi
  export WUWEI_CONTROL_SOCKET
  unset _wuwei_root _wuwei_var
fi
