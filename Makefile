# Two commands do all the setup from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VENDOR := src/lastmile/web/static/vendor
OUT ?= out

.PHONY: demo test test-simday lint typecheck unit fuzz bench bench-gh bench-week bench-big-day bench-load bench-cpu bench-tenants bench-kpi bench-roads bench-pages assets clean dist test-deploy test-long

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

# Leaflet, htmx, Chart.js and MapLibre GL (the offline basemap's renderer) come from the npm registry (pinned in package.json /
# package-lock.json) and are
# served by lastmile itself; nothing is loaded from a CDN at run time.
$(VENDOR)/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p $(VENDOR)/leaflet
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css $(VENDOR)/leaflet/
	cp -r node_modules/leaflet/dist/images $(VENDOR)/leaflet/
	cp node_modules/leaflet/LICENSE $(VENDOR)/leaflet/LICENSE
	mkdir -p $(VENDOR)/htmx
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx.org/LICENSE $(VENDOR)/htmx/
	mkdir -p $(VENDOR)/chartjs
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md $(VENDOR)/chartjs/
	mkdir -p $(VENDOR)/maplibre
	cp node_modules/maplibre-gl/dist/maplibre-gl-csp.js node_modules/maplibre-gl/dist/maplibre-gl-csp-worker.js \
	  node_modules/maplibre-gl/dist/maplibre-gl.css node_modules/maplibre-gl/LICENSE.txt $(VENDOR)/maplibre/
	cp node_modules/@maplibre/maplibre-gl-leaflet/leaflet-maplibre-gl.js $(VENDOR)/maplibre/
	cp node_modules/@maplibre/maplibre-gl-leaflet/LICENSE $(VENDOR)/maplibre/LICENSE-maplibre-gl-leaflet
	touch $(VENDOR)/.stamp

assets: $(VENDOR)/.stamp

demo: $(STAMP) assets
	$(VENV)/bin/lastmile demo --out $(OUT)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# On both cores (pytest-xdist, one file per worker). The fuzz test runs beside it in its own
# process: under xdist schemathesis's operations are not collected (2 items instead of 117).
unit: $(STAMP) assets
	mkdir -p $(OUT)
	$(VENV)/bin/pytest -q tests/fuzz > $(OUT)/fuzz.log 2>&1 & fuzz=$$!; \
	$(VENV)/bin/pytest -q -n 2 --dist loadfile --ignore=tests/fuzz; rest=$$?; \
	wait $$fuzz; fuzzed=$$?; cat $(OUT)/fuzz.log; \
	if [ $$rest -ne 0 ] || [ $$fuzzed -ne 0 ]; then exit 1; fi

test: lint typecheck unit

# The long fuzz run (docs/security.md): every operation of the public and the dashboard/tracking
# OpenAPI, as every role, on SQLite and PostgreSQL, FUZZ_EXAMPLES examples each (make test: 2).
fuzz: $(STAMP) assets
	FUZZ_BACKENDS=$${FUZZ_BACKENDS:-sqlite,postgresql} FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} $(VENV)/bin/pytest -q -s tests/fuzz

# Whole simulated days at 600x with the real clock pinned at 09:00 and 23:00 (#12).
test-simday: $(STAMP)
	$(VENV)/bin/pytest -q -m simday tests/cli/test_simulated_day.py

# What takes minutes of real outside servers or killed processes (a real Nominatim's import, a
# worker killed mid-job and retried after the 30 s heartbeat) and the fuzz test on PostgreSQL
# (make test fuzzes SQLite); .ci/run runs it after `make test`.
test-long: $(STAMP) assets
	$(VENV)/bin/pytest -q -m long
	FUZZ_BACKENDS=postgresql $(VENV)/bin/pytest -q tests/fuzz

# Solver quality (docs/benchmarks.md, Solver): Solomon at 1 s and 5 s per instance, ours (1
# process, the default, and 2 exchanging processes) against plain PyVRP and VROOM, one run at a
# time (about 20 min).
# BENCH_ARGS replaces the arguments, e.g. BENCH_ARGS="--set cvrp --budget 10".
BENCH_ARGS ?= --set solomon --budget 1 5 --seed 1 --solvers ours_w1,ours,pyvrp,vroom \
	--out $(OUT)/bench/solomon.csv --markdown $(OUT)/bench/solomon.md
bench: $(STAMP)
	mkdir -p $(OUT)/bench
	$(PY) benchmarks/solver_bench.py $(BENCH_ARGS)

