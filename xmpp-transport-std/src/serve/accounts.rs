//! The accounts a [`serve`](super) server checks logins against.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use xmpp_proto::hub::{Hub, HubEvent, OfflineMessage};
use xmpp_proto::jid::{BareJid, JidError, prepare_localpart};
use xmpp_proto::negotiation::FastToken;
use xmpp_proto::roster::RosterEntry;
use xmpp_proto::router::SessionId;
use xmpp_proto::sasl::{
    FailureCondition, Iterations, Mechanism, SaslError, ScramHash, StoredCredentials,
};
use xmpp_proto::xml::Element;

use super::credentials::{Decoys, UserKeys};
use super::fast::{DEFAULT_FAST_LIFETIME, MintedToken};
use super::store::{MemoryData, OfflineQuota, OfflineRefused, StoredRoster};

/// What a server needs to know about its users: SCRAM's stored keys and a
/// password check for PLAIN. Implement it over your own database, or use
/// [`Accounts`].
///
/// Both methods are called on the session's thread, during login.
pub trait AccountStore: Send + Sync {
    /// The stored SCRAM credentials of `username` (the account name,
    /// prepared by the server with
    /// [`prepare_localpart`](xmpp_proto::jid::prepare_localpart)) for
    /// `hash`. For an unknown user, return decoy credentials that stay
    /// the same for that name and match no password (as [`Accounts`]
    /// does): the exchange then fails at the proof exactly like a wrong
    /// password. `None` ends it at once, which tells a prober the name
    /// does not exist.
    fn scram_credentials(&self, username: &str, hash: ScramHash) -> Option<StoredCredentials>;

    /// Whether `password` is `username`'s (SASL PLAIN, which the server
    /// offers only over TLS). Should cost the same for an unknown name.
    fn check_password(&self, username: &str, password: &str) -> bool;

    /// Every account's name, read once at start, so that the server keeps
    /// subscription requests for accounts that have not logged in yet.
    /// Default: none (requests for an account never seen are dropped).
    fn account_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// Every account's roster, read once at start. Default: none kept.
    fn rosters(&self) -> Vec<StoredRoster> {
        Vec::new()
    }

    /// Keeps a roster change: `entry` for `contact` in `account`'s roster
    /// (`None`: forget the contact) and the roster's new `version`.
    /// Default: nothing is kept.
    fn save_roster_entry(
        &self,
        account: &BareJid,
        version: u64,
        contact: &BareJid,
        entry: Option<&RosterEntry>,
    ) {
        let _ = (account, version, contact, entry);
    }

    /// Keeps a message for `account`, which is offline, within its quota.
    ///
    /// # Errors
    /// Why it was not kept; its sender is then answered with an error.
    /// Default: [`OfflineRefused::Unsupported`].
    fn store_offline(
        &self,
        account: &BareJid,
        message: &OfflineMessage,
    ) -> Result<(), OfflineRefused> {
        let _ = (account, message);
        Err(OfflineRefused::Unsupported)
    }

    /// Hands over, oldest first, and forgets the messages kept for
    /// `account`. Default: none.
    fn take_offline(&self, account: &BareJid) -> Vec<OfflineMessage> {
        let _ = account;
        Vec::new()
    }

    /// Every account's XEP-0049 private XML, read once at start. Default:
    /// none kept.
    fn private_data(&self) -> Vec<(BareJid, Vec<Element>)> {
        Vec::new()
    }

    /// Keeps `element` in `account`'s private storage, replacing what it
    /// kept under the same namespace and name. Default: nothing is kept.
    fn save_private(&self, account: &BareJid, element: &Element) {
        let _ = (account, element);
    }

    /// Every account's XEP-0191 block list, read once at start. Default:
    /// none kept.
    fn blocklists(&self) -> Vec<(BareJid, Vec<String>)> {
        Vec::new()
    }

    /// Keeps `account`'s block list as it is now. Default: nothing kept.
    fn save_blocklist(&self, account: &BareJid, blocked: &[String]) {
        let _ = (account, blocked);
    }

    /// The unexpired FAST tokens (XEP-0484) of `account` issued to
    /// `user_agent` for `mechanism`, newest first. Default: none (FAST
    /// logins fail; clients use their password).
    fn fast_tokens(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
    ) -> Vec<String> {
        let _ = (account, user_agent, mechanism);
        Vec::new()
    }

