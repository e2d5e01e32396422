#!/usr/bin/env bash
# slixmpp (an independent Python XMPP client, from PyPI) against our own
# server, the `serve` example of xmpp-transport-std.
#
#   scripts/interop/slixmpp-vs-ours.sh
#
# 1. makes the test CA and certificate (certs.sh, shared with Prosody and
#    ejabberd),
# 2. creates a virtual environment with a pinned slixmpp (kept in
#    $STATE/slixmpp-venv and reused),
# 3. builds and starts `serve` on 127.0.0.1:$XMPP_OURS_PORT (default 5262)
#    for `localhost`, with alice/alice-pass and bob/bob-pass,
# 4. runs slixmpp_vs_ours.py: SCRAM-SHA-1 and SCRAM-SHA-256 logins over
#    STARTTLS verified against the CA, a client trusting another CA
#    refusing us, a wrong password, a message between
#    the two accounts, a ping and disco#info on the server, a slixmpp
#    component on our component port ($XMPP_OURS_COMPONENT_PORT, default
#    5267) both ways and with a wrong secret, clean closes,
# 5. stops the server however this ends.
# The last line is "N passed, M failed"; the exit status is 0 only when
# nothing failed. The server's log is in $STATE/ours/serve.log.
set -euo pipefail
# shellcheck disable=SC2034 # read by lib.sh's say()
TAG=slixmpp
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=scripts/interop/lib.sh
. "$HERE/lib.sh"
# shellcheck source=scripts/interop/certs.sh
. "$HERE/certs.sh"

PORT="${XMPP_OURS_PORT:-5262}"
COMPONENT_PORT="${XMPP_OURS_COMPONENT_PORT:-5267}"
DOMAIN=localhost
OURS="$STATE/ours"

make_certs
mkdir -p "$OURS"

slixmpp_venv

say "building the serve example"
(cd "$ROOT" && cargo build -q -p xmpp-transport-std --example serve) || fail "cargo build failed"
target_dir="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
serve_bin="$target_dir/debug/examples/serve"

require_free_ports "$PORT" "$COMPONENT_PORT"
printf 'alice:alice-pass\nbob:bob-pass\n' >"$OURS/users.txt"
# A CA that signed nothing of ours: slixmpp trusting it must refuse us.
if [ ! -s "$OURS/other-ca.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=unrelated test CA" \
    -keyout "$OURS/other-ca.key" -out "$OURS/other-ca.crt" 2>/dev/null ||
    fail "openssl could not create the unrelated CA"
fi
"$serve_bin" --listen "127.0.0.1:$PORT" --domain "$DOMAIN" --users "$OURS/users.txt" \
  --cert "$STATE/certs/fullchain.pem" --key "$STATE/certs/server.key" \
  --listen-component "127.0.0.1:$COMPONENT_PORT" --component slix:slix-secret \
  >"$OURS/serve.out" 2>"$OURS/serve.log" &
serve_pid=$!
trap 'terminate "$serve_pid" 5' EXIT
wait_for_ports "$serve_pid" 30 "$PORT" "$COMPONENT_PORT" || {
  cat "$OURS/serve.log" >&2
  fail "serve did not start listening on $PORT"
}
say "$(cat "$OURS/serve.out")"

"$VENV/bin/python" "$HERE/slixmpp_vs_ours.py" --host 127.0.0.1 --port "$PORT" \
  --domain "$DOMAIN" --ca "$STATE/certs/ca.crt" --other-ca "$OURS/other-ca.crt" \
  --alice-password alice-pass --bob-password bob-pass \
  --component-port "$COMPONENT_PORT" --component slix.localhost --component-secret slix-secret
