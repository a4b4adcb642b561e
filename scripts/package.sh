#!/usr/bin/env bash
# Builds the installable .deb with Tauri's bundler (the npm @tauri-apps/cli pinned in
# ui/package-lock.json). The CLI wants its configuration inside the app crate's folder, while
# the project keeps the one copy at the repository root (the design card's layout): so this
# writes src-tauri/tauri.conf.json for the duration of the build, generated from the root file
# with its paths made relative to src-tauri, and removes it afterwards. Never commit it.
#
# Usage: scripts/package.sh [--debug]     (release by default; the .deb lands in
#        $CARGO_TARGET_DIR/{release,debug}/bundle/deb/)
set -euo pipefail
cd "$(dirname "$0")/.."
generated=src-tauri/tauri.conf.json
trap 'rm -f "$generated"' EXIT
node -e '
  const fs = require("fs");
  const c = JSON.parse(fs.readFileSync("tauri.conf.json", "utf8"));
  const up = (p) => "../" + p;
  c.build.frontendDist = up(c.build.frontendDist);
  c.bundle.icon = c.bundle.icon.map(up);

  fs.writeFileSync(process.argv[1], JSON.stringify(c, null, 2));
' "$generated"
cd src-tauri
../ui/node_modules/.bin/tauri build --bundles deb --features custom-protocol "$@"
