//! A bounded memory of recently seen event ids.

use std::collections::{HashSet, VecDeque};

/// Remembers the last `capacity` ids seen, to drop duplicate deliveries. Fixed capacity;
/// `insert` and `contains` are O(1); when full, the oldest id is forgotten.
///
/// A duplicate older than the window gets through again, so size the window for your
/// traffic and Teler's retry period, and keep handlers idempotent anyway. Memory is bounded
/// by `capacity` times the id length: ids longer than 256 bytes are not remembered
/// ([`insert`](Self::insert) answers `true` for them), so a flood of huge ids cannot grow it.
///
/// ```
/// use teler_core::webhook::Dedupe;
/// let mut seen = Dedupe::new(2);
/// assert!(seen.insert("evt_1"));  // new: process it
/// assert!(!seen.insert("evt_1")); // duplicate: skip
/// seen.insert("evt_2");
/// seen.insert("evt_3");           // full: evt_1 is forgotten
/// assert!(!seen.contains("evt_1"));
/// assert!(seen.contains("evt_3"));
/// ```
#[derive(Debug, Clone)]
pub struct Dedupe {
    capacity: usize,
    set: HashSet<String>,
    order: VecDeque<String>,
}

/// Longest id remembered.
const MAX_ID_LEN: usize = 256;

impl Dedupe {
    /// Remembers up to `capacity` ids (a capacity of 0 is taken as 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Dedupe {
            capacity,
            set: HashSet::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
        }
    }

    /// Records `id`; `true` if it was not already remembered (process the delivery),
    /// `false` if it was (a duplicate).
    ///
    /// Record an id once its delivery is handled: if handling fails and you answer non-2xx,
    /// Teler retries, and a recorded id would make you drop that retry.
    pub fn insert(&mut self, id: &str) -> bool {
        if id.len() > MAX_ID_LEN {
            return true;
        }
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.set.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }

    /// Whether `id` is remembered.
    pub fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The most ids remembered at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn evicts_oldest_and_zero_capacity() {
        let mut d = Dedupe::new(0);
        assert_eq!(d.capacity(), 1);
        assert!(d.insert("a"));
        assert!(!d.insert("a"));
        assert!(d.insert("b"));
        assert!(!d.contains("a"));
        assert!(d.insert("a"));
        assert_eq!(d.len(), 1);
        let long = "x".repeat(300);
        assert!(d.insert(&long));
        assert!(d.insert(&long));
        assert!(d.contains("a"));
    }

    proptest! {
        /// Against a model: a list of the last `cap` distinct ids.
        #[test]
        fn matches_model(cap in 1usize..6, ids in proptest::collection::vec(0u8..10, 0..60)) {
            let mut d = Dedupe::new(cap);
            let mut model: Vec<String> = Vec::new();
            for i in ids {
                let id = format!("evt_{i}");
                let expect_new = !model.contains(&id);
                prop_assert_eq!(d.insert(&id), expect_new);
                if expect_new {
                    if model.len() == cap { model.remove(0); }
                    model.push(id);
                }
                prop_assert_eq!(d.len(), model.len());
                prop_assert!(d.len() <= cap);
                for m in &model { prop_assert!(d.contains(m)); }
            }
        }
    }
}
