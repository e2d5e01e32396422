#!/usr/bin/env bash
# Start ejabberd (Debian package) on loopback for the interop tests.
# Safe to run again: a running instance is kept, missing accounts are added.
# Ports: EJABBERD_C2S_PORT (default 5242, STARTTLS required),
# EJABBERD_TLS_PORT (default 5243, direct TLS), EJABBERD_COMPONENT_PORT
# (default 5247, XEP-0114 components) and EJABBERD_DIST_PORT (default
# 5359, Erlang distribution for ejabberdctl, 127.0.0.1 only) and
# EJABBERD_HTTPS_PORT (default 5443, XMPP over WebSocket at
# wss://localhost:PORT/ws).
# State: $XMPP_INTEROP_DIR/ejabberd; $STATE/ejabberd/ejabberdctl talks to it.
set -euo pipefail
TAG=ejabberd-up
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/interop/lib.sh
. "$HERE/lib.sh"
# shellcheck source=scripts/interop/certs.sh
. "$HERE/certs.sh"

C2S_PORT="${EJABBERD_C2S_PORT:-5242}"
TLS_PORT="${EJABBERD_TLS_PORT:-5243}"
# XEP-0114 components (plaintext, loopback only).
COMPONENT_PORT="${EJABBERD_COMPONENT_PORT:-5247}"
COMPONENT_DOMAIN=echo.localhost
COMPONENT_SECRET=echo-secret
DIST_PORT="${EJABBERD_DIST_PORT:-5359}"
HTTPS_PORT="${EJABBERD_HTTPS_PORT:-5443}"
# Federation tests: ejabberd's server-to-server port, the domain it
# federates as, and the one port where it finds our servers. ejabberd has
# no static routes: it asks a DNS server of its own (dnsmasq on DNS_PORT,
# named in its inetrc), whose SRV records send ours.test and
# ours-dialback.test to 127.0.0.1:OURS_S2S_PORT.
S2S_PORT="${EJABBERD_S2S_PORT:-15268}"
FED_DOMAIN=ejabberd.test
OURS_S2S_PORT="${EJABBERD_OURS_S2S_PORT:-15273}"
DNS_PORT="${EJABBERD_DNS_PORT:-15354}"
DIR="$STATE/ejabberd"
PIDFILE="$DIR/ejabberd.pid"
CTL="$DIR/ejabberdctl"
NODE=ejabberd@localhost

[ "$(id -u)" = 0 ] || fail "run as root: Debian's ejabberdctl only runs as root or as the ejabberd user"
install_packages ejabberd
make_certs
mkdir -p "$DIR/etc" "$DIR/db" "$DIR/logs"

