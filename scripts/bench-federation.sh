#!/usr/bin/env bash
# Federation figures (xmpp-transport-std/BENCHMARKS.md): messages per
# second across a server-to-server link and the time to first delivery to
# a new domain, between two of our servers and between ours and Prosody,
# with the same load generator (`cargo bench --bench federation`).
#
# Prosody is installed (apt, as root) and configured by
# scripts/interop/prosody-up.sh in a state directory of its own, then
# restarted without mod_mam, carbons and smacks (as for the mio routing
# figures), and stopped at the end.
# Environment: XMPP_INTEROP_DIR (/tmp/xmpp-bench-federation); Prosody on
# ports 5522/5523/5547/5581 and 15569, ours on 15570 (see below).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export XMPP_INTEROP_DIR="${XMPP_INTEROP_DIR:-/tmp/xmpp-bench-federation}"
# Ports of its own, so that the interop servers and their tests are left
# alone.
export PROSODY_C2S_PORT="${PROSODY_C2S_PORT:-5522}"
export PROSODY_TLS_PORT="${PROSODY_TLS_PORT:-5523}"
export PROSODY_COMPONENT_PORT="${PROSODY_COMPONENT_PORT:-5547}"
export PROSODY_HTTPS_PORT="${PROSODY_HTTPS_PORT:-5581}"
export PROSODY_S2S_PORT="${PROSODY_S2S_PORT:-15569}"
export OURS_S2S_PORT="${OURS_S2S_PORT:-15570}"
export OURS_DIALBACK_S2S_PORT="${OURS_DIALBACK_S2S_PORT:-15571}"
TAG=bench-federation
# shellcheck source=scripts/interop/lib.sh
. "$HERE/interop/lib.sh"

PROSODY_PID=
cleanup() { [ -z "$PROSODY_PID" ] || terminate "$PROSODY_PID" 10 || true; }
trap cleanup EXIT

bash "$HERE/interop/prosody-down.sh"
XMPP_LOAD_USERS=0 bash "$HERE/interop/prosody-up.sh"
# The facts of this instance, kept before prosody-down removes them.
set -a
# shellcheck disable=SC1091
. "$STATE/prosody/env"
set +a
bash "$HERE/interop/prosody-down.sh"
start_bench_prosody "$XMPP_PROSODY_C2S_PORT" "$XMPP_PROSODY_S2S_PORT"
say "prosody running with its bench configuration (pid $PROSODY_PID)"
cd "$ROOT"
cargo bench -p xmpp-transport-std --bench federation
