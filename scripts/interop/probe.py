#!/usr/bin/env python3
"""Minimal XMPP client login check, Python standard library only.

Opens a c2s stream, upgrades it with STARTTLS (or starts with TLS for
direct-TLS ports), verifies the certificate against the test CA for the
given name, authenticates with SCRAM-SHA-1 (checking the server signature)
or PLAIN, binds a resource, optionally enables XEP-0198 with resumption,
sends itself a message and waits for it, then closes the stream. Every step
is printed; the exit status is 0 only if all of them worked.

    probe.py --port 5222 --ca /tmp/xmpp-interop/certs/ca.crt \\
             --user alice --password alice-pass --mech SCRAM-SHA-1 --sm

With --expect-auth-failure the login must be refused instead.
"""
import argparse
import base64
import hashlib
import hmac
import secrets
import socket
import ssl
import sys
import xml.etree.ElementTree as ET
import xml.parsers.expat
from xml.sax.saxutils import escape, quoteattr

NS_STREAM = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SM = "urn:xmpp:sm:3"
NS_CLIENT = "jabber:client"


class ProbeError(Exception):
    pass


def q(ns, name):
    return "{%s}%s" % (ns, name)


class Stream:
    """One XMPP stream over a socket: top-level children come out as Elements."""

    def __init__(self, sock, timeout):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.ready = []
        self.closed = False
        self.header = None
        self._new_parser()

    def _new_parser(self):
        p = xml.parsers.expat.ParserCreate(namespace_separator="}")
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._text
        self.parser = p
        self.stack = []

    @staticmethod
    def _tag(name):
        return "{" + name if "}" in name else name

    def _start(self, name, attrs):
        tag = self._tag(name)
        if not self.stack and self.header is None:
            self.header = attrs
            self.stack.append(None)
            return
        elem = ET.Element(tag, {self._tag(k): v for k, v in attrs.items()})
        if self.stack[-1] is not None:
            self.stack[-1].append(elem)
        self.stack.append(elem)

    def _end(self, name):
        elem = self.stack.pop()
        if elem is None:
            self.closed = True
        elif len(self.stack) == 1:
            self.ready.append(elem)

    def _text(self, data):
        if self.stack and self.stack[-1] is not None:
            top = self.stack[-1]
            if len(top):
                top[-1].tail = (top[-1].tail or "") + data
            else:
                top.text = (top.text or "") + data

    def send(self, text):
        self.sock.sendall(text.encode())

    def open(self, domain):
        """Send a stream header and return the <stream:features/> element."""
        self.header = None
        self._new_parser()
        self.send(
            "<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' "
            "to=%s version='1.0' xml:lang='en'>" % (NS_CLIENT, NS_STREAM, quoteattr(domain))
        )
        features = self.next()
        if features.tag != q(NS_STREAM, "features"):
            raise ProbeError("expected stream features, got %s" % features.tag)
        return features

    def next(self):
        while not self.ready:
            if self.closed:
                raise ProbeError("server closed the stream")
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise ProbeError("timed out waiting for the server")
            if not data:
                raise ProbeError("server closed the connection")
            self.parser.Parse(data, False)
        elem = self.ready.pop(0)
        if elem.tag == q(NS_STREAM, "error"):
            raise ProbeError("stream error: %s" % ", ".join(c.tag.split("}")[-1] for c in elem))
        return elem


def step(msg):
    print("  " + msg, flush=True)


def mechanisms(features):
    mechs = features.find(q(NS_SASL, "mechanisms"))
    return [] if mechs is None else [m.text.strip() for m in mechs if m.text]


def b64(data):
    return base64.b64encode(data).decode()


def sasl_plain(stream, user, password):
    stream.send(
        "<auth xmlns='%s' mechanism='PLAIN'>%s</auth>"
        % (NS_SASL, b64(b"\0" + user.encode() + b"\0" + password.encode()))
    )
    return stream.next()


def sasl_scram_sha1(stream, user, password):
    """RFC 5802 without channel binding; the user name needs no escaping here."""
    nonce = secrets.token_urlsafe(18)
    first_bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), nonce)
    stream.send("<auth xmlns='%s' mechanism='SCRAM-SHA-1'>%s</auth>" % (NS_SASL, b64(b"n,," + first_bare.encode())))
    reply = stream.next()
    if reply.tag != q(NS_SASL, "challenge"):
        return reply
    server_first = base64.b64decode(reply.text or "").decode()
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    if not fields.get("r", "").startswith(nonce):
        raise ProbeError("server nonce does not extend ours: %r" % server_first)
    salt = base64.b64decode(fields["s"])
    iterations = int(fields["i"])
    step("SCRAM challenge: %d iterations, %d-byte salt" % (iterations, len(salt)))
    salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha1).digest()
    stored_key = hashlib.sha1(client_key).digest()
    final_bare = "c=biws,r=%s" % fields["r"]
    auth_message = ",".join([first_bare, server_first, final_bare]).encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha1).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    stream.send("<response xmlns='%s'>%s</response>" % (NS_SASL, b64((final_bare + ",p=" + b64(proof)).encode())))
    reply = stream.next()
    if reply.tag == q(NS_SASL, "success"):
        server_key = hmac.new(salted, b"Server Key", hashlib.sha1).digest()
        expected = b64(hmac.new(server_key, auth_message, hashlib.sha1).digest())
        final = base64.b64decode(reply.text or "").decode()
        if final != "v=" + expected:
            raise ProbeError("server signature is wrong: got %r, expected v=%s" % (final, expected))
        step("server signature verified")
    return reply


