# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint format openapi validate browser decap node clean bench bench-index bench-search bench-history bench-decap bench-cache fuzz crash container example

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## Serve the sample site (seeds instance/site from content/ on first run).
run: $(STAMP) decap
	$(BIN)/cms serve --host $(HOST) --port $(PORT)

## The example front end (examples/frontend, port 8001) beside the CMS (port 5000).
example: $(STAMP) decap
	$(BIN)/python examples/serve.py

## Lint, check formatting, then run the whole test suite (browser tests included).
test: $(STAMP) browser decap node
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

## Debian's Chromium, for the browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get install -y chromium'" >&2; exit 1; \
	  fi; }

## The Decap CMS editor served at /admin/: the pinned npm release, integrity-checked.
decap: $(STAMP)
	$(BIN)/cms decap install

## The tests' node tools (the reference decap-server), from their lock file.
node: tests/node/node_modules/.package-lock.json
tests/node/node_modules/.package-lock.json: tests/node/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else \
	    echo "node and npm are missing: run 'sudo apt-get install -y nodejs npm'" >&2; exit 1; \
	  fi; }
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Regenerate openapi/openapi.json from the code.
openapi: $(STAMP)
	$(BIN)/cms openapi --output openapi/openapi.json

validate: $(STAMP)
	$(BIN)/cms validate

bench: $(STAMP)
	$(BIN)/python bench/read_bench.py

## The index benchmark on a generated site (ENTRIES=10000 COMMITS=5000 by default;
## ENTRIES=100000 takes COMMITS=2000: each commit writes a tree of every article).
ENTRIES ?= 10000
COMMITS ?= $(if $(filter 100000,$(ENTRIES)),2000,5000)
SITE = bench/out/site-$(ENTRIES)-$(COMMITS)
bench-index: $(STAMP) node
	test -d $(SITE) || $(BIN)/python bench/generate.py --entries $(ENTRIES) --commits $(COMMITS) --out $(SITE)
	$(BIN)/python bench/index_bench.py --repo $(SITE)

## Search with FTS5 (as the index runs it) and tantivy side by side, on the index of the
## generated site of `make bench-index` (built here with `cms index rebuild` if missing).
bench-search: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	test -d $(SITE) || $(BIN)/python bench/generate.py --entries $(ENTRIES) --commits $(COMMITS) --out $(SITE)
	test -f $(SITE)-instance/index/main.sqlite || CMS_REPO=$(SITE) CMS_INSTANCE=$(SITE)-instance $(BIN)/cms index rebuild
	$(BIN)/python bench/search_engines.py --index $(SITE)-instance/index/main.sqlite

## The last change of files looked up on demand, with and without the commit-graph of changed
## paths the server keeps, on the generated site of `make bench-index`.
bench-history: $(STAMP)
	test -d $(SITE) || $(BIN)/python bench/generate.py --entries $(ENTRIES) --commits $(COMMITS) --out $(SITE)
	$(BIN)/python bench/history_bench.py --repo $(SITE)

## The Decap editor in Chromium on a site of 350 people and 73 drafts (sign-in, open, save).
bench-decap: $(STAMP) browser decap
	$(BIN)/python bench/decap_bench.py

## One replica, two behind nginx, two behind nginx's cache (deploy/nginx.conf), with wrk.
bench-cache: $(STAMP)
	$(BIN)/python bench/cache_bench.py

## Build the Docker image with podman on a local Debian base, run it, check /readyz and its
## HEALTHCHECK (needs root; see scripts/container.sh).
container:
	scripts/container.sh

## Schemathesis against a real server, 10 minutes with an editor token, then 10 with an admin's.
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz.py --seconds $(FUZZ_SECONDS)

## SIGKILL the server at each step of a write and at 40 random moments; nothing is lost.
CRASH_KILLS ?= 40
crash: $(STAMP)
	$(BIN)/python bench/crash.py --kills $(CRASH_KILLS)

clean:
	rm -rf $(VENV) instance build *.egg-info .pytest_cache .ruff_cache .hypothesis \
	  cms/api/static/decap tests/node/node_modules
