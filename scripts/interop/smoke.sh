#!/usr/bin/env bash
# Quick end-to-end check of the running interop servers with probe.py.
#   smoke.sh [prosody] [ejabberd]      (default: both)
# Does not start anything: run the *-up.sh scripts first. The last line is
# "N passed, M failed"; the exit status is 0 only when nothing failed.
set -uo pipefail
TAG=smoke
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/interop/lib.sh
. "$HERE/lib.sh"

servers=("$@")
((${#servers[@]})) || servers=(prosody ejabberd)
command -v python3 >/dev/null || install_packages python3

passed=0
failed=0
check() {
  local name="$1" out
  shift
  if out="$(timeout 60 "$@" 2>&1)"; then
    passed=$((passed + 1))
    echo "PASS $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    printf '%s\n' "$out" | sed 's/^/     /'
  fi
}

for server in "${servers[@]}"; do
  envfile="$STATE/$server/env"
  if [ ! -s "$envfile" ]; then
    failed=$((failed + 1))
    echo "FAIL $server: $envfile is missing; is $server up?"
    continue
  fi
  # The env files hold plain KEY=value lines written by the up scripts.
  # shellcheck disable=SC1090
  . "$envfile"
  upper="$(echo "$server" | tr '[:lower:]' '[:upper:]')"
  c2s_var="XMPP_${upper}_C2S_PORT" tls_var="XMPP_${upper}_TLS_PORT" load_var="XMPP_${upper}_LOAD_USERS"
  c2s="${!c2s_var}" tls="${!tls_var}" load="${!load_var}"
  ca="$XMPP_INTEROP_CA"

  check "$server: alice@localhost, STARTTLS :$c2s, SCRAM-SHA-1, XEP-0198 enabled with resumption (not resumed)" \
    python3 "$HERE/probe.py" --port "$c2s" --ca "$ca" --domain localhost \
    --user alice --password alice-pass --mech SCRAM-SHA-1 --sm
  check "$server: bob@example.test, direct TLS :$tls, PLAIN" \
    python3 "$HERE/probe.py" --port "$tls" --direct-tls --ca "$ca" --domain example.test \
    --user bob --password bob-pass --mech PLAIN
  if ((load > 0)); then
    check "$server: user$load@localhost (last load account), SCRAM-SHA-1" \
      python3 "$HERE/probe.py" --port "$c2s" --ca "$ca" --user "user$load" --password pw --mech SCRAM-SHA-1
  fi
  check "$server: wrong password is refused" \
    python3 "$HERE/probe.py" --port "$c2s" --ca "$ca" --user carol --password wrong --expect-auth-failure
done

echo "$passed passed, $failed failed"
((failed == 0))
