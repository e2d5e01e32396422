"""slixmpp, an independent XMPP client, against our server (the `serve`
example). Run by slixmpp-vs-ours.sh, which starts the server; see there.

Checks, each over STARTTLS with the certificate verified against the test
CA (hostname `DOMAIN`, connecting to HOST:PORT):
  - login with SCRAM-SHA-1, and with SCRAM-SHA-256 (the mechanism used is
    read back from slixmpp)
  - a wrong password is refused, and so is our certificate by a client
    that trusts another CA
  - a chat message from one account to the other arrives, `from` stamped
  - XEP-0199 ping to the server is answered
  - XEP-0030 disco#info on the server lists disco#info and ping
  - RFC 6121: alice asks to see bob's presence; bob's slixmpp approves
    and asks back, alice's approves; both rosters end at `both` (through
    the server's pushes) and each sees the other's presence
  - XEP-0198: a client with stream management whose TCP connection is
    cut resumes its session, and gets the message sent to it meanwhile
  - XEP-0045: alice and bob (slixmpp's MUC plugin) join a room on our
    conference service; alice's message reaches bob from her room
    nickname
  - XEP-0114: a slixmpp component connects to our component port and
    serves its domain (a message from alice reaches it and its answer,
    from an address of its domain, reaches alice); one with a wrong
    secret is refused
  - the streams close cleanly

Prints one line per check and `N passed, M failed`; exits 1 if any failed.
"""

import argparse
import asyncio
import logging
import sys

import slixmpp

TIMEOUT = 15


class Client(slixmpp.ClientXMPP):
    """A client that reports its login outcome through futures."""

    def __init__(self, jid, password, mechanism, ca, sm=False):
        super().__init__(jid, password, sasl_mech=mechanism)
        self.ca_certs = ca
        # Given an address, slixmpp tries direct TLS, then STARTTLS, then
        # plaintext: only STARTTLS is under test here.
        self.enable_direct_tls = False
        self.enable_plaintext = False
        for plugin in ("xep_0030", "xep_0045", "xep_0199") + (("xep_0198",) if sm else ()):
            self.register_plugin(plugin)
        loop = asyncio.get_event_loop()
        self.online = loop.create_future()
        self.gone = loop.create_future()
        self.sm_enabled = loop.create_future()
        self.resumed = loop.create_future()
        self.add_event_handler("sm_enabled", lambda _e: _settle(self.sm_enabled, True))
        self.add_event_handler("session_resumed", lambda _e: _settle(self.resumed, True))
        self.add_event_handler("sm_failed", lambda e: _settle(self.resumed, f"failed: {e}"))
        self.messages = asyncio.Queue()
        self.groupchat = asyncio.Queue()
        self.add_event_handler("groupchat_message", self.groupchat.put_nowait)
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("failed_auth", self._on_auth_refused)
        self.add_event_handler("failed_all_auth", self._on_auth_refused)
        self.add_event_handler("ssl_invalid_chain", self._on_bad_cert)
        self.add_event_handler("connection_failed", self._on_unreachable)
        self.add_event_handler("disconnected", self._on_gone)
        self.add_event_handler("message", self._on_message)

    def _settle(self, value):
        if not self.online.done():
            self.online.set_result(value)

    async def _on_start(self, _event):
        # The roster first: the server pushes changes to resources that
        # asked for it.
        try:
            await self.get_roster(timeout=TIMEOUT)
        except Exception as e:  # IqError, IqTimeout
            self._settle(f"roster request failed: {e!r}")
            return
        self.send_presence()
        self._settle(None)

    def _on_auth_refused(self, event):
        # The server answered the SASL exchange with <failure/>; the first
        # report (failed_auth, with the stanza) names the condition.
        try:
            condition = event["condition"]
        except (KeyError, TypeError):
            condition = "no condition reported"
        self._settle(f"authentication refused: {condition}")

    def _on_unreachable(self, event):
        self._settle(f"connection failed: {event}")

    def _on_bad_cert(self, event):
        self._settle(f"certificate refused: {event}")
        self.disconnect()

    def _on_gone(self, reason):
        # With a failed TLS handshake, the reason is the SSL error.
        self._settle(f"disconnected before the session started: {reason}")
        if not self.gone.done():
            self.gone.set_result(None)

    def _on_message(self, msg):
        if msg["type"] in ("chat", "normal"):
            self.messages.put_nowait(msg)

    def mechanism(self):
        mech = self.plugin["feature_mechanisms"].mech
        return getattr(mech, "name", None)


