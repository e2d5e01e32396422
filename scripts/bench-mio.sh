#!/usr/bin/env bash
# Benchmarks of the mio transport (figures in xmpp-transport-mio/BENCHMARKS.md):
#  (a) 10,000 concurrent authenticated sessions on the mio `server`
#      example, logged in by the `load` example: time to log all in, the
#      server's RSS per session, its CPU while the sessions idle; plus the
#      core's own heap per session (`session_memory`).
#  (b) routing at 1,000 sessions: messages per second and round-trip
#      p50/p99 through the mio server and through Prosody (started by
#      scripts/interop/prosody-up.sh, no rate limits), same load
#      generator, same run; the ratio is printed.
#  (c) IM (RFC 6121) at CONTACTS_C contacts, through the mio server and
#      through Prosody, same generator (`presence` example), same run: a
#      login into CONTACTS_C online contacts until all their presences
#      have arrived, and one presence change fanned out to all of them.
#  (d) group chat: one room of OCCUPANTS_D occupants, one sender, through
#      the mio server's rooms and through Prosody's MUC, same generator
#      (`room` example), same run: messages per second, each to all.
#
# Usage: bash scripts/bench-mio.sh [a|b|c|d|all]   (default all)
# Environment: SESSIONS_A (10000), RATE_A (1000), SESSIONS_B (1000), CONTACTS_C (500),
# DURATION_B (20), RATE_B (20 logins/s), MAX_TOKEN (1024: the server's --max-token-bytes for (a);
# `default` for the core's default), XMPP_INTEROP_DIR (/tmp/xmpp-bench-mio),
# PROSODY_C2S_PORT / PROSODY_TLS_PORT (5422 / 5423). Prosody is stopped at
# the end.
# Needs Rust; installs Prosody and openssl through apt when missing (root).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
WHAT="${1:-all}"
SESSIONS_A="${SESSIONS_A:-10000}"
RATE_A="${RATE_A:-1000}"
SESSIONS_B="${SESSIONS_B:-1000}"
DURATION_B="${DURATION_B:-20}"
RATE_B="${RATE_B:-20}"
CONTACTS_C="${CONTACTS_C:-500}"
OCCUPANTS_D="${OCCUPANTS_D:-100}"
MESSAGES_D="${MESSAGES_D:-2000}"
MAX_TOKEN="${MAX_TOKEN:-1024}"
# A state directory and Prosody ports of its own, so that the interop
# servers (5222/5223) and their tests are left alone.
export XMPP_INTEROP_DIR="${XMPP_INTEROP_DIR:-/tmp/xmpp-bench-mio}"
export PROSODY_C2S_PORT="${PROSODY_C2S_PORT:-5422}"
export PROSODY_TLS_PORT="${PROSODY_TLS_PORT:-5423}"
export PROSODY_COMPONENT_PORT="${PROSODY_COMPONENT_PORT:-5447}"
TAG=bench-mio
# shellcheck source=scripts/interop/lib.sh
. "$HERE/interop/lib.sh"
# shellcheck source=scripts/interop/certs.sh
. "$HERE/interop/certs.sh"

OUR_PORT=5322
OUR_TLS_PORT=5323
WORK="$STATE/bench-mio"
BIN="$ROOT/target/release/examples"
mkdir -p "$WORK"

# Both ends hold one descriptor per session.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < SESSIONS_A + 100)); then
  say "warning: only $(ulimit -n) file descriptors; (a) needs $((SESSIONS_A + 100))"
fi

say "building the examples (release)"
(cd "$ROOT" && if command -v flock >/dev/null; then
  flock /tmp/cargo.lock cargo build --release -q -p xmpp-transport-mio --examples
else
  cargo build --release -q -p xmpp-transport-mio --examples
fi)
make_certs
CERTS="$STATE/certs"

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
  fi
  SERVER_PID=
}
PROSODY_PID=
cleanup() {
  stop_server
  if [ -n "$PROSODY_PID" ]; then terminate "$PROSODY_PID" 5; fi
}
trap cleanup EXIT

# start_server USERS_FILE [extra flags...]: the mio server example on
# $OUR_PORT, its stdout in $WORK/server.out.
start_server() {
  local users="$1"
  shift
  require_free_ports "$OUR_PORT" "$OUR_TLS_PORT"
  # A previous run's output must not pass for this one's `listening`.
  rm -f "$WORK/server.out"
  "$BIN/server" --listen "127.0.0.1:$OUR_PORT" --listen-tls "127.0.0.1:$OUR_TLS_PORT" \
    --domain localhost --cert "$CERTS/fullchain.pem" --key "$CERTS/server.key" \
    --users "$users" --quiet --max-per-address 1000000 --max-unauthenticated 1000000 --max-unauthenticated-per-address 1000000 "$@" >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 600; i++)); do
    grep -q '^listening on .*STARTTLS' "$WORK/server.out" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died: $(cat "$WORK/server.err")"
    sleep 0.2
  done
  fail "the server did not start listening"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

