# Sourced by the Makefile: the database URL of the local cluster when none is given.
export PGPORT=${PGPORT:-55432}
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:${PGPORT}/wuwei}
export FLASK_APP=app
