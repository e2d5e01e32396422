#!/usr/bin/env bash
# Start a throw-away PostgreSQL for the store tests: a fresh cluster in
# $XMPP_INTEROP_DIR/postgres, listening on 127.0.0.1:$XMPP_PG_PORT (15432)
# only, with a superuser `xmpp` whose random password is in the URL this
# writes to $XMPP_INTEROP_DIR/postgres/env as XMPP_TEST_POSTGRES.
# Installs Debian's postgresql package when missing (needs root then; as
# root the server runs as the package's `postgres` user).
set -euo pipefail
TAG=postgres-up
# shellcheck source=scripts/interop/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

PORT="${XMPP_PG_PORT:-15432}"
DIR="$STATE/postgres"

pg_bin() { find /usr/lib/postgresql -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname; }
BIN="$(pg_bin)"
if [ -z "$BIN" ]; then
  install_packages postgresql
  BIN="$(pg_bin)"
  [ -n "$BIN" ] || fail "postgresql is installed but no initdb was found under /usr/lib/postgresql"
fi

# As root, everything the server touches belongs to `postgres`.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ -f "$DIR/data/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  say "stopping the PostgreSQL left running by an earlier run"
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
fi
require_free_ports "$PORT"

rm -rf "$DIR"
mkdir -p "$DIR/socket"
password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$password" >"$DIR/pwfile"
[ "$(id -u)" = 0 ] && chown -R postgres: "$DIR"

say "creating a cluster with $BIN/initdb"
as_pg "$BIN/initdb" -D "$DIR/data" -U xmpp --pwfile="$DIR/pwfile" \
  --auth=scram-sha-256 -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 ||
  { cat "$DIR/initdb.log" >&2; fail "initdb failed"; }
rm -f "$DIR/pwfile"

say "starting PostgreSQL on 127.0.0.1:$PORT"
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR/socket" start >/dev/null ||
  { tail -n 30 "$DIR/postgres.log" >&2; fail "PostgreSQL did not start"; }

PGPASSWORD="$password" "$BIN/psql" -q -h 127.0.0.1 -p "$PORT" -U xmpp -d postgres \
  -c 'CREATE DATABASE xmpp' || fail "could not create the database"

url="postgres://xmpp:$password@127.0.0.1:$PORT/xmpp"
printf 'XMPP_TEST_POSTGRES=%s\n' "$url" >"$DIR/env"
say "ready: XMPP_TEST_POSTGRES is in $DIR/env"