bench_a() {
  local users="$WORK/users-a.txt" i
  for ((i = 1; i <= SESSIONS_A; i++)); do echo "load$i:pw"; done >"$users"
  local token_flag=()
  [ "$MAX_TOKEN" = default ] || token_flag=(--max-token-bytes "$MAX_TOKEN")
  say "(a) starting the server with $SESSIONS_A accounts (SCRAM keys derived at start)"
  start_server "$users" "${token_flag[@]}"
  local rss0
  rss0="$(rss_kib "$SERVER_PID")"
  say "(a) logging $SESSIONS_A sessions in at $RATE_A/s"
  # A long message interval: the sessions stay idle while measured.
  "$BIN/load" --server "127.0.0.1:$OUR_PORT" --domain localhost --users load --password pw \
    --sessions "$SESSIONS_A" --rate "$RATE_A" --duration 40 --interval 3600 \
    --ca "$CERTS/ca.crt" >"$WORK/load-a.out" 2>"$WORK/load-a.err" &
  local load_pid=$!
  for ((i = 0; i < 1200; i++)); do
    grep -q 'sessions up after' "$WORK/load-a.err" 2>/dev/null && break
    kill -0 "$load_pid" 2>/dev/null || break
    sleep 0.5
  done
  sleep 5
  local rss1 t0 t1 hz=100
  rss1="$(rss_kib "$SERVER_PID")"
  hz="$(getconf CLK_TCK)"
  t0="$(cpu_ticks "$SERVER_PID")"
  sleep 20
  t1="$(cpu_ticks "$SERVER_PID")"
  wait "$load_pid" || true
  local up
  up="$(grep -o 'sessions_up=[0-9]*' "$WORK/load-a.out" | cut -d= -f2)"
  up="${up:-0}"
  ((up > 0)) || fail "(a) no session came up: $(tail -3 "$WORK/load-a.err")"
  grep 'sessions up after' "$WORK/load-a.err" || true
  cat "$WORK/load-a.out"
  awk -v r0="$rss0" -v r1="$rss1" -v n="$up" -v t0="$t0" -v t1="$t1" -v hz="$hz" 'BEGIN {
    printf "RESULT bench=mio-idle sessions=%d rss_start_kib=%d rss_kib=%d rss_per_session_kib=%.1f rss_total_per_session_kib=%.1f idle_cpu_percent=%.2f\n",
      n, r0, r1, (r1 - r0) / n, r1 / n, 100 * (t1 - t0) / hz / 20 }'
  stop_server
  cat "$WORK/server.out"
  say "(a) the core's own heap per session"
  "$BIN/session_memory" --sessions "$SESSIONS_A"
  [ "$MAX_TOKEN" = default ] || "$BIN/session_memory" --sessions "$SESSIONS_A" --max-token-bytes "$MAX_TOKEN"
}

# run_load NAME PORT INTERVAL: the routing load against one server;
# interval 0 is the closed loop (the most the server routes), 1 an open
# loop of about one message per session and second (latency at a load
# both servers carry).
run_load() {
  local name="$1" port="$2" interval="$3" out="$WORK/load-b-$1-$3"
  say "(b) $name: $SESSIONS_B sessions, interval $interval, ${DURATION_B}s"
  "$BIN/load" --server "127.0.0.1:$port" --domain localhost --users user --password pw \
    --sessions "$SESSIONS_B" --rate "$RATE_B" --duration "$DURATION_B" --interval "$interval" \
    --ca "$CERTS/ca.crt" >"$out.out" 2>"$out.err" \
    || fail "(b) load against $name failed: $(tail -3 "$out.err")"
  sed "s/^RESULT /RESULT server=$name interval=$interval /" "$out.out"
}

# Prosody for the routing run: prosody-up.sh installs it, writes the
# certificates and the load accounts, and starts it with the interop
# configuration; that one is then restarted with a copy of its config that
# leaves out what costs per message without being routing: mod_mam (every
# message written to the file store), carbons and smacks (our client uses
# neither), and logs warnings only. The interop config loads no mod_limits,
# so c2s is not rate limited or shaped.
start_prosody() {
  XMPP_LOAD_USERS="${1:-$SESSIONS_B}" bash "$HERE/interop/prosody-up.sh"
  bash "$HERE/interop/prosody-down.sh"
  start_bench_prosody "$PROSODY_C2S_PORT"
  say "(b) prosody running with its bench configuration (pid $PROSODY_PID)"
}

