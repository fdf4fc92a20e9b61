#!/usr/bin/env bash
# Installs what Wuwei needs and is missing: Debian packages (PostgreSQL 15 +
# PostGIS 3, Chromium for the browser test) and a virtualenv from the pinned
# requirements.txt. A second run finds everything in place and installs nothing.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

# Every failure ends with one line saying what was being done and what to do.
STEP="checking what is installed"
HINT="fix the cause shown above and run the command again"
die() { echo "bootstrap: $*" >&2; exit 1; }
trap 'rc=$?; echo "bootstrap: failed while $STEP (exit status $rc); $HINT" >&2; exit $rc' ERR

need_pkgs=()
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "${DATABASE_URL:-}" ]; then
  [ -x "${pgbin:-/nonexistent}/initdb" ] || need_pkgs+=(postgresql-15)
fi
if [ -z "${DATABASE_URL:-}" ] && ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  need_pkgs+=(postgresql-15-postgis-3)
fi
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v ogrinfo >/dev/null 2>&1 || need_pkgs+=(gdal-bin)  # OGC API test with GDAL's OAPIF driver
# Chinese glyphs for Chromium (browser test, screenshots); without them the UI renders as boxes.
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || need_pkgs+=(fonts-noto-cjk)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_pkgs+=(python3-venv)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${need_pkgs[*]}"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 ||
      die "installing ${need_pkgs[*]} needs root: run make as root, or install sudo, or run apt-get install ${need_pkgs[*]} as root"
    SUDO=(sudo)
  fi
  STEP="installing the Debian packages ${need_pkgs[*]}"
  HINT="it needs root (or sudo) and a reachable Debian mirror; try: apt-get install ${need_pkgs[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# One stamp per requirements content, so checkouts sharing a venv do not reinstall in turn.
want=$(sha256sum requirements.txt | cut -d' ' -f1)
stamp="$VENV/.requirements-$want"
if [ ! -x "$VENV/bin/python" ] || [ ! -f "$stamp" ]; then
  if [ ! -x "$VENV/bin/python" ] && [ -e "$VENV" ]; then
    die "$VENV exists but its Python does not run for $(id -un) (a virtualenv of another user, or of a Python in a private directory such as /root); delete it, or set VENV to another path, and run again"
  fi
  echo "bootstrap: installing Python packages into $VENV"
  STEP="creating the virtualenv $VENV"
  HINT="check that python3-venv is installed and $VENV is writable (or set VENV to another path)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  STEP="installing requirements.txt into $VENV"
  HINT="pip's message is above (no network or package index? set PIP_INDEX_URL); run again when fixed"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
  touch "$stamp"
fi
STEP="compiling translations"
HINT="a .po file under app/ does not compile (pybabel's message above); fix it and run again"

# Compiled translations are build output: rebuild a catalogue when its .po is newer.
# Every feature may keep one under app/<feature>/translations (Chinese msgids, English translations).
while IFS= read -r po; do
  mo="${po%.po}.mo"
  if [ ! -f "$mo" ] || [ "$po" -nt "$mo" ]; then
    "$VENV/bin/pybabel" compile -f -i "$po" -o "$mo" >/dev/null
  fi
done < <(find app -path '*/translations/*/LC_MESSAGES/messages.po' 2>/dev/null)
