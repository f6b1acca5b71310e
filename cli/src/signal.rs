//! Stopping on Ctrl-C or SIGTERM, for every long-running command.

/// Ctrl-C or SIGTERM (what service managers send). The server needs no
/// flush on stop (acknowledged writes are in the WAL); the agent delivers
/// what it has queued for up to its drain timeout.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
