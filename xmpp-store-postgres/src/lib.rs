//! A PostgreSQL store for the servers of `xmpp-transport-std` (`serve`)
//! and `xmpp-transport-mio` (`MioServer`): accounts as SCRAM stored keys
//! (no passwords), rosters, messages kept for offline accounts, private
//! XML and block lists, in a database server rather than a file on the
//! XMPP server's disk. It keeps what `xmpp-store-sqlite` keeps, passes
//! the same test suite, and is chosen the same way (`--db
//! postgres://...` on the example servers).
//!
//! Every change is one transaction. The store holds one connection and
//! opens a new one when the database server drops it (a restart of
//! PostgreSQL costs the operations that were under way, not the XMPP
//! server). The tables, all named `xmpp_*`, are created on first
//! connection; give the connection a `search_path` to keep them in a
//! schema of their own.
//!
//! One XMPP server per database: a server reads rosters, private XML
//! and block lists once, at start, and keeps them in memory, so two
//! servers sharing the tables would not see each other's changes.
//!
//! TLS to the database is not built in: connect over a Unix socket, on
//! loopback, or through a tunnel. A `sslmode=require` in the connection
//! string makes connecting fail rather than fall back to plain text.
//!
//! ```no_run
//! use xmpp_store_postgres::PostgresStore;
//! use xmpp_transport_std::serve::{AccountStore, ManageAccounts};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PostgresStore::connect("postgres://xmpp:secret@127.0.0.1/xmpp")?;
//! store.add_account("alice", "alice-secret")?;
//! assert!(store.check_password("alice", "alice-secret"));
//! // Hand it to a server: Serve::new(domain, tls, store) or MioServer::new(...).
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod schema;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use postgres::types::FromSql;
use postgres::{Client, Config, NoTls};
use xmpp_proto::hub::OfflineMessage;
use xmpp_proto::jid::{BareJid, prepare_localpart};
use xmpp_proto::negotiation::FastToken;
use xmpp_proto::roster::{RosterEntry, RosterItem, Subscription};
use xmpp_proto::sasl::{Iterations, Mechanism, ScramHash, StoredCredentials};
use xmpp_proto::xml::Element;
use xmpp_transport_std::serve::{
    AccountError, AccountStore, DEFAULT_FAST_LIFETIME, DEFAULT_ITERATIONS, Decoys, ManageAccounts,
    ManageError, MintedToken, OfflineQuota, OfflineRefused, StoredRoster, UserKeys, unix_seconds,
};

/// The PostgreSQL client this store is built on, for its
/// [`Config`].
pub use postgres;

/// Whether `e` says the connection is gone rather than the statement
/// wrong: closed, or a server error of class 08 (connection exception) or
/// 57 (operator intervention: shutdown, termination).
fn connection_lost(e: &postgres::Error) -> bool {
    e.is_closed()
        || e.code()
            .is_some_and(|code| code.code().starts_with("08") || code.code().starts_with("57"))
}

/// How long connecting may take when the connection string says nothing.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What can go wrong with the store.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (cannot be reached, refused the login, a
    /// statement failed, ...).
    Database(postgres::Error),
    /// The account name or password cannot be used.
    Account(AccountError),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Database(e) => write!(f, "database: {e}"),
            StoreError::Account(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Database(e) => Some(e),
            StoreError::Account(e) => Some(e),
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Database(e)
    }
}

impl From<AccountError> for StoreError {
    fn from(e: AccountError) -> Self {
        StoreError::Account(e)
    }
}

/// Accounts, rosters and offline messages in a PostgreSQL database. See
/// the crate documentation.
pub struct PostgresStore {
    config: Config,
    /// `None` once a failure closed the connection and reconnecting
    /// failed too; the next operation tries again.
    db: Mutex<Option<Client>>,
    decoys: Decoys,
    iterations: Iterations,
    quota: OfflineQuota,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects with a connection string, as a URL
    /// (`postgres://user:password@host:port/database`) or as
    /// `key=value` pairs (`host=/run/postgresql user=xmpp`), and sets the
    /// tables up if they are not there.
    ///
    /// # Errors
    /// A string that does not parse, a server that cannot be reached or
    /// refuses the login, or tables that cannot be created.
    pub fn connect(params: &str) -> Result<Self, StoreError> {
        Self::with_config(params.parse()?)
    }

