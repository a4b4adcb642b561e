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
# Timeouts everywhere (WebKitWebDriver waits forever for an app that died at start), and the
# whole run in its own session (setsid) whose leftovers (at-spi-bus-launcher) are stopped by
# process group at the end.
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

scripts/ensure-deps.sh e2e
if [ ! -x "$APP_BIN" ]; then
  echo "e2e: no app at $APP_BIN (make app-build builds it)" >&2
  exit 1
fi
(cd e2e && { [ -d node_modules/webdriverio ] || npm ci --no-audit --no-fund --loglevel=error; })

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

set +e
setsid timeout --kill-after=10 600 \
  xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
  dbus-run-session -- bash -c '
    dunst >/dev/null 2>&1 & D=$!
    dbus-monitor --session "interface=org.freedesktop.Notifications,member=Notify" \
      > "$NOTIFY_LOG" 2>/dev/null & M=$!
    /usr/bin/python3 e2e/desktop.py tray-host "$TRAY_LOG" & T=$!
    sleep 0.5
    # One file at a time: each starts its own app session (fixed driver ports).
    timeout --kill-after=10 420 node --test --test-reporter=spec --test-concurrency=1 \
      --test-timeout=300000 $E2E_FILES
    rc=$?
    kill $M $D $T 2>/dev/null; wait $D 2>/dev/null
    exit $rc' &
run=$!
wait "$run"
rc=$?
# Whatever the session left behind (its process group is the setsid leader's pid).
kill -- -"$run" 2>/dev/null || true
set -e
echo "e2e: notifications captured: $(grep -c 'member=Notify' "$NOTIFY_LOG" || true); output in $E2E_OUT" >&2
exit "$rc"
