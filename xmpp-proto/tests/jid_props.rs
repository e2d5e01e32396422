//! Properties of JID parsing that must hold for any input.

use proptest::prelude::*;
use xmpp_proto::jid::{Jid, JidRef};

/// Characters that exercise the splitter and every preparation path:
/// separators, case, fullwidth forms that map to separators, characters
/// mapped to nothing, right-to-left letters, combining marks, symbols.
const ALPHABET: &[char] = &[
    'a', 'b', 'Z', '0', '9', '.', '-', '_', '@', '/', ' ', ':', '[', ']', '\\', '\'', 'ü', 'Ü',
    'ß', 'Σ', 'ς', 'π', 'я', 'Я', '李', 'た', '\u{FF20}', '\u{FF0F}', '\u{FF0E}', '\u{3002}',
    '\u{AD}', '\u{200B}', '\u{05D0}', '\u{0627}', '\u{0301}', '\u{2163}', '♚', '😀', '\u{7}',
];

fn messy_string() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..24)
        .prop_map(|chars| chars.into_iter().collect())
}

fn localpart() -> impl Strategy<Value = String> {
    "[a-z0-9._\\-]{1,12}|[a-zäöüßπσя李た]{1,6}".prop_filter("prepared", |s| {
        // ß folds to "ss": not a fixed point, so not a prepared localpart.
        !s.contains('ß')
    })
}

fn domainpart() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?|bücher|例え", 1..4)
        .prop_map(|labels| labels.join("."))
}

fn resourcepart() -> impl Strategy<Value = String> {
    "[ -~]{1,16}|[A-Za-z0-9 @/.äÜ李]{1,10}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Whatever the input, parsing either fails or yields a JID whose
    /// printed form parses back to the same JID with the same parts.
    #[test]
    fn display_parses_back_to_the_same_jid(s in messy_string()) {
        if let Ok(jid) = Jid::new(&s) {
            let printed = jid.to_string();
            let again = Jid::new(&printed).expect("a printed JID must parse");
            prop_assert_eq!(&again, &jid);
            prop_assert_eq!(again.localpart(), jid.localpart());
            prop_assert_eq!(again.domainpart(), jid.domainpart());
            prop_assert_eq!(again.resourcepart(), jid.resourcepart());
            // The printed form is prepared already: the view borrows it.
            prop_assert!(JidRef::parse(&printed).expect("parses").is_borrowed());
        }
    }

    /// A valid (already prepared) triple joined and split gives the triple.
    #[test]
    fn joined_triple_splits_back(
        local in prop::option::of(localpart()),
        domain in domainpart(),
        resource in prop::option::of(resourcepart()),
    ) {
        let mut s = String::new();
        if let Some(l) = &local {
            s.push_str(l);
            s.push('@');
        }
        s.push_str(&domain);
        if let Some(r) = &resource {
            s.push('/');
            s.push_str(r);
        }
        let jid = JidRef::parse(&s).map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        prop_assert_eq!(jid.localpart(), local.as_deref());
        prop_assert_eq!(jid.domainpart(), domain.as_str());
        prop_assert_eq!(jid.resourcepart(), resource.as_deref());
        prop_assert!(jid.is_borrowed(), "prepared input must not be copied: {:?}", s);
    }

    /// Borrowed and owned forms agree on everything.
    #[test]
    fn owned_and_borrowed_forms_agree(s in messy_string()) {
        let view = JidRef::parse(&s);
        let owned = Jid::new(&s);
        match (view, owned) {
            (Ok(v), Ok(o)) => {
                prop_assert_eq!(v.as_str(), o.as_str());
                prop_assert_eq!(v.bare_str(), o.bare_str());
                prop_assert_eq!(v.to_jid(), o.clone());
                prop_assert_eq!(o.as_jid_ref(), v);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (v, o) => prop_assert!(false, "view {:?} but owned {:?}", v, o),
        }
    }
}