    /// Issues a FAST token: keeps a new secret (see [`MintedToken::mint`])
    /// as the newest of `user_agent`, keeps `replacing` (the token the
    /// login used) beside it, forgets the others, and returns what the
    /// client is given. Default: no token.
    ///
    /// [`MintedToken::mint`]: super::MintedToken::mint
    fn issue_fast_token(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
        replacing: Option<&str>,
    ) -> Option<FastToken> {
        let _ = (account, user_agent, mechanism, replacing);
        None
    }

    /// Forgets every FAST token of `user_agent`. Default: nothing kept.
    fn revoke_fast_tokens(&self, account: &BareJid, user_agent: &str) {
        let _ = (account, user_agent);
    }
}

/// A boxed store is a store (for a server whose store is chosen at run
/// time).
impl<S: AccountStore + ?Sized> AccountStore for Box<S> {
    fn scram_credentials(&self, username: &str, hash: ScramHash) -> Option<StoredCredentials> {
        (**self).scram_credentials(username, hash)
    }

    fn check_password(&self, username: &str, password: &str) -> bool {
        (**self).check_password(username, password)
    }

    fn account_names(&self) -> Vec<String> {
        (**self).account_names()
    }

    fn rosters(&self) -> Vec<StoredRoster> {
        (**self).rosters()
    }

    fn save_roster_entry(
        &self,
        account: &BareJid,
        version: u64,
        contact: &BareJid,
        entry: Option<&RosterEntry>,
    ) {
        (**self).save_roster_entry(account, version, contact, entry);
    }

    fn store_offline(
        &self,
        account: &BareJid,
        message: &OfflineMessage,
    ) -> Result<(), OfflineRefused> {
        (**self).store_offline(account, message)
    }

    fn take_offline(&self, account: &BareJid) -> Vec<OfflineMessage> {
        (**self).take_offline(account)
    }

    fn private_data(&self) -> Vec<(BareJid, Vec<Element>)> {
        (**self).private_data()
    }

    fn save_private(&self, account: &BareJid, element: &Element) {
        (**self).save_private(account, element);
    }

    fn blocklists(&self) -> Vec<(BareJid, Vec<String>)> {
        (**self).blocklists()
    }

    fn save_blocklist(&self, account: &BareJid, blocked: &[String]) {
        (**self).save_blocklist(account, blocked);
    }

    fn fast_tokens(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
    ) -> Vec<String> {
        (**self).fast_tokens(account, user_agent, mechanism)
    }

    fn issue_fast_token(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
        replacing: Option<&str>,
    ) -> Option<FastToken> {
        (**self).issue_fast_token(account, user_agent, mechanism, replacing)
    }

    fn revoke_fast_tokens(&self, account: &BareJid, user_agent: &str) {
        (**self).revoke_fast_tokens(account, user_agent);
    }
}

/// The store's answer to one of the hub's login questions, to hand back
/// with [`LoginAnswer::apply`]. Computing it (a lookup, or PBKDF2 for
/// PLAIN) needs no access to the hub, so a server can do it without
/// holding the hub's lock or on another thread.
#[derive(Debug)]
pub enum LoginAnswer {
    /// The stored SCRAM credentials of the asking session's user (`None`
    /// for an unknown user).
    Credentials(SessionId, Option<StoredCredentials>),
    /// The verdict on a PLAIN (or EXTERNAL) login.
    Verdict(SessionId, Result<(), FailureCondition>),
    /// The FAST tokens kept for a token login.
    FastTokens(SessionId, Vec<String>),
    /// A FAST token issued (or not).
    FastToken(SessionId, Option<FastToken>),
}

