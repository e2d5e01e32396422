#!/usr/bin/env bash
# Round trips and milliseconds from TCP connect to ready, for a fresh
# login and a reconnect, classic (RFC 6120 SASL, restart, bind, XEP-0198
# enable/resume) against SASL2 + Bind 2 and FAST + inline resumption (with
# and without the login sent right behind the stream header), through a
# proxy that adds RTT_MS of delay: against our own server (in process) and
# against Prosody's SASL2 host (scripts/interop/prosody-up.sh, with the
# community modules and our compatibility module). Figures and notes:
# xmpp-transport-std/BENCHMARKS.md.
#
# Usage: bash scripts/bench-login.sh   Environment: RTT_MS (50), RUNS (5),
# XMPP_INTEROP_DIR (/tmp/xmpp-bench-login). Prosody is stopped at the end.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RTT_MS="${RTT_MS:-50}"
RUNS="${RUNS:-5}"
export XMPP_INTEROP_DIR="${XMPP_INTEROP_DIR:-/tmp/xmpp-bench-login}"
export PROSODY_C2S_PORT="${PROSODY_C2S_PORT:-5622}" PROSODY_TLS_PORT="${PROSODY_TLS_PORT:-5623}"
export PROSODY_COMPONENT_PORT="${PROSODY_COMPONENT_PORT:-5647}"

cd "$ROOT"
cargo build --release -q -p xmpp-transport-std --example login_rtt
BIN="$ROOT/target/release/examples/login_rtt"
[ -n "${CARGO_TARGET_DIR:-}" ] && BIN="$CARGO_TARGET_DIR/release/examples/login_rtt"

"$BIN" --rtt-ms "$RTT_MS" --runs "$RUNS"

bash "$HERE/interop/prosody-up.sh" >&2
trap 'bash "$HERE/interop/prosody-down.sh" >&2 || true' EXIT
set -a
# shellcheck disable=SC1091
. "$XMPP_INTEROP_DIR/prosody/env"
set +a
"$BIN" --rtt-ms "$RTT_MS" --runs "$RUNS" --name prosody \
  --server "$XMPP_PROSODY_HOST:$XMPP_PROSODY_C2S_PORT" --domain "$XMPP_PROSODY_SASL2_DOMAIN" \
  --user alice --password alice-pass --ca "$XMPP_INTEROP_CA"
