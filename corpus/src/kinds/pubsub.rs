//! PEP notifications (XEP-0163) and XEP-0084 avatar data results.

use super::Kind;
use crate::text;
use crate::tokens;
use crate::vocab::{NICKS, ROOMS, ns};
use crate::world::Ctx;
use crate::xml::Xml;

/// The PEP nodes contacts publish to.
#[derive(Clone, Copy)]
enum Node {
    AvatarMetadata,
    Nick,
    DeviceList,
    Bookmarks,
    Tune,
}

impl Node {
    fn name(self) -> &'static str {
        match self {
            Node::AvatarMetadata => ns::AVATAR_META,
            Node::Nick => ns::NICK,
            Node::DeviceList => "eu.siacs.conversations.axolotl.devicelist",
            Node::Bookmarks => ns::BOOKMARKS,
            Node::Tune => ns::TUNE,
        }
    }
}

/// A headline message carrying a pubsub event. About 30% are serialized
/// with a `ps:` prefix instead of a default namespace, as some servers and
/// components do.
pub(crate) fn pep_event(g: &mut Ctx) {
    let start = g.out.len();
    let from = g.world.pick_contact(&mut g.rng).bare.clone();
    let node = g.rng.pick(&[
        Node::AvatarMetadata,
        Node::Nick,
        Node::DeviceList,
        Node::Bookmarks,
        Node::Tune,
    ]);
    let id = tokens::stanza_id(&mut g.rng);
    let item_id = match node {
        Node::AvatarMetadata => tokens::hex(&mut g.rng, 40),
        Node::Bookmarks => (g.rng.pick(ROOMS)).to_owned(),
        _ => "current".to_owned(),
    };
    let prefixed = g.rng.chance(300);
    let p = if prefixed { "ps:" } else { "" };
    // The payload needs the rng while the writer holds the output, so it is
    // serialized first into its own buffer.
    let payload = payload(g, node, &item_id);
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("message")
        .attr("from", &from)
        .attr("to", &g.world.me_full)
        .attr("type", "headline")
        .attr("id", &id)
        .open();
    if prefixed {
        x.start("ps:event").xmlns_prefix("ps", ns::PUBSUB_EVENT);
    } else {
        x.start_ns("event", ns::PUBSUB_EVENT);
    }
    x.open()
        .raw_fmt(format_args!("<{p}items"))
        .attr("node", node.name())
        .open()
        .raw_fmt(format_args!("<{p}item"))
        .attr("id", &item_id)
        .open()
        .raw(&payload)
        .raw_fmt(format_args!("</{p}item></{p}items></{p}event>"))
        .end("message");
    let kind = if prefixed {
        Kind::MessagePepPrefixed
    } else {
        Kind::MessagePep
    };
    g.record(kind, start);
}

fn payload(g: &mut Ctx, node: Node, item_id: &str) -> String {
    let mut buf = String::new();
    let mut x = Xml::new(&mut buf, g.style);
    match node {
        Node::AvatarMetadata => {
            x.start_ns("metadata", ns::AVATAR_META)
                .open()
                .start("info")
                .attr_num("bytes", g.rng.range(2_000, 60_000) as i64)
                .attr("id", item_id)
                .attr("height", "96")
                .attr("width", "96")
                .attr("type", "image/png")
                .close()
                .end("metadata");
        }
        Node::Nick => {
            x.start_ns("nick", ns::NICK)
                .open()
                .text(g.rng.pick(NICKS))
                .end("nick");
        }
        Node::DeviceList => {
            x.start_ns("list", ns::OMEMO).open();
            for _ in 0..g.rng.range(1, 4) {
                let device = g.rng.range(1, (1 << 31) - 1) as i64;
                x.start("device").attr_num("id", device).close();
            }
            x.end("list");
        }
        Node::Bookmarks => {
            let name = item_id.split('@').next().unwrap_or(item_id);
            x.start_ns("conference", ns::BOOKMARKS)
                .attr("name", name)
                .attr("autojoin", "true")
                .open()
                .leaf("nick", "romeo")
                .end("conference");
        }
        Node::Tune => {
            let title = text::sentence(&mut g.rng, 3);
            x.start_ns("tune", ns::TUNE)
                .open()
                .leaf("artist", g.rng.pick(NICKS))
                .leaf("title", &title)
                .start("length")
                .open()
                .raw_fmt(format_args!("{}", g.rng.range(120, 420)))
                .end("length")
                .end("tune");
        }
    }
    buf
}

/// The result of fetching a contact's avatar: 4 to 9 KB of image data, as
/// one long base64 text node.
pub(crate) fn avatar_data(g: &mut Ctx) {
    let start = g.out.len();
    let from = g.world.pick_contact(&mut g.rng).bare.clone();
    let id = tokens::stanza_id(&mut g.rng);
    let hash = tokens::hex(&mut g.rng, 40);
    let len = g.rng.range(4_000, 9_000) as usize;
    let data = tokens::base64(&mut g.rng, len);
    Xml::new(&mut g.out, g.style)
        .start("iq")
        .attr("from", &from)
        .attr("to", &g.world.me_full)
        .attr("type", "result")
        .attr("id", &id)
        .open()
        .start_ns("pubsub", ns::PUBSUB)
        .open()
        .start("items")
        .attr("node", ns::AVATAR_DATA)
        .open()
        .start("item")
        .attr("id", &hash)
        .open()
        .start_ns("data", ns::AVATAR_DATA)
        .open()
        .raw(&data)
        .end("data")
        .end("item")
        .end("items")
        .end("pubsub")
        .end("iq");
    g.record(Kind::IqAvatarData, start);
}
