//! The ChatKit event stream on the wire: `data: {json}\n\n` per event, and an SSE comment
//! `: keep-alive` whenever the stream has been silent for the keep-alive interval.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use poem::{Body, Response};

use super::wire::{
    ErrorCode, OutputText, StreamOptions, WireEvent, WireItem, WireItemBody, WirePage, WireThread,
    WireUpdate, datetime,
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
                    for (n, annotation) in part.annotations.iter().enumerate() {
                        events.push(WireEvent::ItemUpdated {
                            item_id: wire.id.clone(),
                            update: WireUpdate::AnnotationAdded {
                                content_index: 0,
                                annotation_index: u32::try_from(n).unwrap_or(u32::MAX),
                                annotation: annotation.clone(),
                            },
                        });
                    }
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
                ErrorCode::Custom
            } else {
                ErrorCode::StreamError
            },
            message,
            allow_retry,
        }],
    }
}

/// `Content-Type` of every server-sent event stream of the service (`/chatkit` and the REST
/// mirror's `sendMessage`): the events are JSON, always UTF-8, and saying so keeps clients
/// from guessing.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "text/event-stream; charset=utf-8";

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
        .content_type(EVENT_STREAM_CONTENT_TYPE)
        .header("Cache-Control", "no-cache")
        .header("X-Accel-Buffering", "no")
        .body(Body::from_bytes_stream(body))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_silent_stream_gets_keep_alive_comments_between_events() {
        // Arrange: one event, then a model that says nothing.
        let events = futures::stream::iter(vec![TurnEvent::StreamOptions])
            .chain(futures::stream::pending())
            .boxed();
        // Act
        let resp = response(events, Duration::from_millis(20));
        let mut body = resp.into_body().into_bytes_stream();
        let first = body.next().await.unwrap().unwrap();
        let second = body.next().await.unwrap().unwrap();
        let third = body.next().await.unwrap().unwrap();
        // Assert
        assert_eq!(
            &first[..],
            b"data: {\"type\":\"stream_options\",\"stream_options\":{\"allow_cancel\":true}}\n\n"
        );
        assert_eq!(&second[..], b": keep-alive\n\n");
        assert_eq!(&third[..], b": keep-alive\n\n");
    }

    #[test]
    fn errors_with_a_message_are_custom_and_others_stream_errors() {
        let custom = to_wire(TurnEvent::Error {
            message: Some("gone".into()),
            allow_retry: false,
        });
        let plain = to_wire(TurnEvent::Error {
            message: None,
            allow_retry: true,
        });
        assert_eq!(&custom[0].to_sse()[..], b"data: {\"type\":\"error\",\"code\":\"custom\",\"message\":\"gone\",\"allow_retry\":false}\n\n");
        assert_eq!(
            &plain[0].to_sse()[..],
            b"data: {\"type\":\"error\",\"code\":\"stream.error\",\"allow_retry\":true}\n\n"
        );
    }
}
