//! A map keyed by a link's two domains (one of ours, a peer's), looked
//! up by `&str`s without building a key: links are found per stanza.

use std::collections::HashMap;

/// Values by (local domain, remote domain).
#[derive(Debug)]
pub(crate) struct PairMap<V> {
    by_local: HashMap<String, HashMap<String, V>>,
    len: usize,
}

impl<V> Default for PairMap<V> {
    fn default() -> Self {
        PairMap {
            by_local: HashMap::new(),
            len: 0,
        }
    }
}

impl<V> PairMap<V> {
    pub(crate) fn get(&self, local: &str, remote: &str) -> Option<&V> {
        self.by_local.get(local)?.get(remote)
    }

    pub(crate) fn get_mut(&mut self, local: &str, remote: &str) -> Option<&mut V> {
        self.by_local.get_mut(local)?.get_mut(remote)
    }

    pub(crate) fn contains(&self, local: &str, remote: &str) -> bool {
        self.get(local, remote).is_some()
    }

    pub(crate) fn insert(&mut self, local: &str, remote: &str, value: V) -> Option<V> {
        let remotes = match self.by_local.get_mut(local) {
            Some(remotes) => remotes,
            None => self.by_local.entry(local.to_owned()).or_default(),
        };
        let old = match remotes.get_mut(remote) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => remotes.insert(remote.to_owned(), value),
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// The value for the pair, inserted with `make` if missing.
    pub(crate) fn get_or_insert_with(
        &mut self,
        local: &str,
        remote: &str,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        // Two owned keys: this is for rare paths (dialback checks).
        let remotes = self.by_local.entry(local.to_owned()).or_default();
        if !remotes.contains_key(remote) {
            self.len += 1;
        }
        remotes.entry(remote.to_owned()).or_insert_with(make)
    }

    pub(crate) fn remove(&mut self, local: &str, remote: &str) -> Option<V> {
        let remotes = self.by_local.get_mut(local)?;
        let value = remotes.remove(remote)?;
        if remotes.is_empty() {
            self.by_local.remove(local);
        }
        self.len -= 1;
        Some(value)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every pair with its value, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str, &V)> {
        self.by_local.iter().flat_map(|(local, remotes)| {
            remotes
                .iter()
                .map(move |(remote, v)| (local.as_str(), remote.as_str(), v))
        })
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.by_local.values().flat_map(HashMap::values)
    }
}

#[cfg(test)]
mod tests {
    use super::PairMap;

    #[test]
    fn pairs_are_counted_and_emptied_locals_go() {
        let mut map = PairMap::default();
        assert_eq!(map.insert("a", "x", 1), None);
        assert_eq!(map.insert("a", "y", 2), None);
        assert_eq!(map.insert("b", "x", 3), None);
        assert_eq!(map.insert("a", "x", 4), Some(1));
        assert_eq!(map.len(), 3);
        assert_eq!(map.get("b", "x"), Some(&3));
        assert_eq!(map.get("x", "b"), None);
        assert_eq!(map.remove("b", "x"), Some(3));
        assert_eq!(map.remove("b", "x"), None);
        assert!(!map.by_local.contains_key("b"));
        *map.get_or_insert_with("c", "z", || 0) += 5;
        assert_eq!(map.get("c", "z"), Some(&5));
        let mut all: Vec<_> = map
            .iter()
            .map(|(l, r, v)| (l.to_owned(), r.to_owned(), *v))
            .collect();
        all.sort();
        assert_eq!(all.len(), map.len());
        assert_eq!(all[0], ("a".into(), "x".into(), 4));
    }
}