    /// Connects with a [`Config`] built in code.
    ///
    /// # Errors
    /// As for [`PostgresStore::connect`].
    pub fn with_config(mut config: Config) -> Result<Self, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let mut client = config.connect(NoTls)?;
        let key = schema::set_up(&mut client)?;
        Ok(PostgresStore {
            config,
            db: Mutex::new(Some(client)),
            decoys: Decoys::new(key, DEFAULT_ITERATIONS),
            iterations: DEFAULT_ITERATIONS,
            quota: OfflineQuota::default(),
        })
    }

    /// New passwords get `iterations` PBKDF2 rounds (default
    /// [`DEFAULT_ITERATIONS`]).
    pub fn with_iterations(mut self, iterations: Iterations) -> Self {
        self.iterations = iterations;
        self.decoys = Decoys::new(self.decoys.key(), iterations);
        self
    }

    /// Each account may keep at most `quota` of messages while offline
    /// (default [`OfflineQuota::default`]).
    pub fn with_offline_quota(mut self, quota: OfflineQuota) -> Self {
        self.quota = quota;
        self
    }

    /// Runs `work` on the connection, reconnecting first if it was lost.
    /// If the connection breaks during `work`, it runs once more on a new
    /// one: a write whose commit was sent just before the break may then
    /// happen twice (a kept message delivered twice), never not at all
    /// while the database is up.
    fn with_db<T>(
        &self,
        mut work: impl FnMut(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        let mut db: MutexGuard<'_, Option<Client>> =
            self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let mut retried = false;
        loop {
            let client = match db.as_mut() {
                Some(client) if !client.is_closed() => client,
                _ => {
                    *db = None;
                    db.insert(self.config.connect(NoTls)?)
                }
            };
            match work(client) {
                Err(e) if !retried && (client.is_closed() || connection_lost(&e)) => {
                    // The connection may not know yet that it is dead
                    // (the server's goodbye came as this error): a new one.
                    retried = true;
                    *db = None;
                }
                done => return done,
            }
        }
    }

    /// Adds the account `name` with `password`, or sets a new password
    /// for it; only SCRAM keys are kept. The name is prepared like a JID's
    /// localpart (`Alice` is `alice`).
    ///
    /// # Errors
    /// An unusable name or password, or a database failure.
    pub fn add_account(&self, name: &str, password: &str) -> Result<(), StoreError> {
        let name = prepare_localpart(name).map_err(AccountError::Name)?;
        let keys = UserKeys::derive(password, self.iterations).map_err(AccountError::Password)?;
        self.with_db(|db| {
            let mut tx = db.transaction()?;
            tx.execute(
                "INSERT INTO xmpp_accounts (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                &[&name.as_ref()],
            )?;
            for hash in [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512] {
                let k = keys.for_hash(hash);
                tx.execute(
                    "INSERT INTO xmpp_scram_keys \
                     (account, hash, salt, iterations, stored_key, server_key) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (account, hash) DO UPDATE SET salt = excluded.salt, \
                     iterations = excluded.iterations, stored_key = excluded.stored_key, \
                     server_key = excluded.server_key",
                    &[
                        &name.as_ref(),
                        &schema::hash_id(hash),
                        &k.salt.as_slice(),
                        &i64::from(k.iterations.0),
                        &k.stored_key.as_bytes(),
                        &k.server_key.as_bytes(),
                    ],
                )?;
            }
            tx.commit()
        })?;
        Ok(())
    }

    /// Sets a new password for an existing account; `false` if there is
    /// no such account.
    ///
    /// # Errors
    /// As for [`PostgresStore::add_account`].
    pub fn set_password(&self, name: &str, password: &str) -> Result<bool, StoreError> {
        let exists = self.keys(name).is_some();
        if exists {
            self.add_account(name, password)?;
        }
        Ok(exists)
    }

    /// Removes an account with its roster, kept messages, private XML and
    /// block list; `false` if there was none.
    ///
    /// # Errors
    /// A database failure.
    pub fn remove_account(&self, name: &str) -> Result<bool, StoreError> {
        let Ok(name) = prepare_localpart(name) else {
            return Ok(false);
        };
        let removed = self.with_db(|db| {
            let mut tx = db.transaction()?;
            let removed = tx.execute(
                "DELETE FROM xmpp_accounts WHERE name = $1",
                &[&name.as_ref()],
            )?;
            for table in schema::PER_ACCOUNT {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE account = $1"),
                    &[&name.as_ref()],
                )?;
            }
            tx.commit()?;
            Ok(removed)
        })?;
        Ok(removed > 0)
    }

    /// The stored keys of `name`, if it is an account.
    fn keys(&self, name: &str) -> Option<UserKeys> {
        let name = prepare_localpart(name).ok()?;
        let rows = self
            .with_db(|db| {
                db.query(
                    "SELECT hash, salt, iterations, stored_key, server_key \
                     FROM xmpp_scram_keys WHERE account = $1",
                    &[&name.as_ref()],
                )
            })
            .ok()?;
        let mut found: HashMap<i32, StoredCredentials> = HashMap::new();
        for row in rows {
            let (Ok(id), Ok(salt), Ok(iterations), Ok(stored), Ok(server)) = (
                row.try_get::<_, i32>(0),
                row.try_get::<_, Vec<u8>>(1),
                row.try_get::<_, i64>(2),
                row.try_get::<_, Vec<u8>>(3),
                row.try_get::<_, Vec<u8>>(4),
            ) else {
                continue;
            };
            let Some(hash) = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
                .into_iter()
                .find(|h| schema::hash_id(*h) == id)
            else {
                continue;
            };
            let iterations = Iterations(u32::try_from(iterations).ok()?);
            if let Some(credentials) =
                StoredCredentials::from_raw(hash, salt, iterations, &stored, &server)
            {
                found.insert(id, credentials);
            }
        }
        let mut take = |hash| found.remove(&schema::hash_id(hash));
        Some(UserKeys {
            sha1: take(ScramHash::Sha1)?,
            sha256: take(ScramHash::Sha256)?,
            sha512: take(ScramHash::Sha512)?,
        })
    }

    fn read_rosters(&self) -> Result<Vec<StoredRoster>, postgres::Error> {
        let (versions, items, groups) = self.with_db(|db| {
            Ok((
                db.query(
                    r#"SELECT account, version FROM xmpp_rosters ORDER BY account COLLATE "C""#,
                    &[],
                )?,
                db.query(
                    r#"SELECT account, contact, name, subscription, ask, approved, pending_in,
                       listed FROM xmpp_roster_items ORDER BY contact COLLATE "C""#,
                    &[],
                )?,
                db.query(
                    "SELECT account, contact, name FROM xmpp_roster_groups ORDER BY position",
                    &[],
                )?,
            ))
        })?;
        let mut group_names: HashMap<(String, String), Vec<String>> = HashMap::new();
        for row in groups {
            group_names
                .entry((row.try_get(0)?, row.try_get(1)?))
                .or_default()
                .push(row.try_get(2)?);
        }
        let mut entries: HashMap<String, Vec<RosterEntry>> = HashMap::new();
        for row in items {
            let account: String = row.try_get(0)?;
            let contact: String = row.try_get(1)?;
            let Ok(jid) = BareJid::new(&contact) else {
                continue;
            };
            let mut item = RosterItem::new(jid);
            item.name = row.try_get(2)?;
            let subscription: String = row.try_get(3)?;
            item.subscription =
                Subscription::parse(Some(&subscription)).unwrap_or(Subscription::None);
            item.ask = row.try_get(4)?;
            item.approved = row.try_get(5)?;
            item.groups = group_names
                .remove(&(account.clone(), contact))
                .unwrap_or_default();
            let mut entry = RosterEntry::new(item);
            entry.pending_in = row.try_get(6)?;
            entry.listed = row.try_get(7)?;
            entries.entry(account).or_default().push(entry);
        }
        let mut rosters = Vec::new();
        for row in versions {
            let account: String = row.try_get(0)?;
            let version: i64 = row.try_get(1)?;
            let Ok(jid) = BareJid::new(&account) else {
                continue;
            };
            let kept = entries.remove(&account).unwrap_or_default();
            rosters.push(StoredRoster::new(
                jid,
                u64::try_from(version).unwrap_or(0),
                kept,
            ));
        }
        Ok(rosters)
    }

    fn write_roster_entry(
        &self,
        account: &BareJid,
        version: u64,
        contact: &BareJid,
        entry: Option<&RosterEntry>,
    ) -> Result<(), postgres::Error> {
        let (account, contact) = (account.as_str(), contact.as_str());
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        self.with_db(|db| {
            let mut tx = db.transaction()?;
            tx.execute(
                "INSERT INTO xmpp_rosters (account, version) VALUES ($1, $2) \
                 ON CONFLICT (account) DO UPDATE SET version = excluded.version",
                &[&account, &version],
            )?;
            tx.execute(
                "DELETE FROM xmpp_roster_groups WHERE account = $1 AND contact = $2",
                &[&account, &contact],
            )?;
            match entry {
                None => {
                    tx.execute(
                        "DELETE FROM xmpp_roster_items WHERE account = $1 AND contact = $2",
                        &[&account, &contact],
                    )?;
                }
                Some(entry) => {
                    let item = &entry.item;
                    tx.execute(
                        "INSERT INTO xmpp_roster_items \
                         (account, contact, name, subscription, ask, approved, pending_in, \
                         listed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (account, contact) DO UPDATE SET name = excluded.name, \
                         subscription = excluded.subscription, ask = excluded.ask, \
                         approved = excluded.approved, pending_in = excluded.pending_in, \
                         listed = excluded.listed",
                        &[
                            &account,
                            &contact,
                            &item.name,
                            &item.subscription.as_str(),
                            &item.ask,
                            &item.approved,
                            &entry.pending_in,
                            &entry.listed,
                        ],
                    )?;
                    for (position, group) in (0i32..).zip(&item.groups) {
                        tx.execute(
                            "INSERT INTO xmpp_roster_groups (account, contact, position, name) \
                             VALUES ($1, $2, $3, $4)",
                            &[&account, &contact, &position, group],
                        )?;
                    }
                }
            }
            tx.commit()
        })
    }

    fn write_offline(
        &self,
        account: &BareJid,
        message: &OfflineMessage,
    ) -> Result<(), OfflineRefused> {
        let mut bytes = Vec::new();
        message
            .message
            .write_to(&mut bytes)
            .map_err(|e| OfflineRefused::Failed(e.to_string()))?;
        let account = account.as_str();
        let admitted = self
            .with_db(|db| {
                let mut tx = db.transaction()?;
                // Whoever else writes here (a second process on the same
                // database) counts this account's messages after us.
                tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&account])?;
                let row = tx.query_one(
                    "SELECT COUNT(*), COALESCE(SUM(LENGTH(xml)), 0)::BIGINT \
                     FROM xmpp_offline WHERE account = $1",
                    &[&account],
                )?;
                let (count, total): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
                let (count, total) = (
                    usize::try_from(count).unwrap_or(usize::MAX),
                    usize::try_from(total).unwrap_or(usize::MAX),
                );
                if !self.quota.admits(count, total, bytes.len()) {
                    return Ok(false);
                }
                tx.execute(
                    "INSERT INTO xmpp_offline (account, stamp, xml) VALUES ($1, $2, $3)",
                    &[&account, &message.stamp, &bytes],
                )?;
                tx.commit()?;
                Ok(true)
            })
            .map_err(|e| OfflineRefused::Failed(e.to_string()))?;
        if admitted {
            Ok(())
        } else {
            Err(OfflineRefused::QuotaExceeded)
        }
    }

    fn read_offline(&self, account: &BareJid) -> Result<Vec<OfflineMessage>, postgres::Error> {
        let rows = self.with_db(|db| {
            db.query(
                "DELETE FROM xmpp_offline WHERE account = $1 RETURNING id, stamp, xml",
                &[&account.as_str()],
            )
        })?;
        let mut kept = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, stamp, bytes): (i64, String, Vec<u8>) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if let Some(message) = Element::read_from(&bytes) {
                kept.push((id, OfflineMessage { message, stamp }));
            }
        }
        kept.sort_by_key(|(id, _)| *id);
        Ok(kept.into_iter().map(|(_, message)| message).collect())
    }

    /// Runs `sql`, which selects (account, value) ordered by account, and
    /// groups the values `read` accepts by account (rows of a name no
    /// account can have, or that `read` refuses, are skipped).
    fn per_account<V, T>(
        &self,
        sql: &str,
        read: impl Fn(V) -> Option<T>,
    ) -> Result<Vec<(BareJid, Vec<T>)>, postgres::Error>
    where
        V: for<'a> FromSql<'a>,
    {
        let rows = self.with_db(|db| db.query(sql, &[]))?;
        let mut out: Vec<(BareJid, Vec<T>)> = Vec::new();
        for row in rows {
            let account: String = row.try_get(0)?;
            let value: V = row.try_get(1)?;
            let (Ok(account), Some(value)) = (BareJid::new(&account), read(value)) else {
                continue;
            };
            match out.last_mut() {
                Some((last, values)) if *last == account => values.push(value),
                _ => out.push((account, vec![value])),
            }
        }
        Ok(out)
    }

    fn write_blocklist(
        &self,
        account: &BareJid,
        blocked: &[String],
    ) -> Result<(), postgres::Error> {
        let account = account.as_str();
        self.with_db(|db| {
            let mut tx = db.transaction()?;
            tx.execute("DELETE FROM xmpp_blocked WHERE account = $1", &[&account])?;
            for jid in blocked {
                tx.execute(
                    "INSERT INTO xmpp_blocked (account, jid) VALUES ($1, $2) \
                     ON CONFLICT (account, jid) DO NOTHING",
                    &[&account, jid],
                )?;
            }
            tx.commit()
        })
    }

    fn write_private(&self, account: &BareJid, element: &Element) -> Result<(), postgres::Error> {
        let mut bytes = Vec::new();
        if element.write_to(&mut bytes).is_err() {
            return Ok(());
        }
        self.with_db(|db| {
            db.execute(
                "INSERT INTO xmpp_private (account, ns, name, xml) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (account, ns, name) DO UPDATE SET xml = excluded.xml",
                &[&account.as_str(), &element.ns(), &element.name(), &bytes],
            )
        })?;
        Ok(())
    }
}

