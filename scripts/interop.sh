#!/usr/bin/env bash
# Interop test run, as CI calls it: the PostgreSQL store's test suite
# against a real PostgreSQL; start Prosody and ejabberd on loopback,
# check them with smoke.sh, run the Rust interop tests against them (once
# tests/tests/interop.rs exists), stop both servers however this ends, then
# test slixmpp (interop/slixmpp-vs-ours.sh) and Debian's command-line
# clients (interop/clients-vs-ours.sh) against our own server. The web
# client runs in headless Chromium (browser-test.sh) while Prosody is up.
# Needs root on Debian (it installs the server packages when missing).
# See scripts/interop/README.md for the knobs.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=scripts/interop
TAG=interop
# shellcheck source=scripts/interop/lib.sh
. "$dir/lib.sh"
export XMPP_INTEROP_DIR="${XMPP_INTEROP_DIR:-/tmp/xmpp-interop}"

stop_servers() {
  bash "$dir/dns-down.sh" || true
  bash "$dir/postgres-down.sh" || true
  bash "$dir/prosody-down.sh" || true
  bash "$dir/ejabberd-down.sh" || true
}
trap stop_servers EXIT

# The store suite (xmpp-store-tests) on PostgreSQL, as it runs on SQLite
# in the README's test command.
bash "$dir/postgres-up.sh"
(
  set -a
  # shellcheck disable=SC1091
  . "$XMPP_INTEROP_DIR/postgres/env"
  set +a
  cargo test -p xmpp-store-postgres -- --ignored
)
bash "$dir/postgres-down.sh"

# DNS SRV (the std transport's resolver) against dnsmasq with a test zone.
bash "$dir/dns-up.sh"
(
  set -a
  # shellcheck disable=SC1091
  . "$XMPP_INTEROP_DIR/dns/env"
  set +a
  # One at a time: two tests listen on the same address of the zone.
  cargo test -p xmpp-transport-std --test srv -- --ignored --test-threads=1
  cargo test -p xmpp-transport-mio --test keep -- --ignored --test-threads=1
)
bash "$dir/dns-down.sh"

bash "$dir/prosody-up.sh"
bash "$dir/ejabberd-up.sh"
bash "$dir/smoke.sh"
# Prosody's SASL2 host, checked by hand-written XML first (the compatibility
# module for Prosody 0.12 in scripts/interop/prosody/), then by our client.
python3 "$dir/prosody/sasl2_probe.py"

if [ -f tests/tests/interop.rs ]; then
  # Hand every fact the up scripts wrote (ports, domains, CA path) to the tests.
  set -a
  # shellcheck disable=SC1091
  . "$XMPP_INTEROP_DIR/prosody/env"
  # shellcheck disable=SC1091
  . "$XMPP_INTEROP_DIR/ejabberd/env"
  set +a
  export XMPP_INTEROP=1
  # slixmpp joins the group chat test as a third, independent occupant.
  slixmpp_venv
  export XMPP_SLIXMPP_PYTHON="$VENV/bin/python"
  cargo test -p xmpp-tests --test interop -- --ignored --test-threads=2
  # XMPP over WebSocket (RFC 7395) to Prosody's and ejabberd's endpoints.
  cargo test -p xmpp-tests --test interop_ws -- --ignored
  # The same scenarios through tokio tasks (xmpp-transport-tokio).
  cargo test -p xmpp-transport-tokio --test interop -- --ignored
  # Federation: our server and Prosody, by certificate and by dialback.
  cargo test -p xmpp-tests --test interop_s2s -- --ignored --test-threads=1
  # XEP-0198: the sender's connection is killed at random and resumed; a
  # short run here (about 10 s for Prosody, 40 s for ejabberd), the
  # 10,000-message figures are in tests/INTEROP.md.
  XMPP_SM_MESSAGES="${XMPP_SM_MESSAGES:-200}" \
    cargo test -p xmpp-tests --test interop_sm -- --ignored --test-threads=1 --nocapture
else
  echo "tests/tests/interop.rs does not exist yet; skipping the Rust interop tests"
fi

# The web client (the core compiled to WebAssembly) in headless Chromium,
# against our server and Prosody's WebSocket endpoint.
bash scripts/browser-test.sh

# Real clients against our server; it needs neither Prosody nor ejabberd.
stop_servers
trap - EXIT
bash "$dir/slixmpp-vs-ours.sh"
# Command-line clients from Debian (go-sendxmpp, sendxmpp, xmppc); they
# need ports 5222/5223, free now that Prosody is stopped.
bash "$dir/clients-vs-ours.sh"