bench_b() {
  local users="$WORK/users-b.txt" i
  for ((i = 1; i <= SESSIONS_B; i++)); do echo "user$i:pw"; done >"$users"
  say "(b) starting Prosody with $SESSIONS_B load accounts"
  start_prosody
  start_server "$users"
  run_load mio "$OUR_PORT" 0
  run_load mio "$OUR_PORT" 1
  stop_server
  run_load prosody "$PROSODY_C2S_PORT" 0
  run_load prosody "$PROSODY_C2S_PORT" 1
  terminate "$PROSODY_PID" 10 || true
  PROSODY_PID=
  local m p
  m="$(grep -o 'msgs_per_s=[0-9]*' "$WORK/load-b-mio-0.out" | cut -d= -f2)"
  p="$(grep -o 'msgs_per_s=[0-9]*' "$WORK/load-b-prosody-0.out" | cut -d= -f2)"
  awk -v m="$m" -v p="$p" 'BEGIN { printf "RESULT bench=routing mio_msgs_per_s=%d prosody_msgs_per_s=%d ratio=%.2f\n", m, p, (p > 0 ? m / p : 0) }'
}

# run_presence NAME PORT: the IM load against one server.
run_presence() {
  local name="$1" port="$2" out="$WORK/presence-$1"
  say "(c) $name: $CONTACTS_C contacts"
  "$BIN/presence" --server "127.0.0.1:$port" --domain localhost --users user --password pw \
    --contacts "$CONTACTS_C" --ca "$CERTS/ca.crt" >"$out.out" 2>"$out.err" \
    || fail "(c) presence against $name failed: $(tail -3 "$out.err")"
  grep -E '^presence: login 1:' "$out.err" || true
  sed "s/^RESULT /RESULT server=$name /" "$out.out"
}

bench_c() {
  local users="$WORK/users-c.txt" i n=$((CONTACTS_C + 1))
  for ((i = 1; i <= n; i++)); do echo "user$i:pw"; done >"$users"
  say "(c) starting Prosody with $n accounts"
  start_prosody "$n"
  start_server "$users"
  run_presence mio "$OUR_PORT"
  stop_server
  run_presence prosody "$PROSODY_C2S_PORT"
  terminate "$PROSODY_PID" 10 || true
  PROSODY_PID=
  # field FILE PATH NAME: NAME=value of the RESULT line of PATH in FILE.
  field() { grep "^RESULT path=$2-" "$1" | grep -o " $3=[0-9.]*" | cut -d= -f2; }
  local out="$WORK/presence"
  awk -v m="$(field "$out-mio.out" login-presence ms)" -v p="$(field "$out-prosody.out" login-presence ms)" \
    -v n="$CONTACTS_C" 'BEGIN { printf "RESULT bench=login-presence-%d mio_ms=%.1f prosody_ms=%.1f ratio=%.2f\n", n, m, p, (m > 0 ? p / m : 0) }'
  awk -v m="$(field "$out-mio.out" presence-fanout deliveries_per_s)" \
    -v p="$(field "$out-prosody.out" presence-fanout deliveries_per_s)" \
    -v n="$CONTACTS_C" 'BEGIN { printf "RESULT bench=presence-fanout-%d mio_deliveries_per_s=%d prosody_deliveries_per_s=%d ratio=%.2f\n", n, m, p, (p > 0 ? m / p : 0) }'
}

# run_room NAME PORT: the group chat load against one server.
run_room() {
  local name="$1" port="$2" out="$WORK/room-$1"
  say "(d) $name: $OCCUPANTS_D occupants, $MESSAGES_D messages"
  "$BIN/room" --server "127.0.0.1:$port" --domain localhost --users user --password pw \
    --rooms conference.localhost --occupants "$OCCUPANTS_D" --messages "$MESSAGES_D" \
    --ca "$CERTS/ca.crt" >"$out.out" 2>"$out.err" \
    || fail "(d) room against $name failed: $(tail -3 "$out.err")"
  sed "s/^RESULT /RESULT server=$name /" "$out.out"
}

bench_d() {
  local users="$WORK/users-d.txt" i
  for ((i = 1; i <= OCCUPANTS_D; i++)); do echo "user$i:pw"; done >"$users"
  say "(d) starting Prosody with $OCCUPANTS_D accounts"
  start_prosody "$OCCUPANTS_D"
  start_server "$users"
  run_room mio "$OUR_PORT"
  stop_server
  run_room prosody "$PROSODY_C2S_PORT"
  terminate "$PROSODY_PID" 10 || true
  PROSODY_PID=
  local m p
  m="$(grep -o 'msgs_per_s=[0-9]*' "$WORK/room-mio.out" | cut -d= -f2)"
  p="$(grep -o 'msgs_per_s=[0-9]*' "$WORK/room-prosody.out" | cut -d= -f2)"
  awk -v m="$m" -v p="$p" -v n="$OCCUPANTS_D" 'BEGIN { printf "RESULT bench=room-%d mio_msgs_per_s=%d prosody_msgs_per_s=%d ratio=%.2f\n", n, m, p, (p > 0 ? m / p : 0) }'
}

case "$WHAT" in
  a) bench_a ;;
  b) bench_b ;;
  c) bench_c ;;
  d) bench_d ;;
  all) bench_a; bench_b; bench_c; bench_d ;;
  *) echo "usage: $0 [a|b|c|d|all]" >&2; exit 2 ;;
esac
