# Panorama CDP. `make run` brings the platform up with demo data; `make test` runs the suite.
# Both start from `make setup`, which is idempotent and installs what is missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_CUSTOMERS ?= 2000
PYTEST_ARGS ?=

.PHONY: setup python-deps system-deps kafka-jars bench-deps up down status run demo test test-unit test-integration bench soak thorough clean-data

setup: system-deps python-deps kafka-jars

# Java 17, Maven and redis-server from the OS packages (installed when missing and root).
system-deps:
	@missing=""; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing -- run: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

python-deps: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

kafka-jars: python-deps
	@$(BIN)/python -m panorama.stack.kafka >/dev/null && echo "kafka jars ready"

up: setup
	$(BIN)/cdp up

down:
	@test -x $(BIN)/cdp && $(BIN)/cdp down || true

status:
	$(BIN)/cdp status

demo:
	$(BIN)/cdp demo --customers $(DEMO_CUSTOMERS)

# The sink runs until it has caught up and then lets go of the chDB directory (one process
# may open it; a `cdp sink` left running answers `cdp sql` and POST /v1/sql meanwhile).
run: up demo
	$(BIN)/cdp sink --until-caught-up
	@echo ""
	@echo "Panorama is up.  Where to look:"
	@echo "  $(BIN)/cdp status                          parts, ports, pids, logs"
	@echo "  $(BIN)/cdp tail -n 3                       the newest events, decoded (personal fields masked)"
	@echo "  $(BIN)/cdp profile get u-000001            one customer's live 360-degree profile (Redis)"
	@echo "  $(BIN)/cdp identity explain u-000001       how that customer's identities were stitched"
	@echo "  $(BIN)/cdp sql 'SELECT * FROM rfm LIMIT 5' analytics in ClickHouse (docs/analytics.md)"
	@echo "  $(BIN)/cdp segments create NAME --rule JSON  a live segment (README: Segments for marketing)"
	@echo "  $(BIN)/cdp keys create --role admin --name you   a key for the API (nothing but /health answers without one)"
	@echo "  curl -H 'Authorization: Bearer KEY' 'localhost:8080/v1/profiles?identity=user_id:u-000001'"
	@echo "  curl -H 'Authorization: Bearer ANALYST_KEY' -d '{\"query\": \"SELECT * FROM rfm LIMIT 5\"}' localhost:8080/v1/sql"
	@echo "  curl -u WRITE_KEY: localhost:8080/v1/track  the Segment-compatible collector (cdp keys create --role ingest)"
	@echo "  curl localhost:8080/health                 the API; /metrics for Prometheus (admin or auditor key)"
	@echo "  make down                                  stop everything"

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: python-deps
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: setup
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

bench: setup bench-deps
	$(BIN)/python -m bench

# wrk, the HTTP load generator of the API benchmark (C, a few µs of CPU per request), from
# the OS packages when missing and root; without it the benchmark uses its Python generator and says so.
bench-deps:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: wrk"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
	      || echo "wrk could not be installed: the API benchmark falls back to its Python load generator"; \
	  else \
	    echo "wrk is missing (sudo apt-get install wrk): the API benchmark falls back to its Python load generator"; \
	  fi; }

# Conservation under bad input at the issue's size: 1,000,000 events, 5% malformed, through the collector.
soak: setup
	CDP_CONSERVATION_EVENTS=1000000 $(BIN)/pytest tests/integration/connectors/test_conservation.py -o timeout=3600 $(PYTEST_ARGS)

# The property tests at full size: 10,000+ examples of the profile fold and the identity
# state machine (make test runs a sample of them).
thorough: python-deps
	HYPOTHESIS_PROFILE=thorough $(BIN)/pytest tests/unit $(PYTEST_ARGS)

clean-data: down
	rm -rf .data
