//! Event delivery: order, back-pressure (Lagged), bad input from the server.

mod common;

use std::time::Duration;

use ami_client::ami_proto::{Action, Message};
use ami_client::testkit::{FakeAsterisk, ReplayOptions, event, load_capture};
use ami_client::{Client, StreamItem};
use common::{capture, name, next, next_event, skip_boot};

fn numbered(n: usize) -> Message {
    event("UserEvent", &[("UserEvent", "Seq"), ("N", &n.to_string())])
}

fn number(e: &Message) -> usize {
    e.get("N").unwrap().parse().unwrap()
}

/// A consumer that does not read: the reader keeps going (actions still
/// work), the buffer holds `event_buffer` events, the rest are counted,
/// and the stream reports exactly how many were missed, where.
#[tokio::test]
async fn slow_consumer_gets_lagged_with_the_exact_count() {
    let fake = FakeAsterisk::start().await.unwrap();
    let config = fake.client_config().event_buffer(16).build();
    let (client, mut events) = Client::connect(config).await.unwrap();
    skip_boot(&mut events).await;

    let burst: Vec<Message> = (1..=100).map(numbered).collect();
    fake.emit_all(&burst).await;
    // The reader is not blocked by the full buffer: this round trip works,
    // and once it returns every event before it has been read.
    client.send(Action::ping()).await.unwrap();

    for n in 1..=16 {
        assert_eq!(number(&next_event(&mut events).await), n);
    }
    assert_eq!(next(&mut events).await, StreamItem::Lagged { missed: 84 });
    assert!(events.try_recv().is_none());

    // Later events flow normally.
    let more: Vec<Message> = (101..=105).map(numbered).collect();
    fake.emit_all(&more).await;
    for n in 101..=105 {
        assert_eq!(number(&next_event(&mut events).await), n);
    }

    // A second overflow after partial reading: the gap is reported at its
    // place, between the last event kept and the next one that fit.
    let burst: Vec<Message> = (200..230).map(numbered).collect();
    fake.emit_all(&burst).await;
    client.send(Action::ping()).await.unwrap();
    for n in 200..216 {
        assert_eq!(number(&next_event(&mut events).await), n);
    }
    fake.emit(&numbered(300)).await;
    client.send(Action::ping()).await.unwrap();
    assert_eq!(next(&mut events).await, StreamItem::Lagged { missed: 14 });
    assert_eq!(number(&next_event(&mut events).await), 300);
    client.close().await;
}

/// The bound is exact: events the stream has already taken from the queue
/// (in a batch, not yet yielded) count against `event_buffer`. Having read
/// one event of a full buffer of 16 leaves room for exactly one more; it
/// used to leave room for 16 more (twice the buffer held).
#[tokio::test]
async fn event_buffer_bounds_the_events_held_including_the_taken_batch() {
    let fake = FakeAsterisk::start().await.unwrap();
    let config = fake.client_config().event_buffer(16).build();
    let (client, mut events) = Client::connect(config).await.unwrap();
    skip_boot(&mut events).await;

    let first: Vec<Message> = (1..=16).map(numbered).collect();
    fake.emit_all(&first).await;
    client.send(Action::ping()).await.unwrap();
    // Takes the whole batch of 16 into the stream, yields one.
    assert_eq!(number(&next_event(&mut events).await), 1);

    let burst: Vec<Message> = (17..=116).map(numbered).collect();
    fake.emit_all(&burst).await;
    client.send(Action::ping()).await.unwrap();
    for n in 2..=17 {
        assert_eq!(number(&next_event(&mut events).await), n);
    }
    assert_eq!(next(&mut events).await, StreamItem::Lagged { missed: 99 });
    assert!(events.try_recv().is_none());
    client.close().await;
}

/// A capture replayed at its recorded pace (paused clock: instant) arrives
/// whole and in order.
#[tokio::test(start_paused = true)]
async fn paced_replay_arrives_in_order() {
    let fake = FakeAsterisk::start().await.unwrap();
    let (client, mut events) = Client::connect(fake.client_config().build()).await.unwrap();
    skip_boot(&mut events).await;
    let path = capture("inbound-busy.server.ami");
    let opts = ReplayOptions {
        pace: Some(1.0),
        events_only: true,
    };
    let expected = load_capture(&path, &opts).unwrap();
    let start = tokio::time::Instant::now();
    let n = fake.replay(&path, opts).await.unwrap();
    let t = expected.messages.last().unwrap().t.unwrap() - expected.messages[0].t.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs_f64(t * 0.99),
        "not paced"
    );
    assert_eq!(n, expected.event_count());
    for m in &expected.messages {
        let e = next_event(&mut events).await;
        assert_eq!(&e, &Message::parse(&m.bytes).unwrap());
    }
    client.close().await;
}

#[tokio::test]
async fn garbage_does_not_kill_the_connection() {
    let fake = FakeAsterisk::start().await.unwrap();
    let (client, mut events) = Client::connect(fake.client_config().build()).await.unwrap();
    skip_boot(&mut events).await;

    fake.send_garbage().await;
    fake.emit(&numbered(1)).await;
    assert_eq!(number(&next_event(&mut events).await), 1);
    client.send(Action::ping()).await.unwrap();
    assert_eq!(
        fake.connection_attempts().len(),
        1,
        "the client reconnected"
    );
    assert!(client.state().borrow().is_connected());
    client.close().await;
}

#[tokio::test]
async fn over_long_message_is_skipped_and_the_connection_goes_on() {
    let fake = FakeAsterisk::start().await.unwrap();
    let config = fake.client_config().max_message_bytes(64 * 1024).build();
    let (client, mut events) = Client::connect(config).await.unwrap();
    skip_boot(&mut events).await;

    fake.emit(&numbered(1)).await;
    fake.send_oversized(1024 * 1024).await;
    fake.emit(&numbered(2)).await;
    assert_eq!(number(&next_event(&mut events).await), 1);
    assert_eq!(number(&next_event(&mut events).await), 2);
    client.send(Action::ping()).await.unwrap();
    assert_eq!(
        fake.connection_attempts().len(),
        1,
        "the client reconnected"
    );
    client.close().await;
}

#[tokio::test]
async fn close_mid_message_drops_the_fragment_and_reconnects() {
    let fake = FakeAsterisk::start().await.unwrap();
    let (client, mut events) = Client::connect(fake.client_config().build()).await.unwrap();
    skip_boot(&mut events).await;

    fake.close_mid_message().await;
    match next(&mut events).await {
        StreamItem::Reconnected { .. } => {}
        other => panic!("the half message leaked: {other:?}"),
    }
    assert!(next_event(&mut events).await.is_event("FullyBooted"));
    fake.emit(&numbered(7)).await;
    let e = next_event(&mut events).await;
    assert_eq!(name(&e), "UserEvent");
    assert_eq!(number(&e), 7);
    client.close().await;
}

#[tokio::test]
async fn events_action_sent_at_run_time_is_answered_and_kept() {
    let fake = FakeAsterisk::start().await.unwrap();
    let (client, _events) = Client::connect(fake.client_config().build()).await.unwrap();
    let r = client.send(Action::events("off")).await.unwrap();
    assert_eq!(r.get("Events").unwrap(), "Off");
    fake.close_all().await;
    fake.wait_until(|f| f.logins().len() == 2).await;
    assert_eq!(fake.logins()[0].events.as_deref(), Some("on"));
    assert_eq!(fake.logins()[1].events.as_deref(), Some("off"));
    client.close().await;
}
