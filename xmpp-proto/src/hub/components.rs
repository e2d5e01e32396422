//! External components (XEP-0114) on the hub: the configured domains
//! and their secrets, the handshake check, and who serves a domain when
//! a second component asks for it.

use std::collections::HashMap;

use super::{Hub, ServerCommand};
use crate::component::handshake_matches;
use crate::jid::{Jid, JidError, JidErrorKind, JidPart};
use crate::router::SessionId;
use crate::stream_error::StreamErrorCondition;

/// What happens when a component asks for a domain that another
/// connected component serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ComponentConflict {
    /// The newcomer is refused with `conflict`; the one serving stays
    /// (the default: a stray second process cannot cut off the first).
    #[default]
    RefuseNew,
    /// The one serving is closed with `conflict` and the newcomer serves
    /// (a restarted component whose old connection is not dead yet).
    ReplaceOld,
}

/// The secrets of the configured component domains.
#[derive(Debug, Default)]
pub(super) struct Components {
    secrets: HashMap<String, String>,
    pub(super) conflict: ComponentConflict,
}

impl Hub {
    /// Lets an external component serve `domain` (XEP-0114), proving
    /// itself with `secret`: every stanza for an address of `domain`
    /// goes to it while it is connected (through a `Server` made with
    /// `ServerConfig::for_components`), and its stanzas are routed like a
    /// user's, from addresses of `domain` only.
    ///
    /// # Errors
    /// If `domain` is not a domain (a local part or a resource, or not a
    /// valid JID).
    ///
    /// ```
    /// use xmpp_proto::hub::Hub;
    ///
    /// let hub = Hub::new("localhost")?.with_component("echo.localhost", "secret")?;
    /// assert!(hub.router().is_component_domain("echo.localhost"));
    /// # Ok::<(), xmpp_proto::jid::JidError>(())
    /// ```
    pub fn with_component(
        mut self,
        domain: &str,
        secret: impl Into<String>,
    ) -> Result<Self, JidError> {
        let jid = Jid::new(domain)?;
        if jid.localpart().is_some() {
            return Err(JidError::new(JidPart::Localpart, JidErrorKind::Unexpected));
        }
        if jid.resourcepart().is_some() {
            return Err(JidError::new(
                JidPart::Resourcepart,
                JidErrorKind::Unexpected,
            ));
        }
        let domain = jid.domainpart().to_owned();
        self.router.add_component_domain(&domain);
        self.components.secrets.insert(domain, secret.into());
        Ok(self)
    }

    /// What to do when a second component asks for a served domain
    /// (default [`ComponentConflict::RefuseNew`]).
    pub fn with_component_conflict(mut self, policy: ComponentConflict) -> Self {
        self.components.conflict = policy;
        self
    }

    /// `ComponentHandshake`: the right secret for a configured domain
    /// makes `session` serve it (per the conflict policy); anything else
    /// is `not-authorized`.
    pub(super) fn component_handshake(
        &mut self,
        session: SessionId,
        domain: &str,
        stream_id: &str,
        digest: &str,
    ) {
        let accepted = self
            .components
            .secrets
            .get(domain)
            .is_some_and(|secret| handshake_matches(stream_id, secret, digest));
        if !accepted {
            self.command(
                session,
                ServerCommand::ComponentVerdict(Err(StreamErrorCondition::NotAuthorized)),
            );
            return;
        }
        if let Some(serving) = self.router.component_session(domain) {
            match self.components.conflict {
                ComponentConflict::RefuseNew => {
                    self.command(
                        session,
                        ServerCommand::ComponentVerdict(Err(StreamErrorCondition::Conflict)),
                    );
                    return;
                }
                ComponentConflict::ReplaceOld => {
                    self.command(
                        serving,
                        ServerCommand::Close {
                            condition: StreamErrorCondition::Conflict,
                            text: Some("another connection serves this domain now".into()),
                        },
                    );
                }
            }
        }
        self.router.attach_component(domain, session);
        self.command(session, ServerCommand::ComponentVerdict(Ok(())));
    }
}