write_config() {
  # Debian's ejabberdctl would `su ejabberd` and start epmd on all
  # interfaces. Instead: run as the caller, and let the node listen for
  # distribution on one fixed loopback port without epmd.
  cat >"$DIR/etc/ejabberdctl.cfg" <<EOF
EXEC_CMD=as_current_user
ERLANG_NODE=$NODE
ERL_DIST_PORT=$DIST_PORT
ERL_OPTIONS="-kernel inet_dist_use_interface {127,0,0,1}"
EJABBERD_PID_PATH=$PIDFILE
EJABBERD_BYPASS_WARNINGS=true
EOF
  # DNS (the SRV lookups of server-to-server connections) only from our
  # dnsmasq below, never the machine's resolver.
  printf '%s\n' '{lookup, [file, dns]}.' '{host, {127,0,0,1}, ["localhost"]}.' \
    '{resolv_conf, ""}.' "{nameserver, {127,0,0,1}, $DNS_PORT}." >"$DIR/etc/inetrc"

  cat >"$CTL" <<EOF
#!/bin/sh
# ejabberdctl for the interop instance, e.g. \`$CTL registered_users localhost\`.
# HOME holds the Erlang cookie shared with the node.
export HOME="$DIR"
unset EJABBERD_OPTS
exec /usr/sbin/ejabberdctl --config-dir "$DIR/etc" --config "$DIR/etc/ejabberd.yml" \\
  --ctl-config "$DIR/etc/ejabberdctl.cfg" --logs "$DIR/logs" --spool "$DIR/db" "\$@"
EOF
  chmod 755 "$CTL"

  local listen="" a hidden="" m
  for m in ${EJABBERD_DISABLE_SASL-DIGEST-MD5 X-OAUTH2}; do hidden+="${hidden:+, }$m"; done
  for a in $(loopback_addresses); do
    listen+="  - {port: $C2S_PORT, ip: \"$a\", module: ejabberd_c2s, starttls_required: true, shaper: none, max_stanza_size: 262144, backlog: 1024}
  - {port: $TLS_PORT, ip: \"$a\", module: ejabberd_c2s, tls: true, shaper: none, max_stanza_size: 262144, backlog: 1024}
  - {port: $COMPONENT_PORT, ip: \"$a\", module: ejabberd_service, hosts: {\"$COMPONENT_DOMAIN\": {password: \"$COMPONENT_SECRET\"}}}
  - {port: $HTTPS_PORT, ip: \"$a\", module: ejabberd_http, tls: true, request_handlers: {/ws: ejabberd_http_ws}}
  - {port: $S2S_PORT, ip: \"$a\", module: ejabberd_s2s_in, shaper: none}
"
  done

  cat >"$DIR/etc/ejabberd.yml" <<EOF
# Written by ejabberd-up.sh; regenerated on every start.
loglevel: ${EJABBERD_LOG_LEVEL:-info}
log_rotate_count: 0
hosts: [localhost, example.test, $FED_DOMAIN]
certfiles: ["$STATE/certs/server.pem"]
ca_file: "$STATE/certs/ca.crt"
acme: {auto: false}
listen:
$listen
# Passwords stored as given, so every SCRAM variant the server knows
# (SHA-1/256/512) can be offered, not only the one hashed at creation.
auth_method: internal
auth_password_format: plain
# DIGEST-MD5 is obsolete (RFC 6331) and X-OAUTH2 needs tokens; a client
# should never pick them in these tests. EJABBERD_DISABLE_SASL overrides.
disable_sasl_mechanisms: [$hidden]
# Federation only with our test servers on loopback (nothing else
# resolves): STARTTLS required, certificates checked against the test CA
# (SASL EXTERNAL), dialback where they do not name the domain.
s2s_access: all
s2s_use_starttls: required
s2s_dns_timeout: 2
# A failed connection makes ejabberd bounce everything for that domain
# for up to this long; each test starts our server anew, so keep it short.
s2s_max_retry_delay: 1
acl:
  admin: {user: ["admin@localhost"]}
  local: {user_regexp: ""}
access_rules:
  local: {allow: local}
  c2s: {allow: all}
  nobody: {deny: all}
  configure: {allow: admin}
  muc_create: {allow: local}
  pubsub_createnode: {allow: local}
api_permissions:
  "console commands":
    from: [ejabberd_ctl]
    who: all
    what: "*"
# No mod_register (no in-band registration), no mod_fail2ban (failed logins
# in tests must never ban 127.0.0.1), no shapers on the listeners.
modules:
  mod_adhoc: {}
  mod_blocking: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_client_state: {}
  mod_disco: {}
  mod_last: {}
  mod_mam: {default: always}
  mod_muc: {host: "conference.@HOST@", access_create: muc_create}
  mod_offline: {}
  mod_ping: {}
  mod_privacy: {}
  mod_private: {}
  mod_pubsub: {host: "pubsub.@HOST@", access_createnode: pubsub_createnode, plugins: [flat, pep]}
  mod_roster: {versioning: true}
  mod_s2s_dialback: {}
  # XEP-0198 with resumption for 5 minutes after a disconnect.
  mod_stream_mgmt: {resume_timeout: 300}
  mod_time: {}
  mod_vcard: {search: false}
  mod_version: {}
EOF
}

# dnsmasq answering ejabberd's lookups: SRV records for our test servers'
# domains, NXDOMAIN for every other name under .test.
start_dns() {
  if [ -s "$DIR/dnsmasq.pid" ] && alive "$(cat "$DIR/dnsmasq.pid")"; then
    return
  fi
  command -v dnsmasq >/dev/null || install_packages dnsmasq-base
  require_free_ports "$DNS_PORT"
  # The SRV target is the address itself: ejabberd resolves targets with
  # the system's getaddrinfo (not this DNS), which takes an address as is.
  local d records=()
  for d in ours.test rooms.ours.test ours-dialback.test; do
    records+=(--srv-host="_xmpp-server._tcp.$d,127.0.0.1,$OURS_S2S_PORT,10,0")
  done
  dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
    --listen-address=127.0.0.1 --port="$DNS_PORT" --local=/test/ "${records[@]}" \
    >"$DIR/dnsmasq.log" 2>&1 &
  echo $! >"$DIR/dnsmasq.pid"
  local _
  for _ in $(seq 1 50); do
    timeout 1 bash -c "exec 3<>/dev/udp/127.0.0.1/$DNS_PORT" 2>/dev/null && break
    sleep 0.1
  done
  alive "$(cat "$DIR/dnsmasq.pid")" || fail "dnsmasq for ejabberd did not start: $(tail -3 "$DIR/dnsmasq.log")"
}

# The named accounts also on the federation domain.
fed_account_lines() {
  local a
  for a in $NAMED_ACCOUNTS; do printf '%s %s %s\n' "${a%%:*}" "$FED_DOMAIN" "${a#*:}"; done
}

# One short-lived Erlang node registers every account over RPC. Calling
# `ejabberdctl register` per account boots a VM each time (~0.2 s of CPU,
# over half a minute for the load accounts); this takes about a second.
create_accounts() {
  local list="$DIR/accounts.terms" user domain pass
  { account_lines; fed_account_lines; } | while read -r user domain pass; do
    printf '{<<"%s">>, <<"%s">>, <<"%s">>}.\n' "$user" "$domain" "$pass"
  done >"$list"
  local code
  code='
    Node = '"'$NODE'"',
    % The ports open before the ejabberd application has finished starting.
    Started = fun Wait(0) -> false;
                  Wait(N) ->
                    case rpc:call(Node, application, which_applications, [], 5000) of
                      Apps when is_list(Apps) ->
                        lists:keymember(ejabberd, 1, Apps) orelse (timer:sleep(200) == ok andalso Wait(N - 1));
                      _ -> timer:sleep(200), Wait(N - 1)
                    end
              end,
    Started(300) orelse begin io:format("ejabberd did not finish starting~n"), halt(2) end,
    {ok, Accounts} = file:consult("'"$list"'"),
    Register = fun Try({U, H, P}, Left) ->
                     case rpc:call(Node, ejabberd_auth, try_register, [U, H, P], 20000) of
                       ok -> created;
                       {error, exists} -> exists;
                       _ when Left > 0 -> timer:sleep(300), Try({U, H, P}, Left - 1);
                       Error -> {U, H, Error}
                     end
               end,
    Results = [Register(A, 3) || A <- Accounts],
    % Every test run adds to the MAM archive, and the Mnesia backend gets
    % slower per stored message as it grows (acks took 0.5 s instead of
    % 8 ms at 38,000 archived messages), so each start empties it.
    {atomic, ok} = rpc:call(Node, mnesia, clear_table, [archive_msg], 60000),
    Failed = [R || R <- Results, R =/= created, R =/= exists],
    io:format("~b created, ~b failed ~p~n",
              [length([R || R <- Results, R == created]), length(Failed), lists:sublist(Failed, 3)]),
    halt(min(length(Failed), 1)).'
  local out
  if ! out="$(HOME="$DIR" ERL_INETRC="$DIR/etc/inetrc" timeout 180 erl -sname "accounts-$$@localhost" \
    -hidden -noshell -noinput -erl_epmd_port "$DIST_PORT" -start_epmd false -dist_listen false \
    -eval "$code" 2>&1)"; then
    printf '%s\n' "$out" >&2
    fail "could not create the ejabberd accounts"
  fi
  say "accounts: ${out##*$'\n'}"
}

write_env() {
  cat >"$DIR/env" <<EOF
XMPP_EJABBERD_HOST=127.0.0.1
XMPP_EJABBERD_C2S_PORT=$C2S_PORT
XMPP_EJABBERD_TLS_PORT=$TLS_PORT
XMPP_EJABBERD_COMPONENT_PORT=$COMPONENT_PORT
XMPP_EJABBERD_WSS_URL=wss://localhost:$HTTPS_PORT/ws
XMPP_EJABBERD_COMPONENT=$COMPONENT_DOMAIN
XMPP_EJABBERD_COMPONENT_SECRET=$COMPONENT_SECRET
XMPP_EJABBERD_DOMAIN=localhost
XMPP_EJABBERD_DOMAIN2=example.test
XMPP_EJABBERD_MUC=conference.localhost
XMPP_EJABBERD_LOAD_USERS=$LOAD_USERS
XMPP_EJABBERD_CTL=$CTL
XMPP_EJABBERD_PID=$1
XMPP_INTEROP_CA=$STATE/certs/ca.crt
XMPP_EJABBERD_S2S_PORT=$S2S_PORT
XMPP_EJABBERD_FED_DOMAIN=$FED_DOMAIN
XMPP_EJABBERD_OURS_S2S_PORT=$OURS_S2S_PORT
EOF
}

if pid="$(live_pid_from "$PIDFILE" "$DIR/db")"; then
  say "already running (pid $pid)"
  start_dns
  create_accounts
  write_env "$pid"
  exit 0
fi

require_free_ports "$C2S_PORT" "$TLS_PORT" "$DIST_PORT" "$COMPONENT_PORT" "$HTTPS_PORT" "$S2S_PORT"
write_config
start_dns
rm -f "$PIDFILE"
say "starting ejabberd"
# `ejabberdctl foreground` stays as the parent shell of the Erlang VM; the
# VM writes its own pid to $PIDFILE.
setsid nohup "$CTL" foreground </dev/null >"$DIR/console.log" 2>&1 &
launcher=$!
if ! wait_for_ports "$launcher" 90 "$C2S_PORT" "$TLS_PORT" "$COMPONENT_PORT" "$HTTPS_PORT"; then
  tail -n 30 "$DIR/console.log" "$DIR/logs/ejabberd.log" >&2 2>/dev/null || true
  if pid="$(live_pid_from "$PIDFILE" "$DIR/db")"; then terminate "$pid" 10; fi
  terminate "$launcher" 5
  fail "ejabberd did not open ports $C2S_PORT and $TLS_PORT within 90 s"
fi
pid="$(live_pid_from "$PIDFILE" "$DIR/db")" || fail "ejabberd listens but wrote no pid to $PIDFILE"
create_accounts
write_env "$pid"
say "ready: c2s 127.0.0.1:$C2S_PORT (STARTTLS), 127.0.0.1:$TLS_PORT (direct TLS), pid $pid"
