#!/usr/bin/env bash
# Create the test CA and the server certificate used by both interop servers.
# Run it directly or source it and call make_certs. Files go to $STATE/certs
# and are only regenerated when one of them is missing:
#   ca.crt         the CA clients must trust
#   server.crt     leaf certificate (CN=localhost, SANs below)
#   server.key     its private key
#   fullchain.pem  server.crt then ca.crt (Prosody)
#   server.pem     server.key, server.crt, ca.crt (ejabberd)

make_certs() {
  local dir="$STATE/certs" f missing=0
  for f in ca.crt server.crt server.key fullchain.pem server.pem; do
    [ -s "$dir/$f" ] || missing=1
  done
  ((missing)) || return 0
  command -v openssl >/dev/null || install_packages openssl
  mkdir -p "$dir"
  say "creating test CA and server certificate in $dir"

  # Build in a scratch directory and move into place at the end, so a
  # concurrent or interrupted run never leaves a half-written set.
  local work
  work="$(mktemp -d "$dir/tmp.XXXXXX")"
  cat >"$work/ext.cnf" <<'EOF'
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
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, DNS:conference.localhost, DNS:pubsub.localhost, DNS:echo.localhost, DNS:example.test, DNS:conference.example.test, DNS:pubsub.example.test, DNS:echo.example.test, IP:127.0.0.1, IP:::1
EOF
  (
    cd "$work" || exit 1
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -subj "/CN=xmpp interop test CA" -keyout ca.key -out ca.crt \
      -config ext.cnf -extensions ca 2>/dev/null &&
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
