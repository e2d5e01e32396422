//! Fixed vocabulary: names, domains, clients, words and namespaces.
//!
//! Every localpart here is already in its stringprep-normalized form
//! (lowercase, NFKC, no final sigma, no `ß`, which case-folds to `ss`), so the JIDs built from it are what a
//! server would actually put on the wire.

/// Our own account.
pub(crate) const ME_LOCAL: &str = "romeo";
/// Our server, also the sender of pings and of the stream header.
pub(crate) const SERVER: &str = "example.org";

/// ASCII localparts. Some get a number appended.
pub(crate) const LOCALS_ASCII: &[&str] = &[
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "gwen",
    "hugo",
    "iris",
    "jakob",
    "kim",
    "lena",
    "marco",
    "nadia",
    "olaf",
    "priya",
    "quentin",
    "rosa",
    "stefan",
    "tanja",
    "ursula",
    "vikram",
    "wendy",
    "xavier",
    "yusuf",
    "zoe",
    "j.doe",
    "m_klein",
    "the.admin",
    "noc",
    "helpdesk",
    "s.tanaka",
    "p-dubois",
    "ana.lima",
    "build-bot",
    "kai",
];

/// Non-ASCII localparts, and whether they are right-to-left (an RTL
/// localpart must not get a digit suffix: RFC 3454 section 6 requires such
/// a string to end with an RTL character).
pub(crate) const LOCALS_UNICODE: &[(&str, bool)] = &[
    ("jörg", false),
    ("renée", false),
    ("çağla", false),
    ("małgorzata", false),
    ("søren", false),
    ("ñuñez", false),
    ("андрей", false),
    ("наталья", false),
    ("ελένη", false),
    ("王芳", false),
    ("さくら", false),
    ("カズキ", false),
    ("مريم", true),
    ("דוד", true),
];

/// Contact domains with relative weights; one is an IDN.
pub(crate) const DOMAINS: &[(&str, u32)] = &[
    ("example.org", 28),
    ("example.net", 12),
    ("jabber.example.de", 11),
    ("capulet.lit", 9),
    ("montague.lit", 9),
    ("chat.example.com", 8),
    ("xmpp.example.fr", 6),
    ("im.example.ru", 5),
    ("talk.example.jp", 4),
    ("bücher.example", 2),
];

/// Group chat rooms (bare JIDs).
pub(crate) const ROOMS: &[&str] = &[
    "jdev@muc.example.org",
    "xsf@muc.example.org",
    "rust@conference.example.net",
    "lounge@chat.example.com",
    "bäckerei@conference.jabber.example.de",
    "ops-alerts@muc.example.org",
];

/// MUC nicks: real-looking, some needing escapes, some non-ASCII, one
/// right-to-left (valid as a resource because it is RTL throughout).
pub(crate) const NICKS: &[&str] = &[
    "romeo",
    "Kev",
    "zash",
    "MattJ",
    "Holger",
    "jonas’",
    "lovetox",
    "singpolyma",
    "edhelas",
    "Link Mauve",
    "pep.",
    "moparisthebest",
    "wurstsalat",
    "Daniel G.",
    "Anke",
    "Björn",
    "Émile",
    "Светлана",
    "小林",
    "ليلى",
    "O'Reilly",
    "\"The Doc\"",
    "<root>",
    "Salt & Pepper",
    "ninja_42",
    "Ωmega",
];

/// Resource templates: a fixed prefix and the length of a random
/// alphanumeric suffix (0 for none).
pub(crate) const RESOURCES: &[(&str, usize)] = &[
    ("Conversations.", 4),
    ("Conversations.", 4),
    ("gajim.", 8),
    ("Dino.", 8),
    ("Monal-iOS.", 4),
    ("Cheogram.", 4),
    ("Siskin IM", 0),
    ("Psi+", 0),
    ("Movim", 0),
    ("poezio-", 4),
    ("profanity", 0),
    ("phone", 0),
    ("laptop", 0),
    ("", 8),
];

/// XEP-0115 caps nodes, and the client name shown in disco identities.
pub(crate) const CLIENTS: &[(&str, &str)] = &[
    ("http://conversations.im", "Conversations"),
    ("https://gajim.org", "Gajim"),
    ("https://dino.im", "Dino"),
    ("http://monal-im.org", "Monal"),
    ("https://cheogram.com", "Cheogram"),
    ("http://tigase.org/siskin", "Siskin IM"),
    ("https://psi-plus.com", "Psi+"),
    ("https://movim.eu/", "Movim"),
    ("https://poez.io", "poezio"),
    ("https://profanity-im.github.io", "Profanity"),
];

