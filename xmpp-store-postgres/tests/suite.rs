//! The store suite (`xmpp-store-tests`) on a real PostgreSQL server, each
//! test in a schema of its own; and a connection the server drops.
//!
//! They need a server: `scripts/interop/postgres-up.sh` starts one and
//! writes its URL to `$XMPP_INTEROP_DIR/postgres/env`, and
//! `scripts/interop.sh` runs these with `--ignored`:
//!
//! ```text
//! bash scripts/interop/postgres-up.sh
//! . /tmp/xmpp-interop/postgres/env
//! XMPP_TEST_POSTGRES=$XMPP_TEST_POSTGRES cargo test -p xmpp-store-postgres -- --ignored
//! ```

use xmpp_proto::sasl::Iterations;
use xmpp_store_postgres::PostgresStore;
use xmpp_store_postgres::postgres::{self, Config, NoTls};
use xmpp_store_tests::Harness;
use xmpp_transport_std::serve::{AccountStore, ManageAccounts, OfflineQuota};

fn server_url() -> String {
    std::env::var("XMPP_TEST_POSTGRES").expect(
        "XMPP_TEST_POSTGRES is not set: start a server with scripts/interop/postgres-up.sh \
         and source the env file it writes",
    )
}

/// A schema of its own for one test, dropped with the harness.
struct Schema {
    name: String,
}

fn admin() -> postgres::Client {
    postgres::Client::connect(&server_url(), NoTls).expect("connecting to XMPP_TEST_POSTGRES")
}

fn fresh(test: &str) -> Schema {
    let name = format!("t_{test}");
    admin()
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
        ))
        .unwrap();
    Schema { name }
}

impl Schema {
    fn config(&self) -> Config {
        let mut config: Config = server_url().parse().unwrap();
        config
            .options(&format!("-c search_path={}", self.name))
            .application_name(&self.name);
        config
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = admin().batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

impl Harness for Schema {
    type Store = PostgresStore;

    fn open(&self, quota: OfflineQuota) -> PostgresStore {
        PostgresStore::with_config(self.config())
            .unwrap()
            .with_iterations(Iterations(4096))
            .with_offline_quota(quota)
    }
}

xmpp_store_tests::store_suite!(
    #[ignore = "needs PostgreSQL: scripts/interop/postgres-up.sh, then XMPP_TEST_POSTGRES"]
    fresh
);

/// The database server drops the store's connection (as a restart of
/// PostgreSQL does): the next operations run on a new one.
#[test]
#[ignore = "needs PostgreSQL: scripts/interop/postgres-up.sh, then XMPP_TEST_POSTGRES"]
fn a_dropped_connection_is_replaced() {
    let schema = fresh("dropped_connection");
    let store = schema.open(OfflineQuota::default());
    store.add_account("alice", "alice-secret").unwrap();
    let killed = admin()
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&schema.name],
        )
        .unwrap();
    assert_eq!(killed.len(), 1, "the store holds one connection");
    assert!(store.check_password("alice", "alice-secret"));
    ManageAccounts::add_account(&store, "bob", "bob-secret").unwrap();
    assert_eq!(store.account_names(), ["alice", "bob"]);
}

/// A connection string that is not one, and a server that refuses the
/// login, are errors from `connect`, not panics or hangs.
#[test]
#[ignore = "needs PostgreSQL: scripts/interop/postgres-up.sh, then XMPP_TEST_POSTGRES"]
fn bad_connection_strings_are_errors() {
    assert!(PostgresStore::connect("postgres://[not a host").is_err());
    let mut config: Config = server_url().parse().unwrap();
    config.password("wrong password");
    let refused = PostgresStore::with_config(config).unwrap_err();
    assert!(refused.to_string().contains("database"), "{refused}");
}
