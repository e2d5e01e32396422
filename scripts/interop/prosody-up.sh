#!/usr/bin/env bash
# Start Prosody (Debian package) on loopback for the interop tests.
# Safe to run again: a running instance is kept, missing accounts are added.
# Ports: PROSODY_C2S_PORT (default 5222, STARTTLS required),
# PROSODY_TLS_PORT (default 5223, direct TLS) and PROSODY_COMPONENT_PORT
# (default 5347, XEP-0114 components), PROSODY_HTTPS_PORT (default 5281,
# XMPP over WebSocket at wss://localhost:PORT/xmpp-websocket, mod_websocket).
# State: $XMPP_INTEROP_DIR/prosody.
# VirtualHost sasl2.localhost also offers SASL2 (XEP-0388) with Bind2, inline
# stream management and FAST, from Debian's prosody-modules plus our
# prosody/mod_sasl2_compat.lua; the other hosts are plain 0.12 (SASL1 only).
set -euo pipefail
TAG=prosody-up
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/interop/lib.sh
. "$HERE/lib.sh"
# shellcheck source=scripts/interop/certs.sh
. "$HERE/certs.sh"

C2S_PORT="${PROSODY_C2S_PORT:-5222}"
TLS_PORT="${PROSODY_TLS_PORT:-5223}"
# XEP-0114 components (plaintext, loopback only).
COMPONENT_PORT="${PROSODY_COMPONENT_PORT:-5347}"
# XMPP over WebSocket (RFC 7395), TLS only: c2s_require_encryption holds.
HTTPS_PORT="${PROSODY_HTTPS_PORT:-5281}"
# Server-to-server (federation tests): Prosody's own port, and where our
# server listens for it (tests/tests/interop_s2s.rs binds these).
S2S_PORT="${PROSODY_S2S_PORT:-15269}"
OURS_S2S_PORT="${OURS_S2S_PORT:-15270}"
OURS_DIALBACK_S2S_PORT="${OURS_DIALBACK_S2S_PORT:-15271}"
COMPONENT_DOMAIN=echo.localhost
COMPONENT_SECRET=echo-secret
# The SASL2 host and its modules (mod_sasl2_compat makes the 2023 modules
# work on Prosody 0.12; see the comment at its top).
SASL2_DOMAIN=sasl2.localhost
SASL2_MODULES='"sasl2_compat"; "sasl2"; "sasl2_bind2"; "sasl2_sm"; "sasl2_fast";'
DIR="$STATE/prosody"
CFG="$DIR/prosody.cfg.lua"
PIDFILE="$DIR/prosody.pid"

command -v python3 >/dev/null || install_packages python3
install_packages prosody prosody-modules
make_certs
mkdir -p "$DIR/data"

write_config() {
  local ifaces="" a
  for a in $(loopback_addresses); do ifaces+="\"$a\"; "; done
  cat >"$CFG" <<EOF
-- Written by prosody-up.sh; regenerated on every start.
-- Prosody refuses to run as root unless told; CI runs everything as root.
run_as_root = true
pidfile = "$PIDFILE"
data_path = "$DIR/data"
certificates = "$STATE/certs"
log = { { levels = { min = "${PROSODY_LOG_LEVEL:-info}" }, to = "file", filename = "$DIR/prosody.log" } }
admins = { "admin@localhost" }
-- Searched before the default module directory, which also holds
-- Debian's prosody-modules (mod_sasl2 and friends).
plugin_paths = { "$HERE/prosody" }

interfaces = { $ifaces}
local_interfaces = { $ifaces}
c2s_ports = { $C2S_PORT }
c2s_direct_tls_ports = { $TLS_PORT }
component_ports = { $COMPONENT_PORT }
component_interfaces = { $ifaces}
http_ports = { }
https_ports = { $HTTPS_PORT }
https_interfaces = { $ifaces}
https_ssl = {
	certificate = "$STATE/certs/fullchain.pem";
	key = "$STATE/certs/server.key";
}
-- The browser test's page is served from another origin.
cross_domain_websocket = true
-- Load tests open hundreds of connections at once.
network_settings = { tcp_backlog = 1024 }

-- No mod_limits (no rate limits), no mod_register (no in-band registration).
-- Server-to-server only on loopback, and only with our test servers: the
-- domains of s2s_static_routes resolve to them, and nothing else can be
-- reached without DNS.
modules_enabled = {
	"roster"; "saslauth"; "tls"; "disco"; "posix";
	"carbons"; "pep"; "private"; "blocklist"; "vcard4"; "vcard_legacy";
	"version"; "uptime"; "time"; "ping"; "mam"; "csi_simple";
	"smacks"; "websocket"; "dialback"; "s2s_static_routes";
	-- XEP-0288: one connection carries stanzas both ways.
	"s2s_bidi";
}
s2s_ports = { $S2S_PORT }
s2s_interfaces = { $ifaces}
s2s_static_routes = {
	["ours.test"] = { "127.0.0.1", $OURS_S2S_PORT };
	["rooms.ours.test"] = { "127.0.0.1", $OURS_S2S_PORT };
	["ours-dialback.test"] = { "127.0.0.1", $OURS_DIALBACK_S2S_PORT };
}
-- Certificates that verify are used (SASL EXTERNAL); where they do not,
-- dialback (the federation tests cover both).
s2s_secure_auth = false
s2s_require_encryption = true

-- XEP-0198: sessions can be resumed for 10 minutes after a disconnect.
smacks_hibernation_time = 600

c2s_require_encryption = true
allow_registration = false
authentication = "internal_hashed"
storage = "internal"
archive_expires_after = "1d"

ssl = {
	certificate = "$STATE/certs/fullchain.pem";
	key = "$STATE/certs/server.key";
	-- Peers' certificates (our server's, in the federation tests) are
	-- checked against the test CA.
	cafile = "$STATE/certs/ca.crt";
}

