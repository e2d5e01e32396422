#!/usr/bin/env bash
# Start a DNS server (dnsmasq, Debian's dnsmasq-base) on 127.0.0.1:$XMPP_DNS_PORT
# (15353) that answers only for the test zone `xmpp.test`, for the SRV
# tests of the std transport (xmpp-transport-std/tests/srv.rs). Writes
# XMPP_TEST_DNS=127.0.0.1:PORT to $XMPP_INTEROP_DIR/dns/env.
#
#   srv.xmpp.test    _xmpp-client: dead.xmpp.test:15371 (priority 10, nothing
#                    listens there) then live.xmpp.test:15372 (priority 20);
#                    _xmpps-client: tls.xmpp.test:15373 (priority 30)
#   none.xmpp.test   _xmpp-client and _xmpps-client both '.': no service
#   plain.xmpp.test  no SRV at all, an address: the 5222 fallback (5269
#                    for servers)
#   srv.xmpp.test    also _xmpp-server (live:15374) and _xmpps-server
#                    (tls:15375), both priority 10
#   hosts: dead 127.0.0.6, live 127.0.0.5, tls 127.0.0.7, plain 127.0.0.8
set -euo pipefail
TAG=dns-up
# shellcheck source=scripts/interop/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

PORT="${XMPP_DNS_PORT:-15353}"
DIR="$STATE/dns"
command -v dnsmasq >/dev/null || install_packages dnsmasq-base
mkdir -p "$DIR"
if [ -s "$DIR/pid" ] && alive "$(cat "$DIR/pid")"; then
  say "stopping the dnsmasq left running by an earlier run"
  terminate "$(cat "$DIR/pid")" 5
fi
require_free_ports "$PORT"
dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
  --listen-address=127.0.0.1 --port="$PORT" --local=/xmpp.test/ \
  --log-facility="$DIR/dnsmasq.log" \
  --srv-host=_xmpp-client._tcp.srv.xmpp.test,dead.xmpp.test,15371,10,0 \
  --srv-host=_xmpp-client._tcp.srv.xmpp.test,live.xmpp.test,15372,20,0 \
  --srv-host=_xmpps-client._tcp.srv.xmpp.test,tls.xmpp.test,15373,30,0 \
  --srv-host=_xmpp-client._tcp.none.xmpp.test \
  --srv-host=_xmpp-server._tcp.srv.xmpp.test,live.xmpp.test,15374,10,0 \
  --srv-host=_xmpps-server._tcp.srv.xmpp.test,tls.xmpp.test,15375,10,0 \
  --srv-host=_xmpps-client._tcp.none.xmpp.test \
  --host-record=dead.xmpp.test,127.0.0.6 \
  --host-record=live.xmpp.test,127.0.0.5 \
  --host-record=tls.xmpp.test,127.0.0.7 \
  --host-record=plain.xmpp.test,127.0.0.8 &
echo $! >"$DIR/pid"
for _ in $(seq 1 50); do
  if timeout 1 bash -c "exec 3<>/dev/udp/127.0.0.1/$PORT" 2>/dev/null && alive "$(cat "$DIR/pid")"; then
    break
  fi
  sleep 0.1
done
alive "$(cat "$DIR/pid")" || fail "dnsmasq did not start: $(tail -5 "$DIR/dnsmasq.log" 2>/dev/null)"
printf 'XMPP_TEST_DNS=127.0.0.1:%s\n' "$PORT" >"$DIR/env"
say "ready: DNS for xmpp.test on 127.0.0.1:$PORT"