impl AccountStore for PostgresStore {
    fn scram_credentials(&self, username: &str, hash: ScramHash) -> Option<StoredCredentials> {
        match self.keys(username) {
            Some(keys) => Some(keys.for_hash(hash).clone()),
            None => self.decoys.credentials(username, hash),
        }
    }

    fn check_password(&self, username: &str, password: &str) -> bool {
        match self.keys(username) {
            Some(keys) => keys.matches(password),
            None => self.decoys.check_password(username, password),
        }
    }

    fn account_names(&self) -> Vec<String> {
        let rows = self.with_db(|db| {
            db.query(
                r#"SELECT name FROM xmpp_accounts ORDER BY name COLLATE "C""#,
                &[],
            )
        });
        rows.map(|rows| rows.iter().filter_map(|r| r.try_get(0).ok()).collect())
            .unwrap_or_default()
    }

    fn rosters(&self) -> Vec<StoredRoster> {
        self.read_rosters().unwrap_or_default()
    }

    fn save_roster_entry(
        &self,
        account: &BareJid,
        version: u64,
        contact: &BareJid,
        entry: Option<&RosterEntry>,
    ) {
        // The trait has no way to report it; the change lives on in the
        // server's memory until the next restart.
        let _ = self.write_roster_entry(account, version, contact, entry);
    }