VirtualHost "localhost"
VirtualHost "example.test"

-- SASL2 only here: per-host modules_enabled adds to the global list, so
-- localhost and example.test keep offering SASL1 alone.
VirtualHost "$SASL2_DOMAIN"
	modules_enabled = { $SASL2_MODULES }
	-- Renew a FAST token at every use (default: once it is a day old),
	-- so that the interop tests see the rotation.
	sasl2_fast_token_min_ttl = 0

Component "conference.localhost" "muc"
-- example.test's rooms, for our users in the federation tests.
Component "conference.example.test" "muc"

-- An external component (XEP-0114) the interop tests connect as.
Component "$COMPONENT_DOMAIN"
	component_secret = "$COMPONENT_SECRET"
EOF
}

# The named accounts (alice, bob, ...) also exist on the SASL2 host, and
# two for the kill-and-resume test (tests/tests/interop_sm.rs).
sasl2_account_lines() {
  local a
  for a in $NAMED_ACCOUNTS; do printf '%s %s %s\n' "${a%%:*}" "$SASL2_DOMAIN" "${a#*:}"; done
  printf '%s %s pw\n' user195 "$SASL2_DOMAIN" user196 "$SASL2_DOMAIN"
}

# Accounts are written straight into Prosody's file store by a small Python
# helper: prosodyctl register costs ~0.2 s of CPU per account (40 s for the
# load accounts on a busy 2-core CI machine), the helper milliseconds.
# Existing accounts are left alone, so this is cheap on every run.
create_accounts() {
  local n
  n="$({ account_lines; sasl2_account_lines; } | python3 "$HERE/prosody_accounts.py" "$DIR/data")" \
    || fail "could not write the Prosody accounts into $DIR/data"
  ((n == 0)) || say "created $n accounts"
}

write_env() {
  cat >"$DIR/env" <<EOF
XMPP_PROSODY_HOST=127.0.0.1
XMPP_PROSODY_C2S_PORT=$C2S_PORT
XMPP_PROSODY_TLS_PORT=$TLS_PORT
XMPP_PROSODY_COMPONENT_PORT=$COMPONENT_PORT
XMPP_PROSODY_WSS_URL=wss://localhost:$HTTPS_PORT/xmpp-websocket
XMPP_PROSODY_COMPONENT=$COMPONENT_DOMAIN
XMPP_PROSODY_COMPONENT_SECRET=$COMPONENT_SECRET
XMPP_PROSODY_DOMAIN=localhost
XMPP_PROSODY_DOMAIN2=example.test
XMPP_PROSODY_SASL2_DOMAIN=$SASL2_DOMAIN
XMPP_PROSODY_MUC=conference.localhost
XMPP_PROSODY_LOAD_USERS=$LOAD_USERS
XMPP_PROSODY_PID=$1
XMPP_INTEROP_CA=$STATE/certs/ca.crt
XMPP_PROSODY_S2S_PORT=$S2S_PORT
XMPP_OURS_S2S_PORT=$OURS_S2S_PORT
XMPP_OURS_DIALBACK_S2S_PORT=$OURS_DIALBACK_S2S_PORT
EOF
}

if pid="$(live_pid_from "$PIDFILE" "$CFG")"; then
  say "already running (pid $pid)"
  grep -q "VirtualHost \"$SASL2_DOMAIN\"" "$CFG" ||
    say "note: this instance predates VirtualHost $SASL2_DOMAIN; run prosody-down.sh, then this script, to get it"
  grep -q "s2s_static_routes" "$CFG" ||
    say "note: this instance predates federation; run prosody-down.sh, then this script, to get it"
  grep -q "rooms.ours.test" "$CFG" && grep -q "s2s_bidi" "$CFG" ||
    say "note: this instance predates federated rooms and bidi; run prosody-down.sh, then this script, to get it"
  create_accounts
  write_env "$pid"
  exit 0
fi

require_free_ports "$C2S_PORT" "$TLS_PORT" "$COMPONENT_PORT" "$HTTPS_PORT" "$S2S_PORT"
write_config
create_accounts

# Never run `prosody` without --config: it would start Debian's system
# configuration, which listens on all interfaces.
rm -f "$PIDFILE"
say "starting prosody"
setsid nohup prosody -F --config "$CFG" </dev/null >"$DIR/console.log" 2>&1 &
pid=$!
echo "$pid" >"$PIDFILE"
if ! wait_for_ports "$pid" 30 "$C2S_PORT" "$TLS_PORT" "$COMPONENT_PORT" "$HTTPS_PORT" "$S2S_PORT"; then
  tail -n 20 "$DIR/console.log" "$DIR/prosody.log" >&2 2>/dev/null || true
  terminate "$pid" 5
  fail "prosody did not open ports $C2S_PORT and $TLS_PORT within 30 s"
fi
# mod_posix rewrites the pid file with its own (identical) pid; keep ours
# if it has not done so yet.
write_env "$pid"
say "ready: c2s 127.0.0.1:$C2S_PORT (STARTTLS), 127.0.0.1:$TLS_PORT (direct TLS), wss://localhost:$HTTPS_PORT/xmpp-websocket, s2s 127.0.0.1:$S2S_PORT, pid $pid"
