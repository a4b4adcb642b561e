#!/usr/bin/env bash
# Installs what the build needs and is missing; skips what is already there.
# Usage: scripts/ensure-deps.sh [base] [app] [e2e] [ui]
# Safe to run repeatedly: every step checks before it acts, so a warm machine spends ~1 s here.
set -euo pipefail

log() { printf '\033[1;34m[deps]\033[0m %s\n' "$*" >&2; }

apt_missing() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then printf '%s\n' "${missing[@]}"; fi
}

ensure_apt() {
  mapfile -t missing < <(apt_missing "$@")
  if [ "${#missing[@]}" -eq 0 ]; then return 0; fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    log "no Rust toolchain found. Debian 12's rustc (1.63) is too old for this workspace (edition 2024)."
    log "Install rustup (https://rustup.rs), then re-run; rust-toolchain.toml pins the exact version."
    exit 1
  fi
  # rustup installs the pinned toolchain (and its rustfmt/clippy) on first use; make that explicit
  # so the first build does not look hung.
  if command -v rustup >/dev/null 2>&1; then
    rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
  fi
}

groups=("${@:-base}")
for g in "${groups[@]}"; do
  case "$g" in
    base)
      # build-essential: cc/ld for -sys crates; pkg-config + libssl-dev: native-tls for HTTPS to
      # Finale and TLS to Postgres; ca-certificates: the roots those connections verify against;
      # openssl: the CLI makes the pooler tests' throwaway certificate;
      # pgbouncer: the engine's tests run the Postgres store through a real transaction-mode
      # pooler, the way Supabase's pooler serves it.
      ensure_apt build-essential pkg-config libssl-dev ca-certificates openssl git pgbouncer
      ensure_rust
      ;;
    app)
      # The desktop app (Tauri 2 on WebKitGTK 4.1): webkit2gtk pulls in gtk3 and soup3;
      # libayatana-appindicator3 is the tray icon; rsvg and xdo are on Tauri's list of
      # prerequisites (cheap, kept). See shared docs desktop-testing.md.
      ensure_apt build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev \
        librsvg2-dev libayatana-appindicator3-dev libxdo-dev
      ensure_rust
      ;;
    e2e)
      # The real app under Xvfb with a D-Bus session and a notification daemon, driven by
      # tauri-driver + WebKitWebDriver (webkit2gtk-driver); node runs the suite.
      ensure_apt xvfb xauth webkit2gtk-driver dbus-x11 dunst libnotify-bin imagemagick \
        xdotool x11-utils python3-gi python3-xlib
      # Node runs the suite: the machine's Node (with its npm) when there is one, else Debian's.
      command -v npm >/dev/null 2>&1 || ensure_apt nodejs npm
      if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
        log "installing tauri-driver 2.1.0 (cargo install, about a minute)"
        cargo install tauri-driver --locked --version 2.1.0
      fi
      ;;
    ui)
      # The web view's toolchain: Node.js >= 20.19 with npm (Vite 8 and SvelteKit 2.70 need it;
      # Debian 12's own nodejs is 18). The packages come from ui/package-lock.json
      # (scripts/npm-ci.sh).
      if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        log "no Node.js found: install Node.js 20.19 or newer (with npm), then re-run."
        exit 1
      fi
      node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
        log "Node.js $(node --version) is too old: the UI needs 20.19 or newer."; exit 1; }
      ;;
    *) log "unknown dependency group: $g"; exit 2 ;;
  esac
done
