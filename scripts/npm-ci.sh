#!/usr/bin/env bash
# `npm ci` in ui/, skipped when node_modules already holds exactly what package-lock.json pins
# (a copy of the lock file is kept in node_modules after a successful install).
set -euo pipefail
cd "$(dirname "$0")/../ui"
stamp=node_modules/.stockpulse-lock
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