/// Presence status texts, with the characters that need escaping.
pub(crate) const STATUSES: &[&str] = &[
    "At the dentist",
    "Heads down until 16:00",
    "Remote today",
    "available",
    "🎧 deep work",
    "Travelling – replies may be slow",
    "Bin gleich zurück",
    "En réunion",
    "Не в сети до вечера",
    "会議中",
    "Pizza & beer",
    "Reading \"Designing Data-Intensive Applications\"",
    "it's <complicated>",
    "brb…",
];

/// Roster groups.
pub(crate) const GROUPS: &[&str] = &[
    "Friends",
    "Family",
    "Colleagues",
    "XSF",
    "Verein",
    "Друзья",
    "R&D",
    "Climbing",
];

/// Common English words: most of the text.
pub(crate) const WORDS_EN: &[&str] = &[
    "the", "a", "to", "and", "of", "is", "in", "it", "you", "that", "for", "on", "was", "with",
    "as", "I", "be", "at", "have", "this", "from", "or", "by", "but", "not", "what", "all", "we",
    "when", "your", "can", "said", "there", "use", "an", "each", "which", "do", "how", "if",
    "will", "up", "about", "out", "many", "then", "them", "so", "some", "would", "make", "like",
    "time", "look", "more", "see", "could", "people", "than", "first", "water", "been", "call",
    "who", "now", "find", "long", "down", "day", "did", "get", "come", "made", "may", "part",
    "server", "client", "stanza", "roster", "message", "release", "deploy", "tomorrow", "meeting",
    "coffee", "lunch", "link", "patch", "review", "bug", "fix", "test", "upload", "photo", "later",
    "tonight", "weekend", "ticket", "build", "branch", "merge", "ok", "thanks", "sure", "maybe",
    "great",
];

/// Words in other languages, and emoji: 2-, 3- and 4-byte UTF-8.
pub(crate) const WORDS_DE: &[&str] = &[
    "Grüße",
    "müde",
    "Straße",
    "Frühstück",
    "übermorgen",
    "schön",
    "Käsekuchen",
    "gemütlich",
    "Bäckerei",
    "natürlich",
];
/// French words.
pub(crate) const WORDS_FR: &[&str] = &[
    "déjà", "très", "où", "ça", "bientôt", "château", "naïve", "élève", "fenêtre", "voilà",
];
/// Russian words.
pub(crate) const WORDS_RU: &[&str] = &[
    "привет",
    "спасибо",
    "сегодня",
    "завтра",
    "работа",
    "хорошо",
    "встреча",
    "ладно",
    "конечно",
    "пока",
];
/// Chinese and Japanese words.
pub(crate) const WORDS_CJK: &[&str] = &[
    "你好",
    "谢谢",
    "明天见",
    "服务器",
    "没问题",
    "今日は",
    "ありがとう",
    "了解",
    "またね",
    "会議",
];
/// Emoji, including a variation-selector and a ZWJ sequence.
pub(crate) const EMOJI: &[&str] = &[
    "🙂",
    "👍",
    "🎉",
    "❤️",
    "😂",
    "🙏",
    "🚀",
    "🤔",
    "☕",
    "🔥",
    "👩‍💻",
    "✅",
];

/// Code and shell fragments pasted into chats: `< > &` and quotes.
pub(crate) const CODE: &[&str] = &[
    "if (len < max && !done) { i++; }",
    "<iq type='get' id='x1'/> && <presence/>",
    "make -j4 2>&1 | tee build.log > /dev/null",
    "let n = v.iter().filter(|x| **x > 3).count();",
    "curl -sH 'Accept: application/json' \"https://api.example.org/v1?q=a&page=2\"",
    "SELECT * FROM t WHERE a <> b AND c >= 'x';",
    "fn parse<'a>(s: &'a str) -> Result<Vec<&'a str>, Error>",
];

/// URL templates: `{n}` becomes a number, `{r}` a random token.
pub(crate) const URLS: &[&str] = &[
    "https://upload.example.org/share/{r}/IMG_{n}.jpg",
    "https://xmpp.org/extensions/xep-0{n}.html",
    "https://tracker.example.net/issues/{n}?view=full&sort=desc",
    "https://share.example.com/{r}/voice-message.m4a",
];

