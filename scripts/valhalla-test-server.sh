#!/usr/bin/env bash
# A real Valhalla (valhalla_service) over the bundled Liechtenstein extract, for
# tests/integrations/test_valhalla_server.py.
#
#   scripts/valhalla-test-server.sh [setup]      download + build tiles, when needed; prints two
#                                                lines: the path of valhalla_service, the config
#   scripts/valhalla-test-server.sh serve PORT   setup, then run valhalla_service on
#                                                127.0.0.1:PORT in the foreground
#
# Valhalla comes from the PyPI wheel pyvalhalla (pinned below), which ships valhalla_build_tiles,
# valhalla_service and their libraries (manylinux_2_28, x86_64). The wheel is abi3 for
# CPython >= 3.12, but only its programs are used here, so any python3 with pip downloads it
# and unpacks it; nothing is installed into the project's venv.
#
# Everything lives under $LASTMILE_VALHALLA_HOME (default ~/.cache/lastmile-valhalla): wheel/
# (the unpacked wheel) and data/<key>/ with the configuration and the tiles, where <key> covers
# the extract's content and the package version. Building Liechtenstein's tiles takes about
# 2 s and is redone only when one of those changes. Exit status 3: no way to get Valhalla.
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
HOME_DIR="${LASTMILE_VALHALLA_HOME:-$HOME/.cache/lastmile-valhalla}"
PBF="${LASTMILE_VALHALLA_PBF:-$HERE/src/lastmile/data/osm/liechtenstein.osm.pbf}"
VERSION=3.9.1
PACKAGE="pyvalhalla==$VERSION"
UNPACKED="$HOME_DIR/wheel"

log() { echo "valhalla-test-server: $*" >&2; }
die() { log "$2"; exit "$1"; }

ensure_valhalla() {
  if [ -x "$UNPACKED/valhalla/bin/valhalla_service" ] \
    && [ "$(cat "$UNPACKED/.lastmile-package" 2>/dev/null)" = "$PACKAGE" ]; then
    return
  fi
  command -v python3 >/dev/null 2>&1 || die 3 "no python3 to fetch $PACKAGE with"
  log "downloading the $PACKAGE wheel and unpacking it into $UNPACKED"
  rm -rf "$UNPACKED" "$HOME_DIR/download"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --abi abi3 -d "$HOME_DIR/download" "$PACKAGE" \
    || die 3 "pip download $PACKAGE failed"
  python3 - "$HOME_DIR/download" "$UNPACKED" <<'EOF'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("pyvalhalla-*.whl"))
zipfile.ZipFile(wheel).extractall(sys.argv[2])
EOF
  chmod +x "$UNPACKED"/valhalla/bin/*
  rm -rf "$HOME_DIR/download"
  echo "$PACKAGE" >"$UNPACKED/.lastmile-package"
}

setup() {
  [ -f "$PBF" ] || die 3 "extract not found: $PBF"
  mkdir -p "$HOME_DIR"
  ensure_valhalla
  local bin="$UNPACKED/valhalla/bin" key data tmp
  "$bin/valhalla_service" --help >/dev/null 2>&1 \
    || die 3 "valhalla_service from $PACKAGE does not run on this machine"
  key="$( (sha256sum "$PBF" | cut -d' ' -f1; echo "$PACKAGE") | sha256sum | cut -c1-16)"
  data="$HOME_DIR/data/$key"
  if [ ! -f "$data/.done" ]; then
    log "building Valhalla tiles of $(basename "$PBF") into $data"
    mkdir -p "$HOME_DIR/data"
    tmp="$(mktemp -d "$HOME_DIR/data/.build.XXXXXX")"
    python3 "$UNPACKED/valhalla/valhalla_build_config.py" --mjolnir-tile-dir "$data/tiles" \
      --mjolnir-tile-extract "$data/tiles.tar" --mjolnir-timezone "$data/tz.sqlite" \
      --mjolnir-admin "$data/admins.sqlite" --mjolnir-concurrency 1 \
      >"$tmp/valhalla.json" 2>"$tmp/config.log" \
      || { tail -20 "$tmp/config.log" >&2; die 1 "valhalla_build_config failed"; }
    # The tile paths name the final folder; build in place of it, then mark it done.
    rm -rf "$data"
    mv "$tmp" "$data"
    "$bin/valhalla_build_tiles" -c "$data/valhalla.json" "$PBF" >"$data/build.log" 2>&1 \
      || { tail -20 "$data/build.log" >&2; die 1 "valhalla_build_tiles failed"; }
    touch "$data/.done"
  fi
  echo "$bin/valhalla_service"
  echo "$data/valhalla.json"
}

locked_setup() {
  mkdir -p "$HOME_DIR"
  (
    flock 9
    setup
  ) 9>"$HOME_DIR/.lock"
}

case "${1:-setup}" in
  setup) locked_setup ;;
  serve)
    port="${2:?usage: $0 serve PORT}"
    mapfile -t found < <(locked_setup)
    config="$(mktemp "${TMPDIR:-/tmp}/valhalla-$port.XXXXXX.json")"
    python3 - "${found[1]}" "$config" "$port" <<'EOF'
import json, sys
config = json.load(open(sys.argv[1]))
config["httpd"]["service"]["listen"] = f"tcp://127.0.0.1:{sys.argv[3]}"
config["httpd"]["service"]["loopback"] = f"ipc:///tmp/valhalla-loopback-{sys.argv[3]}"
config["httpd"]["service"]["interrupt"] = f"ipc:///tmp/valhalla-interrupt-{sys.argv[3]}"
json.dump(config, open(sys.argv[2], "w"))
EOF
    exec "${found[0]}" "$config" 1
    ;;
  *) die 2 "usage: $0 [setup] | serve PORT" ;;
esac
