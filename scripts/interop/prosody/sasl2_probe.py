#!/usr/bin/env python3
"""End-to-end probe of SASL2 on the Prosody test instance (prosody-up.sh).

Standard library only. Talks XMPP over STARTTLS to the SASL2 host
(sasl2.localhost) and checks, in order:

  a. the post-TLS features offer <authentication xmlns='urn:xmpp:sasl:2'>
     with inline Bind2, SM and FAST;
  b. SASL2 SCRAM-SHA-1 login with a user agent, Bind2 (tag 'probe', SM
     enable with resume) and a FAST token request: <success> carries a full
     JID, <bound> with <enabled>, a <token>; new <stream:features> follow;
     messages to our own full JID (one of 20 kB) come back;
  c. a second connection logging in with HT-SHA-256-NONE and that token,
     checking the server's HMAC in <additional-data> (and once more with the
     same token, and a wrong token failing);
  d. after (b)'s socket was dropped, a third connection whose SASL2
     <authenticate> carries <resume xmlns='urn:xmpp:sm:3' h='0'>: <success>
     holds <resumed>, (b)'s unacked messages are sent again before the new
     features, and the resumed session works;
  e. what a second <authenticate> after a failed one gets (reported only);
  f. HT-SHA-256-UNIQ on a TLS 1.2 connection (tls-unique from Python's ssl);
  g. HT-SHA-256-EXPR on TLS 1.3; Python has no tls-exporter API, so the
     exporter is read through ctypes from OpenSSL; skipped if that fails;
  h. the plain host (localhost) still offers SASL1 only.

Finally it scans what Prosody logged during the run for errors.
Prints one line per check; exits 1 if any check failed.

Defaults come from $XMPP_INTEROP_DIR/prosody/env (written by prosody-up.sh);
see --help for overrides.
"""
import argparse
import base64
import hashlib
import hmac
import os
import socket
import ssl
import sys
import time
import uuid
import xml.parsers.expat
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

NS_STREAM = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_SASL2 = "urn:xmpp:sasl:2"
NS_BIND2 = "urn:xmpp:bind:0"
NS_SM = "urn:xmpp:sm:3"
NS_FAST = "urn:xmpp:fast:0"
NS_DELAY = "urn:xmpp:delay"


def q(ns, name):
    return "{%s}%s" % (ns, name)


def b64(data):
    return base64.b64encode(data).decode()


def hmac256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


class Failure(Exception):
    pass


# --- XML stream ---------------------------------------------------------------


class XmlStream:
    """Incremental reader of one XMPP stream: the header, then top-level elements."""

    def __init__(self):
        self.parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
        if hasattr(self.parser, "SetReparseDeferralEnabled"):
            self.parser.SetReparseDeferralEnabled(False)  # deliver elements at once
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text
        self.stack = []
        self.header = None
        self.elements = []
        self.closed = False

    @staticmethod
    def _name(name):
        if " " in name:
            ns, local = name.split(" ", 1)
            return "{%s}%s" % (ns, local)
        return name

    def _start(self, name, attrs):
        tag = self._name(name)
        attrib = {self._name(k): v for k, v in attrs.items()}
        if self.header is None:
            self.header = attrib
            return
        el = ET.Element(tag, attrib)
        if self.stack:
            self.stack[-1].append(el)
        self.stack.append(el)

    def _end(self, name):
        if not self.stack:
            self.closed = True  # </stream:stream>
            return
        el = self.stack.pop()
        if not self.stack:
            self.elements.append(el)

    def _text(self, data):
        if self.stack:
            el = self.stack[-1]
            if len(el):
                el[-1].tail = (el[-1].tail or "") + data
            else:
                el.text = (el.text or "") + data

    def feed(self, data):
        self.parser.Parse(data, False)


