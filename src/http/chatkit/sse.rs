//! The ChatKit event stream on the wire: `data: {json}\n\n` per event, and an SSE comment
//! `: keep-alive` whenever the stream has been silent for the keep-alive interval.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use poem::{Body, Response};
use tokio::time::{Instant, Sleep};

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
    Response::builder()
        .content_type(EVENT_STREAM_CONTENT_TYPE)
        .header("Cache-Control", "no-cache")
        .header("X-Accel-Buffering", "no")
        .body(Body::from_bytes_stream(Frames::new(events, keep_alive)))
}

/// Most bytes of frames gathered into one chunk of the body (a chunk holds at least one frame).
const MAX_CHUNK: usize = 32 * 1024;

/// The body of an event stream: every event that is ready when the body is polled is written
/// as its `data:` frame(s) into one chunk (one write and one chunk header for a burst of
/// deltas instead of one each; the bytes on the wire are the same); when the stream has been
/// silent for the keep-alive interval, a `: keep-alive` comment instead, so proxies and
/// browsers keep the connection open. One timer per stream, reset only when it fires.
struct Frames {
    events: BoxStream<'static, TurnEvent>,
    keep_alive: Duration,
    /// Fires at the earliest moment a comment may be due.
    timer: Pin<Box<Sleep>>,
    /// When the last chunk (frames or comment) went out.
    last: Instant,
    ended: bool,
}

impl Frames {
    fn new(events: BoxStream<'static, TurnEvent>, keep_alive: Duration) -> Self {
        let now = Instant::now();
        Self {
            events,
            keep_alive,
            timer: Box::pin(tokio::time::sleep_until(now + keep_alive)),
            last: now,
            ended: false,
        }
    }
}

impl Stream for Frames {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let mut chunk = Vec::new();
        while chunk.len() < MAX_CHUNK {
            match this.events.poll_next_unpin(cx) {
                Poll::Ready(Some(event)) => {
                    for wire in to_wire(event) {
                        wire.write_sse(&mut chunk);
                    }
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if !chunk.is_empty() {
            this.last = Instant::now();
            return Poll::Ready(Some(Ok(chunk.into())));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        while this.timer.as_mut().poll(cx).is_ready() {
            let due = this.last + this.keep_alive;
            let now = Instant::now();
            if now >= due {
                this.last = now;
                this.timer.as_mut().reset(now + this.keep_alive);
                return Poll::Ready(Some(Ok(bytes::Bytes::from_static(KEEP_ALIVE))));
            }
            // Frames went out since the timer was set: wait for the rest of the interval.
            this.timer.as_mut().reset(due);
        }
        Poll::Pending
    }
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
