# Two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV_STAMP := .venv/.synced-$(UV_VERSION)
KAFKA_POM := libs/local-infra/kafka/pom.xml
KAFKA_LIBS := $(TOOLS)/kafka/libs
KAFKA_STAMP := $(TOOLS)/kafka/.resolved
SOURCES := libs/*/src services/*/src simulators/*/src bench
# Renders the Kubernetes overlays for tests/deploy (the kustomize inside kubectl 1.32).
KUSTOMIZE_VERSION := v5.5.0
KUSTOMIZE_BIN := $(TOOLS)/kustomize-$(KUSTOMIZE_VERSION)/kustomize

.PHONY: help install server-deps fonts run stop status lint typecheck test test-unit test-deps bench chaos clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV_STAMP): $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml simulators/*/pyproject.toml)
	$(UV) sync --all-packages --frozen
	@rm -f .venv/.synced-* && touch $@

# Apache Kafka's jars, as pinned in the pom, from Maven Central (Java 17+ and Maven run it).
$(KAFKA_STAMP): $(KAFKA_POM)
	@command -v java >/dev/null && command -v mvn >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven; }
	rm -rf $(KAFKA_LIBS)
	mvn -q -B -f $(KAFKA_POM) dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(abspath $(KAFKA_LIBS))
	@touch $@

# When no server answers where the settings point, local-infra runs its own PostgreSQL and
# Redis with these programs (make run: under .run; tests: in a temporary directory).
server-deps: ## PostgreSQL's and Redis's server programs (Debian's), when initdb/pg_ctl or redis-server is missing
	@{ command -v initdb && command -v pg_ctl || ls /usr/lib/postgresql/*/bin/initdb /usr/lib/postgresql/*/bin/pg_ctl; } >/dev/null 2>&1 && command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server; }

# entry writes holders' names on PDF tickets with it (TICKET_PDF_FONT); without it, Latin-1 only.
fonts: ## Debian's DejaVu fonts, when missing
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core; }

install: $(VENV_STAMP) $(KAFKA_STAMP) server-deps fonts ## Create .venv from the lock file, fetch Apache Kafka's jars, install PostgreSQL/Redis when missing

run: install ## Start PostgreSQL/Redis if needed, the broker, the services and the shop/console
	$(UV) run --frozen python -m local_infra up

stop: ## Stop every process `make run` started
	@if [ -x .venv/bin/python ]; then .venv/bin/python -m local_infra down; else echo "nothing to stop"; fi

status: install ## Show what `make run` started
	$(UV) run --frozen python -m local_infra status

lint: install ## ruff (lint + format check)
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: install ## mypy --strict on every package
	$(UV) run --frozen mypy $(SOURCES)

test: lint typecheck test-deps ## Lint, type-check and run every test (unit, integration, e2e, browser) on real infrastructure
	node --test services/web/tests/js/
	$(UV) run --frozen pytest -n 2 --dist loadgroup --durations=30

test-unit: install ## Only the tests that need no infrastructure
	$(UV) run --frozen pytest -m "not integration and not e2e"

test-deps: $(KUSTOMIZE_BIN) ## Headless Chromium (Debian's) for the browser tests, node for the front-end unit tests, kcat for the downstream-client test, kustomize for the manifest tests
	@command -v chromium >/dev/null && command -v node >/dev/null && command -v kcat >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nodejs kcat; }

# Built from its Go module with the machine's Go (Debian has no kustomize); tests/deploy
# renders with .tools/bin/kustomize.
$(KUSTOMIZE_BIN):
	@command -v go >/dev/null || { echo "kustomize is built with Go >= 1.22: install Go" >&2; exit 1; }
	GOBIN=$(abspath $(dir $@)) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	@mkdir -p $(TOOLS)/bin && ln -sf ../kustomize-$(KUSTOMIZE_VERSION)/kustomize $(TOOLS)/bin/kustomize

bench: install ## Flash-sale and queued on-sale benchmarks driven by wrk, with same-round baselines (prints JSON + tables)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(UV) run --frozen python -m bench.flash_sale $(BENCH_ARGS)
	$(UV) run --frozen python -m bench.queued_on_sale $(QUEUE_BENCH_ARGS)

chaos: install ## Fault tests during a flash sale: kill -9 each service, restart PostgreSQL, pause and lose the broker
	CHAOS_PROFILE=full $(UV) run --frozen pytest tests/e2e/test_chaos.py -p no:cacheprovider

clean: stop ## Remove the environment and run state
	rm -rf .venv $(TOOLS) .run .pytest_cache .mypy_cache .ruff_cache
