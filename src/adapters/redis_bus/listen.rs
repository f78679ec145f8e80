//! The listener task: keeps the dedicated connection subscribed and fans decoded purges out.

use std::time::Duration;

use fred::prelude::{Client, ClientLike, EventInterface, PubsubInterface};
use fred::types::Message;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::decode;
use crate::domain::ports::Invalidation;

/// Pause between subscription attempts when no new connection comes sooner.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Connects `client` and runs until the client quits (the bus was dropped).
pub(super) fn spawn(
    client: Client,
    channel: String,
    fanout: broadcast::Sender<Invalidation>,
    confirmed: watch::Sender<bool>,
) {
    // Both receivers exist before connecting, so the first connection's event is not missed.
    let messages = client.message_rx();
    let reconnects = client.reconnect_rx();
    drop(client.connect());
    tokio::spawn(run(
        client, channel, fanout, confirmed, messages, reconnects,
    ));
}

async fn run(
    client: Client,
    channel: String,
    fanout: broadcast::Sender<Invalidation>,
    confirmed: watch::Sender<bool>,
    mut messages: broadcast::Receiver<Message>,
    mut reconnects: broadcast::Receiver<fred::prelude::Server>,
) {
    loop {
        tokio::select! {
            event = reconnects.recv() => match event {
                // A lagged stream still means "connected again".
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    if !resubscribe(&client, &channel, &mut reconnects).await {
                        return;
                    }
                    // Purges announced while we were away are lost; drop everything rather
                    // than serve copies that were purged meanwhile.
                    if confirmed.send_replace(true) {
                        tracing::info!("purge subscription restored; purging every lesson");
                        let _ = fanout.send(Invalidation::All);
                    }
                }
                Err(RecvError::Closed) => return,
            },
            message = messages.recv() => match message {
                Ok(message) if *message.channel == *channel => deliver(&message, &fanout),
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "purge messages were dropped; purging every lesson");
                    let _ = fanout.send(Invalidation::All);
                }
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// Subscribes until Redis confirms; false only when the client was closed (the bus is gone).
async fn resubscribe(
    client: &Client,
    channel: &str,
    reconnects: &mut broadcast::Receiver<fred::prelude::Server>,
) -> bool {
    let mut failures = 0_u32;
    loop {
        match client.subscribe(channel).await {
            Ok(()) => return true,
            // Once is enough to tell; an outage would otherwise log on every retry.
            Err(e) if failures == 0 => {
                tracing::warn!(error = ?e.kind(), "subscribing to purge announcements failed; retrying");
            }
            Err(_) => {}
        }
        failures = failures.saturating_add(1);
        // A new connection is the best moment to retry; a pause covers a connection that stayed
        // up but refused.
        tokio::select! {
            event = reconnects.recv() => if matches!(event, Err(RecvError::Closed)) {
                return false;
            },
            () = tokio::time::sleep(RETRY_PAUSE) => {}
        }
    }
}

fn deliver(message: &Message, fanout: &broadcast::Sender<Invalidation>) {
    let Some(text) = message.value.as_str() else {
        tracing::warn!("skipping a purge message that is not text");
        return;
    };
    match decode(&text) {
        // No receiver yet is fine: nobody has anything to purge.
        Ok(purge) => drop(fanout.send(purge)),
        Err(e) => tracing::warn!(error = %e, "skipping a malformed purge message"),
    }
}
