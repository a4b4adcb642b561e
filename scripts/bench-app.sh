#!/usr/bin/env bash
# The desktop app's benchmark at 100k SKUs (issue 10, "Benchmark"): the real built app under
# Xvfb through tauri-driver + WebKitWebDriver, timed inside the web view (e2e/bench.mjs).
# Prints a table and writes $BENCH_OUT/figures.json; never asserts a timing.
#
# Usage: scripts/bench-app.sh       (make bench-app builds the app first)
#   APP_BIN=...         another binary (e.g. a release build; BENCH_BUILD=release labels it)
#   BENCH_PRODUCTS=N    size of the generated cache (default 100000)
#   BENCH_OUT=DIR       output (default $CARGO_TARGET_DIR/bench-app)
#   BENCH_SKIP_DEMO=1   skip the live stockout figures (the demo session, ~2.5 min)
#   BENCH_DEMO_SECONDS  how long to watch the demo for stockouts (default 100)
#
# The 100k cache is generated once by the `cache_fixture` tool (tests/bin) into
# $BENCH_OUT/fixture-<N>/stockpulse/stockpulse.db and copied fresh for every run (the app
# migrates and writes to it). The desktop it runs in, its timeouts and the cleanup are
# scripts/desktop-session.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
: "${CARGO_TARGET_DIR:=$HOME/.cache/stockpulse/target}"
export CARGO_TARGET_DIR
export APP_BIN="${APP_BIN:-$CARGO_TARGET_DIR/debug/stockpulse-app}"
export BENCH_OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-app}"
export BENCH_BUILD="${BENCH_BUILD:-debug}"
PRODUCTS="${BENCH_PRODUCTS:-100000}"

mkdir -p "$BENCH_OUT"

# The fixture: generated once per size, then reused.
FIXTURE="$BENCH_OUT/fixture-$PRODUCTS/stockpulse/stockpulse.db"
if [ ! -s "$FIXTURE" ]; then
  echo "bench-app: generating a cache of $PRODUCTS products (once; a few minutes)" >&2
  cargo build -q -p stockpulse-tests --bin cache_fixture
  rm -f "$FIXTURE"
  timeout 1800 "$CARGO_TARGET_DIR/debug/cache_fixture" "$FIXTURE.tmp" --products "$PRODUCTS"
  mv "$FIXTURE.tmp" "$FIXTURE"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home/stockpulse" "$WORK/config" "$WORK/demo"
cp "$FIXTURE" "$WORK/home/stockpulse/stockpulse.db"
rm -f "$BENCH_OUT"/*.png
export BENCH_HOME="$WORK/home" BENCH_DEMO_DIR="$WORK/demo"
export NOTIFY_LOG="$BENCH_OUT/notify-calls.log"
: > "$NOTIFY_LOG"

# The 100k session runs without --data-dir (see e2e/bench.mjs): its data and configuration
# come from these folders, Finale points at a closed loopback port, secrets stay in memory.
# Nothing from the caller's environment reaches the app's configuration.
for v in $(compgen -e | grep -E '^(STOCKPULSE_|FINALE_|DATABASE_URL$)' || true); do unset "$v"; done
export XDG_DATA_HOME="$BENCH_HOME" XDG_CONFIG_HOME="$WORK/config" STOCKPULSE_KEYCHAIN=off
export FINALE_ACCOUNT=bench FINALE_API_KEY=bench-key-not-used FINALE_API_SECRET=bench-secret-not-used
export FINALE_BASE_URL="http://127.0.0.1:9"
export STOCKPULSE_RETRY_AFTER_MINUTES=60

unset TRAY_LOG # no tray host: closing the window quits, as on a desktop without a tray

scripts/desktop-session.sh 900 780 node e2e/bench.mjs
