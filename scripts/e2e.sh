#!/usr/bin/env bash
# End-to-end test of the real desktop app under Xvfb, the recipe of the shared docs
# (desktop-testing.md): tauri-driver + WebKitWebDriver drive the built app, started with
# `--demo --data-dir <fresh temp dir>`, inside a private X server and D-Bus session with
# dunst showing notifications and dbus-monitor capturing every Notify call.
#
# Usage: scripts/e2e.sh [FILE...]  (default: every e2e/*.test.mjs; the benchmark's
#        e2e/bench*.mjs are not tests and never run here)
#        APP_BIN=... to test another binary, STOCKPULSE_CLI=... the engine CLI (fills the
#        shared-database suite's Postgres), E2E_OUT=... for output.
# Output: $E2E_OUT (default $CARGO_TARGET_DIR/e2e): screenshots, notify-calls.log.
#
# The desktop (X server, D-Bus session, notification daemon, tray host), the timeouts and the
# cleanup are scripts/desktop-session.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
: "${CARGO_TARGET_DIR:=$HOME/.cache/stockpulse/target}"
export APP_BIN="${APP_BIN:-$CARGO_TARGET_DIR/debug/stockpulse-app}"
export E2E_OUT="${E2E_OUT:-$CARGO_TARGET_DIR/e2e}"
export STOCKPULSE_CLI="${STOCKPULSE_CLI:-$CARGO_TARGET_DIR/debug/stockpulse}"
if [ "$#" -gt 0 ]; then
  E2E_FILES="$*"
else
  E2E_FILES="$(ls e2e/*.test.mjs | grep -v '^e2e/bench' | tr '\n' ' ')"
fi
export E2E_FILES

mkdir -p "$E2E_OUT"
rm -f "$E2E_OUT"/*.png
E2E_DATA_DIR="$(mktemp -d)"
export E2E_DATA_DIR
export NOTIFY_LOG="$E2E_OUT/notify-calls.log"
: > "$NOTIFY_LOG"
# The tray host (e2e/desktop.py): what a panel's tray does, so the app's tray can be tested.
export TRAY_LOG="$E2E_OUT/tray-items.log"
: > "$TRAY_LOG"
trap 'rm -rf "$E2E_DATA_DIR"' EXIT

# One file at a time: each starts its own app session (fixed driver ports).
set +e
# shellcheck disable=SC2086 # E2E_FILES is a list of paths
scripts/desktop-session.sh 600 420 node --test --test-reporter=spec --test-concurrency=1 \
  --test-timeout=300000 $E2E_FILES
rc=$?
set -e
echo "e2e: notifications captured: $(grep -c 'member=Notify' "$NOTIFY_LOG" || true); output in $E2E_OUT" >&2
exit "$rc"
