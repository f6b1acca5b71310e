//! Exactly-once writes for numbered senders: the highest sequence number
//! stored per source (an agent, scoped by tenant).
//!
//! A sender numbers its writes 1, 2, 3… and delivers them in order, so a
//! write whose number is not above the source's mark is a resend and is
//! not stored again. Marks advance when a write is applied (live or on WAL
//! replay) and are saved in every manifest the compactor writes, before
//! the WAL segments that held those writes are deleted; so they survive a
//! restart whether the write is still in the WAL or already cold. Sources
//! silent for longer than the configured horizon are forgotten.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Identifies a numbered write: `seq` of `source`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sequenced {
    pub source: String,
    pub seq: u64,
}

/// The highest stored number of one source, and when it was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceMark {
    pub seq: u64,
    /// Wall time of the write that set the mark, ns since epoch.
    pub updated_ns: i64,
}

/// Marks of every source heard from within the horizon.
#[derive(Debug, Clone, Default)]
pub struct SequenceMarks {
    marks: HashMap<String, SequenceMark>,
}

impl SequenceMarks {
    pub fn from_saved(saved: &BTreeMap<String, SequenceMark>) -> Self {
        SequenceMarks {
            marks: saved.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }
    }

    /// Whether `w` was stored before.
    pub fn is_duplicate(&self, w: &Sequenced) -> bool {
        self.marks.get(&w.source).is_some_and(|m| w.seq <= m.seq)
    }

    /// Records that `w` is stored.
    pub fn advance(&mut self, w: &Sequenced, now_ns: i64) {
        let m = self.marks.entry(w.source.clone()).or_insert(SequenceMark {
            seq: 0,
            updated_ns: now_ns,
        });
        if w.seq > m.seq {
            m.seq = w.seq;
        }
        m.updated_ns = m.updated_ns.max(now_ns);
    }

    /// The marks to save, without sources silent since before `oldest_ns`.
    pub fn to_saved(&mut self, oldest_ns: i64) -> BTreeMap<String, SequenceMark> {
        self.marks.retain(|_, m| m.updated_ns >= oldest_ns);
        self.marks.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(source: &str, seq: u64) -> Sequenced {
        Sequenced {
            source: source.into(),
            seq,
        }
    }

    #[test]
    fn a_number_at_or_below_the_mark_is_a_resend() {
        let mut m = SequenceMarks::default();
        assert!(!m.is_duplicate(&w("a", 1)));
        m.advance(&w("a", 1), 10);
        m.advance(&w("a", 2), 11);
        assert!(m.is_duplicate(&w("a", 1)));
        assert!(m.is_duplicate(&w("a", 2)));
        assert!(!m.is_duplicate(&w("a", 3)));
        // Another source has its own numbering.
        assert!(!m.is_duplicate(&w("b", 1)));
        // A late lower number never lowers the mark.
        m.advance(&w("a", 1), 12);
        assert!(m.is_duplicate(&w("a", 2)));
    }

    #[test]
    fn saved_marks_drop_silent_sources_and_load_back() {
        let mut m = SequenceMarks::default();
        m.advance(&w("old", 5), 100);
        m.advance(&w("new", 7), 1_000);
        let saved = m.to_saved(500);
        assert_eq!(saved.keys().collect::<Vec<_>>(), ["new"]);
        let back = SequenceMarks::from_saved(&saved);
        assert!(back.is_duplicate(&w("new", 7)));
        assert!(!back.is_duplicate(&w("old", 5)));
    }
}
