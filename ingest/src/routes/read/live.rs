//! `GET /api/v1/live` (WebSocket): live tail of a selection.
//!
//! The subscriber names a selection (`service`, `query`, `profile_type`,
//! `focus`/`ignore`/`hide`; times do not apply) and optionally
//! `cursor=LSN` to resume after a write it saw. Text messages, JSON:
//!
//! - `{"type":"subscribed","cursor":N}` first: where the stream starts;
//! - `{"type":"update","cursor":N,…}` per write with matching rows (see
//!   [`LiveUpdate`]);
//! - `{"type":"lagged","missed":N,"cursor":N}` when the subscriber fell
//!   behind the live buffer (or resumed from a cursor older than it):
//!   `missed` writes (of any series) are gone, the stream goes on after;
//! - `{"type":"heartbeat","cursor":N}` when nothing matched for a while,
//!   so the client's cursor keeps up.
//!
//! Each subscriber holds only its cursor into the engine's live buffer
//! ([`flarego_storage::live`]): a slow one never slows ingest or holds
//! memory, it just misses writes. The task ends when the client goes.

use super::{Params, scope_of, selection};
use crate::auth::Permission;
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use flarego_query::read::live::{LiveFilter, LiveUpdate};
use flarego_storage::Lsn;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The subprotocol a browser asks for (it may add `bearer.<token>`).
const LIVE_PROTOCOL: &str = "flarego.live.v1";
/// Events read from the buffer at a time.
const BATCH: usize = 64;
/// A heartbeat goes out after this long without a message.
const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Out<'a> {
    Subscribed { cursor: u64 },
    Update(&'a LiveUpdate),
    Lagged { missed: u64, cursor: u64 },
    Heartbeat { cursor: u64 },
}

pub async fn live(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let principal = state.auth.authorize(&headers, Permission::Subscribe)?;
    state.ready()?;
    let scope = scope_of(&principal, &headers, &params)?;
    let sel = selection(&params, "")?;
    let filter = LiveFilter::new(scope, sel).map_err(super::read_error)?;
    let cursor = params
        .get("cursor")
        .map(|c| {
            c.parse::<u64>().map(Lsn).map_err(|_| {
                ApiError::BadRequest(format!(
                    "invalid parameter cursor: {c:?} is not a cursor (a whole number from a previous message)"
                ))
            })
        })
        .transpose()?;
    let guard = Subscriber::admit(&state)?;
    // Subscribers only listen: small read buffers, small messages in.
    Ok(ws
        .protocols([LIVE_PROTOCOL])
        .read_buffer_size(8 << 10)
        .max_message_size(64 << 10)
        .on_upgrade(move |socket| serve(socket, state, filter, cursor, guard)))
}

/// Counts a subscriber while it lives.
struct Subscriber(SharedState);

impl Subscriber {
    fn admit(state: &SharedState) -> Result<Self, ApiError> {
        let n = state
            .counters
            .live_subscribers
            .fetch_add(1, Ordering::Relaxed);
        let guard = Subscriber(state.clone());
        if n as usize >= state.max_live_subscribers {
            return Err(ApiError::Unavailable {
                message: format!(
                    "{n} live subscribers already, the limit max_live_subscribers = {}",
                    state.max_live_subscribers
                ),
                retry_after_secs: 5,
            });
        }
        Ok(guard)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.0
            .counters
            .live_subscribers
            .fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve(
    socket: WebSocket,
    state: SharedState,
    filter: LiveFilter,
    cursor: Option<Lsn>,
    _guard: Subscriber,
) {
    let Ok(ready) = state.ready() else { return };
    let engine = ready.engine.clone();
    let feed = engine.live();
    let mut newest = feed.watch();
    let mut cursor = cursor.unwrap_or_else(|| feed.newest());
    let (mut tx, mut rx) = socket.split();
    let send = |m: &Out<'_>| Message::Text(serde_json::to_string(m).unwrap_or_default().into());
    if tx
        .send(send(&Out::Subscribed { cursor: cursor.0 }))
        .await
        .is_err()
    {
        return;
    }
    let mut last_sent = tokio::time::Instant::now();
    loop {
        let read = feed.read_after(cursor, BATCH);
        if read.missed > 0 {
            cursor = Lsn(cursor.0 + read.missed);
            state
                .counters
                .live_missed
                .fetch_add(read.missed, Ordering::Relaxed);
            let lagged = Out::Lagged {
                missed: read.missed,
                cursor: cursor.0,
            };
            if tx.send(send(&lagged)).await.is_err() {
                return;
            }
            last_sent = tokio::time::Instant::now();
        }
        if read.events.is_empty() {
            tokio::select! {
                changed = newest.changed() => if changed.is_err() { return },
                msg = rx.next() => match msg {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => {}
                },
                _ = tokio::time::sleep_until(last_sent + HEARTBEAT) => {
                    if tx.send(send(&Out::Heartbeat { cursor: cursor.0 })).await.is_err() {
                        return;
                    }
                    last_sent = tokio::time::Instant::now();
                }
            }
            continue;
        }
        for event in read.events {
            // Inline: a write's rows are few and its stacks in memory;
            // handing each of many subscribers a thread would cost more.
            let update = filter.render(&engine, &event);
            cursor = event.lsn;
            match update {
                Ok(Some(u)) => {
                    if tx.send(send(&Out::Update(&u))).await.is_err() {
                        return;
                    }
                    state.counters.live_updates.fetch_add(1, Ordering::Relaxed);
                    last_sent = tokio::time::Instant::now();
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, lsn = event.lsn.0, "live update failed");
                }
            }
        }
        // Writes flow but none matched for a while: say where we are.
        if last_sent.elapsed() >= HEARTBEAT {
            if tx
                .send(send(&Out::Heartbeat { cursor: cursor.0 }))
                .await
                .is_err()
            {
                return;
            }
            last_sent = tokio::time::Instant::now();
        }
    }
}
