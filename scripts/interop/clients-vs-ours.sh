#!/usr/bin/env bash
# Real command-line clients from Debian against our server (the `serve`
# example of xmpp-transport-std), as a new user would run them:
#   - go-sendxmpp sends over STARTTLS and over direct TLS, and receives
#     (--listen) a message our `send` example sends;
#   - sendxmpp (Net::XMPP) sends over STARTTLS;
#   - xmppc (libstrophe) sends, and lists its roster;
#   - profanity and mcabber (terminal clients, driven through tmux) log
#     in, ask for what they ask for at every login (profanity: bookmarks,
#     carbons, the block list) without an error, and send a message.
# The receiving end of each message is our `echo` example as bob, which
# must answer exactly one message. Certificates are verified against the
# test CA (SSL_CERT_FILE for the Go and OpenSSL clients, --tls-ca-path for
# sendxmpp). xmppc knows no port option, so the server listens on
# 127.0.0.1:5222 (and 5223 for direct TLS): run this while nothing else
# does (scripts/interop.sh runs it after stopping Prosody and ejabberd).
# Needs root on Debian to install the clients when missing.
# The last line is "N passed, M failed"; the exit status is 0 only when
# nothing failed.
set -euo pipefail
# shellcheck disable=SC2034 # read by lib.sh's say()
TAG=clients
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=scripts/interop/lib.sh
. "$HERE/lib.sh"
# shellcheck source=scripts/interop/certs.sh
. "$HERE/certs.sh"

WORK="$STATE/clients"
mkdir -p "$WORK"
make_certs
CA="$STATE/certs/ca.crt"

for tool in go-sendxmpp sendxmpp xmppc; do
  command -v "$tool" >/dev/null || install_packages go-sendxmpp sendxmpp xmppc
done

say "building the serve, echo and send examples"
(cd "$ROOT" && cargo build -q -p xmpp-transport-std --example serve --example echo --example send) ||
  fail "cargo build failed"
target_dir="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$target_dir/debug/examples"

require_free_ports 5222 5223
"$BIN/serve" --listen 127.0.0.1:5222 --direct-tls 127.0.0.1:5223 --domain localhost \
  --user alice:alice-pass --user bob:bob-pass \
  --cert "$STATE/certs/fullchain.pem" --key "$STATE/certs/server.key" \
  >"$WORK/serve.out" 2>"$WORK/serve.log" &
serve_pid=$!
trap 'terminate "$serve_pid" 5' EXIT
wait_for_ports "$serve_pid" 30 5222 5223 || fail "serve did not start: $(cat "$WORK/serve.log")"

passed=0
failed=0
check() { # NAME CONDITION-OUTPUT
  if [ "$2" = ok ]; then
    passed=$((passed + 1))
    echo "PASS $1"
  else
    failed=$((failed + 1))
    echo "FAIL $1: $2"
  fi
}

# Bob answers one message; then `client_sends NAME COMMAND...` runs a
# client that sends him one and checks that he answered it.
client_sends() {
  local name="$1" out="$WORK/echo-$1.out"
  shift
  "$BIN/echo" --jid bob@localhost --password bob-pass --server 127.0.0.1:5222 --ca "$CA" \
    --max 1 --timeout 20 >"$out" 2>&1 &
  local echo_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q '^echoing as' "$out" 2>/dev/null && break
    sleep 0.1
  done
  if ! "$@" >"$WORK/$name.out" 2>&1; then
    kill "$echo_pid" 2>/dev/null || true
    check "$name" "the client failed: $(tail -3 "$WORK/$name.out" | tr '\n' ' ')"
    return
  fi
  if timeout 20 tail --pid="$echo_pid" -f /dev/null && grep -q 'answered 1 message' "$out"; then
    check "$name" ok
  else
    kill "$echo_pid" 2>/dev/null || true
    check "$name" "bob got nothing: $(tr '\n' ' ' <"$out")"
  fi
}

client_sends "go-sendxmpp over STARTTLS" \
  sh -c "echo 'hello from go-sendxmpp' | SSL_CERT_FILE='$CA' timeout 20 go-sendxmpp \
    -u alice@localhost -p alice-pass -j 127.0.0.1:5222 bob@localhost"
client_sends "go-sendxmpp over direct TLS" \
  sh -c "echo 'direct' | SSL_CERT_FILE='$CA' timeout 20 go-sendxmpp -t \
    -u alice@localhost -p alice-pass -j 127.0.0.1:5223 bob@localhost"
client_sends "sendxmpp over STARTTLS" \
  sh -c "echo 'hello from sendxmpp' | timeout 20 sendxmpp -t -a '$CA' \
    -u alice -p alice-pass -j 127.0.0.1:5222 -o localhost bob@localhost"

# xmppc reads (and needs) a configuration file under $HOME.
XMPPC_HOME="$WORK/xmppc-home"
mkdir -p "$XMPPC_HOME/.config"
printf '[default]\njid=alice@localhost\npwd=alice-pass\n' >"$XMPPC_HOME/.config/xmppc.conf"
client_sends "xmppc message" \
  env HOME="$XMPPC_HOME" SSL_CERT_FILE="$CA" timeout 20 \
  xmppc --jid alice@localhost --pwd alice-pass --mode message chat bob@localhost "hello from xmppc"
if env HOME="$XMPPC_HOME" SSL_CERT_FILE="$CA" timeout 20 xmppc -a default --mode roster list \
  >"$WORK/xmppc-roster.out" 2>&1; then
  check "xmppc roster list" ok
