#!/usr/bin/env bash
# Stop the PostgreSQL started by postgres-up.sh. Exits 0 when none is
# running. The cluster stays in $XMPP_INTEROP_DIR/postgres until the next
# postgres-up.sh replaces it.
set -euo pipefail
TAG=postgres-down
# shellcheck source=scripts/interop/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

DIR="$STATE/postgres"
BIN="$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/pg_ctl' 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname)"
if [ -n "$BIN" ] && [ -f "$DIR/data/postmaster.pid" ]; then
  say "stopping PostgreSQL"
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
  else
    "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
  fi
else
  say "PostgreSQL is not running"
fi
rm -f "$DIR/env"
