//! Connection storage: slots reused through a free list, each with a
//! generation so that a stale [`ConnId`] never reaches a newer connection.

use crate::ConnId;

pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The id the next [`Slab::insert`] will return.
    pub(crate) fn next_id(&self) -> ConnId {
        match self.free.last() {
            Some(&slot) => ConnId {
                slot,
                generation: self.slots.get(slot as usize).map_or(0, |s| s.generation),
            },
            None => ConnId {
                slot: u32::try_from(self.slots.len()).unwrap_or(u32::MAX),
                generation: 0,
            },
        }
    }

    pub(crate) fn insert(&mut self, value: T) -> ConnId {
        let id = self.next_id();
        match self.slots.get_mut(id.slot as usize) {
            Some(slot) => {
                self.free.pop();
                slot.value = Some(value);
            }
            None => self.slots.push(Slot {
                generation: 0,
                value: Some(value),
            }),
        }
        self.len += 1;
        id
    }

    pub(crate) fn get(&self, id: ConnId) -> Option<&T> {
        self.slots
            .get(id.slot as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.value.as_ref())
    }

    pub(crate) fn get_mut(&mut self, id: ConnId) -> Option<&mut T> {
        self.slots
            .get_mut(id.slot as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.value.as_mut())
    }

    /// The live id in `slot`, if any.
    pub(crate) fn id_at(&self, slot: u32) -> Option<ConnId> {
        let s = self.slots.get(slot as usize)?;
        s.value.as_ref().map(|_| ConnId {
            slot,
            generation: s.generation,
        })
    }

    pub(crate) fn remove(&mut self, id: ConnId) -> Option<T> {
        let slot = self
            .slots
            .get_mut(id.slot as usize)
            .filter(|s| s.generation == id.generation)?;
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.slot);
        self.len -= 1;
        Some(value)
    }

    pub(crate) fn ids(&self) -> Vec<ConnId> {
        (0..self.slots.len())
            .filter_map(|i| self.id_at(u32::try_from(i).ok()?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_ids_miss_reused_slots() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        assert_eq!(slab.remove(a), Some("a"));
        let b = slab.insert("b");
        assert_eq!(a.slot, b.slot);
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.len(), 1);
    }
}
