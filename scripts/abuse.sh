#!/usr/bin/env bash
# Attacks on the mio `server` example (release build), one at a time, each
# from its own loopback address while a legitimate user logs in from
# 127.0.0.1 once a second (the `abuse` example does both). For each attack
# prints
#   RESULT attack=NAME attempts= peak_rss_kib= legit_login_ms= legit_failures=
#          errors_returned= lost=
# where peak_rss_kib is the server's peak resident memory during the attack
# on top of its idle size (the kernel's high-water mark, reset before each
# attack), legit_login_ms the slowest legitimate login, errors_returned
# what the server answered the attacker with an error or a refusal, and
# lost the messages neither delivered nor answered with an error.
# Targets (issue 15): peak_rss_kib < 131072, legit_login_ms < 1000, lost=0.
#
# For the s2s attacks the server also federates (--listen-s2s on the next
# port, dialback allowed): they come as a peer server that proves nothing.
#
# Usage: bash scripts/abuse.sh [ATTACK...]   (default: all seven)
# Environment: ABUSE_PORT (5332), XMPP_INTEROP_DIR (/tmp/xmpp-abuse).
# Needs Rust and openssl (for the test certificates).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export XMPP_INTEROP_DIR="${XMPP_INTEROP_DIR:-/tmp/xmpp-abuse}"
TAG=abuse
# shellcheck source=scripts/interop/lib.sh
. "$HERE/interop/lib.sh"
# shellcheck source=scripts/interop/certs.sh
. "$HERE/interop/certs.sh"

PORT="${ABUSE_PORT:-5332}"
RESUME_TIMEOUT=5
ATTACKS=("$@")
((${#ATTACKS[@]})) || ATTACKS=(preauth-big-element slow-reader sm-never-ack login-storm connection-flood
  s2s-verify-flood s2s-claim-flood)
S2S_PORT=$((PORT + 1))
WORK="$STATE/abuse"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples"
mkdir -p "$WORK"
# The flood holds 10,000 sockets at each end.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

say "building the examples (release)"
(cd "$ROOT" && cargo build --release -q -p xmpp-transport-mio --example server --example abuse)
make_certs
CERTS="$STATE/certs"
USERS="$WORK/users.txt"
for ((i = 1; i <= 200; i++)); do echo "user$i:pw"; done >"$USERS"

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
  fi
  SERVER_PID=
}
trap stop_server EXIT

# start_server [federating]: the server; with an argument, it also takes
# peers on the s2s port (dialback allowed).
start_server() {
  local s2s=()
  if [ -n "${1:-}" ]; then
    s2s=(--listen-s2s "127.0.0.1:$S2S_PORT" --dialback-secret abuse --allow-dialback)
  fi
  require_free_ports "$PORT" "$S2S_PORT"
  rm -f "$WORK/server.out"
  "$BIN/server" --listen "127.0.0.1:$PORT" --domain localhost \
    --cert "$CERTS/fullchain.pem" --key "$CERTS/server.key" --users "$USERS" --quiet \
    --resume-timeout "$RESUME_TIMEOUT" "${s2s[@]}" >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    grep -q '^listening on' "$WORK/server.out" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died: $(cat "$WORK/server.err")"
    sleep 0.2
  done
  fail "the server did not start listening"
}

status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

attack_no=0
for attack in "${ATTACKS[@]}"; do
  attack_no=$((attack_no + 1))
  # A fresh server per attack: what one attack leaves (detached sessions
  # waiting out their time) does not count against the next.
  case "$attack" in
  s2s-*) start_server federating ;;
  *) start_server ;;
  esac
  sleep 1
  idle="$(status_kib "$SERVER_PID" VmRSS)"
  # Resets the peak resident size to the current one (Linux 4.0+).
  echo 5 >"/proc/$SERVER_PID/clear_refs"
  say "$attack: attacking from 127.0.0.$((attack_no + 1)) (idle server: $idle KiB)"
  out="$("$BIN/abuse" --server "127.0.0.1:$PORT" --domain localhost --ca "$CERTS/ca.crt" \
    --users user --password pw --attack "$attack" --from "127.0.0.$((attack_no + 1))" \
    --s2s "127.0.0.1:$S2S_PORT" \
    --resume-timeout "$RESUME_TIMEOUT" 2>"$WORK/abuse-$attack.err")" ||
    fail "$attack: the attack tool failed: $(tail -3 "$WORK/abuse-$attack.err")"
  peak="$(status_kib "$SERVER_PID" VmHWM)"
  stop_server
  line="$(grep '^RESULT' <<<"$out")"
  echo "${line/attempts=/peak_rss_kib=$((peak - idle)) attempts=}"
done
