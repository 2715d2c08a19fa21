# Two commands matter: `make demo` and `make test`. Both set up .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit bench bench-ingest bench-detect bench-enrich bench-enrich-memory bench-poll bench-deliver bench-incidents bench-grouping bench-killloop bench-replicas container-smoke browser promtool alertmanager postgres clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --constraint constraints.txt -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" || true
	@$(BIN)/python -c "import enricher" && touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aadsts-enricher demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check enricher connectors tests bench
	$(BIN)/ruff format --check enricher connectors tests bench

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test: browser promtool alertmanager postgres lint types unit

# The dashboard's browser test drives Debian's chromium. Installed here when missing and we are root
# with apt-get (the first time takes a minute or two); otherwise nothing happens and the test skips.
# `apt-get update` only runs when chromium is missing and the install from the current lists fails.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium for the dashboard browser test (apt-get, first time only)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 \
		     && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; } \
		|| echo "could not install chromium: the dashboard browser test will be skipped"; \
	fi

# promtool (Debian's prometheus package) checks a real /metrics scrape and runs the alert rules' unit
# tests (tests/test_metrics.py). Installed the same way as chromium above; otherwise those tests skip.
promtool:
	@if ! command -v promtool >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing promtool (Debian package prometheus) for the metrics tests (apt-get, first time only)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 \
		     && apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; } \
		|| echo "could not install promtool: the promtool checks in tests/test_metrics.py will be skipped"; \
	fi

# The alertmanager sink's end-to-end test (tests/sinks/test_alertmanager_real.py) starts Debian's
# prometheus-alertmanager on a free loopback port. Installed the same way; otherwise that test skips.
alertmanager:
	@if ! command -v prometheus-alertmanager >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing prometheus-alertmanager for the alertmanager sink test (apt-get, first time only)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 \
		     && apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null 2>&1; } \
		|| echo "could not install prometheus-alertmanager: tests/sinks/test_alertmanager_real.py will be skipped"; \
	fi

# The PostgreSQL store's tests (tests/postgres.py) run a throwaway cluster of Debian's postgresql (15):
# initdb in a temp dir, a free loopback port, an unprivileged user. Installed the same way; otherwise
# the tests that need it skip.
postgres:
	@if [ ! -x /usr/lib/postgresql/15/bin/initdb ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing postgresql (15) for the PostgreSQL store tests (apt-get, first time only)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 \
		     && apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; } \
		|| echo "could not install postgresql: the PostgreSQL store tests will be skipped"; \
	fi

bench: bench-detect bench-enrich bench-poll bench-deliver bench-incidents bench-grouping bench-startup bench-ingest

bench-detect: $(STAMP)
	$(BIN)/python bench/detect.py

# enrich --jsonl through the CLI (1 and 2 workers, start-up included) against the plain path and a naive baseline
bench-enrich: $(STAMP)
	$(BIN)/python bench/enrich.py

# peak memory of enrich on 10 MB / 50 MB and hostile input (about 20 s); not part of `bench`
bench-enrich-memory: $(STAMP)
	$(BIN)/python bench/enrich_memory.py

bench-poll: $(STAMP)
	$(BIN)/python bench/poll.py

bench-deliver: $(STAMP)
	$(BIN)/python bench/deliver.py

bench-incidents: $(STAMP)
	$(BIN)/python bench/incidents.py

# push -> notification latency of /api/v1/ingest at 100 alerts/s (about 25 s)
bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest.py

bench-grouping: $(STAMP)
	$(BIN)/python bench/grouping.py

bench-startup: $(STAMP)
	$(BIN)/python bench/startup.py

# kill -9 a real daemon 30 times mid-delivery (about 90 s); prints lost / duplicated. Not part of `bench` or `test`.
bench-killloop: $(STAMP)
	$(BIN)/python bench/killloop.py

# 300 simulated tenants polled by 1 and by 3 daemons on one throwaway PostgreSQL (a few minutes).
# Not part of `bench` or `test`.
bench-replicas: $(STAMP)
	$(BIN)/python bench/replicas.py

# Builds the image and runs it (podman; installed when missing): scripts/container-smoke. Not part of `test`.
container-smoke:
	bash scripts/container-smoke

# Hostile input for a bounded time (about 5 min, not part of `test`): the hostile suite (tests/hostile,
# the closed-pipe CLI test), then hypothesis against detect, enrich lines, config load, ingest formats,
# connector parsers and the HTTP server for FUZZ_SECONDS each (tests/fuzz/run.py). Prints every test
# and input count, and fails on anything that crashed, hung or leaked.
FUZZ_SECONDS ?= 30
fuzz: $(STAMP)
	timeout 1200 $(BIN)/pytest -n 2 -p no:cacheprovider -o addopts= -v -ra tests/hostile tests/test_cli_pipe.py
	timeout 1200 $(BIN)/python -m tests.fuzz.run --seconds $(FUZZ_SECONDS)

# constraints.txt: the runtime dependencies pinned to this venv's versions (the Dockerfile installs with it).
constraints: $(STAMP)
	$(BIN)/python scripts/constraints.py

# pip-audit of constraints.txt against PyPI's vulnerability data (pip-audit is installed on first use).
# Fails when a pinned package has a known vulnerability, and says so when the data could not be had
# for some packages (an index mirror without PyPI's JSON API answers for none).
audit: $(STAMP)
	@$(BIN)/python -m pip_audit --version >/dev/null 2>&1 || $(BIN)/python -m pip install -q --disable-pip-version-check 'pip-audit>=2.7'
	$(BIN)/python scripts/audit.py constraints.txt

# Regenerates docs/configuration.md from the config model (tests/test_docs.py fails when it is stale).
.PHONY: docs fuzz constraints audit
docs: $(STAMP)
	$(BIN)/python -m enricher.config_doc docs/configuration.md

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache
