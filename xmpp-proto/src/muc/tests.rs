use super::*;
use crate::xml::Element;

fn read(xml: &str) -> Element {
    Element::read_from(xml.as_bytes()).expect("valid XML")
}

#[test]
fn a_join_asks_for_the_nick_password_and_history() {
    let room = BareJid::new("lobby@conference.example.com").unwrap();
    let options = JoinOptions::default()
        .with_password("cauldron")
        .with_history(History::last(20));
    let p = join_presence(&room, "thirdwitch", &options).unwrap();
    assert_eq!(p.to(), Some("lobby@conference.example.com/thirdwitch"));
    let x = p.element().child("x", ns::MUC).unwrap();
    assert_eq!(x.child("password", ns::MUC).unwrap().text(), "cauldron");
    assert_eq!(
        x.child("history", ns::MUC).unwrap().attr("maxstanzas"),
        Some("20")
    );
    assert!(join_presence(&room, "", &JoinOptions::default()).is_err());
}

#[test]
fn room_presence_payloads_are_read() {
    let p = read(
        "<presence xmlns='jabber:client' from='lobby@conf/witch' type='unavailable'>\
         <x xmlns='http://jabber.org/protocol/muc#user'>\
         <item affiliation='none' role='none'><actor nick='hecate'/><reason>Avaunt!</reason></item>\
         <status code='307'/><status code='110'/><status code='nonsense'/></x></presence>",
    );
    let user = MucUser::of(&p).unwrap();
    assert!(user.has(status::KICKED) && user.has(status::SELF));
    assert_eq!(user.statuses.len(), 2);
    let item = user.item.unwrap();
    assert_eq!(item.role, Role::None);
    assert_eq!(item.actor.as_deref(), Some("hecate"));
    assert_eq!(item.reason.as_deref(), Some("Avaunt!"));
}

#[test]
fn invitations_and_destruction_are_read() {
    let m = read(
        "<message xmlns='jabber:client' from='lobby@conf'>\
         <x xmlns='http://jabber.org/protocol/muc#user'>\
         <invite from='crone@example.com/desktop'><reason>Hey Hecate</reason></invite>\
         <password>cauldronburn</password></x></message>",
    );
    let user = MucUser::of(&m).unwrap();
    let invite = user.invite.unwrap();
    assert_eq!(invite.from.as_deref(), Some("crone@example.com/desktop"));
    assert_eq!(invite.reason.as_deref(), Some("Hey Hecate"));
    assert_eq!(user.password.as_deref(), Some("cauldronburn"));

    let p = read(
        "<presence xmlns='jabber:client' type='unavailable'>\
         <x xmlns='http://jabber.org/protocol/muc#user'>\
         <destroy jid='other@conf'><reason>Moving</reason></destroy></x></presence>",
    );
    let destroy = MucUser::of(&p).unwrap().destroy.unwrap();
    assert_eq!(destroy, (Some("Moving".into()), Some("other@conf".into())));
}

#[test]
fn join_errors_are_typed() {
    let cases = [
        (DefinedCondition::Conflict, JoinError::NicknameInUse),
        (DefinedCondition::NotAuthorized, JoinError::PasswordRequired),
        (DefinedCondition::Forbidden, JoinError::Banned),
        (
            DefinedCondition::RegistrationRequired,
            JoinError::MembersOnly,
        ),
        (DefinedCondition::ServiceUnavailable, JoinError::Full),
        (DefinedCondition::ItemNotFound, JoinError::NotAllowed),
        (DefinedCondition::JidMalformed, JoinError::BadNickname),
    ];
    for (condition, expected) in cases {
        assert_eq!(JoinError::from_error(StanzaError::new(condition)), expected);
    }
    let other = StanzaError::new(DefinedCondition::InternalServerError);
    assert_eq!(
        JoinError::from_error(other.clone()),
        JoinError::Other(other)
    );
}

#[test]
fn roles_and_affiliations_round_trip() {
    for role in [
        Role::Moderator,
        Role::Participant,
        Role::Visitor,
        Role::None,
    ] {
        assert_eq!(Role::parse(Some(role.as_str())), role);
    }
    for a in [
        Affiliation::Owner,
        Affiliation::Admin,
        Affiliation::Member,
        Affiliation::Outcast,
        Affiliation::None,
    ] {
        assert_eq!(Affiliation::parse(Some(a.as_str())), a);
    }
    assert_eq!(Role::parse(Some("emperor")), Role::None);
}
