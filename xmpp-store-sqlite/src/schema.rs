//! The tables, created on first open, and the store's secret.

use rusqlite::{Connection, OptionalExtension, params};
use xmpp_proto::random::{OsRandom, RandomSource};
use xmpp_proto::sasl::ScramHash;

/// Every table; `IF NOT EXISTS` makes opening an existing database a
/// no-op. Names are prepared (account localparts, bare JIDs) before they
/// get here.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS scram_keys (
    account TEXT NOT NULL,
    hash INTEGER NOT NULL,
    salt BLOB NOT NULL,
    iterations INTEGER NOT NULL,
    stored_key BLOB NOT NULL,
    server_key BLOB NOT NULL,
    PRIMARY KEY (account, hash)
);
CREATE TABLE IF NOT EXISTS rosters (
    account TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS roster_items (
    account TEXT NOT NULL,
    contact TEXT NOT NULL,
    name TEXT,
    subscription TEXT NOT NULL,
    ask INTEGER NOT NULL,
    approved INTEGER NOT NULL,
    pending_in INTEGER NOT NULL,
    listed INTEGER NOT NULL,
    PRIMARY KEY (account, contact)
);
CREATE TABLE IF NOT EXISTS roster_groups (
    account TEXT NOT NULL,
    contact TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (account, contact, position)
);
CREATE TABLE IF NOT EXISTS offline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    stamp TEXT NOT NULL,
    xml BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS offline_by_account ON offline (account, id);
CREATE TABLE IF NOT EXISTS blocked (
    account TEXT NOT NULL,
    jid TEXT NOT NULL,
    PRIMARY KEY (account, jid)
);
CREATE TABLE IF NOT EXISTS private (
    account TEXT NOT NULL,
    ns TEXT NOT NULL,
    name TEXT NOT NULL,
    xml BLOB NOT NULL,
    PRIMARY KEY (account, ns, name)
);
CREATE TABLE IF NOT EXISTS fast_tokens (
    account TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    secret TEXT NOT NULL,
    expires INTEGER NOT NULL,
    issued INTEGER NOT NULL,
    PRIMARY KEY (account, user_agent, secret)
);
";

/// Sets the database up (WAL journal, the tables) and returns the secret
/// decoy credentials are derived from, made on first open and kept, so
/// that an unknown name gets the same decoy after a restart.
pub(crate) fn set_up(db: &Connection) -> Result<[u8; 32], rusqlite::Error> {
    // WAL: readers do not block the writer, and a commit needs no fsync
    // of the main file; NORMAL is durable against a crash of the process.
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "NORMAL")?;
    db.execute_batch(TABLES)?;
    let stored: Option<Vec<u8>> = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'decoy_key'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(key) = stored.and_then(|k| <[u8; 32]>::try_from(k).ok()) {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    // Without randomness the key stays zero: decoys then hide less, but
    // logins still fail for unknown names.
    let _ = OsRandom.fill(&mut key);
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('decoy_key', ?1)",
        params![key.to_vec()],
    )?;
    Ok(key)
}

/// How a hash function is written in `scram_keys.hash`.
pub(crate) fn hash_id(hash: ScramHash) -> i64 {
    match hash {
        ScramHash::Sha1 => 1,
        ScramHash::Sha256 => 256,
        ScramHash::Sha512 => 512,
    }
}
