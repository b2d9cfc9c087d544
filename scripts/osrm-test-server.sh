#!/usr/bin/env bash
# A real OSRM (osrm-routed, car profile) over the bundled Liechtenstein extract, for
# tests/integrations/test_osrm.py and benchmarks/osrm_compare.py.
#
#   scripts/osrm-test-server.sh [setup]      install + extract + contract, when needed; prints
#                                            two lines: the path of osrm-routed, the .osrm dataset
#   scripts/osrm-test-server.sh serve PORT   setup, then run osrm-routed --algorithm ch on
#                                            127.0.0.1:PORT in the foreground
#
# OSRM comes from the PyPI wheel osrm-bindings (pinned below), which ships statically linked
# osrm-extract, osrm-contract and osrm-routed and OSRM's profiles (car.lua). The wheel is
# abi3 for CPython >= 3.12, so it goes into its own venv made with a Python >= 3.12 ($PYTHON,
# python3.12/3.13/3.14 on PATH, or pyenv's); it is kept apart from the project's venv. Without
# such a Python, any python3 with pip downloads the same wheel and unpacks it.
#
# Everything lives under $LASTMILE_OSRM_HOME (default ~/.cache/lastmile-osrm): venv/ (or
# wheel/), and data/<key>/ with a copy of the extract and its .osrm.* files, where <key> covers
# the extract's content, the package version and the profile. Extract + contract of
# Liechtenstein take about 3 s and are redone only when one of those changes. Nothing but the
# wheel is downloaded. Exit status 3: no way to install OSRM (no Python, no network to PyPI).
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
HOME_DIR="${LASTMILE_OSRM_HOME:-$HOME/.cache/lastmile-osrm}"
PBF="${LASTMILE_OSRM_PBF:-$HERE/src/lastmile/data/osm/liechtenstein.osm.pbf}"
VERSION=26.10.0
PACKAGE="osrm-bindings==$VERSION"
PROFILE=car
VENV="$HOME_DIR/venv"
UNPACKED="$HOME_DIR/wheel"

log() { echo "osrm-test-server: $*" >&2; }
die() { log "$2"; exit "$1"; }

python_ok() {  # a CPython >= 3.12 that can make a venv
  "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.12 python3.13 python3.14 \
    "$HOME"/.pyenv/versions/3.12*/bin/python "$HOME"/.pyenv/versions/3.13*/bin/python python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || [ -x "$candidate" ] || continue
    if python_ok "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# Prints the folder holding osrm/bin and osrm/share/profiles.
ensure_osrm() {
  local python site
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.lastmile-package" 2>/dev/null)" = "$PACKAGE" ]; then
    "$VENV/bin/python" -c 'import pathlib, osrm; print(pathlib.Path(osrm.__file__).parent.parent)'
    return
  fi
  if [ -x "$UNPACKED/osrm/bin/osrm-routed" ] \
    && [ "$(cat "$UNPACKED/.lastmile-package" 2>/dev/null)" = "$PACKAGE" ]; then
    echo "$UNPACKED"
    return
  fi
  if python="$(find_python)"; then
    log "installing $PACKAGE into $VENV (with $python)"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      --only-binary=:all: "$PACKAGE" || die 3 "pip install $PACKAGE failed"
    echo "$PACKAGE" >"$VENV/.lastmile-package"
    site="$("$VENV/bin/python" -c 'import pathlib, osrm; print(pathlib.Path(osrm.__file__).parent.parent)')"
    echo "$site"
    return
  fi
  command -v python3 >/dev/null 2>&1 || die 3 "no python3 to fetch $PACKAGE with"
  log "no Python >= 3.12 found: downloading the $PACKAGE wheel with python3 and unpacking it"
  rm -rf "$UNPACKED" "$HOME_DIR/download"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --abi abi3 -d "$HOME_DIR/download" "$PACKAGE" \
    || die 3 "pip download $PACKAGE failed"
  python3 - "$HOME_DIR/download" "$UNPACKED" <<'EOF'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("osrm_bindings-*.whl"))
zipfile.ZipFile(wheel).extractall(sys.argv[2])
EOF
  chmod +x "$UNPACKED"/osrm/bin/*
  rm -rf "$HOME_DIR/download"
  echo "$PACKAGE" >"$UNPACKED/.lastmile-package"
  echo "$UNPACKED"
}

setup() {
  [ -f "$PBF" ] || die 3 "extract not found: $PBF"
  mkdir -p "$HOME_DIR"
  local root bin key data name tmp
  root="$(ensure_osrm)"
  bin="$root/osrm/bin"
  [ -x "$bin/osrm-routed" ] || die 3 "osrm-routed missing in $bin"
  key="$( (sha256sum "$PBF" | cut -d' ' -f1; echo "$PACKAGE $PROFILE ch") | sha256sum | cut -c1-16)"
  name="$(basename "$PBF" .osm.pbf)"
  data="$HOME_DIR/data/$key"
  if [ ! -f "$data/.done" ]; then
    log "extract ($PROFILE profile) + contract of $(basename "$PBF") into $data"
    mkdir -p "$HOME_DIR/data"
    tmp="$(mktemp -d "$HOME_DIR/data/.build.XXXXXX")"
    cp "$PBF" "$tmp/$name.osm.pbf"
    "$bin/osrm-extract" -p "$root/osrm/share/profiles/$PROFILE.lua" "$tmp/$name.osm.pbf" \
      >"$tmp/extract.log" 2>&1 || { tail -20 "$tmp/extract.log" >&2; die 1 "osrm-extract failed"; }
    "$bin/osrm-contract" "$tmp/$name.osrm" >"$tmp/contract.log" 2>&1 \
      || { tail -20 "$tmp/contract.log" >&2; die 1 "osrm-contract failed"; }
    touch "$tmp/.done"
    rm -rf "$data"
    mv "$tmp" "$data"
  fi
  echo "$bin/osrm-routed"
  echo "$data/$name.osrm"
}

locked_setup() {
  mkdir -p "$HOME_DIR"
  if command -v flock >/dev/null 2>&1; then
    (
      flock 9
      setup
    ) 9>"$HOME_DIR/.lock"
  else
    setup
  fi
}

case "${1:-setup}" in
  setup) locked_setup ;;
  serve)
    port="${2:?usage: $0 serve PORT}"
    mapfile -t found < <(locked_setup)
    exec "${found[0]}" --algorithm ch --ip 127.0.0.1 --port "$port" "${found[1]}"
    ;;
  *) die 2 "usage: $0 [setup] | serve PORT" ;;
esac
