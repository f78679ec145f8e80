//! The ChatKit event stream on the wire: `data: {json}\n\n` per event, and an SSE comment
//! `: keep-alive` whenever the stream has been silent for the keep-alive interval.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use poem::{Body, Response};

use super::wire::{
    OutputText, StreamOptions, WireEvent, WireItem, WireItemBody, WirePage, WireThread, WireUpdate,
    datetime,
};
use crate::app::study::TurnEvent;

const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// The protocol events of one turn event (some map to two, hidden items to none).
pub fn to_wire(event: TurnEvent) -> Vec<WireEvent> {
    match event {
        TurnEvent::ThreadCreated(thread) => {
            vec![WireEvent::ThreadCreated {
                thread: WireThread::new(&thread, WirePage::empty()),
            }]
        }
        TurnEvent::ThreadUpdated(thread) => {
            vec![WireEvent::ThreadUpdated {
                thread: WireThread::new(&thread, WirePage::empty()),
            }]
        }
        TurnEvent::ItemDone(item) => WireItem::from_item(&item)
            .map(|item| WireEvent::ItemDone { item })
            .into_iter()
            .collect(),
        TurnEvent::StreamOptions => vec![WireEvent::StreamOptions {
            stream_options: StreamOptions { allow_cancel: true },
        }],
        TurnEvent::AssistantStarted {
            item_id,
            thread_id,
            created_at,
        } => vec![
            WireEvent::ItemAdded {
                item: WireItem {
                    id: item_id.clone(),
                    thread_id,
                    created_at: datetime(&created_at),
                    body: WireItemBody::AssistantMessage {
                        content: Vec::new(),
                    },
                },
            },
            WireEvent::ItemUpdated {
                item_id,
                update: WireUpdate::PartAdded {
                    content_index: 0,
                    content: OutputText::new(""),
                },
            },
        ],
        TurnEvent::AssistantDelta { item_id, delta } => {
            vec![WireEvent::ItemUpdated {
                item_id,
                update: WireUpdate::TextDelta {
                    content_index: 0,
                    delta,
                },
            }]
        }
        TurnEvent::AssistantDone(item) => {
            let mut events = Vec::new();
            if let Some(wire) = WireItem::from_item(&item) {
                if let WireItemBody::AssistantMessage { content } = &wire.body
                    && let Some(part) = content.first()
                {
                    events.push(WireEvent::ItemUpdated {
                        item_id: wire.id.clone(),
                        update: WireUpdate::PartDone {
                            content_index: 0,
                            content: part.clone(),
                        },
                    });
                }
                events.push(WireEvent::ItemDone { item: wire });
            }
            events
        }
        TurnEvent::Error {
            message,
            allow_retry,
        } => vec![WireEvent::Error {
            code: if message.is_some() {
                "custom"
            } else {
                "stream.error"
            },
            message,
            allow_retry,
        }],
    }
}

/// A `text/event-stream` response carrying `events`.
pub fn response(events: BoxStream<'static, TurnEvent>, keep_alive: Duration) -> Response {
    let frames = events
        .flat_map(|e| futures::stream::iter(to_wire(e)))
        .map(|e| e.to_sse())
        .boxed();
    // Between frames, wait at most `keep_alive`; a silent model then yields a comment instead, so
    // proxies and browsers keep the connection open.
    let body = futures::stream::unfold(Some(frames), move |state| async move {
        let mut frames = state?;
        match tokio::time::timeout(keep_alive, frames.next()).await {
            Ok(Some(frame)) => Some((Ok::<_, std::io::Error>(frame), Some(frames))),
            Ok(None) => None,
            Err(_) => Some((Ok(bytes::Bytes::from_static(KEEP_ALIVE)), Some(frames))),
        }
    });
    Response::builder()
        .content_type("text/event-stream; charset=utf-8")
        .header("Cache-Control", "no-cache")
        .header("X-Accel-Buffering", "no")
        .body(Body::from_bytes_stream(body))
}