    fn store_offline(
        &self,
        account: &BareJid,
        message: &OfflineMessage,
    ) -> Result<(), OfflineRefused> {
        self.write_offline(account, message)
    }

    fn take_offline(&self, account: &BareJid) -> Vec<OfflineMessage> {
        self.read_offline(account).unwrap_or_default()
    }

    fn private_data(&self) -> Vec<(BareJid, Vec<Element>)> {
        self.per_account(
            r#"SELECT account, xml FROM xmpp_private
               ORDER BY account COLLATE "C", ns COLLATE "C", name COLLATE "C""#,
            |bytes: Vec<u8>| Element::read_from(&bytes),
        )
        .unwrap_or_default()
    }

    fn save_private(&self, account: &BareJid, element: &Element) {
        let _ = self.write_private(account, element);
    }

    fn blocklists(&self) -> Vec<(BareJid, Vec<String>)> {
        self.per_account(
            r#"SELECT account, jid FROM xmpp_blocked
               ORDER BY account COLLATE "C", jid COLLATE "C""#,
            Some,
        )
        .unwrap_or_default()
    }

    fn save_blocklist(&self, account: &BareJid, blocked: &[String]) {
        let _ = self.write_blocklist(account, blocked);
    }

    fn fast_tokens(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
    ) -> Vec<String> {
        let now = unix_seconds(SystemTime::now()) as i64;
        let (account, name) = (account.as_str(), mechanism.name());
        self.with_db(|db| {
            let rows = db.query(
                "SELECT secret FROM xmpp_fast_tokens WHERE account = $1 AND user_agent = $2 \
                 AND mechanism = $3 AND expires > $4 ORDER BY issued DESC",
                &[&account, &user_agent, &name, &now],
            )?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
        .unwrap_or_default()
    }

    fn issue_fast_token(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
        replacing: Option<&str>,
    ) -> Option<FastToken> {
        // Minted once, outside the retried work: a retry keeps the same.
        let minted = MintedToken::mint(SystemTime::now(), DEFAULT_FAST_LIFETIME)?;
        let (account, name) = (account.as_str(), mechanism.name());
        let expires = minted.expires as i64;
        self.with_db(|db| {
            let mut tx = db.transaction()?;
            // The newest and the one this login used stay; the rest go.
            tx.execute(
                "DELETE FROM xmpp_fast_tokens WHERE account = $1 AND user_agent = $2 \
                 AND secret IS DISTINCT FROM $3",
                &[&account, &user_agent, &replacing],
            )?;
            tx.execute(
                "INSERT INTO xmpp_fast_tokens (account, user_agent, mechanism, secret, expires) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&account, &user_agent, &name, &minted.secret, &expires],
            )?;
            tx.commit()
        })
        .ok()?;
        Some(minted.to_token())
    }

    fn revoke_fast_tokens(&self, account: &BareJid, user_agent: &str) {
        let account = account.as_str();
        let _ = self.with_db(|db| {
            db.execute(
                "DELETE FROM xmpp_fast_tokens WHERE account = $1 AND user_agent = $2",
                &[&account, &user_agent],
            )
        });
    }
}

impl ManageAccounts for PostgresStore {
    fn add_account(&self, name: &str, password: &str) -> Result<(), ManageError> {
        Ok(PostgresStore::add_account(self, name, password)?)
    }

    fn set_password(&self, name: &str, password: &str) -> Result<bool, ManageError> {
        Ok(PostgresStore::set_password(self, name, password)?)
    }

    fn remove_account(&self, name: &str) -> Result<bool, ManageError> {
        Ok(PostgresStore::remove_account(self, name)?)
    }
}