impl LoginAnswer {
    /// Answers `event` from `store` if it is a login question
    /// ([`HubEvent::NeedScramCredentials`] or [`HubEvent::Authenticate`]);
    /// any other event comes back unchanged. EXTERNAL and PLAIN without a
    /// password are refused with `not-authorized`.
    ///
    /// ```
    /// use xmpp_proto::hub::HubEvent;
    /// use xmpp_proto::router::SessionId;
    /// use xmpp_proto::sasl::ScramHash;
    /// use xmpp_transport_std::serve::{Accounts, LoginAnswer};
    ///
    /// let mut accounts = Accounts::new();
    /// accounts.add("alice", "alice-secret")?;
    /// let question = HubEvent::NeedScramCredentials {
    ///     session: SessionId(1),
    ///     username: "alice".into(),
    ///     hash: ScramHash::Sha256,
    /// };
    /// let answer = LoginAnswer::from_store(&accounts, question).unwrap();
    /// assert!(matches!(answer, LoginAnswer::Credentials(SessionId(1), Some(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_store(store: &dyn AccountStore, event: HubEvent) -> Result<Self, HubEvent> {
        match event {
            HubEvent::NeedScramCredentials {
                session,
                username,
                hash,
            } => Ok(LoginAnswer::Credentials(
                session,
                store.scram_credentials(&username, hash),
            )),
            HubEvent::Authenticate {
                session,
                username: Some(username),
                password: Some(password),
                ..
            } => {
                let verdict = if store.check_password(&username, password.as_str()) {
                    Ok(())
                } else {
                    Err(FailureCondition::NotAuthorized)
                };
                Ok(LoginAnswer::Verdict(session, verdict))
            }
            HubEvent::Authenticate { session, .. } => Ok(LoginAnswer::Verdict(
                session,
                Err(FailureCondition::NotAuthorized),
            )),
            HubEvent::NeedFastToken {
                session,
                account,
                user_agent,
                mechanism,
            } => Ok(LoginAnswer::FastTokens(
                session,
                store.fast_tokens(&account, &user_agent, mechanism),
            )),
            HubEvent::IssueFastToken {
                session,
                account,
                user_agent,
                mechanism,
                replacing,
            } => Ok(LoginAnswer::FastToken(
                session,
                store.issue_fast_token(&account, &user_agent, mechanism, replacing.as_deref()),
            )),
            other => Err(other),
        }
    }

    /// Hands the answer to the hub, which resumes the session's login.
    pub fn apply(self, hub: &mut Hub) {
        match self {
            LoginAnswer::Credentials(session, credentials) => {
                hub.provide_credentials(session, credentials);
            }
            LoginAnswer::Verdict(session, verdict) => hub.verdict(session, verdict),
            LoginAnswer::FastTokens(session, tokens) => hub.provide_fast_tokens(session, tokens),
            LoginAnswer::FastToken(session, token) => hub.issue_fast_token(session, token),
        }
    }
}

/// A store whose accounts can be added, changed and removed: what the
/// example servers' `--users` and the `accounts` tool use, whichever
/// database is behind it. Names are prepared like a JID's localpart
/// (`Alice` is `alice`); only SCRAM keys are kept, never a password.
///
/// A running server reads the account list once, at start: an account
/// added later can log in (its keys are read at each login), but
/// subscription requests sent to it before the next start are refused.
pub trait ManageAccounts: AccountStore {
    /// Adds the account `name` with `password`, or sets a new password
    /// for it.
    ///
    /// # Errors
    /// An unusable name or password ([`AccountError`]), or the
    /// database failed.
    fn add_account(&self, name: &str, password: &str) -> Result<(), ManageError>;

    /// Sets a new password for an existing account; `false` if there is
    /// no such account.
    ///
    /// # Errors
    /// As for [`ManageAccounts::add_account`].
    fn set_password(&self, name: &str, password: &str) -> Result<bool, ManageError>;

    /// Removes an account with everything kept for it (roster, messages,
    /// private XML, block list); `false` if there was none.
    ///
    /// # Errors
    /// The database failed.
    fn remove_account(&self, name: &str) -> Result<bool, ManageError>;
}

/// Why a [`ManageAccounts`] operation failed: an [`AccountError`] or the
/// store's own error.
pub type ManageError = Box<dyn std::error::Error + Send + Sync>;

/// Why [`Accounts::add`] refused an account.
#[derive(Debug)]
#[non_exhaustive]
pub enum AccountError {
    /// The name cannot be a JID's localpart.
    Name(JidError),
    /// The password cannot be turned into SCRAM keys.
    Password(SaslError),
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::Name(e) => write!(f, "not a valid account name: {e}"),
            AccountError::Password(e) => write!(f, "unusable password: {e}"),
        }
    }
}

impl std::error::Error for AccountError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AccountError::Name(e) => Some(e),
            AccountError::Password(e) => Some(e),
        }
    }
}

/// How many PBKDF2 rounds [`Accounts::add`] uses: 4096, RFC 7677's
/// minimum for SCRAM-SHA-256 and what Prosody and ejabberd use.
pub const DEFAULT_ITERATIONS: Iterations = Iterations(4096);

