# Stockpulse — the commands are `make app` (the desktop app with demo data), `make demo` (the
# headless engine demo) and `make test`; see README.md.
# Every target installs what it needs that is missing (scripts/ensure-deps.sh) and skips what is there.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The target dir lives outside the clone so CI's fresh clones reuse the warm build cache.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/stockpulse/target
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo
DEMO_ARGS ?= --size medium
# Where `make app` keeps the demo's data (a folder of its own: never the real cache).
APP_DATA_DIR ?= $(HOME)/.local/share/stockpulse-demo
APP_BIN := $(CARGO_TARGET_DIR)/debug/stockpulse-app

.PHONY: help deps demo test test-rust test-ui test-e2e bench bench-app fmt lint doc app app-build ui ui-deps package bindings

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

deps: ## install missing system packages and check the Rust toolchain
	@scripts/ensure-deps.sh base app

# The web view: npm packages from ui/package-lock.json (skipped when already installed), then
# the build into ui/build (what the app embeds).
ui: ui-deps ## build the web view into ui/build
	cd ui && npm run build

ui-deps:
	@scripts/ensure-deps.sh ui
	@scripts/npm-ci.sh

# The app as it ships (the UI embedded; `custom-protocol` is what `tauri build` turns on).
app-build: deps ui
	$(CARGO) build -p stockpulse-desktop --features custom-protocol

app: app-build ## build the desktop app and open it with demo data (APP_DATA_DIR=...)
	$(APP_BIN) --demo --data-dir "$(APP_DATA_DIR)"

package: deps ui ## build an installable .deb (Tauri's bundler) into $(CARGO_TARGET_DIR)/release/bundle/deb
	scripts/package.sh

bindings: ## regenerate the UI's TypeScript types (ui/src/lib/bindings) from the Rust types
	STOCKPULSE_WRITE_BINDINGS=1 $(CARGO) test -p stockpulse-app --lib bindings -- --nocapture

demo: deps ## build, then pull a simulated Finale account through the client (DEMO_ARGS=...)
	$(CARGO) build --release -p stockpulse-cli --bin stockpulse
	$(CARGO_TARGET_DIR)/release/stockpulse demo $(DEMO_ARGS)

test: deps lint test-rust test-ui test-e2e ## lint, then every test suite

# svelte-check and the Vitest suite (unit and component tests with mocked IPC).
test-ui: ui-deps
	cd ui && npm run check && npm test

# The built app under Xvfb through tauri-driver (scripts/e2e.sh); the offline suite fills its
# shared database with the CLI.
test-e2e: app-build
	$(CARGO) build -p stockpulse-cli --bin stockpulse
	scripts/e2e.sh

# Suites that need PostgreSQL get TEST_DATABASE_URL: the given one, the machine's server, or a
# private throwaway cluster that scripts/ensure-postgres.sh starts. (The UI's bindings are
# checked here too: crates/app's `bindings_are_current`.)
test-rust:
	export TEST_DATABASE_URL="$$(scripts/ensure-postgres.sh)"; \
	$(CARGO) test --workspace --lib --bins --tests --no-fail-fast && \
	$(CARGO) test --workspace --doc

bench: deps ## benchmarks (release); figures are ratios measured in one run
	$(CARGO) bench -p stockpulse-tests --bench decode
	export TEST_DATABASE_URL="$$(scripts/ensure-postgres.sh)"; \
	$(CARGO) bench -p stockpulse-tests --bench engine && \
	$(CARGO) bench -p stockpulse-tests --bench mirror && \
	$(CARGO) bench -p stockpulse-tests --bench queries

# The desktop app at 100k SKUs under Xvfb (scripts/bench-app.sh, e2e/bench.mjs): launch, keystroke,
# scroll, item open, live stockout and memory figures, printed and written to
# $(CARGO_TARGET_DIR)/bench-app/figures.json; never asserted. Debug build unless APP_BIN says otherwise.
bench-app: app-build ## the desktop app's benchmark at 100k SKUs (figures, not assertions)
	scripts/bench-app.sh

fmt: deps ## format the code
	$(CARGO) fmt --all

lint: deps ## rustfmt check, clippy -D warnings, rustdoc -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet
