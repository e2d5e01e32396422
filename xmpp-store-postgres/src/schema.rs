//! The tables, created on first connection, and the store's secret.

use postgres::GenericClient;
use xmpp_proto::random::{OsRandom, RandomSource};
use xmpp_proto::sasl::ScramHash;

/// Every table; `IF NOT EXISTS` makes connecting to a set-up database a
/// no-op. Names are prepared (account localparts, bare JIDs) before they
/// get here. The same tables as the SQLite store, in PostgreSQL's types.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS xmpp_meta (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS xmpp_accounts (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS xmpp_scram_keys (
    account TEXT NOT NULL,
    hash INTEGER NOT NULL,
    salt BYTEA NOT NULL,
    iterations BIGINT NOT NULL,
    stored_key BYTEA NOT NULL,
    server_key BYTEA NOT NULL,
    PRIMARY KEY (account, hash)
);
CREATE TABLE IF NOT EXISTS xmpp_rosters (
    account TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS xmpp_roster_items (
    account TEXT NOT NULL,
    contact TEXT NOT NULL,
    name TEXT,
    subscription TEXT NOT NULL,
    ask BOOLEAN NOT NULL,
    approved BOOLEAN NOT NULL,
    pending_in BOOLEAN NOT NULL,
    listed BOOLEAN NOT NULL,
    PRIMARY KEY (account, contact)
);
CREATE TABLE IF NOT EXISTS xmpp_roster_groups (
    account TEXT NOT NULL,
    contact TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (account, contact, position)
);
CREATE TABLE IF NOT EXISTS xmpp_offline (
    id BIGSERIAL PRIMARY KEY,
    account TEXT NOT NULL,
    stamp TEXT NOT NULL,
    xml BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS xmpp_offline_by_account ON xmpp_offline (account, id);
CREATE TABLE IF NOT EXISTS xmpp_blocked (
    account TEXT NOT NULL,
    jid TEXT NOT NULL,
    PRIMARY KEY (account, jid)
);
CREATE TABLE IF NOT EXISTS xmpp_private (
    account TEXT NOT NULL,
    ns TEXT NOT NULL,
    name TEXT NOT NULL,
    xml BYTEA NOT NULL,
    PRIMARY KEY (account, ns, name)
);
CREATE TABLE IF NOT EXISTS xmpp_fast_tokens (
    account TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    secret TEXT NOT NULL,
    expires BIGINT NOT NULL,
    issued BIGSERIAL,
    PRIMARY KEY (account, user_agent, secret)
);
";

/// The tables that hold something of an account, each with an
/// `account` column (what removing an account clears).
pub(crate) const PER_ACCOUNT: [&str; 7] = [
    "xmpp_scram_keys",
    "xmpp_rosters",
    "xmpp_roster_items",
    "xmpp_roster_groups",
    "xmpp_offline",
    "xmpp_private",
    "xmpp_blocked",
];

/// Sets the tables up and returns the secret decoy credentials are
/// derived from, made on first connection and kept, so that an unknown
/// name gets the same decoy after a restart (and from every server
/// sharing the database).
pub(crate) fn set_up(db: &mut impl GenericClient) -> Result<[u8; 32], postgres::Error> {
    db.batch_execute(TABLES)?;
    let mut key = [0u8; 32];
    // Without randomness the key stays zero: decoys then hide less, but
    // logins still fail for unknown names.
    let _ = OsRandom.fill(&mut key);
    // Two servers starting at once both offer a key; the first one stays.
    db.execute(
        "INSERT INTO xmpp_meta (key, value) VALUES ('decoy_key', $1) ON CONFLICT (key) DO NOTHING",
        &[&key.as_slice()],
    )?;
    let row = db.query_one("SELECT value FROM xmpp_meta WHERE key = 'decoy_key'", &[])?;
    let stored: Vec<u8> = row.try_get(0)?;
    Ok(<[u8; 32]>::try_from(stored).unwrap_or(key))
}

/// How a hash function is written in `xmpp_scram_keys.hash`.
pub(crate) fn hash_id(hash: ScramHash) -> i32 {
    match hash {
        ScramHash::Sha1 => 1,
        ScramHash::Sha256 => 256,
        ScramHash::Sha512 => 512,
    }
}