def _settle(future, value):
    if not future.done():
        future.set_result(value)


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name, detail=""):
        self.passed += 1
        print(f"PASS {name}" + (f": {detail}" if detail else ""), flush=True)

    def fail(self, name, detail):
        self.failed += 1
        print(f"FAIL {name}: {detail}", flush=True)


async def login(args, user, password, mechanism):
    """A logged-in client, or the reason it is not."""
    client = Client(f"{user}@{args.domain}/slixmpp", password, mechanism, args.ca)
    client.connect(args.host, args.port)
    try:
        error = await asyncio.wait_for(client.online, TIMEOUT)
    except asyncio.TimeoutError:
        error = f"no session within {TIMEOUT}s"
    if error is not None:
        client.disconnect()
        return None, error
    return client, None


async def close(client):
    """Closes the stream; whether it ended within the timeout."""
    client.disconnect()
    try:
        await asyncio.wait_for(client.gone, TIMEOUT)
        return True
    except asyncio.TimeoutError:
        return False


async def main(args):
    checks = Checks()

    # Logins with each SCRAM mechanism.
    alice = bob = None
    for user, password, mech in (
        ("alice", args.alice_password, "SCRAM-SHA-1"),
        ("bob", args.bob_password, "SCRAM-SHA-256"),
    ):
        client, error = await login(args, user, password, mech)
        name = f"login {user} with {mech} over STARTTLS (CA verified)"
        if client is None:
            checks.fail(name, error)
            continue
        used = client.mechanism()
        if used != mech:
            checks.fail(name, f"slixmpp used {used}")
        elif not client.is_connected() or not client.boundjid.resource:
            checks.fail(name, "no bound resource")
        else:
            checks.ok(name, f"{used}, bound {client.boundjid.full}")
        if user == "alice":
            alice = client
        else:
            bob = client

    # A client trusting another CA must refuse our certificate.
    if args.other_ca:
        saved, args.ca = args.ca, args.other_ca
        client, error = await login(args, "alice", args.alice_password, "SCRAM-SHA-256")
        args.ca = saved
        if client is None and error and "certificate" in error.lower():
            checks.ok("certificate from another CA refused", error)
        else:
            checks.fail("certificate from another CA refused", error or "logged in!")
            if client is not None:
                await close(client)

    # A wrong password: refused by the server in SASL with not-authorized
    # (an unreachable server, a TLS failure or a timeout is not that).
    client, error = await login(args, "alice", "not-the-password", "SCRAM-SHA-256")
    if client is None and error == "authentication refused: not-authorized":
        checks.ok("wrong password refused", error)
    else:
        checks.fail("wrong password refused", error or "logged in!")
        if client is not None:
            await close(client)

    if alice is None or bob is None:
        checks.fail("message, ping, disco#info", "skipped: a login failed")
    else:
        # A message from alice to bob's full JID.
        body = "hello from slixmpp"
        alice.send_message(mto=bob.boundjid.full, mbody=body, mtype="chat")
        try:
            msg = await asyncio.wait_for(bob.messages.get(), TIMEOUT)
            if msg["body"] == body and msg["from"] == alice.boundjid:
                checks.ok("message alice -> bob", f"from {msg['from']}")
            else:
                checks.fail("message alice -> bob", f"got {msg['body']!r} from {msg['from']}")
        except asyncio.TimeoutError:
            checks.fail("message alice -> bob", f"nothing within {TIMEOUT}s")

        # Ping the server.
        try:
            rtt = await alice.plugin["xep_0199"].ping(jid=args.domain, timeout=TIMEOUT)
            checks.ok("XEP-0199 ping to the server", f"{rtt * 1000:.1f} ms")
        except Exception as e:  # IqError, IqTimeout
            checks.fail("XEP-0199 ping to the server", repr(e))

        # disco#info on the server.
        try:
            info = await bob.plugin["xep_0030"].get_info(jid=args.domain, timeout=TIMEOUT)
            features = set(info["disco_info"]["features"])
            want = {"http://jabber.org/protocol/disco#info", "urn:xmpp:ping"}
            if want <= features:
                checks.ok("XEP-0030 disco#info on the server", ", ".join(sorted(features)))
            else:
                checks.fail("XEP-0030 disco#info on the server", f"features {sorted(features)}")
        except Exception as e:
            checks.fail("XEP-0030 disco#info on the server", repr(e))

    if alice is not None and bob is not None:
        await check_subscriptions(checks, alice, bob)
        await check_group_chat(args, checks, alice, bob)

    if alice is not None:
        await check_resumption(args, checks, alice)

    if alice is not None and args.component_port:
        await check_component(args, checks, alice)

    for client in (alice, bob):
        if client is None:
            continue
        name = f"{client.boundjid.user} closes cleanly"
        if await close(client):
            checks.ok(name)
        else:
            checks.fail(name, f"not disconnected within {TIMEOUT}s")

    print(f"{checks.passed} passed, {checks.failed} failed", flush=True)
    return 1 if checks.failed else 0