def run(args):
    ctx = ssl.create_default_context(cafile=args.ca)
    tls_name = args.tls_name or args.domain
    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    if args.direct_tls:
        sock = ctx.wrap_socket(sock, server_hostname=tls_name)
        step("direct TLS to %s:%d: %s, certificate valid for %s" % (args.host, args.port, sock.version(), tls_name))
    else:
        step("TCP connected to %s:%d" % (args.host, args.port))
    stream = Stream(sock, args.timeout)
    features = stream.open(args.domain)
    step("stream opened, id=%s" % stream.header.get("id"))

    if not args.direct_tls:
        starttls = features.find(q(NS_TLS, "starttls"))
        if starttls is None:
            raise ProbeError("server does not offer STARTTLS")
        required = starttls.find(q(NS_TLS, "required")) is not None
        stream.send("<starttls xmlns='%s'/>" % NS_TLS)
        if stream.next().tag != q(NS_TLS, "proceed"):
            raise ProbeError("STARTTLS refused")
        sock = ctx.wrap_socket(sock, server_hostname=tls_name)
        stream = Stream(sock, args.timeout)
        step("STARTTLS (%s): %s, certificate valid for %s" % ("required" if required else "optional", sock.version(), tls_name))
        features = stream.open(args.domain)

    offered = mechanisms(features)
    step("SASL mechanisms: %s" % " ".join(offered))
    mech = args.mech or ("SCRAM-SHA-1" if "SCRAM-SHA-1" in offered else "PLAIN")
    if mech not in offered:
        raise ProbeError("%s is not offered" % mech)
    if mech == "SCRAM-SHA-1":
        result = sasl_scram_sha1(stream, args.user, args.password)
    elif mech == "PLAIN":
        result = sasl_plain(stream, args.user, args.password)
    else:
        raise ProbeError("the probe only speaks SCRAM-SHA-1 and PLAIN, not %s" % mech)

    if result.tag != q(NS_SASL, "success"):
        condition = ", ".join(c.tag.split("}")[-1] for c in result) or result.tag
        if args.expect_auth_failure:
            step("%s login refused as expected: %s" % (mech, condition))
            return
        raise ProbeError("%s login failed: %s" % (mech, condition))
    if args.expect_auth_failure:
        raise ProbeError("login succeeded although it should have been refused")
    step("%s login as %s@%s succeeded" % (mech, args.user, args.domain))

    features = stream.open(args.domain)
    if features.find(q(NS_BIND, "bind")) is None:
        raise ProbeError("no resource binding offered after login")
    stream.send(
        "<iq type='set' id='bind1' xmlns='%s'><bind xmlns='%s'><resource>probe</resource></bind></iq>"
        % (NS_CLIENT, NS_BIND)
    )
    reply = stream.next()
    jid = reply.find("%s/%s" % (q(NS_BIND, "bind"), q(NS_BIND, "jid")))
    if reply.get("type") != "result" or jid is None:
        raise ProbeError("bind failed: %s" % ET.tostring(reply).decode())
    full_jid = jid.text.strip()
    step("bound as %s" % full_jid)

    if args.sm:
        if features.find(q(NS_SM, "sm")) is None:
            raise ProbeError("XEP-0198 (urn:xmpp:sm:3) is not offered")
        stream.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
        reply = stream.next()
        if reply.tag != q(NS_SM, "enabled"):
            raise ProbeError("stream management refused: %s" % ET.tostring(reply).decode())
        if reply.get("resume") not in ("true", "1") or not reply.get("id"):
            raise ProbeError("stream management enabled without resumption")
        step("XEP-0198 enabled with resumption (max=%s s)" % reply.get("max", "?"))

    token = secrets.token_hex(8)
    stream.send(
        "<message xmlns='%s' to=%s type='chat' id='m1'><body>probe %s</body></message>"
        % (NS_CLIENT, quoteattr(full_jid), escape(token))
    )
    while True:
        elem = stream.next()
        if elem.tag == q(NS_SM, "r"):
            stream.send("<a xmlns='%s' h='0'/>" % NS_SM)
            continue
        if elem.tag == q(NS_CLIENT, "message"):
            body = elem.find(q(NS_CLIENT, "body"))
            if body is not None and token in (body.text or ""):
                break
    step("message to self delivered (token %s)" % token)

    stream.send("</stream:stream>")
    try:
        while not stream.closed:
            stream.next()
    except ProbeError:
        pass  # a server may drop the TCP connection right after its close tag
    sock.close()
    step("stream closed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5222)
    ap.add_argument("--domain", default="localhost", help="XMPP domain (stream 'to')")
    ap.add_argument("--tls-name", help="name to verify in the certificate (default: the domain)")
    ap.add_argument("--ca", required=True, help="PEM file of the CA to trust")
    ap.add_argument("--direct-tls", action="store_true", help="TLS from the first byte (XEP-0368 port)")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="alice-pass")
    ap.add_argument("--mech", choices=["SCRAM-SHA-1", "PLAIN"], help="default: SCRAM-SHA-1 when offered")
    ap.add_argument("--sm", action="store_true", help="require XEP-0198 with resumption")
    ap.add_argument("--expect-auth-failure", action="store_true")
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    print("probe %s@%s via %s:%d" % (args.user, args.domain, args.host, args.port), flush=True)
    try:
        run(args)
    except (ProbeError, OSError, ssl.SSLError, xml.parsers.expat.ExpatError, ValueError, KeyError) as e:
        print("  FAILED: %s" % e, flush=True)
        return 1
    print("  OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
