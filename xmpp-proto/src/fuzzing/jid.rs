use crate::jid::escape::{escape_localpart, unescape_localpart};
use crate::jid::{Jid, JidRef};

/// Splits, validates and prepares arbitrary input as a JID; on success the
/// result must be a fixed point and its parts must be separator-free.
pub fn jid(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(view) = JidRef::parse(s) {
        let again = JidRef::parse(view.as_str()).expect("a prepared JID must parse again");
        assert_eq!(again, view, "preparation must be idempotent");
        assert!(again.is_borrowed(), "a prepared JID must not be copied");
        if let Some(local) = view.localpart() {
            assert!(!local.is_empty() && !local.contains(['@', '/']));
        }
        assert!(!view.domainpart().is_empty() && !view.domainpart().contains(['@', '/']));
        assert_eq!(view.to_jid(), Jid::new(s).expect("view and owned agree"));
        assert_eq!(view.to_bare().as_str(), view.bare_str());
    }
    if let Ok(escaped) = escape_localpart(s) {
        assert_eq!(unescape_localpart(&escaped), s, "escaping must round-trip");
    }
}