async def check_subscriptions(checks, alice, bob):
    """alice subscribes to bob; slixmpp approves and subscribes back on
    its own (auto_authorize, auto_subscribe), so both rosters must end at
    'both', learned from the server's roster pushes, with each other's
    presence."""
    name = "RFC 6121 subscription both ways, roster pushes, presence"
    a, b = alice.boundjid.bare, bob.boundjid.bare
    alice.send_presence(pto=b, ptype="subscribe")
    state = None
    for _ in range(TIMEOUT * 10):
        state = (
            alice.client_roster[b]["subscription"],
            bob.client_roster[a]["subscription"],
            sorted(alice.client_roster.presence(b)),
            sorted(bob.client_roster.presence(a)),
        )
        if state[0] == "both" and state[1] == "both" and state[2] and state[3]:
            checks.ok(name, f"alice sees {state[2]}, bob sees {state[3]}")
            return
        await asyncio.sleep(0.1)
    checks.fail(name, f"after {TIMEOUT}s: {state}")


async def check_resumption(args, checks, alice):
    """bob/sm enables stream management, loses its TCP connection without
    a word, and resumes; alice's message sent meanwhile arrives."""
    name = "XEP-0198 resumption after a cut connection"
    jid = f"bob@{args.domain}/sm"
    client = Client(jid, args.bob_password, "SCRAM-SHA-256", args.ca, sm=True)
    client.connect(args.host, args.port)
    try:
        error = await asyncio.wait_for(client.online, TIMEOUT)
        if error is None:
            await asyncio.wait_for(client.sm_enabled, TIMEOUT)
    except asyncio.TimeoutError:
        error = f"no session with stream management within {TIMEOUT}s"
    if error is not None or not client.plugin["xep_0198"].sm_id:
        checks.fail(name, error or "no resumption id in <enabled/>")
        client.disconnect()
        return
    # A cut as a network failure makes it: no closing tag, no TLS alert.
    client.transport.abort()
    try:
        await asyncio.wait_for(client.gone, TIMEOUT)
    except asyncio.TimeoutError:
        checks.fail(name, "the cut connection did not end")
        return
    body = "sent while bob/sm was away"
    alice.send_message(mto=jid, mbody=body, mtype="chat")
    client.gone = asyncio.get_event_loop().create_future()
    client.connect(args.host, args.port)
    try:
        outcome = await asyncio.wait_for(client.resumed, TIMEOUT)
        if outcome is not True:
            checks.fail(name, f"not resumed: {outcome}")
        else:
            msg = await asyncio.wait_for(client.messages.get(), TIMEOUT)
            if msg["body"] == body and msg["from"] == alice.boundjid:
                checks.ok(name, f"resumed {client.plugin['xep_0198'].sm_id[:8]}..., message kept")
            else:
                checks.fail(name, f"got {msg['body']!r} from {msg['from']}")
    except asyncio.TimeoutError:
        checks.fail(name, f"no resumption or message within {TIMEOUT}s")
    await close(client)


