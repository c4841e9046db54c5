# Everything a fresh machine with only Python needs: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.lock | cut -d' ' -f1)

.PHONY: demo demo-stop test lint venv clean

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
	$(BIN)/ruff check loader
	$(BIN)/ruff format --check loader
	$(BIN)/sqlfluff lint models tests

test: venv
	$(BIN)/python -m pytest

clean:
	test ! -x $(BIN)/python || $(BIN)/python loader/run.py demo --stop
	rm -rf $(VENV) target logs .pgshift .pytest_cache
