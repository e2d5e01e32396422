//! `--db`: the store of the example servers and of the `accounts` tool,
//! an SQLite file or a PostgreSQL server. (Shared by the examples of both
//! transports; not an example of its own.)

use xmpp_store_postgres::PostgresStore;
use xmpp_store_sqlite::SqliteStore;
use xmpp_transport_std::serve::ManageAccounts;

/// Connects to PostgreSQL for a `postgres://` or `postgresql://` URL,
/// opens (or creates) an SQLite file for anything else.
pub(crate) fn open(spec: &str) -> Result<Box<dyn ManageAccounts>, String> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        // Not the URL in the message: it may carry a password.
        let store = PostgresStore::connect(spec).map_err(|e| format!("--db (PostgreSQL): {e}"))?;
        Ok(Box::new(store))
    } else {
        let store = SqliteStore::open(spec).map_err(|e| format!("--db {spec}: {e}"))?;
        Ok(Box::new(store))
    }
}
