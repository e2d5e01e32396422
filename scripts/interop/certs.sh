#!/usr/bin/env bash
# Create the test CA and the server certificate used by both interop servers.
# Run it directly or source it and call make_certs. Files go to $STATE/certs
# and are only regenerated when one of them is missing (or see below):
#   ca.crt         the CA clients must trust
#   server.crt     leaf certificate (CN=localhost, SANs below)
#   server.key     its private key
#   fullchain.pem  server.crt then ca.crt (Prosody)
#   server.pem     server.key, server.crt, ca.crt (ejabberd)
# A server certificate that lacks one of CERT_DNS_NAMES (made before a name
# was added) is issued again by the same CA, so clients keep trusting it.

# DNS names in the server certificate (plus IP:127.0.0.1 and IP:::1).
# ours.test is our own server's domain in the federation tests (it
# presents this certificate to Prosody and ejabberd), rooms.ours.test its
# group chat service; ejabberd.test is ejabberd's domain in them, with
# conference.ejabberd.test (Prosody's is example.test).
CERT_DNS_NAMES="localhost conference.localhost pubsub.localhost echo.localhost
  sasl2.localhost example.test conference.example.test pubsub.example.test
  echo.example.test ours.test rooms.ours.test ejabberd.test
  conference.ejabberd.test"

# True when certificate FILE names every one of CERT_DNS_NAMES.
cert_has_names() {
  local sans name
  sans="$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null)" || return 1
  sans="${sans//$'\n'/ }"
  sans=" ${sans//,/ } " # one line, every name between spaces
  for name in $CERT_DNS_NAMES; do
    [[ "$sans" == *" DNS:$name "* ]] || return 1
  done
}

# True when certificate FILE may also authenticate a client (server-to-
# server links present it that way).
cert_has_client_auth() {
  openssl x509 -in "$1" -noout -ext extendedKeyUsage 2>/dev/null | grep -q "TLS Web Client Authentication"
}

make_certs() {
  local dir="$STATE/certs" f missing=0 reuse_ca=0
  for f in ca.crt server.crt server.key fullchain.pem server.pem; do
    [ -s "$dir/$f" ] || missing=1
  done
  if ((!missing)); then
    # Without openssl there is nothing to check with (nor to renew with).
    command -v openssl >/dev/null || return 0
    cert_has_names "$dir/server.crt" && cert_has_client_auth "$dir/server.crt" && return 0
    [ -s "$dir/ca.key" ] && reuse_ca=1
  fi
  command -v openssl >/dev/null || install_packages openssl
  mkdir -p "$dir"
  if ((reuse_ca)); then
    say "renewing the server certificate in $dir (new names), same CA"
  else
    say "creating test CA and server certificate in $dir"
  fi

  local san="" name
  for name in $CERT_DNS_NAMES; do san+="DNS:$name, "; done
  san+="IP:127.0.0.1, IP:::1"

  # Build in a scratch directory and move into place at the end, so a
  # concurrent or interrupted run never leaves a half-written set.
  local work
  work="$(mktemp -d "$dir/tmp.XXXXXX")"
  cat >"$work/ext.cnf" <<EOF
[req]
distinguished_name = dn
[dn]

[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
# clientAuth too: servers present it as their client certificate on
# server-to-server links (ejabberd refuses SASL EXTERNAL without it).
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $san
EOF
  if ((reuse_ca)); then
    cp "$dir/ca.key" "$dir/ca.crt" "$work/" || { rm -rf "$work"; fail "could not copy the test CA"; }
  fi
  (
    cd "$work" || exit 1
    { [ -s ca.key ] || openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -subj "/CN=xmpp interop test CA" -keyout ca.key -out ca.crt \
      -config ext.cnf -extensions ca 2>/dev/null; } &&
      openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
        -config ext.cnf -keyout server.key -out server.csr 2>/dev/null &&
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
        -sha256 -days 3650 -extfile ext.cnf -extensions leaf -out server.crt 2>/dev/null &&
      cat server.crt ca.crt >fullchain.pem &&
      cat server.key server.crt ca.crt >server.pem &&
      openssl verify -CAfile ca.crt server.crt >/dev/null
  ) || { rm -rf "$work"; fail "openssl could not create the test certificates"; }
  chmod 644 "$work"/*.crt "$work/fullchain.pem"
  chmod 600 "$work"/*.key "$work/server.pem"
  for f in ca.key ca.crt server.key server.crt fullchain.pem server.pem; do
    mv -f "$work/$f" "$dir/$f"
  done
  rm -rf "$work"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  TAG=certs
  # shellcheck source=lib.sh
  . "$(dirname "$0")/lib.sh"
  make_certs
  echo "$STATE/certs/ca.crt"
fi
