//! Shutdown: close() and dropping every handle leave nothing running.

mod common;

use ami_client::ami_proto::Action;
use ami_client::testkit::{FakeAsterisk, Reply};
use ami_client::{Client, ClientError, ConnectionState};
use common::skip_boot;

#[tokio::test]
async fn close_logs_off_fails_pending_and_ends_the_task() {
    let fake = FakeAsterisk::builder()
        .reply("Slow", Reply::Ignore)
        .start()
        .await
        .unwrap();
    let (client, mut events) = Client::connect(fake.client_config().build()).await.unwrap();
    skip_boot(&mut events).await;
    let mut state = client.state();

    let slow = {
        let c = client.clone();
        tokio::spawn(async move { c.send(Action::new("Slow")).await })
    };
    fake.wait_until(|f| !f.actions_named("Slow").is_empty())
        .await;

    client.close().await;
    // The task has ended (close() waits for it) and said so.
    assert!(client.is_closed());
    assert_eq!(*state.borrow_and_update(), ConnectionState::Closed);
    assert!(
        state.changed().await.is_err(),
        "the driver task still holds its state sender"
    );
    // Logoff was sent; the server answered Goodbye and the socket is gone.
    assert_eq!(fake.actions_named("Logoff").len(), 1);
    fake.wait_until(|f| f.session_count() == 0).await;
    // What was pending failed; nothing new is accepted; the stream ended.
    assert!(matches!(slow.await.unwrap(), Err(ClientError::Closed)));
    assert!(matches!(
        client.send(Action::ping()).await,
        Err(ClientError::Closed)
    ));
    assert!(events.recv().await.is_none());
    // Closing again, from a clone, is harmless.
    client.clone().close().await;
    assert_eq!(fake.connection_attempts().len(), 1);
}

#[tokio::test]
async fn replies_to_actions_sent_before_close_still_arrive() {
    let fake = FakeAsterisk::start().await.unwrap();
    let (client, _events) = Client::connect(fake.client_config().build()).await.unwrap();
    let ping = {
        let c = client.clone();
        tokio::spawn(async move { c.send(Action::ping()).await })
    };
    fake.wait_until(|f| !f.actions_named("Ping").is_empty())
        .await;
    client.close().await;
    assert_eq!(ping.await.unwrap().unwrap().get("Ping").unwrap(), "Pong");
}

#[tokio::test]
async fn dropping_every_handle_ends_the_task() {
    let fake = FakeAsterisk::start().await.unwrap();
    let (client, events) = Client::connect(fake.client_config().build()).await.unwrap();
    let mut state = client.state();
    let clone = client.clone();
    drop(client);
    drop(clone);
    // The event stream alone keeps the client alive…
    client_still_connected(&fake).await;
    assert!(state.borrow_and_update().is_connected());
    // …and dropping it too ends everything: Logoff, socket closed, task done.
    drop(events);
    while state.changed().await.is_ok() {}
    assert_eq!(*state.borrow(), ConnectionState::Closed);
    assert_eq!(fake.actions_named("Logoff").len(), 1);
    fake.wait_until(|f| f.session_count() == 0).await;
}

async fn client_still_connected(fake: &FakeAsterisk) {
    fake.emit(&ami_client::testkit::event("Noop", &[])).await;
    assert_eq!(fake.session_count(), 1);
}

#[tokio::test]
async fn close_while_reconnecting_returns_promptly() {
    let fake = FakeAsterisk::start().await.unwrap();
    let config = fake
        .client_config()
        .backoff(
            std::time::Duration::from_secs(3600),
            std::time::Duration::from_secs(3600),
        )
        .build();
    let (client, _events) = Client::connect(config).await.unwrap();
    fake.refuse_connections(true);
    fake.close_all().await;
    let mut st = client.state();
    st.wait_for(|s| matches!(s, ConnectionState::Disconnected { .. }))
        .await
        .unwrap();
    let waiting = {
        let c = client.clone();
        tokio::spawn(async move { c.send(Action::ping()).await })
    };
    tokio::task::yield_now().await;
    // Backoff is an hour: close() must not wait for it.
    tokio::time::timeout(std::time::Duration::from_secs(5), client.close())
        .await
        .expect("close() waited for the backoff");
    assert!(client.is_closed());
    assert!(matches!(waiting.await.unwrap(), Err(ClientError::Closed)));
}