# Gehring-Homberger 400 and 1000, 2 instances per class, seeds 1 and 2, 60 s: ours with 2
# exchanging processes, ours with 1, plain PyVRP, one after the other (never at once), and VROOM
# once per instance: 24 instances x (3 x 2 + 1) runs of up to 60 s, about 2 h 50 min. Run it on
# an otherwise idle machine; GH_SOLVERS=ours,pyvrp,vroom for the 2-hour version.
GH_SOLVERS ?= ours,ours_w1,pyvrp,vroom
bench-gh: $(STAMP)
	mkdir -p $(OUT)/bench
	for n in 400 1000; do \
	  $(PY) benchmarks/solver_bench.py --set homberger_$$n --per-class 2 --budget 60 --seed 1 2 \
	    --solvers $(GH_SOLVERS) --out $(OUT)/bench/homberger_$$n.csv \
	    --markdown $(OUT)/bench/homberger_$$n.md || exit 1; \
	done

# 10,000 text addresses of the bundled country -> `lastmile plan --time-limit 180
# --skip-unresolved`: whole-command time, peak memory of all its processes, unassigned, check
# (docs/benchmarks.md, "A 10,000-stop day"). Run it on a quiet machine; BIG_DAY_ARGS="--stops 1000".
bench-big-day: $(STAMP)
	$(PY) benchmarks/big_day.py --stops 10000 --run --out $(OUT)/big-day $(BIG_DAY_ARGS)

# A 5-day plan of 1,000 flexible orders within one day's search budget (60 s), against
# "each order on its first day" and "each order on the least-loaded day", one after the other
# (docs/benchmarks.md, "Planning more than one day"; about 4 min). WEEK_ARGS to change, e.g.
# WEEK_ARGS="--orders 150 --vans 1 --time-limit 10".
WEEK_ARGS ?= --orders 1000 --days 5 --time-limit 60
bench-week: $(STAMP)
	$(PY) benchmarks/week_bench.py $(WEEK_ARGS)

# Load benchmark on PostgreSQL (docs/benchmarks.md, Load): needs wrk and a PostgreSQL server
# (LOAD_ARGS, e.g. --pg postgresql://postgres@127.0.0.1:5432/postgres --write).
bench-load: $(STAMP)
	$(PY) benchmarks/load_bench.py $(LOAD_ARGS)

# Server CPU per tracking view / GPS batch, in process, on PostgreSQL (docs/benchmarks.md, Load);
# CPU_ARGS="--profile --write" for py-spy profiles and benchmarks/results/request_cpu.txt.
bench-cpu: $(STAMP)
	$(PY) benchmarks/request_cpu.py $(CPU_ARGS)

# Road engine at city scale (docs/benchmarks.md, Roads at city scale); ROADS_ARGS="--sizes 500 1000"
bench-roads: $(STAMP)
	$(PY) benchmarks/roads_bench.py $(ROADS_ARGS)

# Every page's load with a 500-order day in headless chromium, p50/p95 of 20 loads
# (docs/benchmarks.md, Dashboard); PAGES_ARGS="--pg" for PostgreSQL at 127.0.0.1:5432.
bench-pages: $(STAMP)
	$(PY) benchmarks/pages_bench.py --out $(OUT)/bench/pages $(PAGES_ARGS)

# KPIs over a growing history (docs/benchmarks.md, KPIs); KPI_ARGS=--postgres URL for PostgreSQL.
# Many businesses on one install (#17, docs/benchmarks.md): 100 simulation organisations' days at
# once on PostgreSQL; TENANTS_ARGS="--orgs 10 --speed 60" scales it down.
bench-tenants: $(STAMP)
	$(PY) benchmarks/tenants_bench.py $(TENANTS_ARGS)

bench-kpi: $(STAMP)
	$(PY) benchmarks/kpi_bench.py $(KPI_ARGS)

# What a server installs (docs/deploy.md): the wheel (with the map assets inside) and the exact
# versions of every runtime dependency this environment was tested with.
dist: $(STAMP) assets
	rm -rf dist build && mkdir -p dist
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir dist .
	$(PY) scripts/constraints.py > dist/constraints.txt
	rm -rf build

# docs/deploy.md run for real on loopback: the wheel in a fresh venv, PostgreSQL, two server
# processes and a worker from the shipped systemd units, Caddy with `tls internal`, a small day.
# Slow (installs every dependency into a new venv); the guide's fast checks are in `make test`.
test-deploy: dist
	$(VENV)/bin/pytest -q -m deploy tests/deploy

clean:
	rm -rf $(VENV) node_modules $(VENDOR) $(OUT) dist build .mypy_cache .pytest_cache .ruff_cache
