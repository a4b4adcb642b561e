#!/usr/bin/env bash
# Runs a command against the built desktop app inside a desktop of its own, the recipe of the
# shared docs (desktop-testing.md): a private X server (Xvfb, 1280x800) and D-Bus session,
# dunst showing notifications, dbus-monitor capturing every Notify call into $NOTIFY_LOG, and,
# when $TRAY_LOG is set, the tray host of e2e/desktop.py. Used by scripts/e2e.sh and
# scripts/bench-app.sh, which set up what their command needs.
#
# Usage: scripts/desktop-session.sh SESSION_SECONDS COMMAND_SECONDS COMMAND [ARG...]
#   Before the session: the e2e dependencies (Debian packages, tauri-driver, e2e's npm
#   packages) are installed when missing, and $APP_BIN must be the built app.
#   Timeouts everywhere (WebKitWebDriver waits forever for an app that died at start): the
#   whole session gets SESSION_SECONDS, the command COMMAND_SECONDS. The session runs in its
#   own process group (setsid), and whatever it leaves behind (at-spi-bus-launcher) is stopped
#   by process group at the end. Exits with the command's status.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -lt 3 ]; then
  echo "usage: $0 SESSION_SECONDS COMMAND_SECONDS COMMAND [ARG...]" >&2
  exit 2
fi
session_seconds=$1
export COMMAND_SECONDS=$2
shift 2
: "${NOTIFY_LOG:?NOTIFY_LOG must name the file for the captured Notify calls}"

scripts/ensure-deps.sh e2e
if [ ! -x "${APP_BIN:-}" ]; then
  echo "$(basename "$0"): no app at ${APP_BIN:-(APP_BIN unset)} (make app-build builds it)" >&2
  exit 1
fi
(cd e2e && { [ -d node_modules/webdriverio ] || npm ci --no-audit --no-fund --loglevel=error; })

set +e
setsid timeout --kill-after=10 "$session_seconds" \
  xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
  dbus-run-session -- bash -c '
    dunst >/dev/null 2>&1 & D=$!
    dbus-monitor --session "interface=org.freedesktop.Notifications,member=Notify" \
      > "$NOTIFY_LOG" 2>/dev/null & M=$!
    T=
    if [ -n "${TRAY_LOG:-}" ]; then
      /usr/bin/python3 e2e/desktop.py tray-host "$TRAY_LOG" & T=$!
    fi
    sleep 0.5
    timeout --kill-after=10 "$COMMAND_SECONDS" "$@"
    rc=$?
    kill $M $D $T 2>/dev/null; wait $D 2>/dev/null
    exit $rc' desktop-session "$@" &
run=$!
wait "$run"
rc=$?
# Whatever the session left behind (its process group is the setsid leader's pid).
kill -- -"$run" 2>/dev/null || true
exit "$rc"
