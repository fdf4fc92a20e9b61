# Wuwei (五微) — one-command set-up, run and test.
# Everything installs what is missing first (scripts/bootstrap.sh), so a fresh
# Debian machine needs nothing but `make run` or `make test`.
# Paths are quoted in recipes: a checkout or VENV may have spaces or Chinese characters.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 5000
export PGPORT ?= 55432
export VENV

.PHONY: run worker test bench stop setup db seed clean-db translations

setup:
	@scripts/bootstrap.sh

db: setup
	@scripts/db.sh start

# One control socket per checkout (scripts/env.sh): gunicorn's default is one per OS user,
# shared by every server of that user and deleted when any of them exits.
# The jobs worker (big imports, docs/operations.md) runs beside gunicorn as a process of its own
# and is stopped when gunicorn stops.
run: db
	@source scripts/env.sh && "$(PY)" -m flask --app app seed demo --if-empty && \
	  "$(PY)" -m flask --app app seed logins && \
	  echo "Wuwei: http://127.0.0.1:$(PORT)" && \
	  { "$(PY)" -m flask --app app jobs worker & worker=$$!; \
	    trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
	    "$(VENV)/bin/gunicorn" --workers 2 --threads 4 --bind 127.0.0.1:$(PORT) \
	      --control-socket "$$WUWEI_CONTROL_SOCKET" --access-logfile - 'app.wsgi:application'; }

# The jobs worker alone (when the web server runs elsewhere, e.g. under systemd).
worker: db
	@source scripts/env.sh && exec "$(PY)" -m flask --app app jobs worker

test: db
	@source scripts/env.sh && "$(PY)" -m pytest -p no:cacheprovider $(PYTEST_ARGS)

bench: db
	@source scripts/env.sh && "$(PY)" -m benchmarks.run

seed: db
	@source scripts/env.sh && "$(PY)" -m flask --app app seed demo

stop:
	@scripts/db.sh stop

# Stops the local cluster and deletes its data (the next `make db` creates an empty one).
clean-db:
	@scripts/db.sh destroy

translations: setup
	@"$(VENV)/bin/pybabel" compile -d app/translations -f
