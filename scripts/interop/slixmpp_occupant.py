"""One slixmpp occupant in a room, for the Rust interop test `group_chat`
with a third, independent client (run from tests/tests/interop.rs, which
finds this interpreter in $XMPP_SLIXMPP_PYTHON).

It logs in as JID, joins ROOM as NICK, and then follows the test's
script: to a groupchat "ping NICK" it answers "pong from NICK"; it ends
when the room kicks it (exit 0), or fails after the timeout (exit 1).
Prints what happens on stderr.
"""

import argparse
import asyncio
import sys

import slixmpp

TIMEOUT = 30


async def main(args):
    client = slixmpp.ClientXMPP(args.jid, args.password)
    client.ca_certs = args.ca
    client.enable_direct_tls = False
    client.enable_plaintext = False
    client.register_plugin("xep_0045")
    loop = asyncio.get_event_loop()
    started = loop.create_future()
    kicked = loop.create_future()
    client.add_event_handler("session_start", lambda _e: started.set_result(True))
    room = slixmpp.JID(args.room)

    def on_groupchat(msg):
        if msg["body"] == f"ping {args.nick}":
            client.send_message(mto=room, mbody=f"pong from {args.nick}", mtype="groupchat")

    def on_presence(pres):
        codes = {s for s in pres["muc"]["status_codes"]}
        if pres["type"] == "unavailable" and pres["muc"]["nick"] == args.nick and 307 in codes:
            if not kicked.done():
                kicked.set_result(True)

    client.add_event_handler("groupchat_message", on_groupchat)
    client.add_event_handler(f"muc::{room}::presence", on_presence)
    client.connect(args.host, args.port)
    try:
        await asyncio.wait_for(started, TIMEOUT)
        client.send_presence()
        await client.plugin["xep_0045"].join_muc_wait(room, args.nick, maxstanzas=0, timeout=TIMEOUT)
        print(f"slixmpp: {args.nick} joined {room}", file=sys.stderr, flush=True)
        await asyncio.wait_for(kicked, TIMEOUT)
        print(f"slixmpp: {args.nick} was kicked", file=sys.stderr, flush=True)
        return 0
    except Exception as e:
        print(f"slixmpp: failed: {e!r}", file=sys.stderr, flush=True)
        return 1
    finally:
        client.disconnect()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--nick", required=True)
    sys.exit(asyncio.run(main(parser.parse_args())))
