//! A bounded memory of the Linkedids of calls that already ended, so that
//! events replayed after a reconnect do not start them again.

use std::collections::{HashSet, VecDeque};

use super::fast_hash::FastBuild;

/// Remembers the last `capacity` ended Linkedids (oldest forgotten first).
#[derive(Debug)]
pub(crate) struct RecentlyEnded {
    order: VecDeque<Box<str>>,
    set: HashSet<Box<str>, FastBuild>,
    capacity: usize,
}

impl RecentlyEnded {
    pub(crate) fn new(capacity: usize) -> Self {
        RecentlyEnded {
            order: VecDeque::with_capacity(capacity.min(1024)),
            set: HashSet::with_capacity_and_hasher(capacity.min(1024), FastBuild),
            capacity,
        }
    }

    pub(crate) fn contains(&self, linkedid: &str) -> bool {
        !self.set.is_empty() && self.set.contains(linkedid)
    }

    pub(crate) fn insert(&mut self, linkedid: Box<str>) {
        if self.capacity == 0 || self.set.contains(&linkedid) {
            return;
        }
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.set.insert(linkedid.clone());
        self.order.push_back(linkedid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded() {
        let mut r = RecentlyEnded::new(2);
        r.insert("a".into());
        r.insert("b".into());
        r.insert("b".into());
        assert!(r.contains("a") && r.contains("b"));
        r.insert("c".into());
        assert!(!r.contains("a"));
        assert!(r.contains("b") && r.contains("c"));
        assert_eq!(r.order.len(), 2);
    }
}