/// An in-memory [`AccountStore`] built from passwords at start.
///
/// Each password is turned into SCRAM stored keys (SHA-1, SHA-256 and
/// SHA-512, each with its own random salt) as it is added, and then
/// forgotten: the store never holds a password. PLAIN logins are checked
/// by deriving the SHA-256 stored key from the offered password and
/// comparing it (in constant time) with the stored one. Unknown names
/// get decoy SCRAM credentials (the same at every try, derived from a
/// secret of the store) and the same PBKDF2 work for PLAIN, so neither
/// the answers nor their timing tell which names exist.
///
/// ```
/// use xmpp_transport_std::serve::{AccountStore, Accounts};
///
/// let mut accounts = Accounts::new();
/// accounts.add("alice", "alice-secret")?;
/// assert!(accounts.check_password("alice", "alice-secret"));
/// assert!(!accounts.check_password("alice", "guess"));
/// assert!(!accounts.check_password("mallory", "alice-secret"));
/// # Ok::<(), xmpp_transport_std::serve::AccountError>(())
/// ```
pub struct Accounts {
    users: HashMap<String, UserKeys>,
    iterations: Option<Iterations>,
    /// Credentials for unknown names, from a secret of this store.
    decoys: Decoys,
    /// Rosters and offline messages, kept in memory only.
    data: Mutex<MemoryData>,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            users: HashMap::new(),
            iterations: None,
            decoys: Decoys::random(DEFAULT_ITERATIONS),
            data: Mutex::new(MemoryData::default()),
        }
    }
}

impl Accounts {
    /// An empty store using [`DEFAULT_ITERATIONS`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose new users get `iterations` PBKDF2 rounds
    /// (more is slower for attackers holding the keys, and for logins;
    /// clients, ours included, refuse fewer than 4096).
    pub fn with_iterations(iterations: Iterations) -> Self {
        let decoys = Decoys::random(iterations);
        Accounts {
            iterations: Some(iterations),
            decoys,
            ..Self::default()
        }
    }

    /// Lets each account keep at most `quota` of messages while offline
    /// (default [`OfflineQuota::default`]).
    pub fn with_offline_quota(self, quota: OfflineQuota) -> Self {
        self.data().quota = quota;
        self
    }

    fn data(&self) -> MutexGuard<'_, MemoryData> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves every account of `other` into this store (for stores built
    /// in parallel, one part per thread); this store's decoys stay.
    pub fn merge(&mut self, other: Accounts) {
        self.users.extend(other.users);
    }

    /// Adds (or replaces) `username` with `password`; only the derived
    /// keys are kept. `username` is the localpart of the user's JID and
    /// is prepared like one ([`prepare_localpart`]): `Alice` adds `alice`,
    /// which is also what the server asks for when `Alice` logs in.
    ///
    /// # Errors
    /// [`AccountError::Name`] if no JID can have `username` as its
    /// localpart (a space, `@`, `/`, empty, ...); [`AccountError::Password`]
    /// if the password cannot be prepared (SASLprep refuses it, or it is
    /// empty) or no random salt could be drawn.
    pub fn add(&mut self, username: &str, password: &str) -> Result<(), AccountError> {
        let username = prepare_localpart(username).map_err(AccountError::Name)?;
        let iterations = self.iterations.unwrap_or(DEFAULT_ITERATIONS);
        let keys = UserKeys::derive(password, iterations).map_err(AccountError::Password)?;
        self.users.insert(username.into_owned(), keys);
        Ok(())
    }

