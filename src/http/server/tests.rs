use tokio::io::AsyncWriteExt;

use super::*;

fn edge() -> HttpEdgeConfig {
    HttpEdgeConfig {
        header_read_timeout: Duration::from_secs(10),
        body_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(75),
        http2_max_concurrent_streams: 100,
        max_connections: None,
        hsts_max_age: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_reading_is_cut_after_the_idle_timeout_even_mid_response() {
    let activity = Activity::new();
    let (_client, server) = tokio::io::duplex(64);
    let mut socket = Tracked::new(server, activity.clone());
    let _in_flight = activity.start_request();
    let blocked =
        tokio::time::timeout(Duration::from_millis(10), socket.write_all(&[0; 1024])).await;
    assert!(
        blocked.is_err(),
        "the peer reads nothing, so the write waits"
    );
    assert_eq!(verdict(&activity, &edge(), Instant::now()), Verdict::Fine);
    tokio::time::advance(Duration::from_secs(76)).await;
    assert!(matches!(
        verdict(&activity, &edge(), Instant::now()),
        Verdict::Cut(_)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_silent_request_in_flight_is_never_idle_but_an_idle_connection_is() {
    let activity = Activity::new();
    let in_flight = activity.start_request();
    tokio::time::advance(Duration::from_secs(600)).await;
    assert_eq!(verdict(&activity, &edge(), Instant::now()), Verdict::Fine);
    drop(in_flight);
    tokio::time::advance(Duration::from_secs(76)).await;
    assert_eq!(verdict(&activity, &edge(), Instant::now()), Verdict::Idle);
}

#[test]
fn the_refusal_declares_the_length_of_its_json_body() {
    let text = std::str::from_utf8(REFUSAL).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let declared: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(declared, body.len());
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["error"]["code"], "too_many_connections");
}