async def check_group_chat(args, checks, alice, bob):
    """Both join a room on conference.DOMAIN with slixmpp's MUC plugin;
    alice's message reaches bob, from her nickname in the room."""
    name = "XEP-0045 room on our conference service (slixmpp's MUC plugin)"
    room = slixmpp.JID(f"lounge@conference.{args.domain}")
    try:
        for client, nick in ((alice, "alice"), (bob, "bob")):
            await client.plugin["xep_0045"].join_muc_wait(
                room, nick, maxstanzas=0, timeout=TIMEOUT
            )
        alice.send_message(mto=room, mbody="hello room", mtype="groupchat")
        while True:
            msg = await asyncio.wait_for(bob.groupchat.get(), TIMEOUT)
            if msg["body"] == "hello room":
                break
        if msg["from"] == slixmpp.JID(f"{room}/alice") and msg["type"] == "groupchat":
            checks.ok(name, f"from {msg['from']}")
        else:
            checks.fail(name, f"from {msg['from']} type {msg['type']}")
    except Exception as e:  # PresenceError, TimeoutError
        checks.fail(name, repr(e))


class Echo(slixmpp.ComponentXMPP):
    """A component that answers every message with "echo: BODY", from
    the address it was sent to."""

    def __init__(self, domain, secret, host, port):
        super().__init__(domain, secret, host, port)
        loop = asyncio.get_event_loop()
        self.online = loop.create_future()
        self.gone = loop.create_future()
        self.add_event_handler("session_start", lambda _e: _settle(self.online, True))
        self.add_event_handler("disconnected", self._on_gone)
        self.add_event_handler("message", self._on_message)

    def _on_gone(self, reason):
        _settle(self.online, f"disconnected: {reason}")
        _settle(self.gone, None)

    def _on_message(self, msg):
        if msg["type"] in ("chat", "normal") and msg["body"]:
            msg.reply(f"echo: {msg['body']}").send()


async def check_component(args, checks, alice):
    """slixmpp's ComponentXMPP against our component port: a wrong
    secret is refused; the right one serves the domain both ways."""
    wrong = Echo(args.component, "not-the-secret", args.host, args.component_port)
    wrong.connect()
    name = "XEP-0114 component with a wrong secret refused"
    try:
        outcome = await asyncio.wait_for(wrong.online, TIMEOUT)
        if outcome is True:
            checks.fail(name, "accepted!")
        else:
            checks.ok(name, outcome)
    except asyncio.TimeoutError:
        checks.fail(name, f"neither accepted nor refused within {TIMEOUT}s")
    wrong.disconnect()

    echo = Echo(args.component, args.component_secret, args.host, args.component_port)
    echo.connect()
    name = "XEP-0114 slixmpp component serves its domain on our server"
    try:
        outcome = await asyncio.wait_for(echo.online, TIMEOUT)
    except asyncio.TimeoutError:
        outcome = f"no handshake within {TIMEOUT}s"
    if outcome is not True:
        checks.fail(name, outcome)
        return
    address = f"bot@{args.component}"
    alice.send_message(mto=address, mbody="ping", mtype="chat")
    try:
        msg = await asyncio.wait_for(alice.messages.get(), TIMEOUT)
        if msg["body"] == "echo: ping" and msg["from"].bare == address:
            checks.ok(name, f"answer from {msg['from']}")
        else:
            checks.fail(name, f"got {msg['body']!r} from {msg['from']}")
    except asyncio.TimeoutError:
        checks.fail(name, f"no answer within {TIMEOUT}s")
    echo.disconnect()
    try:
        await asyncio.wait_for(echo.gone, TIMEOUT)
    except asyncio.TimeoutError:
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--domain", default="localhost")
    parser.add_argument("--ca", required=True, help="the test CA (PEM)")
    parser.add_argument("--other-ca", help="a CA that did not sign our certificate")
    parser.add_argument("--alice-password", default="alice-pass")
    parser.add_argument("--bob-password", default="bob-pass")
    parser.add_argument("--component-port", type=int, help="our component port (XEP-0114)")
    parser.add_argument("--component", default="slix.localhost", help="the component's domain")
    parser.add_argument("--component-secret", default="slix-secret")
    parser.add_argument("--debug", action="store_true", help="slixmpp's debug log")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL)
    sys.exit(asyncio.run(main(args)))
