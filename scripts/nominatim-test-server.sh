#!/usr/bin/env bash
# A real Nominatim over the bundled Liechtenstein extract, for tests/integrations.
#
#   scripts/nominatim-test-server.sh setup        install (own venv) + import, when needed
#   scripts/nominatim-test-server.sh serve PORT   run the API on 127.0.0.1:PORT (foreground)
#   scripts/nominatim-test-server.sh drop         remove the database and the cached state
#
# Everything lives under $LASTMILE_NOMINATIM_HOME (default ~/.cache/lastmile-nominatim): a
# virtual environment with nominatim-db/nominatim-api (pinned below, kept apart from the
# project's own venv), and a Nominatim project directory. The import goes into its own
# database ($LASTMILE_NOMINATIM_DB, default lastmile_nominatim) on the PostgreSQL server at
# $PGHOST:$PGPORT as $PGUSER (default 127.0.0.1:5432, postgres); no other database is touched.
# The import (about 1.5 minutes) is redone only when the extract, the pinned versions or this
# script's import settings change, or the database is gone. Always --offline: nothing is
# downloaded besides the Python packages.
#
# Needs (Debian bookworm): postgresql-15-postgis-3 osm2pgsql libicu-dev pkg-config g++
# (PyICU is built from source). Exit status 3 means a system package is missing.
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
HOME_DIR="${LASTMILE_NOMINATIM_HOME:-$HOME/.cache/lastmile-nominatim}"
DB="${LASTMILE_NOMINATIM_DB:-lastmile_nominatim}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
PBF="${LASTMILE_NOMINATIM_PBF:-$HERE/src/lastmile/data/osm/liechtenstein.osm.pbf}"
PYTHON="${PYTHON:-python3}"
VENV="$HOME_DIR/venv"
PROJECT="$HOME_DIR/project"
PACKAGES=(nominatim-db==5.3.3 nominatim-api==5.3.3 falcon==4.4.0 uvicorn==0.54.0)
IMPORT_SETTINGS="v1 --offline threads=2 db=$DB"

log() { echo "nominatim-test-server: $*" >&2; }
die() { log "$2"; exit "$1"; }

check_system() {
  command -v osm2pgsql >/dev/null \
    || die 3 "osm2pgsql is missing: apt-get install -y osm2pgsql"
  command -v psql >/dev/null || die 3 "psql is missing: apt-get install -y postgresql-client"
  psql -d postgres -tAc 'select 1' >/dev/null 2>&1 \
    || die 3 "PostgreSQL is not reachable at $PGHOST:$PGPORT as $PGUSER"
  local major
  major="$(psql -d postgres -tAc 'show server_version_num' | cut -c1-2)"
  [ -n "$(psql -d postgres -tAc "select 1 from pg_available_extensions where name='postgis'")" ] \
    || die 3 "PostGIS is missing for PostgreSQL $major: apt-get install -y postgresql-$major-postgis-3"
  [ -f "$PBF" ] || die 3 "extract not found: $PBF"
}

ensure_venv() {
  local want stamp="$VENV/.lastmile-packages"
  want="${PACKAGES[*]}"
  if [ -x "$VENV/bin/nominatim" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  log "installing ${PACKAGES[*]} into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "${PACKAGES[@]}" \
    || die 3 "pip install failed (PyICU needs: apt-get install -y libicu-dev pkg-config g++)"
  echo "$want" >"$stamp"
}

write_env() {
  mkdir -p "$PROJECT"
  cat >"$PROJECT/.env" <<EOF
NOMINATIM_DATABASE_DSN="pgsql:dbname=$DB;host=$PGHOST;port=$PGPORT;user=$PGUSER"
NOMINATIM_DATABASE_WEBUSER=$PGUSER
EOF
}

fingerprint() {
  echo "$IMPORT_SETTINGS ${PACKAGES[*]} $(sha256sum "$PBF" | cut -d' ' -f1)"
}

db_exists() {
  [ -n "$(psql -d postgres -tAc "select 1 from pg_database where datname='$DB'")" ]
}

drop_db() {
  psql -d postgres -qc "drop database if exists \"$DB\"" >/dev/null
}

ensure_import() {
  local stamp="$PROJECT/.lastmile-import" want
  want="$(fingerprint)"
  if db_exists && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  log "importing $(basename "$PBF") into database $DB (about 1.5 minutes)"
  rm -f "$stamp"
  drop_db
  if ! (cd "$PROJECT" && "$VENV/bin/nominatim" import --osm-file "$PBF" --offline \
      --threads 2 >"$HOME_DIR/import.log" 2>&1); then
    tail -20 "$HOME_DIR/import.log" >&2
    drop_db
    die 1 "import failed; full log: $HOME_DIR/import.log"
  fi
  echo "$want" >"$stamp"
}

case "${1:-}" in
  setup)
    mkdir -p "$HOME_DIR"
    check_system
    # One setup at a time (parallel test sessions share the cache).
    exec 9>"$HOME_DIR/.lock"
    flock 9
    ensure_venv
    write_env
    ensure_import
    log "ready: database $DB, project $PROJECT"
    ;;
  serve)
    port="${2:?usage: $0 serve PORT}"
    cd "$PROJECT"
    exec "$VENV/bin/nominatim" serve --server "127.0.0.1:$port"
    ;;
  drop)
    drop_db
    rm -rf "$HOME_DIR"
    ;;
  *)
    sed -n '2,6p' "$0" >&2
    exit 2
    ;;
esac
