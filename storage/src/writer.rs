//! The WAL writer thread: group commit, then apply in LSN order.
//!
//! It takes every write waiting in the channel (up to [`MAX_GROUP`] writes
//! or [`MAX_GROUP_BYTES`]), appends them as one batch, syncs once, applies
//! them to the hot tier and answers each. Applying here, in order, is what
//! lets the compactor say "every record up to LSN n is in this window".

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ids::Lsn;
use crate::prepare::PreparedWrite;
use crate::wal::Wal;
use std::sync::atomic::Ordering;
use tokio::sync::{mpsc, oneshot};

const MAX_GROUP: usize = 512;
const MAX_GROUP_BYTES: usize = 64 << 20;

pub(crate) enum WalCommand {
    Write {
        payload: Vec<u8>,
        prepared: PreparedWrite,
        reply: oneshot::Sender<Result<Option<Lsn>>>,
    },
    /// Delete segments whose records are all ≤ `through`; answers with
    /// the first LSN the WAL still holds.
    Release {
        through: Lsn,
        reply: oneshot::Sender<Lsn>,
    },
}

/// Starts the writer thread. If it ever panics, the engine is marked
/// failed ([`Engine::failed`]) and the server stops: writes would
/// otherwise wait forever.
pub(crate) fn spawn(engine: Engine, wal: Wal, rx: mpsc::Receiver<WalCommand>) -> Result<()> {
    let watch = engine.watcher();
    std::thread::Builder::new()
        .name("flarego-wal".into())
        .spawn(move || {
            let run = std::panic::AssertUnwindSafe(|| run(engine, wal, rx));
            if let Err(p) = std::panic::catch_unwind(run) {
                watch.fail(format!(
                    "the WAL writer thread panicked: {}",
                    crate::supervise::panic_text(&p)
                ));
            }
        })
        .map(|_| ())
        .map_err(|source| Error::WalIo {
            path: "flarego-wal thread".into(),
            source,
        })
}

fn run(engine: Engine, mut wal: Wal, mut rx: mpsc::Receiver<WalCommand>) {
    let mut writes = Vec::new();
    let mut releases = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut bytes = 0usize;
        let take = |cmd: WalCommand,
                    writes: &mut Vec<_>,
                    releases: &mut Vec<_>,
                    bytes: &mut usize| match cmd {
            WalCommand::Write {
                payload,
                prepared,
                reply,
            } => {
                *bytes += payload.len();
                writes.push((payload, prepared, reply));
            }
            WalCommand::Release { through, reply } => releases.push((through, reply)),
        };
        take(first, &mut writes, &mut releases, &mut bytes);
        while writes.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
            match rx.try_recv() {
                Ok(cmd) => take(cmd, &mut writes, &mut releases, &mut bytes),
                Err(_) => break,
            }
        }
        if !writes.is_empty() {
            commit(&engine, &mut wal, std::mem::take(&mut writes));
        }
        let stats = engine.stats();
        for (through, reply) in releases.drain(..) {
            match wal.release_through(through) {
                Ok(n) if n > 0 => {
                    tracing::debug!(through = through.0, segments = n, "WAL segments released")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot delete WAL segments"),
            }
            let _ = reply.send(wal.first_lsn());
        }
        stats
            .wal_disk_bytes
            .store(wal.total_bytes(), Ordering::Relaxed);
    }
    tracing::debug!("WAL writer stopped");
}

type PendingWrite = (Vec<u8>, PreparedWrite, oneshot::Sender<Result<Option<Lsn>>>);

fn commit(engine: &Engine, wal: &mut Wal, writes: Vec<PendingWrite>) {
    let stats = engine.stats();
    // Resends of numbered writes are answered without being logged: those
    // stored before, and later copies of one in this same group.
    let mut in_group = crate::sequences::SequenceMarks::default();
    let writes: Vec<PendingWrite> = writes
        .into_iter()
        .filter_map(|w| match &w.1.sequence {
            Some(seq) if engine.is_duplicate(seq) || in_group.is_duplicate(seq) => {
                let _ = w.2.send(Ok(None));
                None
            }
            Some(seq) => {
                in_group.advance(seq, 0);
                Some(w)
            }
            None => Some(w),
        })
        .collect();
    if writes.is_empty() {
        return;
    }
    let appended = wal.append_batch(writes.iter().map(|(p, _, _)| p.as_slice()));
    match appended {
        Ok(lsns) => {
            stats.wal_syncs.fetch_add(1, Ordering::Relaxed);
            for ((payload, prepared, reply), lsn) in writes.into_iter().zip(lsns) {
                stats.wal_records.fetch_add(1, Ordering::Relaxed);
                stats
                    .wal_bytes
                    .fetch_add(payload.len() as u64, Ordering::Relaxed);
                engine.apply(lsn, prepared, None);
                let _ = reply.send(Ok(Some(lsn)));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, writes = writes.len(), "WAL append failed; writes refused");
            let msg = e.to_string();
            for (_, _, reply) in writes {
                let _ = reply.send(Err(Error::WalAppend(msg.clone())));
            }
        }
    }
}