/// Disco features advertised by clients (more than the 30 each one lists).
pub(crate) const FEATURES: &[&str] = &[
    "http://jabber.org/protocol/caps",
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items",
    "http://jabber.org/protocol/muc",
    "http://jabber.org/protocol/chatstates",
    "http://jabber.org/protocol/nick+notify",
    "http://jabber.org/protocol/bytestreams",
    "http://jabber.org/protocol/ibb",
    "http://jabber.org/protocol/si",
    "http://jabber.org/protocol/si/profile/file-transfer",
    "http://jabber.org/protocol/xhtml-im",
    "jabber:iq:version",
    "jabber:iq:last",
    "jabber:x:conference",
    "jabber:x:oob",
    "urn:xmpp:avatar:metadata+notify",
    "urn:xmpp:ping",
    "urn:xmpp:receipts",
    "urn:xmpp:time",
    "urn:xmpp:chat-markers:0",
    "urn:xmpp:message-correct:0",
    "urn:xmpp:message-retract:1",
    "urn:xmpp:reactions:0",
    "urn:xmpp:reply:0",
    "urn:xmpp:sid:0",
    "urn:xmpp:hints",
    "urn:xmpp:eme:0",
    "urn:xmpp:idle:1",
    "urn:xmpp:jingle:1",
    "urn:xmpp:jingle:apps:rtp:1",
    "urn:xmpp:jingle:apps:rtp:audio",
    "urn:xmpp:jingle:apps:rtp:video",
    "urn:xmpp:jingle:apps:file-transfer:5",
    "urn:xmpp:jingle:transports:ice-udp:1",
    "urn:xmpp:jingle:apps:dtls:0",
    "urn:xmpp:jingle-message:0",
    "eu.siacs.conversations.axolotl.devicelist+notify",
    "urn:xmpp:bookmarks:1+notify",
    "urn:xmpp:mds:displayed:0+notify",
];

/// Namespaces used by the builders.
pub(crate) mod ns {
    pub(crate) const STREAM: &str = "http://etherx.jabber.org/streams";
    pub(crate) const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
    pub(crate) const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
    pub(crate) const SM: &str = "urn:xmpp:sm:3";
    pub(crate) const CSI: &str = "urn:xmpp:csi:0";
    pub(crate) const ROSTERVER: &str = "urn:xmpp:features:rosterver";
    pub(crate) const CAPS: &str = "http://jabber.org/protocol/caps";
    pub(crate) const ROSTER: &str = "jabber:iq:roster";
    pub(crate) const CLIENT: &str = "jabber:client";
    pub(crate) const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
    pub(crate) const DATA: &str = "jabber:x:data";
    pub(crate) const VCARD_UPDATE: &str = "vcard-temp:x:update";
    pub(crate) const IDLE: &str = "urn:xmpp:idle:1";
    pub(crate) const DELAY: &str = "urn:xmpp:delay";
    pub(crate) const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
    pub(crate) const OCCUPANT_ID: &str = "urn:xmpp:occupant-id:0";
    pub(crate) const RECEIPTS: &str = "urn:xmpp:receipts";
    pub(crate) const MARKERS: &str = "urn:xmpp:chat-markers:0";
    pub(crate) const SID: &str = "urn:xmpp:sid:0";
    pub(crate) const CHATSTATES: &str = "http://jabber.org/protocol/chatstates";
    pub(crate) const CORRECT: &str = "urn:xmpp:message-correct:0";
    pub(crate) const OOB: &str = "jabber:x:oob";
    pub(crate) const HINTS: &str = "urn:xmpp:hints";
    pub(crate) const EME: &str = "urn:xmpp:eme:0";
    pub(crate) const OMEMO: &str = "eu.siacs.conversations.axolotl";
    pub(crate) const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
    pub(crate) const PUBSUB_EVENT: &str = "http://jabber.org/protocol/pubsub#event";
    pub(crate) const AVATAR_META: &str = "urn:xmpp:avatar:metadata";
    pub(crate) const AVATAR_DATA: &str = "urn:xmpp:avatar:data";
    pub(crate) const NICK: &str = "http://jabber.org/protocol/nick";
    pub(crate) const BOOKMARKS: &str = "urn:xmpp:bookmarks:1";
    pub(crate) const TUNE: &str = "http://jabber.org/protocol/tune";
    pub(crate) const MAM: &str = "urn:xmpp:mam:2";
    pub(crate) const FORWARD: &str = "urn:xmpp:forward:0";
    pub(crate) const RSM: &str = "http://jabber.org/protocol/rsm";
    pub(crate) const PING: &str = "urn:xmpp:ping";
}
