#!/usr/bin/env bash
# Stop the Prosody started by prosody-up.sh. Exits 0 when none is running.
# Data (accounts, archives) stays in $XMPP_INTEROP_DIR/prosody.
set -euo pipefail
TAG=prosody-down
# shellcheck source=scripts/interop/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

PIDFILE="$STATE/prosody/prosody.pid"
# The command line must name our config: never signal an unrelated process
# that happens to have inherited a recycled PID.
if pid="$(live_pid_from "$PIDFILE" "$STATE/prosody/prosody.cfg.lua")"; then
  say "stopping prosody (pid $pid)"
  terminate "$pid" 15
else
  say "prosody is not running"
fi
rm -f "$PIDFILE" "$STATE/prosody/env"