class Conn:
    """One client connection: STARTTLS, stream (re)starts, element I/O."""

    def __init__(self, opts, domain, from_jid=None, tls_max=None, label=""):
        self.opts = opts
        self.domain = domain
        self.label = label
        self.sock = socket.create_connection((opts.host, opts.port), timeout=opts.timeout)
        self.stream = None
        self._open(None)
        features = self.read()
        if features.find(q(NS_TLS, "starttls")) is None:
            raise Failure("%s: no STARTTLS offered" % label)
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        proceed = self.read()
        if proceed.tag != q(NS_TLS, "proceed"):
            raise Failure("%s: STARTTLS answered with %s" % (label, proceed.tag))
        ctx = ssl.create_default_context(cafile=opts.ca) if opts.ca else ssl._create_unverified_context()
        if tls_max is not None:
            ctx.maximum_version = tls_max
        self.ctx = ctx
        self.sock = ctx.wrap_socket(self.sock, server_hostname=domain)
        self._open(from_jid)
        self.features = self.read()
        if self.features.tag != q(NS_STREAM, "features"):
            raise Failure("%s: expected stream features, got %s" % (label, self.features.tag))

    def _open(self, from_jid):
        self.stream = XmlStream()
        frm = " from=%s" % quoteattr(from_jid) if from_jid else ""
        self.send(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='%s' to=%s%s version='1.0'>" % (NS_STREAM, quoteattr(self.domain), frm)
        )

    def send(self, text):
        if self.opts.verbose:
            print("    %s >> %s" % (self.label, text[:300]))
        self.sock.sendall(text.encode())

    def read(self, timeout=None):
        """The next top-level element; Failure on timeout or end of stream."""
        deadline = time.monotonic() + (timeout or self.opts.timeout)
        while not self.stream.elements:
            if self.stream.closed:
                raise Failure("%s: server closed the stream" % self.label)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("%s: timed out waiting for the server" % self.label)
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise Failure("%s: connection closed by the server" % self.label)
            self.stream.feed(data)
        el = self.stream.elements.pop(0)
        if self.opts.verbose:
            print("    %s << %s" % (self.label, ET.tostring(el, encoding="unicode")[:600]))
        if el.tag == q(NS_STREAM, "error"):
            raise Failure("%s: stream error %s" % (self.label, [c.tag for c in el]))
        return el

    def close(self):
        """Orderly close: </stream:stream>, then wait for the server's."""
        try:
            self.send("</stream:stream>")
            deadline = time.monotonic() + 3
            while not self.stream.closed and time.monotonic() < deadline:
                self.sock.settimeout(max(0.1, deadline - time.monotonic()))
                data = self.sock.recv(65536)
                if not data:
                    break
                self.stream.feed(data)
        except (OSError, xml.parsers.expat.ExpatError):
            pass
        self.sock.close()

    def drop(self):
        """Abrupt close: no </stream:stream>, no TLS close_notify."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        except OSError:
            pass
        self.sock.close()


# --- SASL ------------------------------------------------------------------------


class Scram:
    """SCRAM-SHA-1 client with gs2 header 'n,,' (Prosody 0.12 rejects 'y' when it
    has any channel binding, and it offers no -PLUS on TLS 1.3)."""

    def __init__(self, user, password):
        self.password = password
        self.nonce = b64(os.urandom(18))
        self.first_bare = "n=%s,r=%s" % (user, self.nonce)

    def first(self):
        return ("n,," + self.first_bare).encode()

    def final(self, server_first):
        server_first = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise Failure("SCRAM: server nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac("sha1", self.password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha1).digest()
        stored_key = hashlib.sha1(client_key).digest()
        without_proof = "c=%s,r=%s" % (b64(b"n,,"), attrs["r"])
        auth_message = ",".join((self.first_bare, server_first, without_proof)).encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha1).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha1).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha1).digest()
        return ("%s,p=%s" % (without_proof, b64(proof))).encode()

    def verify(self, server_final):
        return server_final == b"v=" + b64(self.server_signature).encode()


def user_agent(client_id):
    return (
        "<user-agent id=%s><software>sasl2_probe</software><device>ci</device></user-agent>" % quoteattr(client_id)
    )


def authenticate(conn, mechanism, initial, extra=""):
    conn.send(
        "<authenticate xmlns='%s' mechanism=%s><initial-response>%s</initial-response>%s</authenticate>"
        % (NS_SASL2, quoteattr(mechanism), b64(initial), extra)
    )


def sasl2_scram(conn, user, password, extra=""):
    """SCRAM-SHA-1 over SASL2. Returns (outcome element, server signature ok?)."""
    scram = Scram(user, password)
    authenticate(conn, "SCRAM-SHA-1", scram.first(), extra)
    el = conn.read()
    if el.tag != q(NS_SASL2, "challenge"):
        return el, None
    conn.send("<response xmlns='%s'>%s</response>" % (NS_SASL2, b64(scram.final(base64.b64decode(el.text or "")))))
    el = conn.read()
    ok = None
    if el.tag == q(NS_SASL2, "success"):
        data = el.findtext(q(NS_SASL2, "additional-data"))
        ok = data is not None and scram.verify(base64.b64decode(data))
    return el, ok


def describe(el):
    return ET.tostring(el, encoding="unicode")


def failure_condition(el):
    if el.tag != q(NS_SASL2, "failure"):
        return None
    for child in el:
        if child.tag != q(NS_SASL2, "text"):
            return child.tag.split("}")[-1] + ("" if child.tag.startswith("{%s}" % NS_SASL) else " (not in the xmpp-sasl namespace)")
    return "?"


# --- the probe ---------------------------------------------------------------------


class Probe:
    def __init__(self, opts):
        self.opts = opts
        self.failed = 0
        self.bare = "%s@%s" % (opts.user, opts.domain)
        self.client_id = str(uuid.uuid4())  # this run's user agent for (b), (c), (d)
        self.token = self.sm_id = self.full_jid = None

    def check(self, ok, what, detail=""):
        print("%s %s%s" % ("ok  " if ok else "FAIL", what, (": " + detail) if detail and not ok else ""))
        if not ok:
            self.failed += 1
        return ok

    def info(self, what):
        print("info " + what)

    def connect(self, label, tls_max=None, from_jid=True, domain=None):
        return Conn(self.opts, domain or self.opts.domain, self.bare if from_jid else None, tls_max, label)

    def read_until_features(self, conn):
        """Elements after <success> up to and including the new stream features."""
        seen = []
        while True:
            el = conn.read()
            seen.append(el)
            if el.tag == q(NS_STREAM, "features"):
                return seen

    def receive_message(self, conn, msg_id):
        for _ in range(20):
            el = conn.read()
            if el.tag == "{jabber:client}message" and el.get("id") == msg_id:
                return el
        raise Failure("message %s did not come back" % msg_id)

    # a
    def features(self):
        conn = self.connect("a")
        auth = conn.features.find(q(NS_SASL2, "authentication"))
        self.check(auth is not None, "a: <authentication xmlns='urn:xmpp:sasl:2'> offered after STARTTLS")
        if auth is None:
            conn.close()
            return
        mechs = [m.text for m in auth.findall(q(NS_SASL2, "mechanism"))]
        self.info("a: SASL2 mechanisms %s" % mechs)
        self.check("SCRAM-SHA-1" in mechs, "a: SCRAM-SHA-1 among them")
        inline = auth.find(q(NS_SASL2, "inline"))
        self.check(inline is not None, "a: <inline> present")
        inline = inline if inline is not None else ET.Element("none")
        bind = inline.find(q(NS_BIND2, "bind"))
        self.check(bind is not None, "a: inline Bind2 <bind xmlns='urn:xmpp:bind:0'>")
        if bind is not None:
            feats = [f.get("var") for f in bind.iter(q(NS_BIND2, "feature"))]
            self.info("a: Bind2 inline features %s" % feats)
            self.check(NS_SM in feats, "a: Bind2 can enable SM inline")
        self.check(inline.find(q(NS_SM, "sm")) is not None, "a: inline <sm xmlns='urn:xmpp:sm:3'> (resume)")
        fast = inline.find(q(NS_FAST, "fast"))
        fast_mechs = [m.text for m in fast.findall(q(NS_FAST, "mechanism"))] if fast is not None else []
        self.check("HT-SHA-256-NONE" in fast_mechs, "a: inline FAST with HT-SHA-256-NONE", str(fast_mechs))
        tls13 = conn.sock.version() == "TLSv1.3"
        self.info("a: FAST mechanisms on %s: %s" % (conn.sock.version(), fast_mechs))
        if tls13:
            self.check("HT-SHA-256-EXPR" in fast_mechs, "a: FAST offers HT-SHA-256-EXPR on TLS 1.3")
        self.check(conn.features.find(q(NS_SASL, "mechanisms")) is not None, "a: SASL1 <mechanisms> still offered too")
        conn.close()

    # b
    def login(self):
        conn = self.connect("b")
        extra = (
            user_agent(self.client_id)
            + "<bind xmlns='%s'><tag>probe</tag><enable xmlns='%s' resume='true'/></bind>" % (NS_BIND2, NS_SM)
            + "<request-token xmlns='%s' mechanism='HT-SHA-256-NONE'/>" % NS_FAST
        )
        success, sig_ok = sasl2_scram(conn, self.opts.user, self.opts.password, extra)
        if not self.check(success.tag == q(NS_SASL2, "success"), "b: SASL2 SCRAM-SHA-1 login succeeds", describe(success)):
            raise Failure("cannot continue without a login")
        self.info("b: <success> children in order: %s" % [c.tag for c in success])
        self.check(sig_ok, "b: <additional-data> holds the right SCRAM server signature")
        jid = success.findtext(q(NS_SASL2, "authorization-identifier")) or ""
        self.check(
            jid.startswith(self.bare + "/probe~") and len(jid) > len(self.bare) + 7,
            "b: authorization-identifier is a full JID (%s)" % jid,
        )
        self.full_jid = jid
        bound = success.find(q(NS_BIND2, "bound"))
        self.check(bound is not None, "b: <bound xmlns='urn:xmpp:bind:0'>")
        enabled = bound.find(q(NS_SM, "enabled")) if bound is not None else None
        self.check(
            enabled is not None and enabled.get("id") and enabled.get("resume") in ("1", "true"),
            "b: <bound> holds SM <enabled> with an id and resume",
            describe(bound) if bound is not None else "",
        )
        self.sm_id = enabled.get("id") if enabled is not None else None
        token = success.find(q(NS_FAST, "token"))
        self.check(token is not None and token.get("token"), "b: <token xmlns='urn:xmpp:fast:0'> issued")
        self.token = token.get("token") if token is not None else None
        if token is not None:
            self.info("b: token expiry %s" % token.get("expiry"))
        after = self.read_until_features(conn)
        features = after[-1]
        self.info("b: between <success> and <stream:features>: %s" % [e.tag for e in after[:-1]])
        self.info("b: post-success features: %s" % [c.tag for c in features])
        self.check(
            features.find(q(NS_SASL2, "authentication")) is None and features.find(q(NS_SASL, "mechanisms")) is None,
            "b: <stream:features> follows <success> (no restart) without authentication offers",
        )
        # Our own full JID: delivered whatever our presence.
        conn.send("<message to=%s id='m1' type='chat'><body>probe 1</body></message>" % quoteattr(jid))
        self.check(self.receive_message(conn, "m1").findtext("{jabber:client}body") == "probe 1", "b: message to self comes back")
        big = "x" * 20000
        conn.send("<message to=%s id='m2' type='chat'><body>%s</body></message>" % (quoteattr(jid), big))
        self.check(
            self.receive_message(conn, "m2").findtext("{jabber:client}body") == big,
            "b: a 20 kB message is accepted (authenticated stanza size limit)",
        )
        return conn

    # c
    def fast(self):
        if not self.token:
            self.check(False, "c: FAST login", "no token from (b)")
            return
        key = self.token.encode()
        for label, tag in (("c", "probe-fast"), ("c2", None)):
            conn = self.connect(label)
            bind = "<bind xmlns='%s'><tag>%s</tag></bind>" % (NS_BIND2, tag) if tag else ""
            authenticate(
                conn,
                "HT-SHA-256-NONE",
                self.opts.user.encode() + b"\0" + hmac256(key, b"Initiator"),
                user_agent(self.client_id) + "<fast xmlns='%s'/>" % NS_FAST + bind,
            )
            el = conn.read()
            what = "first" if label == "c" else "second"
            if self.check(el.tag == q(NS_SASL2, "success"), "%s: HT-SHA-256-NONE login with the token (%s use)" % (label, what), describe(el)):
                data = el.findtext(q(NS_SASL2, "additional-data"))
                self.check(
                    data is not None and base64.b64decode(data) == hmac256(key, b"Responder"),
                    "%s: additional-data == HMAC(token, 'Responder')" % label,
                )
                jid = el.findtext(q(NS_SASL2, "authorization-identifier")) or ""
                self.info("%s: authorization-identifier %s; <success> children %s" % (label, jid, [c.tag for c in el]))
                if tag:
                    self.check(jid.startswith(self.bare + "/" + tag + "~"), "%s: Bind2 bound %s~..." % (label, tag))
                self.read_until_features(conn)
            conn.close()
        conn = self.connect("c3")
        authenticate(
            conn,
            "HT-SHA-256-NONE",
            self.opts.user.encode() + b"\0" + hmac256(b"secret-token:fast-wrong", b"Initiator"),
            user_agent(self.client_id) + "<fast xmlns='%s'/>" % NS_FAST,
        )
        el = conn.read()
        self.check(el.tag == q(NS_SASL2, "failure"), "c3: a wrong token fails (%s)" % failure_condition(el), describe(el))
        conn.close()

    # d
    def resume(self, old):
        old.drop()
        time.sleep(0.5)  # let the server notice and put the session into hibernation
        if not self.sm_id:
            self.check(False, "d: resume", "no SM id from (b)")
            return
        conn = self.connect("d")
        extra = (
            user_agent(self.client_id)
            + "<resume xmlns='%s' h='0' previd=%s/>" % (NS_SM, quoteattr(self.sm_id))
            + "<bind xmlns='%s'><tag>probe</tag></bind>" % NS_BIND2
        )
        success, _ = sasl2_scram(conn, self.opts.user, self.opts.password, extra)
        if not self.check(success.tag == q(NS_SASL2, "success"), "d: SASL2 login with inline resume succeeds", describe(success)):
            return
        self.info("d: <success> children in order: %s" % [c.tag for c in success])
        resumed = success.find(q(NS_SM, "resumed"))
        self.check(
            resumed is not None and resumed.get("previd") == self.sm_id,
            "d: <success> holds <resumed previd=...>",
            describe(success),
        )
        if resumed is not None:
            self.check(resumed.get("h") == "2", "d: <resumed h='2'> (the server got our 2 messages)", describe(resumed))
        self.check(success.find(q(NS_BIND2, "bound")) is None, "d: no <bound> (Bind2 is skipped on resume)")
        jid = success.findtext(q(NS_SASL2, "authorization-identifier"))
        self.check(jid == self.full_jid, "d: authorization-identifier is (b)'s full JID", str(jid))
        after = self.read_until_features(conn)
        resent = [e.get("id") for e in after if e.tag == "{jabber:client}message"]
        self.info("d: between <success> and <stream:features>: %s" % [e.tag for e in after[:-1]])
        self.check(resent == ["m1", "m2"], "d: unacked m1, m2 sent again before the new features", str(resent))
        delayed = [e for e in after if e.tag == "{jabber:client}message" and e.find(q(NS_DELAY, "delay")) is not None]
        self.info("d: %d of them carry <delay>" % len(delayed))
        conn.send("<message to=%s id='m3' type='chat'><body>probe 3</body></message>" % quoteattr(self.full_jid))
        self.check(self.receive_message(conn, "m3") is not None, "d: the resumed session routes a new message")
        conn.send("<r xmlns='%s'/>" % NS_SM)
        for _ in range(10):
            el = conn.read()
            if el.tag == q(NS_SM, "a"):
                self.check(el.get("h") == "3", "d: <a h='3'>: counting carries on after resume", describe(el))
                break
        conn.close()

    # e
    def retry(self):
        conn = self.connect("e")
        el, _ = sasl2_scram(conn, self.opts.user, self.opts.password + "-wrong")
        self.check(el.tag == q(NS_SASL2, "failure"), "e: wrong password fails (%s)" % failure_condition(el), describe(el))
        try:
            el, _ = sasl2_scram(conn, self.opts.user, self.opts.password)
            if el.tag == q(NS_SASL2, "failure"):
                self.info("e: a second <authenticate> on the same stream fails: %s" % failure_condition(el))
            else:
                self.info("e: a second <authenticate> on the same stream gets %s" % el.tag.split("}")[-1])
        except Failure as e:
            self.info("e: a second <authenticate> on the same stream: %s" % e)
        conn.close()

    def token_for(self, mechanism, client_id):
        conn = self.connect("token")
        success, _ = sasl2_scram(
            conn,
            self.opts.user,
            self.opts.password,
            user_agent(client_id) + "<request-token xmlns='%s' mechanism='%s'/>" % (NS_FAST, mechanism),
        )
        token = success.find(q(NS_FAST, "token"))
        conn.close()
        if token is None:
            raise Failure("no %s token: %s" % (mechanism, describe(success)))
        return token.get("token").encode()

    def ht_with_cb(self, label, mechanism, conn, cb, key, client_id):
        fast = conn.features.find(".//" + q(NS_FAST, "fast"))
        offered = [m.text for m in fast] if fast is not None else []
        self.check(mechanism in offered, "%s: %s offered on %s" % (label, mechanism, conn.sock.version()), str(offered))
        authenticate(
            conn,
            mechanism,
            self.opts.user.encode() + b"\0" + hmac256(key, b"Initiator" + cb),
            user_agent(client_id) + "<fast xmlns='%s'/>" % NS_FAST,
        )
        el = conn.read()
        if self.check(el.tag == q(NS_SASL2, "success"), "%s: %s login" % (label, mechanism), describe(el)):
            data = el.findtext(q(NS_SASL2, "additional-data"))
            self.check(
                data is not None and base64.b64decode(data) == hmac256(key, b"Responder" + cb),
                "%s: additional-data == HMAC(token, 'Responder' || cb-data)" % label,
            )
        conn.close()

    # f
    def uniq(self):
        client_id = str(uuid.uuid4())
        key = self.token_for("HT-SHA-256-UNIQ", client_id)
        conn = self.connect("f", tls_max=ssl.TLSVersion.TLSv1_2)
        cb = conn.sock.get_channel_binding("tls-unique")
        self.ht_with_cb("f", "HT-SHA-256-UNIQ", conn, cb, key, client_id)

    # g
    def expr(self):
        client_id = str(uuid.uuid4())
        key = self.token_for("HT-SHA-256-EXPR", client_id)
        conn = self.connect("g")
        try:
            cb = tls_exporter(conn.sock)
        except Exception as e:  # no way to reach OpenSSL from here
            self.info("g: skipped, cannot read the TLS exporter through ctypes (%s)" % e)
            conn.close()
            return
        self.ht_with_cb("g", "HT-SHA-256-EXPR", conn, cb, key, client_id)

    # h
    def plain_host(self):
        conn = self.connect("h", domain=self.opts.plain_domain, from_jid=False)
        f = conn.features
        mechs = [m.text for m in f.iter(q(NS_SASL, "mechanism"))]
        self.info("h: %s features %s, SASL1 mechanisms %s" % (self.opts.plain_domain, [c.tag for c in f], mechs))
        self.check(f.find(q(NS_SASL2, "authentication")) is None, "h: %s offers no SASL2" % self.opts.plain_domain)
        self.check(bool(mechs), "h: %s still offers SASL1" % self.opts.plain_domain)
        conn.close()


def tls_exporter(sslsock):
    """RFC 9266 tls-exporter bytes for a TLS 1.3 connection, read from the
    OpenSSL SSL object behind Python's socket (CPython layout: the SSL* follows
    the object header and the Socket weakref; the SSL_CTX* follows the header
    of the SSLContext). Both pointers are checked against each other first."""
    import ctypes
    import ctypes.util

    if sys.implementation.name != "cpython":
        raise RuntimeError("not CPython")
    if sslsock.version() != "TLSv1.3":
        raise RuntimeError("not TLS 1.3")
    lib_path = getattr(ssl._ssl, "__file__", None) or ctypes.util.find_library("ssl")
    lib = ctypes.CDLL(lib_path)
    ptr = ctypes.sizeof(ctypes.c_void_p)
    head = ctypes.sizeof(ctypes.c_ssize_t) + ptr  # ob_refcnt, ob_type
    ssl_ptr = ctypes.c_void_p.from_address(id(sslsock._sslobj) + head + ptr).value
    ctx_ptr = ctypes.c_void_p.from_address(id(sslsock.context) + head).value
    lib.SSL_get_SSL_CTX.restype = ctypes.c_void_p
    lib.SSL_get_SSL_CTX.argtypes = [ctypes.c_void_p]
    if not ssl_ptr or lib.SSL_get_SSL_CTX(ssl_ptr) != ctx_ptr:
        raise RuntimeError("unexpected object layout")
    fn = lib.SSL_export_keying_material
    fn.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                   ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
    out = ctypes.create_string_buffer(32)
    label = b"EXPORTER-Channel-Binding"
    if fn(ssl_ptr, out, 32, label, len(label), b"", 0, 1) != 1:
        raise RuntimeError("SSL_export_keying_material failed")
    return out.raw


def read_env(state):
    env = {}
    try:
        with open(os.path.join(state, "prosody", "env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                env[k] = v
    except OSError:
        pass
    return env


def main():
    state = os.environ.get("XMPP_INTEROP_DIR", "/tmp/xmpp-interop")
    env = read_env(state)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default=env.get("XMPP_PROSODY_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(env.get("XMPP_PROSODY_C2S_PORT", "5222")))
    ap.add_argument("--domain", default=env.get("XMPP_PROSODY_SASL2_DOMAIN", "sasl2.localhost"))
    ap.add_argument("--plain-domain", default=env.get("XMPP_PROSODY_DOMAIN", "localhost"))
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="alice-pass")
    ap.add_argument("--ca", default=env.get("XMPP_INTEROP_CA", os.path.join(state, "certs", "ca.crt")),
                    help="CA to verify the server with; '' skips verification")
    ap.add_argument("--log", default=os.path.join(state, "prosody", "prosody.log"),
                    help="Prosody log to scan for errors logged during the run; '' skips")
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("-v", "--verbose", action="store_true", help="print the XML")
    opts = ap.parse_args()
    if opts.ca and not os.path.exists(opts.ca):
        sys.exit("CA file %s not found (use --ca '' to skip verification)" % opts.ca)

    log_start = None
    if opts.log and os.path.exists(opts.log):
        log_start = os.path.getsize(opts.log)

    print("probing %s:%d, SASL2 host %s as %s" % (opts.host, opts.port, opts.domain, opts.user))
    p = Probe(opts)
    run(p, "a", p.features)
    session_b = run(p, "b", p.login)  # (c) and (d) build on (b)
    if session_b is not None:
        run(p, "c", p.fast)
        run(p, "d", lambda: p.resume(session_b))
    for name, step in (("e", p.retry), ("f", p.uniq), ("g", p.expr), ("h", p.plain_host)):
        run(p, name, step)

    if log_start is not None:
        time.sleep(0.3)
        with open(opts.log, errors="replace") as f:
            f.seek(log_start)
            logged = f.read()
        bad = [line for line in logged.splitlines() if "\terror\t" in line or "Traceback" in line]
        p.check(not bad, "Prosody logged no errors during the run", "\n    " + "\n    ".join(bad[:20]))
    print("%s: %d check(s) failed" % ("FAILED" if p.failed else "PASSED", p.failed))
    sys.exit(1 if p.failed else 0)


def run(p, name, step):
    try:
        return step()
    except (Failure, OSError, ssl.SSLError, xml.parsers.expat.ExpatError) as e:
        p.check(False, "%s: step aborted" % name, "%s: %s" % (type(e).__name__, e))
        return None


if __name__ == "__main__":
    main()
