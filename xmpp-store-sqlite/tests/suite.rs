//! The store suite (`xmpp-store-tests`) on SQLite files.

use std::path::PathBuf;

use xmpp_proto::sasl::Iterations;
use xmpp_store_sqlite::SqliteStore;
use xmpp_store_tests::Harness;
use xmpp_transport_std::serve::OfflineQuota;

/// A fresh database file for one test, removed when dropped.
struct TempDb(PathBuf);

fn fresh(test: &str) -> TempDb {
    let path = std::env::temp_dir().join(format!(
        "xmpp-store-sqlite-{}-{test}.db",
        std::process::id()
    ));
    let db = TempDb(path);
    db.clean();
    db
}

impl TempDb {
    fn clean(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.clean();
    }
}

impl Harness for TempDb {
    type Store = SqliteStore;

    fn open(&self, quota: OfflineQuota) -> SqliteStore {
        SqliteStore::open(&self.0)
            .unwrap()
            .with_iterations(Iterations(4096))
            .with_offline_quota(quota)
    }
}

xmpp_store_tests::store_suite!(fresh);
