#!/usr/bin/env python3
"""Independent SCRAM computations for xmpp-proto's tests.

Written from RFC 5802 / RFC 7677 / RFC 4013 with nothing but the Python
standard library (hashlib, hmac, base64, stringprep, unicodedata), so the
Rust implementation is checked against code that shares none of its
dependencies. Writes xmpp-proto/tests/data/scram_vectors.txt; CI re-runs it
and diffs the result against the committed file.

Usage: python3 scripts/scram_vectors.py [output-path]
"""

import base64
import hashlib
import hmac
import os
import stringprep
import sys
import unicodedata

HASHES = {"SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}


def saslprep(text):
    """RFC 4013 SASLprep (stored strings: unassigned code points refused)."""
    # Mapping (RFC 4013 section 2.1): non-ASCII spaces to SPACE, the
    # "commonly mapped to nothing" characters (table B.1) removed.
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c
        for c in text
        if not stringprep.in_table_b1(c)
    )
    # Normalization (2.2): NFKC.
    normalized = unicodedata.normalize("NFKC", mapped)
    # Prohibited output (2.3) and unassigned code points.
    prohibited = (
        stringprep.in_table_a1,
        stringprep.in_table_c12,
        stringprep.in_table_c21_c22,
        stringprep.in_table_c3,
        stringprep.in_table_c4,
        stringprep.in_table_c5,
        stringprep.in_table_c6,
        stringprep.in_table_c7,
        stringprep.in_table_c8,
        stringprep.in_table_c9,
    )
    for c in normalized:
        if any(table(c) for table in prohibited):
            raise ValueError("prohibited character %r" % c)
    # Bidirectional rule (2.4 referring to RFC 3454 section 6).
    if any(stringprep.in_table_d1(c) for c in normalized):
        if any(stringprep.in_table_d2(c) for c in normalized):
            raise ValueError("mixed bidirectional text")
        if not (stringprep.in_table_d1(normalized[0]) and stringprep.in_table_d1(normalized[-1])):
            raise ValueError("RandALCat text must start and end with RandALCat")
    return normalized


def escape_name(name):
    return name.replace("=", "=3D").replace(",", "=2C")


def b64(data):
    return base64.b64encode(data).decode("ascii")


def scram(v):
    alg = HASHES[v["hash"]]
    flag = "p=" + v["binding"] if v["binding"] else "n"
    authzid = "a=" + escape_name(v["authzid"]) if v["authzid"] else ""
    gs2_header = flag + "," + authzid + ","
    cb_data = bytes.fromhex(v["cb_data_hex"])

    client_first_bare = "n=%s,r=%s" % (escape_name(saslprep(v["username"])), v["client_nonce"])
    nonce = v["client_nonce"] + v["server_nonce"]
    salt = base64.b64decode(v["salt_b64"])
    server_first = "r=%s,s=%s,i=%d" % (nonce, v["salt_b64"], v["iterations"])
    without_proof = "c=%s,r=%s" % (b64(gs2_header.encode() + cb_data), nonce)
    auth_message = ",".join([client_first_bare, server_first, without_proof]).encode()

    salted = hashlib.pbkdf2_hmac(alg, saslprep(v["password"]).encode(), salt, v["iterations"])
    client_key = hmac.new(salted, b"Client Key", alg).digest()
    stored_key = hashlib.new(alg, client_key).digest()
    server_key = hmac.new(salted, b"Server Key", alg).digest()
    client_signature = hmac.new(stored_key, auth_message, alg).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, client_signature))
    server_signature = hmac.new(server_key, auth_message, alg).digest()

    out = dict(v)
    out["client_first"] = gs2_header + client_first_bare
    out["server_first"] = server_first
    out["client_final"] = without_proof + ",p=" + b64(proof)
    out["server_final"] = "v=" + b64(server_signature)
    out["stored_key_b64"] = b64(stored_key)
    out["server_key_b64"] = b64(server_key)
    return out


def vector(hash, username, password, client_nonce, server_nonce, salt_b64, iterations,
           authzid="", binding="", cb_data_hex=""):
    return dict(hash=hash, username=username, password=password, authzid=authzid,
                binding=binding, cb_data_hex=cb_data_hex, client_nonce=client_nonce,
                server_nonce=server_nonce, salt_b64=salt_b64, iterations=iterations)


VECTORS = [
    # RFC 5802 section 5 and RFC 7677 section 3.
    vector("SHA-1", "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j",
           "QSXCR+Q6sek8bf92", 4096),
    vector("SHA-256", "user", "pencil", "rOprNGfwEbeRWgbNEkqO",
           "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "W22ZaJ0SNY7soEsUEjb6gQ==", 4096),
    vector("SHA-512", "user", "pencil", "Ms8nPBbAV8uR3qX2yTDY0w", "b7Q1PzS9mGp6xW",
           "c29tZSBzYWx0IGJ5dGVz", 4096),
    # Escaping in the username, an authorization identity.
    vector("SHA-256", "us=er,name", "secret", "abcdefghijklmnop", "qrstuvwxyz0123",
           "AAECAwQFBgcICQoLDA0ODw==", 5000, authzid="admin=1,x@example.org"),
    # SASLprep: soft hyphen removed, no-break space mapped, NFKC of U+00AA.
    vector("SHA-512", "I\u00adX", "pa\u00adss\u00a0w\u00aard", "nonce-1", "nonce-2",
           "c2FsdHNhbHQ=", 4096),
    vector("SHA-1", "caf\u00e9", "\u00e9t\u00e9 \u2163", "xyz", "0123456789",
           "bWFubnkgc2FsdHM=", 10000),
    # Channel binding (the binding data are arbitrary bytes here).
    vector("SHA-256", "juliet", "r0m30myr0m30", "clientnonce", "servernonce",
           "cGVwcGVy", 4096, binding="tls-exporter",
           cb_data_hex="000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
    vector("SHA-512", "juliet", "r0m30myr0m30", "cn", "sn", "cGVwcGVy", 4096,
           binding="tls-server-end-point",
           cb_data_hex="ffeeddccbbaa99887766554433221100"),
]

FIELDS = ["hash", "username", "password", "authzid", "binding", "cb_data_hex", "client_nonce",
          "server_nonce", "salt_b64", "iterations", "client_first", "server_first",
          "client_final", "server_final", "stored_key_b64", "server_key_b64"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "xmpp-proto", "tests", "data", "scram_vectors.txt")
    path = sys.argv[1] if len(sys.argv) > 1 else default
    lines = [
        "# SCRAM vectors computed by scripts/scram_vectors.py (Python stdlib only).",
        "# Do not edit: re-run the script. One block per vector, key=value per line,",
        "# values are UTF-8 and run to the end of the line.",
    ]
    for v in VECTORS:
        out = scram(v)
        lines.append("")
        lines.extend("%s=%s" % (key, out[key]) for key in FIELDS)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
