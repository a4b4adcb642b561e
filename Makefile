# Stockpulse — the two commands are `make demo` and `make test`; see README.md.
# Every target installs what it needs that is missing (scripts/ensure-deps.sh) and skips what is there.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The target dir lives outside the clone so CI's fresh clones reuse the warm build cache.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/stockpulse/target
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo
DEMO_ARGS ?= --size medium

.PHONY: help deps demo test test-rust test-ui ui ui-deps bench fmt lint doc

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

deps: ## install missing system packages and check the Rust toolchain
	@scripts/ensure-deps.sh base

demo: deps ## build, then pull a simulated Finale account through the client (DEMO_ARGS=...)
	$(CARGO) build --release -p stockpulse-cli --bin stockpulse
	$(CARGO_TARGET_DIR)/release/stockpulse demo $(DEMO_ARGS)

test: deps lint test-rust test-ui ## lint, then every test suite

# Suites that need PostgreSQL get TEST_DATABASE_URL: the given one, the machine's server, or a
# private throwaway cluster that scripts/ensure-postgres.sh starts.
test-rust:
	export TEST_DATABASE_URL="$$(scripts/ensure-postgres.sh)"; \
	$(CARGO) test --workspace --lib --bins --tests --no-fail-fast && \
	$(CARGO) test --workspace --doc

# The web view: npm packages from ui/package-lock.json (skipped when already installed), then
# svelte-check and the Vitest suite (unit and component tests with mocked IPC).
test-ui: ui-deps
	cd ui && npm run check && npm test

ui: ui-deps ## build the web view into ui/build
	cd ui && npm run build

ui-deps:
	@scripts/ensure-deps.sh ui
	@scripts/npm-ci.sh

bench: deps ## benchmarks (release); figures are ratios measured in one run
	$(CARGO) bench -p stockpulse-tests --bench decode
	export TEST_DATABASE_URL="$$(scripts/ensure-postgres.sh)"; \
	$(CARGO) bench -p stockpulse-tests --bench engine && \
	$(CARGO) bench -p stockpulse-tests --bench mirror && \
	$(CARGO) bench -p stockpulse-tests --bench queries

fmt: deps ## format the code
	$(CARGO) fmt --all

lint: deps ## rustfmt check, clippy -D warnings, rustdoc -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet
