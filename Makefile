# Concurrency Lab. `make help` lists the targets.
SHELL := /bin/bash
SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 8080
DB ?= .data/concurrency-lab.sqlite
BIN_RELEASE := .build/release/concurrency-lab
# `make test` builds once, a debug build (assertions on), which the Swift tests and the e2e suite
# share: from a fresh clone it takes about 10 minutes on 2 cores, where an optimised build with
# testable imports took 15 to 17. The release build is
# `make run`'s and the bench's; speed is the bench's business, not the tests'.
BIN_TEST := .build/debug/concurrency-lab

.PHONY: help deps build release run cluster test check-architecture test-swift test-e2e bench bench-quick soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

deps: ## install the Debian packages the build needs (only those missing)
	@scripts/install-deps.sh build

build: deps ## debug build
	$(SWIFT) build

release: deps ## optimised build of the concurrency-lab executable
	$(SWIFT) build -c release --product concurrency-lab

run: release ## build and serve on $(HOST):$(PORT) with the SQLite store in $(DB)
	@mkdir -p $(dir $(DB))
	@echo "serving on http://$(HOST):$(PORT)/ (store: $(DB)); Ctrl-C stops"
	$(BIN_RELEASE) serve --host $(HOST) --port $(PORT) --db $(DB)

cluster: release ## throwaway PostgreSQL under .data/, three instances on 127.0.0.1:8081-8083, nginx on :8080; Ctrl-C stops all
	@scripts/install-deps.sh cluster
	scripts/cluster.sh $(BIN_RELEASE)

test: ## install what the tests need, then run every test (imports, Swift, then browser and e2e)
	@scripts/install-deps.sh test
	$(MAKE) check-architecture
	$(MAKE) test-swift
	$(MAKE) test-e2e

check-architecture: ## fail when an import crosses an arrow ARCHITECTURE.md forbids, or is undeclared
	python3 scripts/check-architecture.py

test-swift: ## unit and integration tests (swift test, debug build), with a throwaway PostgreSQL for the store tests
	$(SWIFT) build --build-tests
	scripts/throwaway-postgres.sh run $(SWIFT) test --skip-build --parallel --num-workers 2

test-e2e: ## browser and contract tests against the tests' debug server build (Tests/e2e), with a throwaway PostgreSQL
	$(SWIFT) build --build-tests
	Tests/e2e/run.sh $(BIN_TEST)

bench: ## full benchmark against the reference peers (long)
	@scripts/install-deps.sh bench
	Benchmarks/run.sh full

bench-quick: ## the same rows, shorter (under 3 minutes)
	@scripts/install-deps.sh bench
	Benchmarks/run.sh quick

soak: ## long soaks, not part of make test: runs and streams (3 min), then 5,000 subscribers churning (3 min)
	$(SWIFT) build -c release --product concurrency-lab
	Tests/e2e/soak.sh $(BIN_RELEASE)
	python3 Tests/e2e/soak_subscribers.py --binary $(BIN_RELEASE) --seconds 180 --subscribers 5000

clean: ## remove build products
	rm -rf .build .build-test .build-bench
