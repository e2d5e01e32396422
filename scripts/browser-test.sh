#!/usr/bin/env bash
# The web client in real headless Chromium: builds web/ (scripts/web-build.sh),
# installs Debian's chromium and the Playwright driver from npm, then runs
# tests/tests/browser.rs against our server and, when Prosody's interop
# environment is there ($XMPP_INTEROP_DIR/prosody/env, written by
# scripts/interop/prosody-up.sh), against Prosody's mod_websocket too.
set -euo pipefail
TAG=browser-test
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=scripts/interop/lib.sh
. "$HERE/interop/lib.sh"

if [ "$(id -u)" = 0 ]; then
  install_packages chromium
  command -v npm >/dev/null || install_packages nodejs npm
fi
command -v chromium >/dev/null || fail "chromium is not installed (run as root to install it)"
command -v node >/dev/null || fail "node is not installed (run as root to install it)"

# Also installs the npm packages of scripts/browser (Playwright's driver).
bash "$HERE/web-build.sh"

export XMPP_WEB_DIR="$ROOT/web/www"
export XMPP_BROWSER_DRIVER="$HERE/browser/drive.mjs"
cd "$ROOT"
say "the web client against our server"
cargo test -p xmpp-tests --test browser -- --ignored --nocapture web_client_against_our_server

env_file="$STATE/prosody/env"
if [ -f "$env_file" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
  # Chromium trusts exactly the test server's key: its CA is not in the
  # browser's store, and no certificate check is switched off.
  XMPP_PROSODY_SPKI="$(openssl x509 -in "$STATE/certs/fullchain.pem" -pubkey -noout |
    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
  export XMPP_PROSODY_SPKI
  say "the web client against Prosody"
  cargo test -p xmpp-tests --test browser -- --ignored --nocapture web_client_against_prosody
else
  say "no Prosody environment at $env_file; run scripts/interop/prosody-up.sh for the Prosody half"
fi