else
  check "xmppc roster list" "$(tail -3 "$WORK/xmppc-roster.out" | tr '\n' ' ')"
fi

# go-sendxmpp receives: it listens as bob, our `send` writes to it.
SSL_CERT_FILE="$CA" timeout 30 go-sendxmpp -l -u bob@localhost -p bob-pass -j 127.0.0.1:5222 \
  >"$WORK/listen.out" 2>&1 &
listen_pid=$!
for ((i = 0; i < 100; i++)); do
  grep -q 'online as bob@localhost/go-sendxmpp' "$WORK/serve.log" && break
  sleep 0.1
done
"$BIN/send" --jid alice@localhost --password alice-pass --server 127.0.0.1:5222 --ca "$CA" \
  --to bob@localhost --message "to go-sendxmpp" >"$WORK/send.out" 2>&1 || true
for ((i = 0; i < 100; i++)); do
  grep -q 'to go-sendxmpp' "$WORK/listen.out" && break
  sleep 0.1
done
kill "$listen_pid" 2>/dev/null || true
if grep -q 'to go-sendxmpp' "$WORK/listen.out"; then
  check "go-sendxmpp receives" ok
else
  check "go-sendxmpp receives" "printed: $(tr '\n' ' ' <"$WORK/listen.out")"
fi

# Terminal clients, driven through tmux.
# profanity logs this as an error once its discovery of the server's
# items (our group chat service) is complete: the fresh profile has no
# OMEMO keys to publish. It is about the client's own state, not about
# anything the server said.
NOT_ABOUT_US='[OMEMO] cannot publish crypto materials before they are generated'

# terminal_client NAME MARKER LOG ERRORS START MESSAGE-KEYS [LOGIN-KEYS...]:
# starts START in a tmux session, types each LOGIN-KEYS line, waits for
# MARKER in the server's log (the client online), types MESSAGE-KEYS (a
# message to bob, who must answer it), quits, and fails if LOG has a line
# matching ERRORS.
terminal_client() {
  local name="$1" marker="$2" log="$3" errors="$4" start="$5" message="$6" keys i online=0
  shift 6
  local session="xmpp-interop-$name" out="$WORK/echo-$name.out"
  tmux kill-session -t "$session" 2>/dev/null || true
  "$BIN/echo" --jid bob@localhost --password bob-pass --server 127.0.0.1:5222 --ca "$CA" \
    --max 1 --timeout 40 >"$out" 2>&1 &
  local echo_pid=$!
  tmux new-session -d -s "$session" -x 200 -y 50 "$start"
  sleep 2
  for keys in "$@"; do
    tmux send-keys -t "$session" "$keys" Enter
    sleep 1
  done
  for ((i = 0; i < 150; i++)); do
    if grep -q "$marker" "$WORK/serve.log"; then
      online=1
      break
    fi
    sleep 0.1
  done
  if ((online)); then
    sleep 2 # what it asks for at login
    tmux send-keys -t "$session" "$message" Enter
    timeout 20 tail --pid="$echo_pid" -f /dev/null || true
  fi
  tmux send-keys -t "$session" "/quit" Enter 2>/dev/null || true
  sleep 1
  tmux kill-session -t "$session" 2>/dev/null || true
  kill "$echo_pid" 2>/dev/null || true
  if ((!online)); then
    check "$name" "no login: $(grep -iE "$errors" "$log" 2>/dev/null | tail -3 | tr '\n' ' ')"
  elif ! grep -q 'answered 1 message' "$out"; then
    check "$name" "bob got nothing: $(tr '\n' ' ' <"$out")"
  elif grep -E "$errors" "$log" | grep -qvF "$NOT_ABOUT_US"; then
    check "$name" "errors logged: $(grep -E "$errors" "$log" | grep -vF "$NOT_ABOUT_US" | head -3 | tr '\n' ' ')"
  else
    check "$name" ok
  fi
}

for tool in profanity mcabber tmux; do
  command -v "$tool" >/dev/null || install_packages profanity mcabber tmux
done

# profanity asks for bookmarks, carbons and the block list at every
# login: none of them may fail.
PROF_HOME="$WORK/profanity-home"
rm -rf "$PROF_HOME"
mkdir -p "$PROF_HOME/.config/profanity"
terminal_client profanity 'online as alice@localhost/profanity' \
  "$PROF_HOME/.local/share/profanity/logs/profanity.log" 'prof: ERR' \
  "HOME='$PROF_HOME' SSL_CERT_FILE='$CA' profanity -l DEBUG" \
  "/msg bob@localhost hello from profanity" \
  "/connect alice@localhost server 127.0.0.1 port 5222 tls force" "alice-pass"

# mcabber (loudmouth) reads its account from its configuration.
MC_HOME="$WORK/mcabber-home"
rm -rf "$MC_HOME"
mkdir -p "$MC_HOME/.mcabber"
chmod 700 "$MC_HOME/.mcabber"
cat >"$MC_HOME/.mcabber/mcabberrc" <<EOF
set jid = alice@localhost
set password = alice-pass
set server = 127.0.0.1
set port = 5222
set tls = 1
set ssl_ca = $CA
set tracelog_level = 2
set tracelog_file = $MC_HOME/.mcabber/mcabber.log
EOF
chmod 600 "$MC_HOME/.mcabber/mcabberrc"
terminal_client mcabber 'online as alice@localhost/mcabber' \
  "$MC_HOME/.mcabber/mcabber.log" 'error|Error|failed' \
  "HOME='$MC_HOME' mcabber" "/say_to bob@localhost hello from mcabber"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
