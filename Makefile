# Everything a fresh machine with only Python needs: `make demo`, `make test`.
PYTHON ?= python3
TEST_WORKERS ?= 2
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.lock | cut -d' ' -f1)

.PHONY: demo demo-stop test lint venv bench bench-sync clean dagster-venv dagster-test

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--no-deps -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

# Seed the sample marketplace source on an embedded PostgreSQL, migrate it,
# print the report. With SOURCE_DATABASE_URL and TARGET_DATABASE_URL set, the
# same migration runs against those databases instead.
demo: venv
	$(BIN)/python loader/run.py demo

# ruff and sqlfluff run inside the test suite too (loader/tests/test_lint.py).
demo-stop: venv
	$(BIN)/python loader/run.py demo --stop

lint: venv
	$(BIN)/ruff check loader bench
	$(BIN)/ruff format --check loader bench
	$(BIN)/sqlfluff lint --processes 0 models tests macros

# The suite runs on TEST_WORKERS pytest-xdist workers, a test file per worker
# at a time (its module fixtures stay shared); TEST_WORKERS=0 runs it in one
# process. loader/tests/test_pgbouncer.py runs Debian's PgBouncer: installed here when
# missing and we are root; without it that test fails, it never skips.
test: venv
	@if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ] \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing pgbouncer with apt-get"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq pgbouncer >/dev/null 2>&1 \
		|| { apt-get update -qq && apt-get install -y -qq pgbouncer >/dev/null; } \
		|| echo "could not install pgbouncer: test_pgbouncer.py will fail"; \
	fi
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The benchmark against pg_dump | pg_restore (docs/benchmarks.md), e.g.
# make bench BENCH_ARGS="--preset 10m --repeat 3". Not part of `make test`.
BENCH_STAMP := $(VENV)/.bench-$(shell cksum < bench/requirements.lock | cut -d' ' -f1)

$(BENCH_STAMP): $(STAMP) bench/requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--no-deps -r bench/requirements.lock
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The online migration's benchmark against native logical replication
# (docs/benchmarks.md), e.g. make bench-sync BENCH_ARGS="--preset 10m".
bench-sync: $(BENCH_STAMP)
	$(BIN)/python bench/sync.py $(BENCH_ARGS)

# The Dagster definitions (orchestrate/): a virtualenv of their own, from
# requirements.lock plus orchestrate/requirements.lock, and their test.
# Not part of `make demo` or `make test`.
DAGSTER_VENV := .venv-dagster
DAGSTER_BIN := $(DAGSTER_VENV)/bin
DAGSTER_STAMP := $(DAGSTER_VENV)/.installed-$(shell cat requirements.lock \
	orchestrate/requirements.lock | cksum | cut -d' ' -f1)

$(DAGSTER_STAMP): requirements.lock orchestrate/requirements.lock
	test -x $(DAGSTER_BIN)/python || $(PYTHON) -m venv $(DAGSTER_VENV)
	$(DAGSTER_BIN)/python -m pip install --quiet --disable-pip-version-check \
		--no-deps -r requirements.lock -r orchestrate/requirements.lock
	rm -f $(DAGSTER_VENV)/.installed-*
	touch $@

dagster-venv: $(DAGSTER_STAMP)

dagster-test: dagster-venv
	$(DAGSTER_BIN)/ruff check orchestrate
	$(DAGSTER_BIN)/ruff format --check orchestrate
	$(DAGSTER_BIN)/python -m pytest orchestrate/tests $(PYTEST_ARGS)

clean:
	test ! -x $(BIN)/python || $(BIN)/python loader/run.py demo --stop
	rm -rf $(VENV) $(DAGSTER_VENV) target logs .pgshift .pytest_cache
