//! Background work that must never die silently: a panic in the compactor
//! is logged and counted and the next tick runs again; a failure nothing
//! can recover from (the WAL writer thread dying) is raised on a
//! [`FailureWatch`], which the server waits on to stop loudly.

use std::any::Any;
use std::sync::Arc;
use tokio::sync::watch;

/// The message a panic carried, if it carried text.
pub(crate) fn panic_text(p: &Box<dyn Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Raised once when the engine can no longer take writes.
#[derive(Debug, Clone)]
pub struct FailureWatch {
    tx: Arc<watch::Sender<Option<String>>>,
}

impl Default for FailureWatch {
    fn default() -> Self {
        FailureWatch {
            tx: Arc::new(watch::channel(None).0),
        }
    }
}

impl FailureWatch {
    /// Marks the engine failed, with why.
    pub fn fail(&self, why: String) {
        tracing::error!(reason = %why, "storage engine failed; the server must stop");
        self.tx.send_replace(Some(why));
    }

    /// Waits until [`FailureWatch::fail`] is called; returns why.
    pub async fn failed(&self) -> String {
        let mut rx = self.tx.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or_default(),
            // The sender lives as long as `self`, so this does not happen.
            Err(_) => std::future::pending().await,
        }
    }
}

/// Runs CPU-heavy or blocking work (decoding, Parquet encoding, fsync)
/// without stalling the async workers that answer acks: on a
/// multi-threaded runtime the current worker hands its other tasks to a
/// fresh one for the duration; elsewhere it just runs.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Runs deferrable CPU work (merging closed hours) on a thread of its own
/// at a lower scheduling priority (nice 10), so queries and ingest on the
/// same cores go first while it runs; a panic comes back as an error.
pub async fn background<R: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> crate::Result<R> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let failed = |reason: String| crate::Error::Background {
        what: what.to_string(),
        reason,
    };
    std::thread::Builder::new()
        .name("flarego-background".into())
        .spawn(move || {
            lower_priority();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r.map_err(|p| panic_text(&p)));
        })
        .map_err(|e| failed(e.to_string()))?;
    match rx.await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(panic)) => Err(failed(format!("panicked: {panic}"))),
        Err(_) => Err(failed("the thread ended without an answer".into())),
    }
}

/// Lowers the calling thread's priority (Linux: a thread's nice value is
/// its own). Best effort: without it the work just competes evenly.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread's own id.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
        let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, 10) };
    }
}
