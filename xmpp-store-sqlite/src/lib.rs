//! An SQLite store for the servers of `xmpp-transport-std` (`serve`) and
//! `xmpp-transport-mio` (`MioServer`): accounts as SCRAM stored keys (no
//! passwords), rosters, and messages kept for offline accounts, in one
//! file that survives restarts and crashes (every change is one
//! transaction; the database runs in WAL mode). SQLite is compiled in:
//! nothing to install.
//!
//! ```
//! use xmpp_store_sqlite::SqliteStore;
//! use xmpp_transport_std::serve::AccountStore;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqliteStore::open_in_memory()?; // or SqliteStore::open("server.db")
//! store.add_account("alice", "alice-secret")?;
//! assert!(store.check_password("alice", "alice-secret"));
//! assert_eq!(store.account_names(), ["alice"]);
//! // Hand it to a server: Serve::new(domain, tls, store) or MioServer::new(...).
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod schema;

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};
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

/// What can go wrong with the store.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (a file that cannot be opened or is not an
    /// SQLite database, a full disk, ...).
    Database(rusqlite::Error),
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

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e)
    }
}

impl From<AccountError> for StoreError {
    fn from(e: AccountError) -> Self {
        StoreError::Account(e)
    }
}

/// Accounts, rosters and offline messages in one SQLite database. See
/// the crate documentation.
pub struct SqliteStore {
    db: Mutex<Connection>,
    decoys: Decoys,
    iterations: Iterations,
    quota: OfflineQuota,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`.
    ///
    /// # Errors
    /// If it cannot be opened, is not an SQLite database, or its schema
    /// cannot be set up.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::with_connection(Connection::open(path)?)
    }

    /// A database in memory (for tests and trying things out).
    ///
    /// # Errors
    /// As for [`SqliteStore::open`].
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(db: Connection) -> Result<Self, StoreError> {
        let key = schema::set_up(&db)?;
        Ok(SqliteStore {
            db: Mutex::new(db),
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

    fn db(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
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
        let mut db = self.db();
        let tx = db.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO accounts (name) VALUES (?1)",
            params![name.as_ref()],
        )?;
        for hash in [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512] {
            let k = keys.for_hash(hash);
            tx.execute(
                "INSERT OR REPLACE INTO scram_keys \
                 (account, hash, salt, iterations, stored_key, server_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    name.as_ref(),
                    schema::hash_id(hash),
                    k.salt,
                    k.iterations.0,
                    k.stored_key.as_bytes(),
                    k.server_key.as_bytes()
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets a new password for an existing account; `false` if there is
    /// no such account.
    ///
    /// # Errors
    /// As for [`SqliteStore::add_account`].
    pub fn set_password(&self, name: &str, password: &str) -> Result<bool, StoreError> {
        let exists = self.keys(name).is_some();
        if exists {
            self.add_account(name, password)?;
        }
        Ok(exists)
    }

    /// Removes an account with its roster and kept messages; `false` if
    /// there was none.
    ///
    /// # Errors
    /// A database failure.
    pub fn remove_account(&self, name: &str) -> Result<bool, StoreError> {
        let Ok(name) = prepare_localpart(name) else {
            return Ok(false);
        };
        let mut db = self.db();
        let tx = db.transaction()?;
        let removed = tx.execute(
            "DELETE FROM accounts WHERE name = ?1",
            params![name.as_ref()],
        )?;
        for table in [
            "scram_keys",
            "rosters",
            "roster_items",
            "roster_groups",
            "offline",
            "private",
            "blocked",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE account = ?1"),
                params![name.as_ref()],
            )?;
        }
        tx.commit()?;
        Ok(removed > 0)
    }

    /// The stored keys of `name`, if it is an account.
    fn keys(&self, name: &str) -> Option<UserKeys> {
        let name = prepare_localpart(name).ok()?;
        let db = self.db();
        let read = |hash: ScramHash| -> Option<StoredCredentials> {
            db.query_row(
                "SELECT salt, iterations, stored_key, server_key FROM scram_keys \
                 WHERE account = ?1 AND hash = ?2",
                params![name.as_ref(), schema::hash_id(hash)],
                |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, u32>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                    ))
                },
            )
            .optional()
            .ok()
            .flatten()
            .and_then(|(salt, iterations, stored, server)| {
                StoredCredentials::from_raw(hash, salt, Iterations(iterations), &stored, &server)
            })
        };
        Some(UserKeys {
            sha1: read(ScramHash::Sha1)?,
            sha256: read(ScramHash::Sha256)?,
            sha512: read(ScramHash::Sha512)?,
        })
    }

    fn read_rosters(&self) -> Result<Vec<StoredRoster>, rusqlite::Error> {
        let db = self.db();
        let mut rosters = Vec::new();
        let mut versions = db.prepare("SELECT account, version FROM rosters ORDER BY account")?;
        let mut items = db.prepare(
            "SELECT contact, name, subscription, ask, approved, pending_in, listed \
             FROM roster_items WHERE account = ?1 ORDER BY contact",
        )?;
        let mut groups = db.prepare(
            "SELECT name FROM roster_groups WHERE account = ?1 AND contact = ?2 ORDER BY position",
        )?;
        let accounts: Vec<(String, i64)> = versions
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (account, version) in accounts {
            let Ok(jid) = BareJid::new(&account) else {
                continue;
            };
            let rows: Vec<Option<RosterEntry>> = items
                .query_map(params![account], |row| {
                    let Ok(contact) = BareJid::new(&row.get::<_, String>(0)?) else {
                        return Ok(None);
                    };
                    let mut item = RosterItem::new(contact);
                    item.name = row.get(1)?;
                    let subscription: String = row.get(2)?;
                    item.subscription =
                        Subscription::parse(Some(&subscription)).unwrap_or(Subscription::None);
                    item.ask = row.get(3)?;
                    item.approved = row.get(4)?;
                    let mut entry = RosterEntry::new(item);
                    entry.pending_in = row.get(5)?;
                    entry.listed = row.get(6)?;
                    Ok(Some(entry))
                })?
                .collect::<Result<_, _>>()?;
            let mut entries = Vec::new();
            for mut entry in rows.into_iter().flatten() {
                let contact = entry.item.jid.as_str().to_owned();
                entry.item.groups = groups
                    .query_map(params![account, contact], |row| row.get(0))?
                    .collect::<Result<_, _>>()?;
                entries.push(entry);
            }
            rosters.push(StoredRoster::new(
                jid,
                u64::try_from(version).unwrap_or(0),
                entries,
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
    ) -> Result<(), rusqlite::Error> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let (account, contact) = (account.as_str(), contact.as_str());
        tx.execute(
            "INSERT INTO rosters (account, version) VALUES (?1, ?2) \
             ON CONFLICT(account) DO UPDATE SET version = excluded.version",
            params![account, i64::try_from(version).unwrap_or(i64::MAX)],
        )?;
        tx.execute(
            "DELETE FROM roster_groups WHERE account = ?1 AND contact = ?2",
            params![account, contact],
        )?;
        match entry {
            None => {
                tx.execute(
                    "DELETE FROM roster_items WHERE account = ?1 AND contact = ?2",
                    params![account, contact],
                )?;
            }
            Some(entry) => {
                let item = &entry.item;
                tx.execute(
                    "INSERT OR REPLACE INTO roster_items \
                     (account, contact, name, subscription, ask, approved, pending_in, listed) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        account,
                        contact,
                        item.name,
                        item.subscription.as_str(),
                        item.ask,
                        item.approved,
                        entry.pending_in,
                        entry.listed
                    ],
                )?;
                for (position, group) in (0i64..).zip(&item.groups) {
                    tx.execute(
                        "INSERT INTO roster_groups (account, contact, position, name) \
                         VALUES (?1, ?2, ?3, ?4)",
                        params![account, contact, position, group],
                    )?;
                }
            }
        }
        tx.commit()
    }

    fn write_offline(
        &self,
        account: &BareJid,
        message: &OfflineMessage,
    ) -> Result<(), OfflineRefused> {
        let failed = |e: rusqlite::Error| OfflineRefused::Failed(e.to_string());
        let mut bytes = Vec::new();
        message
            .message
            .write_to(&mut bytes)
            .map_err(|e| OfflineRefused::Failed(e.to_string()))?;
        let mut db = self.db();
        let tx = db.transaction().map_err(failed)?;
        let (count, total): (i64, i64) = tx
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(xml)), 0) FROM offline WHERE account = ?1",
                params![account.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(failed)?;
        let (count, total) = (
            usize::try_from(count).unwrap_or(usize::MAX),
            usize::try_from(total).unwrap_or(usize::MAX),
        );
        if !self.quota.admits(count, total, bytes.len()) {
            return Err(OfflineRefused::QuotaExceeded);
        }
        tx.execute(
            "INSERT INTO offline (account, stamp, xml) VALUES (?1, ?2, ?3)",
            params![account.as_str(), message.stamp, bytes],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)
    }

    fn read_blocklists(&self) -> Result<Vec<(BareJid, Vec<String>)>, rusqlite::Error> {
        self.per_account(
            "SELECT account, jid FROM blocked ORDER BY account, jid",
            Some,
        )
    }

    /// Runs `sql`, which selects (account, value) ordered by account, and
    /// groups the values `read` accepts by account (rows of a name no
    /// account can have, or that `read` refuses, are skipped).
    fn per_account<V: rusqlite::types::FromSql, T>(
        &self,
        sql: &str,
        read: impl Fn(V) -> Option<T>,
    ) -> Result<Vec<(BareJid, Vec<T>)>, rusqlite::Error> {
        let db = self.db();
        let mut query = db.prepare(sql)?;
        let rows: Vec<(String, V)> = query
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut out: Vec<(BareJid, Vec<T>)> = Vec::new();
        for (account, value) in rows {
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
    ) -> Result<(), rusqlite::Error> {
        let mut db = self.db();
        let tx = db.transaction()?;
        tx.execute(
            "DELETE FROM blocked WHERE account = ?1",
            params![account.as_str()],
        )?;
        for jid in blocked {
            tx.execute(
                "INSERT OR IGNORE INTO blocked (account, jid) VALUES (?1, ?2)",
                params![account.as_str(), jid],
            )?;
        }
        tx.commit()
    }

    fn read_private(&self) -> Result<Vec<(BareJid, Vec<Element>)>, rusqlite::Error> {
        self.per_account(
            "SELECT account, xml FROM private ORDER BY account, ns, name",
            |bytes: Vec<u8>| Element::read_from(&bytes),
        )
    }

    fn read_offline(&self, account: &BareJid) -> Result<Vec<OfflineMessage>, rusqlite::Error> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let rows: Vec<(String, Vec<u8>)> = {
            let mut query =
                tx.prepare("SELECT stamp, xml FROM offline WHERE account = ?1 ORDER BY id")?;
            query
                .query_map(params![account.as_str()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?
                .collect::<Result<_, _>>()?
        };
        tx.execute(
            "DELETE FROM offline WHERE account = ?1",
            params![account.as_str()],
        )?;
        tx.commit()?;
        Ok(rows
            .into_iter()
            .filter_map(|(stamp, bytes)| {
                Element::read_from(&bytes).map(|message| OfflineMessage { message, stamp })
            })
            .collect())
    }
}

impl AccountStore for SqliteStore {
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
        let db = self.db();
        let names = db
            .prepare("SELECT name FROM accounts ORDER BY name")
            .and_then(|mut q| {
                q.query_map([], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            });
        names.unwrap_or_default()
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
        self.read_private().unwrap_or_default()
    }

    fn blocklists(&self) -> Vec<(BareJid, Vec<String>)> {
        self.read_blocklists().unwrap_or_default()
    }

    fn save_blocklist(&self, account: &BareJid, blocked: &[String]) {
        let _ = self.write_blocklist(account, blocked);
    }

    fn save_private(&self, account: &BareJid, element: &Element) {
        let mut bytes = Vec::new();
        if element.write_to(&mut bytes).is_err() {
            return;
        }
        let _ = self.db().execute(
            "INSERT OR REPLACE INTO private (account, ns, name, xml) VALUES (?1, ?2, ?3, ?4)",
            params![account.as_str(), element.ns(), element.name(), bytes],
        );
    }

    fn fast_tokens(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
    ) -> Vec<String> {
        let now = unix_seconds(SystemTime::now());
        let db = self.db();
        let tokens = db
            .prepare(
                "SELECT secret FROM fast_tokens WHERE account = ?1 AND user_agent = ?2 \
                 AND mechanism = ?3 AND expires > ?4 ORDER BY issued DESC",
            )
            .and_then(|mut q| {
                q.query_map(
                    params![account.as_str(), user_agent, mechanism.name(), now as i64],
                    |row| row.get(0),
                )?
                .collect::<Result<Vec<String>, _>>()
            });
        tokens.unwrap_or_default()
    }

    fn issue_fast_token(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
        replacing: Option<&str>,
    ) -> Option<FastToken> {
        let now = SystemTime::now();
        let minted = MintedToken::mint(now, DEFAULT_FAST_LIFETIME)?;
        let mut db = self.db();
        let tx = db.transaction().ok()?;
        // The newest and the one this login used stay; the rest go.
        tx.execute(
            "DELETE FROM fast_tokens WHERE account = ?1 AND user_agent = ?2 AND secret IS NOT ?3",
            params![account.as_str(), user_agent, replacing],
        )
        .ok()?;
        tx.execute(
            "INSERT INTO fast_tokens (account, user_agent, mechanism, secret, expires, issued) \
             VALUES (?1, ?2, ?3, ?4, ?5, \
             (SELECT COALESCE(MAX(issued), 0) + 1 FROM fast_tokens))",
            params![
                account.as_str(),
                user_agent,
                mechanism.name(),
                minted.secret,
                minted.expires as i64
            ],
        )
        .ok()?;
        tx.commit().ok()?;
        Some(minted.to_token())
    }

    fn revoke_fast_tokens(&self, account: &BareJid, user_agent: &str) {
        let _ = self.db().execute(
            "DELETE FROM fast_tokens WHERE account = ?1 AND user_agent = ?2",
            params![account.as_str(), user_agent],
        );
    }
}

impl ManageAccounts for SqliteStore {
    fn add_account(&self, name: &str, password: &str) -> Result<(), ManageError> {
        Ok(SqliteStore::add_account(self, name, password)?)
    }

    fn set_password(&self, name: &str, password: &str) -> Result<bool, ManageError> {
        Ok(SqliteStore::set_password(self, name, password)?)
    }

    fn remove_account(&self, name: &str) -> Result<bool, ManageError> {
        Ok(SqliteStore::remove_account(self, name)?)
    }
}
