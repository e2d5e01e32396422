//! Reader, writer and element tests, including hostile input.

use super::*;

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' id='abc' from='example.org' \
    to='romeo@example.org' version='1.0' xml:lang='en'>";

/// All events of `input` fed in one piece, and the final error if any.
fn events(input: &[u8]) -> (Vec<StreamEvent>, Option<ReadError>) {
    events_chunked(input, &[input.len().max(1)])
}

/// Events with input split at the given chunk sizes (cycled).
fn events_chunked(input: &[u8], sizes: &[usize]) -> (Vec<StreamEvent>, Option<ReadError>) {
    let mut reader = StreamReader::new(Limits::default());
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].max(1).min(rest.len());
        i += 1;
        let (mut chunk, tail) = rest.split_at(n);
        rest = tail;
        loop {
            match reader.read(&mut chunk) {
                Ok(Some(ev)) => out.push(ev),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

#[test]
fn reads_header_elements_keepalives_and_close() {
    let doc = format!(
        "{HEADER}<message to='a@b' type='chat'><body>hi &amp; bye</body></message>\n \
         <presence/><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>\
         </stream:stream>"
    );
    let (evs, err) = events(doc.as_bytes());
    assert_eq!(err, None);
    assert_eq!(evs.len(), 6, "{evs:?}");
    let StreamEvent::Header(h) = &evs[0] else { panic!() };
    assert_eq!(h.id.as_deref(), Some("abc"));
    assert_eq!(h.from.as_deref(), Some("example.org"));
    assert_eq!(h.to.as_deref(), Some("romeo@example.org"));
    assert_eq!(h.version.as_deref(), Some("1.0"));
    assert_eq!(h.lang.as_deref(), Some("en"));
    assert_eq!(h.default_ns, ns::CLIENT);
    assert_eq!(h.stream_prefix.as_deref(), Some("stream"));
    let StreamEvent::Element(m) = &evs[1] else { panic!() };
    assert!(m.is("message", ns::CLIENT));
    assert_eq!(m.attr("type"), Some("chat"));
    assert_eq!(m.child("body", ns::CLIENT).unwrap().text(), "hi & bye");
    assert_eq!(evs[2], StreamEvent::Keepalive);
    let StreamEvent::Element(p) = &evs[3] else { panic!() };
    assert!(p.is("presence", ns::CLIENT));
    let StreamEvent::Element(f) = &evs[4] else { panic!() };
    assert!(f.is("features", ns::STREAM));
    assert!(f.child("bind", ns::BIND).is_some());
    assert_eq!(evs[5], StreamEvent::Closed);
}

#[test]
fn any_stream_prefix_and_prefixed_children_resolve() {
    let doc = "<s:stream xmlns='jabber:server' xmlns:s='http://etherx.jabber.org/streams' \
        xmlns:db='jabber:server:dialback'><db:result from='a' to='b'>key</db:result>\
        <s:features/><ps:event xmlns:ps='http://jabber.org/protocol/pubsub#event'><ps:items node='n'/></ps:event></s:stream>";
    let (evs, err) = events(doc.as_bytes());
    assert_eq!(err, None);
    let StreamEvent::Header(h) = &evs[0] else { panic!() };
    assert_eq!(h.stream_prefix.as_deref(), Some("s"));
    assert_eq!(h.declarations, [("db".to_owned(), ns::DIALBACK.to_owned())]);
    let StreamEvent::Element(r) = &evs[1] else { panic!() };
    assert!(r.is("result", ns::DIALBACK));
    let StreamEvent::Element(f) = &evs[2] else { panic!() };
    assert!(f.is("features", ns::STREAM));
    let StreamEvent::Element(e) = &evs[3] else { panic!() };
    assert!(e.is("event", ns::PUBSUB_EVENT));
    assert!(e.child("items", ns::PUBSUB_EVENT).is_some());
}

#[test]
fn restart_keeps_unparsed_input_for_the_new_stream() {
    let doc = format!(
        "{HEADER}<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>{HEADER}<presence/>"
    );
    let mut reader = StreamReader::new(Limits::default());
    reader.feed(doc.as_bytes()).unwrap();
    assert!(matches!(reader.poll(), Ok(Some(StreamEvent::Header(_)))));
    let Ok(Some(StreamEvent::Element(s))) = reader.poll() else { panic!() };
    assert!(s.is("success", ns::SASL));
    reader.reset();
    assert!(matches!(reader.poll(), Ok(Some(StreamEvent::Header(_)))));
    let Ok(Some(StreamEvent::Element(p))) = reader.poll() else { panic!() };
    assert!(p.is("presence", ns::CLIENT));
    assert_eq!(reader.poll(), Ok(None));
    assert_eq!(reader.buffered_len(), 0);
}

#[test]
fn reads_the_generated_corpus() {
    let data = xmpp_corpus_or_fallback();
    let mut reader = StreamReader::new(Limits::default());
    let mut input = &data[..];
    let mut elements = 0;
    let mut closed = false;
    while let Some(ev) = reader.read(&mut input).unwrap() {
        match ev {
            StreamEvent::Element(e) => {
                elements += 1;
                reader.recycle(e);
            }
            StreamEvent::Closed => closed = true,
            _ => {}
        }
    }
    assert!(closed);
    assert!(elements > 100);
}

fn xmpp_corpus_or_fallback() -> Vec<u8> {
    match std::fs::read("/tmp/c2s.xml") {
        Ok(d) if d.len() < 2_000_000 => d,
        _ => {
            let mut s = String::from(HEADER);
            for i in 0..200 {
                s.push_str(&format!(
                    "<message to='a@b/c' id='m{i}' type='chat'><body>n° {i} &lt;3</body>\
                     <active xmlns='http://jabber.org/protocol/chatstates'/></message>"
                ));
            }
            s.push_str("</stream:stream>");
            s.into_bytes()
        }
    }
}

#[test]
fn debug_corpus_full() {
    let data = std::fs::read("/tmp/c2s.xml").unwrap();
    let mut reader = StreamReader::new(Limits::default());
    let mut last_ok = 0;
    for (ci, chunk) in data.chunks(4096).enumerate() {
    let mut input = chunk;
    loop {
        match reader.read(&mut input) {
            Ok(Some(_)) => last_ok = ci * 4096 + chunk.len() - input.len(),
            Ok(None) => break,
            Err(e) => {
                let pos = ci * 4096 + chunk.len() - input.len();
                panic!("{e:?} at {pos}, last ok {last_ok}: {:?}", String::from_utf8_lossy(&data[last_ok..pos + 20]));
            }
        }
    }
    }
}
