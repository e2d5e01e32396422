#!/usr/bin/env bash
# The web client against our server, on this machine: builds web/ (the core
# compiled to WebAssembly; scripts/web-build.sh installs what it needs),
# starts the `serve` example with alice and bob and a plain WebSocket
# listener on loopback, and serves the page. Open the printed address in a
# browser and log in as alice (password alice-pass); bob can be reached
# from any other client, e.g. the `echo` example (see the README).
# Stop with Ctrl-C.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
WS="${WEB_DEMO_WS:-127.0.0.1:5280}"
HTTP_PORT="${WEB_DEMO_HTTP_PORT:-8080}"
C2S="${WEB_DEMO_C2S:-127.0.0.1:5222}"

bash "$HERE/web-build.sh"
cd "$ROOT"
cargo build -p xmpp-transport-std --example serve
"${CARGO_TARGET_DIR:-target}/debug/examples/serve" --domain localhost \
  --user alice:alice-pass --user bob:bob-pass --generate-ca "$ROOT/web/ca.crt" \
  --listen "$C2S" --listen-ws "$WS" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
echo
echo "Open http://127.0.0.1:$HTTP_PORT/?url=ws://$WS/xmpp-websocket&jid=alice@localhost&password=alice-pass"
echo "(STARTTLS clients: $C2S, trusting web/ca.crt)"
python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$ROOT/web/www"
