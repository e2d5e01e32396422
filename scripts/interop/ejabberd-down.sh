#!/usr/bin/env bash
# Stop the ejabberd started by ejabberd-up.sh. Exits 0 when none is running.
# Data (the Mnesia database with the accounts) stays in $XMPP_INTEROP_DIR/ejabberd.
set -euo pipefail
TAG=ejabberd-down
# shellcheck source=scripts/interop/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

DIR="$STATE/ejabberd"
PIDFILE="$DIR/ejabberd.pid"
# The Erlang VM's command line names our Mnesia directory; that guards
# against signalling a recycled PID. SIGTERM makes the VM shut down cleanly.
if pid="$(live_pid_from "$PIDFILE" "$DIR/db")"; then
  say "stopping ejabberd (pid $pid)"
  terminate "$pid" 30
else
  say "ejabberd is not running"
fi
if [ -s "$DIR/dnsmasq.pid" ] && alive "$(cat "$DIR/dnsmasq.pid")"; then
  terminate "$(cat "$DIR/dnsmasq.pid")" 5
fi
rm -f "$PIDFILE" "$DIR/env" "$DIR/dnsmasq.pid"