    /// Removes `username`; whether it was there.
    pub fn remove(&mut self, username: &str) -> bool {
        self.users.remove(username).is_some()
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there is no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl AccountStore for Accounts {
    fn scram_credentials(&self, username: &str, hash: ScramHash) -> Option<StoredCredentials> {
        match prepare_localpart(username)
            .ok()
            .and_then(|name| self.users.get(name.as_ref()))
        {
            Some(keys) => Some(keys.for_hash(hash).clone()),
            // Unknown: a decoy, so the exchange goes on as for a real
            // account and fails only at the proof.
            None => self.decoys.credentials(username, hash),
        }
    }

    fn check_password(&self, username: &str, password: &str) -> bool {
        match prepare_localpart(username)
            .ok()
            .and_then(|name| self.users.get(name.as_ref()))
        {
            Some(keys) => keys.matches(password),
            // Unknown: the same PBKDF2 work as a known name costs, so the
            // time taken does not tell which names exist.
            None => self.decoys.check_password(username, password),
        }
    }

    fn account_names(&self) -> Vec<String> {
        self.users.keys().cloned().collect()
    }

    fn rosters(&self) -> Vec<StoredRoster> {
        self.data().rosters()
    }

    fn save_roster_entry(
        &self,
        account: &BareJid,
        version: u64,
        contact: &BareJid,
        entry: Option<&RosterEntry>,
    ) {
        self.data()
            .save_roster_entry(account, version, contact, entry);
    }

    fn store_offline(
        &self,
        account: &BareJid,
        message: &OfflineMessage,
    ) -> Result<(), OfflineRefused> {
        self.data().store_offline(account, message)
    }

    fn take_offline(&self, account: &BareJid) -> Vec<OfflineMessage> {
        self.data().take_offline(account)
    }

    fn private_data(&self) -> Vec<(BareJid, Vec<Element>)> {
        self.data().private_data()
    }

    fn save_private(&self, account: &BareJid, element: &Element) {
        self.data().save_private(account, element);
    }

    fn blocklists(&self) -> Vec<(BareJid, Vec<String>)> {
        self.data().blocklists.clone().into_iter().collect()
    }

    fn save_blocklist(&self, account: &BareJid, blocked: &[String]) {
        let mut data = self.data();
        match blocked.is_empty() {
            true => data.blocklists.remove(account),
            false => data.blocklists.insert(account.clone(), blocked.to_vec()),
        };
    }

    fn fast_tokens(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
    ) -> Vec<String> {
        let now = std::time::SystemTime::now();
        self.data().fast.tokens(account, user_agent, mechanism, now)
    }

    fn issue_fast_token(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
        replacing: Option<&str>,
    ) -> Option<FastToken> {
        let minted = MintedToken::mint(std::time::SystemTime::now(), DEFAULT_FAST_LIFETIME)?;
        self.data()
            .fast
            .issue(account, user_agent, mechanism, replacing, &minted);
        Some(minted.to_token())
    }

    fn revoke_fast_tokens(&self, account: &BareJid, user_agent: &str) {
        self.data().fast.revoke(account, user_agent);
    }
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Usernames only; the keys stay out of logs.
        let mut names: Vec<&str> = self.users.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Accounts").field("users", &names).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_are_prepared_like_localparts() {
        let mut accounts = Accounts::with_iterations(Iterations(4096));
        accounts.add("Alice", "pw").unwrap();
        assert!(accounts.check_password("alice", "pw"));
        assert!(accounts.check_password("ALICE", "pw"));
        assert!(
            accounts
                .scram_credentials("alice", ScramHash::Sha256)
                .is_some()
        );
        assert!(matches!(
            accounts.add("a b", "pw"),
            Err(AccountError::Name(_))
        ));
        assert!(matches!(accounts.add("", "pw"), Err(AccountError::Name(_))));
        assert_eq!(accounts.len(), 1);
    }

    #[test]
    fn unknown_names_get_stable_decoys_that_match_no_password() {
        let mut accounts = Accounts::with_iterations(Iterations(4096));
        accounts.add("alice", "pw").unwrap();
        let real = accounts
            .scram_credentials("alice", ScramHash::Sha256)
            .unwrap();
        let decoy = accounts
            .scram_credentials("mallory", ScramHash::Sha256)
            .unwrap();
        // Shaped like real credentials, and the same at every try.
        assert_eq!(decoy.salt.len(), real.salt.len());
        assert_eq!(decoy.iterations, real.iterations);
        assert_eq!(
            accounts
                .scram_credentials("mallory", ScramHash::Sha256)
                .unwrap(),
            decoy
        );
        // Different per name, per hash, and per store.
        let other = accounts
            .scram_credentials("eve", ScramHash::Sha256)
            .unwrap();
        assert_ne!(other.salt, decoy.salt);
        let sha1 = accounts
            .scram_credentials("mallory", ScramHash::Sha1)
            .unwrap();
        assert_eq!(sha1.stored_key.as_bytes().len(), 20);
        let elsewhere = Accounts::new()
            .scram_credentials("mallory", ScramHash::Sha256)
            .unwrap();
        assert_ne!(elsewhere.salt, decoy.salt);
        // No password opens a decoy.
        let guess = xmpp_proto::sasl::stored_credentials(
            ScramHash::Sha256,
            "pw",
            &decoy.salt,
            decoy.iterations,
        )
        .unwrap();
        assert_ne!(guess.stored_key, decoy.stored_key);
        assert!(!accounts.check_password("mallory", "pw"));
    }
}
