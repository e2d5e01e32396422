//! Every example and counter-example of RFC 7622 §3.5, the edge cases of
//! §3.1-§3.4, and non-ASCII cases.
//!
//! RFC 7622 prepares parts with PRECIS; this crate, like Prosody and
//! ejabberd, prepares them with stringprep (nodeprep, nameprep,
//! resourceprep). Where the two disagree the row says so and expects what
//! the servers do, because a client that disagrees with its server about an
//! address cannot log in or route.

use xmpp_proto::jid::{Jid, JidErrorKind, JidPart};

/// `(input, Ok(prepared) | Err((part, kind)))`
type Row = (&'static str, Result<&'static str, (JidPart, JidErrorKind)>);

use JidErrorKind as K;
use JidPart::{Domainpart as D, Localpart as L, Resourcepart as R};

fn check(rows: &[Row]) {
    let mut failures = Vec::new();
    for (input, expected) in rows {
        let got = Jid::new(input);
        let got = match &got {
            Ok(jid) => Ok(jid.as_str()),
            Err(e) => Err((e.part(), e.kind().clone())),
        };
        if got != *expected {
            failures.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn rfc7622_section_3_5_1_valid() {
    check(&[
        ("juliet@example.com", Ok("juliet@example.com")),
        ("juliet@example.com/foo", Ok("juliet@example.com/foo")),
        (
            "juliet@example.com/foo bar",
            Ok("juliet@example.com/foo bar"),
        ),
        (
            "juliet@example.com/foo@bar",
            Ok("juliet@example.com/foo@bar"),
        ),
        (r"foo\20bar@example.com", Ok(r"foo\20bar@example.com")),
        ("fussball@example.com", Ok("fussball@example.com")),
        // PRECIS keeps ß; nodeprep case-folds it to "ss" (as the servers do).
        ("fußball@example.com", Ok("fussball@example.com")),
        ("π@example.com", Ok("π@example.com")),
        ("Σ@example.com/foo", Ok("σ@example.com/foo")),
        ("σ@example.com/foo", Ok("σ@example.com/foo")),
        // PRECIS keeps final sigma; nodeprep folds it to σ.
        ("ς@example.com/foo", Ok("σ@example.com/foo")),
        ("king@example.com/♚", Ok("king@example.com/♚")),
        ("example.com", Ok("example.com")),
        ("example.com/foobar", Ok("example.com/foobar")),
        (
            "a.example.com/b@example.net",
            Ok("a.example.com/b@example.net"),
        ),
    ]);
}

#[test]
fn rfc7622_section_3_5_2_invalid() {
    check(&[
        (
            "\"juliet\"@example.com",
            Err((L, K::ProhibitedCharacter('"'))),
        ),
        ("foo bar@example.com", Err((L, K::ProhibitedCharacter(' ')))),
        // RFC 7622 refuses a leading space in the resourcepart (PRECIS
        // OpaqueString); resourceprep allows ASCII space anywhere, and so do
        // the servers.
        ("juliet@example.com/ foo", Ok("juliet@example.com/ foo")),
        ("@example.com/", Err((L, K::Empty))),
        // PRECIS refuses compatibility characters; nodeprep maps ROMAN
        // NUMERAL FOUR to "iv" under NFKC.
        ("henry\u{2163}@example.com", Ok("henryiv@example.com")),
        // PRECIS refuses symbols in a localpart; nodeprep allows them.
        ("♚@example.com", Ok("♚@example.com")),
        ("juliet@", Err((D, K::Empty))),
        ("/foobar", Err((D, K::Empty))),
    ]);
}

#[test]
fn splitting_rules_of_section_3_1() {
    check(&[
        // The first '/' starts the resourcepart, even before an '@'.
        (
            "example.com/juliet@example.net",
            Ok("example.com/juliet@example.net"),
        ),
        ("a@example.com/b/c@d", Ok("a@example.com/b/c@d")),
        // The first '@' ends the localpart; a second one is in the domain.
        ("a@b@example.com", Err((D, K::ProhibitedCharacter('@')))),
        ("@example.com", Err((L, K::Empty))),
        ("example.com/", Err((R, K::Empty))),
        ("", Err((D, K::Empty))),
        ("@", Err((L, K::Empty))),
        ("/", Err((D, K::Empty))),
        ("a@/b", Err((D, K::Empty))),
    ]);
}

#[test]
fn trailing_dot_is_stripped_once() {
    check(&[
        ("example.com.", Ok("example.com")),
        (
            "juliet@example.com./balcony",
            Ok("juliet@example.com/balcony"),
        ),
        ("example.com..", Err((D, K::EmptyLabel))),
        (".", Err((D, K::Empty))),
        (".example.com", Err((D, K::EmptyLabel))),
    ]);
    assert_eq!(
        Jid::new("example.com.").unwrap(),
        Jid::new("example.com").unwrap()
    );
}

#[test]
fn case_folding_and_normal_form() {
    check(&[
        (
            "Juliet@EXAMPLE.com/Balcony",
            Ok("juliet@example.com/Balcony"),
        ),
        ("JÜRGEN@Bücher.Example", Ok("jürgen@bücher.example")),
        ("ДМИТРИЙ@example.ru", Ok("дмитрий@example.ru")),
        // NFKC: fullwidth Latin letters become ASCII.
        ("ｊｕｌｉｅｔ@example.com", Ok("juliet@example.com")),
        // Soft hyphen is mapped to nothing.
        ("ju\u{AD}liet@example.com", Ok("juliet@example.com")),
    ]);
}

#[test]
fn compatibility_characters_never_become_separators() {
    check(&[
        // FULLWIDTH COMMERCIAL AT maps to '@' after the split: prohibited in
        // a localpart, and in a domain label.
        (
            "juliet\u{FF20}example.com",
            Err((D, K::ProhibitedCharacter('@'))),
        ),
        (
            "a\u{FF20}b@example.com",
            Err((L, K::ProhibitedCharacter('@'))),
        ),
        // FULLWIDTH SOLIDUS maps to '/': not a resource separator.
        (
            "example.com\u{FF0F}foo",
            Err((D, K::ProhibitedCharacter('/'))),
        ),
        (
            "a\u{FF0F}b@example.com",
            Err((L, K::ProhibitedCharacter('/'))),
        ),
        // In a resourcepart a mapped '/' or '@' is just a character.
        ("a@example.com/x\u{FF0F}y", Ok("a@example.com/x/y")),
        ("a@example.com/x\u{FF20}y", Ok("a@example.com/x@y")),
        // Ideographic and fullwidth full stops are DNS label separators.
        ("a@example\u{3002}com", Ok("a@example.com")),
        ("a@example\u{FF0E}com", Ok("a@example.com")),
    ]);
}

#[test]
fn prohibited_and_bidi() {
    check(&[
        (
            "a\u{0}b@example.com",
            Err((L, K::ProhibitedCharacter('\u{0}'))),
        ),
        (
            "a@example.com/a\u{7}",
            Err((R, K::ProhibitedCharacter('\u{7}'))),
        ),
        ("a@exa mple.com", Err((D, K::ProhibitedCharacter(' ')))),
        ("a@example_com", Err((D, K::ProhibitedCharacter('_')))),
        // RandALCat followed by a left-to-right character.
        ("\u{05D0}a@example.com", Err((L, K::BidiRule))),
        (
            "\u{0627}\u{064A}\u{0645}\u{0627}\u{0646}@example.com",
            Ok("ايمان@example.com"),
        ),
        // A private-use character.
        (
            "a\u{E000}@example.com",
            Err((L, K::ProhibitedCharacter('\u{E000}'))),
        ),
        // Only characters mapped to nothing.
        ("\u{AD}@example.com", Err((L, K::Empty))),
    ]);
}

#[test]
fn lengths() {
    let max_local = "a".repeat(1023);
    let long_local = "a".repeat(1024);
    let max_res = "r".repeat(1023);
    let long_res = "r".repeat(1024);
    let j = Jid::new(&format!("{max_local}@example.com/{max_res}")).unwrap();
    assert_eq!(j.localpart().unwrap().len(), 1023);
    assert_eq!(j.resourcepart().unwrap().len(), 1023);
    let err = Jid::new(&format!("{long_local}@example.com")).unwrap_err();
    assert_eq!((err.part(), err.kind()), (L, &K::TooLong { len: 1024 }));
    let err = Jid::new(&format!("example.com/{long_res}")).unwrap_err();
    assert_eq!((err.part(), err.kind()), (R, &K::TooLong { len: 1024 }));
    // 16 labels of 63 bytes plus dots: 1023 bytes, the longest domainpart.
    let label = "d".repeat(63);
    let max_domain = vec![label.as_str(); 16].join(".");
    assert_eq!(max_domain.len(), 1023);
    assert!(Jid::new(&max_domain).is_ok());
    let long_domain = format!("{max_domain}.x");
    let err = Jid::new(&long_domain).unwrap_err();
    assert_eq!((err.part(), err.kind()), (D, &K::TooLong { len: 1025 }));
    // A label longer than 63 bytes, in ASCII and in its xn-- form.
    let err = Jid::new(&format!("{}.example", "a".repeat(64))).unwrap_err();
    assert_eq!(err.kind(), &K::LabelTooLong);
    let err = Jid::new(&format!("{}.example", "ü".repeat(60))).unwrap_err();
    assert_eq!(err.kind(), &K::LabelTooLong);
}

#[test]
fn ip_literals() {
    check(&[
        ("juliet@192.0.2.1/a", Ok("juliet@192.0.2.1/a")),
        ("juliet@[::1]/a", Ok("juliet@[::1]/a")),
        ("[2001:DB8::1]", Ok("[2001:db8::1]")),
        ("juliet@::1", Err((D, K::UnbracketedIpv6))),
        ("juliet@2001:db8::1", Err((D, K::UnbracketedIpv6))),
        ("juliet@[::1", Err((D, K::InvalidIpv6))),
        ("juliet@[example.com]", Err((D, K::InvalidIpv6))),
        ("juliet@[1.2.3.4]", Err((D, K::InvalidIpv6))),
    ]);
}

#[test]
fn hyphens_in_labels() {
    check(&[
        ("a-b.example", Ok("a-b.example")),
        ("-ab.example", Err((D, K::LabelHyphen))),
        ("ab-.example", Err((D, K::LabelHyphen))),
        ("xn--bcher-kva.example", Ok("xn--bcher-kva.example")),
    ]);
}

#[test]
fn bare_and_full_types() {
    use xmpp_proto::jid::{BareJid, FullJid};
    let err = BareJid::new("a@b/c").unwrap_err();
    assert_eq!((err.part(), err.kind()), (R, &K::Unexpected));
    let err = FullJid::new("a@b").unwrap_err();
    assert_eq!((err.part(), err.kind()), (R, &K::Missing));
    let full = FullJid::new("A@B/C").unwrap();
    assert_eq!(full.to_bare(), BareJid::new("a@b").unwrap());
    assert_eq!(full.with_resource("D").unwrap().as_str(), "a@b/D");
    assert!(full.with_resource("").is_err());
    let jid: Jid = full.clone().into();
    assert_eq!(jid, full);
    assert_eq!(jid.into_bare().as_str(), "a@b");
}

#[test]
fn found_by_fuzzing() {
    check(&[
        // GREEK CAPITAL LUNATE SIGMA SYMBOL is unassigned in Unicode 3.2;
        // the stringprep crate let it through to "Σ", which is not a fixed
        // point (it folds to "σ" on a second pass).
        ("ui\u{03F9}", Err((D, K::ProhibitedCharacter('\u{03F9}')))),
        (
            "ui\u{03F9}@example.com",
            Err((L, K::ProhibitedCharacter('\u{03F9}'))),
        ),
    ]);
}
