//! A large burst read by a consumer that keeps up: nothing is lost.

mod common;

use std::time::Duration;

use ami_client::ami_proto::bytes::BytesMut;
use ami_client::testkit::{FakeAsterisk, ReplayOptions, load_capture};
use ami_client::{Client, StreamItem};
use common::{capture, skip_boot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_events_arrive_in_order() {
    let fake = std::sync::Arc::new(FakeAsterisk::start().await.unwrap());
    let config = fake.client_config().event_buffer(65_536).build();
    let (client, mut events) = Client::connect(config).await.unwrap();
    skip_boot(&mut events).await;

    let opts = ReplayOptions {
        events_only: true,
        ..Default::default()
    };
    let one = load_capture(&capture("queue-answered.server.ami"), &opts).unwrap();
    let mut blob = BytesMut::new();
    let mut n = 0u64;
    while n < 100_000 {
        for m in &one.messages {
            blob.extend_from_slice(&m.bytes);
            n += 1;
        }
    }
    let blob = blob.freeze();
    let writer = {
        let fake = fake.clone();
        tokio::spawn(async move { fake.emit_raw(blob).await })
    };
    let mut seen = 0u64;
    while seen < n {
        let item = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .unwrap_or_else(|_| panic!("stuck after {seen} of {n} events"))
            .expect("stream ended");
        match item {
            StreamItem::Event(_) => seen += 1,
            other => panic!("after {seen} events: {other:?}"),
        }
    }
    writer.await.unwrap();
    client
        .send(ami_client::ami_proto::Action::ping())
        .await
        .unwrap();
    assert!(events.try_recv().is_none());
    client.close().await;
}
