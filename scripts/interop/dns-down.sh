#!/usr/bin/env bash
# Stop the dnsmasq started by dns-up.sh. Exits 0 when none is running.
set -euo pipefail
TAG=dns-down
# shellcheck source=scripts/interop/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
DIR="$STATE/dns"
if [ -s "$DIR/pid" ] && alive "$(cat "$DIR/pid")"; then
  terminate "$(cat "$DIR/pid")" 5
fi
rm -f "$DIR/pid" "$DIR/env"
