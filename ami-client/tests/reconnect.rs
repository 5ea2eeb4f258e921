//! Disconnects: restart mid-stream, backoff, keepalive, waiting and
//! fail-fast callers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ami_client::ami_proto::{Action, Originate, OriginateTarget};
use ami_client::testkit::{FakeAsterisk, ReplayOptions, Reply, Restart, event, load_capture};
use ami_client::{Client, ClientError, ConnectionState, DisconnectReason, StreamItem};
use common::{capture, name, next, next_event, skip_boot};
use tokio::time::Instant;

fn originate() -> Action {
    Originate::new(
        "PJSIP/agent1001",
        OriginateTarget::Exten {
            context: "outbound".into(),
            exten: "+5511999990002".into(),
            priority: "1".into(),
        },
    )
    .build()
}

/// Records every state the client publishes.
fn record_states(client: &Client) -> Arc<std::sync::Mutex<Vec<ConnectionState>>> {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut rx = client.state();
    let out = seen.clone();
    tokio::spawn(async move {
        loop {
            out.lock().unwrap().push(rx.borrow_and_update().clone());
            if rx.changed().await.is_err() {
                break;
            }
        }
    });
    seen
}

/// The restart of `restart-during-call.server.ami`, against the fake:
/// events stream in, an Originate is in flight, Asterisk announces
/// `Shutdown` and drops the socket, refuses connections for a while, then
/// comes back with `Uptime: 0`.
#[tokio::test]
async fn server_restart_mid_stream() {
    let fake = FakeAsterisk::builder()
        .reply("Originate", Reply::Ignore)
        .start()
        .await
        .unwrap();
    let config = fake
        .client_config()
        .events("call,agent,system")
        .filter("!Event: VarSet")
        .filter_match("action(include),name(Hangup)", "")
        .build();
    let (client, mut events) = Client::connect(config).await.unwrap();
    skip_boot(&mut events).await;
    let states = record_states(&client);

    // A filter and an event mask added at run time are remembered too.
    client.send(Action::filter("Event: Cdr")).await.unwrap();
    client.send(Action::events("call,system")).await.unwrap();

    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move { client.send(originate()).await })
    };
    fake.wait_until(|f| !f.actions_named("Originate").is_empty())
        .await;

    let path = capture("restart-during-call.server.ami");
    let sent = fake.replay(&path, ReplayOptions::default()).await.unwrap();
    let expected = load_capture(&path, &ReplayOptions::default()).unwrap();
    assert_eq!(sent, expected.messages.len());
    // No Shutdown event from the fake: the capture ends with Asterisk's own.
    fake.restart(Restart::new().refusing_for(Duration::from_millis(200)))
        .await;

    // The in-flight Originate fails at once, saying it was written; it is
    // not retried.
    let err = in_flight.await.unwrap().unwrap_err();
    assert!(
        matches!(err, ClientError::ConnectionLost { written: true }),
        "{err:?}"
    );
    assert!(!err.is_retryable());

    // Every event before the restart arrives, ending with Shutdown.
    let mut before = Vec::new();
    loop {
        let e = next_event(&mut events).await;
        let done = e.is_event("Shutdown");
        before.push(e);
        if done {
            break;
        }
    }
    assert_eq!(before.len(), expected.event_count());

    // Then the Reconnected marker, after the login and all filters.
    match next(&mut events).await {
        StreamItem::Reconnected { version } => assert_eq!(version, "11.0.0"),
        other => panic!("expected Reconnected, got {other:?}"),
    }
    let second = fake.logins().last().unwrap().session;
    assert_ne!(second, fake.logins()[0].session);
    let resent: Vec<_> = fake
        .actions()
        .into_iter()
        .filter(|a| a.session == second)
        .collect();
    let names: Vec<_> = resent.iter().map(|a| a.name()).collect();
    assert_eq!(
        names[names.len() - 3..],
        ["Filter", "Filter", "Filter"],
        "{names:?}"
    );
    let filters: Vec<_> = resent
        .iter()
        .filter(|a| a.name() == "Filter")
        .map(|a| (a.get("Filter").unwrap_or_default(), a.get("MatchCriteria")))
        .collect();
    assert_eq!(
        filters,
        [
            ("!Event: VarSet".to_string(), None),
            (
                String::new(),
                Some("action(include),name(Hangup)".to_string())
            ),
            ("Event: Cdr".to_string(), None),
        ]
    );
    // The mask changed at run time is the one used on re-login.
    assert_eq!(
        fake.logins().last().unwrap().events.as_deref(),
        Some("call,system")
    );

    // The new session's events follow: FullyBooted with Uptime 0.
    let boot = next_event(&mut events).await;
    assert!(boot.is_event("FullyBooted"));
    assert_eq!(boot.get("Uptime").unwrap(), "0");
    fake.emit(&event("Newchannel", &[("Channel", "PJSIP/trunk-00000099")]))
        .await;
    let e = next_event(&mut events).await;
    assert_eq!(name(&e), "Newchannel");
    assert_eq!(e.get("Channel").unwrap(), "PJSIP/trunk-00000099");

    let states = states.lock().unwrap().clone();
    assert!(
        states.iter().any(|s| matches!(
            s,
            ConnectionState::Disconnected {
                reason: DisconnectReason::Shutdown { restart: true }
            }
        )),
        "{states:?}"
    );
    assert!(client.state().borrow().is_connected());
    client.close().await;
}

/// A closed socket without a Shutdown event is handled the same way.
#[tokio::test]
async fn closed_socket_fails_in_flight_and_reconnects() {
    let fake = FakeAsterisk::builder()
        .reply("Slow", Reply::Ignore)
        .start()
        .await
        .unwrap();
    let (client, mut events) = Client::connect(fake.client_config().build()).await.unwrap();
    skip_boot(&mut events).await;
    let slow = {
        let c = client.clone();
        tokio::spawn(async move { c.send(Action::new("Slow")).await })
    };
    fake.wait_until(|f| !f.actions_named("Slow").is_empty())
        .await;
    fake.close_all().await;
    let err = slow.await.unwrap().unwrap_err();
    assert!(
        matches!(err, ClientError::ConnectionLost { written: true }),
        "{err:?}"
    );
    assert!(matches!(
        next(&mut events).await,
        StreamItem::Reconnected { .. }
    ));
    client.send(Action::ping()).await.unwrap();
    client.close().await;
}

/// The reconnect schedule follows the backoff whatever the callers do:
/// eight tasks keep sending actions while the server refuses connections.
#[tokio::test(start_paused = true)]
async fn backoff_timing_holds_while_callers_keep_sending() {
    let fake = FakeAsterisk::start().await.unwrap();
    let min = Duration::from_millis(200);
    let max = Duration::from_secs(2);
    let config = fake.client_config().backoff(min, max).build();
    let (client, _events) = Client::connect(config).await.unwrap();

    fake.refuse_connections(true);
    fake.close_all().await;

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut callers = Vec::new();
    for _ in 0..8 {
        let (client, stop, sent) = (client.clone(), stop.clone(), sent.clone());
        callers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let r = client
                    .send_with_timeout(Action::ping(), Duration::from_millis(7))
                    .await;
                assert!(matches!(r, Err(ClientError::Timeout)), "{r:?}");
                sent.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    fake.wait_until(|f| f.connection_attempts().len() >= 9)
        .await;
    stop.store(true, Ordering::SeqCst);
    for c in callers {
        c.await.unwrap();
    }
    assert!(sent.load(Ordering::SeqCst) > 500, "callers were not busy");

    // attempts[0] is the first session; attempts[1..] are the retries.
    let at = fake.connection_attempts();
    let mut gaps = Vec::new();
    for n in 1..at.len() - 1 {
        let gap = at[n + 1] - at[n];
        let ceiling = (min * 2u32.pow(n as u32)).min(max);
        gaps.push(gap);
        assert!(
            gap >= ceiling.mul_f64(0.75),
            "retry {n}: {gap:?} < 0.75 × {ceiling:?} ({gaps:?})"
        );
        assert!(
            gap <= ceiling + Duration::from_millis(10),
            "retry {n}: {gap:?} > {ceiling:?} ({gaps:?})"
        );
    }
    // The first retry waited ~min after the session was lost.
    assert!(at[1] - at[0] >= min.mul_f64(0.75));

    // Back in service: the client recovers on its own.
    fake.refuse_connections(false);
    client.wait_connected().await.unwrap();
    client.send(Action::ping()).await.unwrap();
    client.close().await;
}

/// A server that stops answering (socket open, nothing read or written)
/// is detected by the keepalive within interval + deadline.
#[tokio::test(start_paused = true)]
async fn keepalive_detects_a_silent_server() {
    let fake = FakeAsterisk::builder()
        .reply("Slow", Reply::Ignore)
        .start()
        .await
        .unwrap();
    let interval = Duration::from_secs(5);
    let deadline = Duration::from_secs(2);
    let config = fake
        .client_config()
        .keepalive(interval, deadline)
        .action_timeout(Duration::from_secs(60))
        .build();
    let (client, mut events) = Client::connect(config).await.unwrap();
    skip_boot(&mut events).await;
    let states = record_states(&client);
    let connected_at = Instant::now();

    fake.stall().await;
    let in_flight = {
        let c = client.clone();
        tokio::spawn(async move { c.send(Action::ping()).await })
    };
    let err = in_flight.await.unwrap().unwrap_err();
    let detected = connected_at.elapsed();
    assert!(
        matches!(err, ClientError::ConnectionLost { written: true }),
        "{err:?}"
    );
    assert!(detected >= interval, "detected after {detected:?}");
    assert!(
        detected <= interval + deadline + Duration::from_millis(10),
        "detected after {detected:?}"
    );

    // It reconnects (new sessions are not stalled) and works again.
    assert!(matches!(
        next(&mut events).await,
        StreamItem::Reconnected { .. }
    ));
    client.send(Action::ping()).await.unwrap();
    let states = states.lock().unwrap().clone();
    assert!(
        states.iter().any(|s| matches!(
            s,
            ConnectionState::Disconnected {
                reason: DisconnectReason::KeepaliveTimeout
            }
        )),
        "{states:?}"
    );
    // The stalled server read nothing: the client alone found it dead.
    let first = fake.logins()[0].session;
    assert!(
        fake.actions()
            .iter()
            .all(|a| a.session != first || a.name() != "Ping")
    );
    drop(fake);
    client.close().await;
}

/// A busy connection keeps answering pings: the keepalive does not kill it.
#[tokio::test(start_paused = true)]
async fn keepalive_keeps_a_healthy_connection() {
    let fake = FakeAsterisk::start().await.unwrap();
    let config = fake
        .client_config()
        .keepalive(Duration::from_secs(1), Duration::from_millis(500))
        .build();
    let (client, _events) = Client::connect(config).await.unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(fake.actions_named("Ping").len() >= 25);
    assert_eq!(fake.connection_attempts().len(), 1);
    assert!(client.state().borrow().is_connected());
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn actions_sent_while_disconnected_wait_for_the_reconnect() {
    let fake = FakeAsterisk::start().await.unwrap();
    let config = fake
        .client_config()
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
        .build();
    let (client, _events) = Client::connect(config).await.unwrap();
    fake.restart(
        Restart::new()
            .with_shutdown_event()
            .refusing_for(Duration::from_millis(500)),
    )
    .await;
    let mut st = client.state();
    st.wait_for(|s| !s.is_connected()).await.unwrap();
    let start = Instant::now();
    let pong = client.send(Action::ping()).await.unwrap();
    assert_eq!(pong.get("Ping").unwrap(), "Pong");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(fake.logins().len(), 2);
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn fail_fast_when_disconnected() {
    let fake = FakeAsterisk::start().await.unwrap();
    let config = fake
        .client_config()
        .fail_fast_when_disconnected(true)
        .build();
    let (client, _events) = Client::connect(config).await.unwrap();
    fake.refuse_connections(true);
    fake.close_all().await;
    let mut st = client.state();
    st.wait_for(|s| !s.is_connected()).await.unwrap();
    let start = Instant::now();
    let err = client.send(Action::ping()).await.unwrap_err();
    assert!(matches!(err, ClientError::NotConnected), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(start.elapsed(), Duration::ZERO);
    client.close().await;
}

/// `written` tells apart actions that reached the socket from those still
/// queued in the client when the connection died: with the server stalled,
/// the socket buffers fill up, the keepalive declares the connection dead,
/// and the actions queued behind the full buffers are reported unsent.
#[tokio::test(start_paused = true)]
async fn connection_lost_says_which_actions_were_written() {
    const N: usize = 1_500;
    let fake = FakeAsterisk::start().await.unwrap();
    let config = fake
        .client_config()
        .keepalive(Duration::from_secs(5), Duration::from_secs(2))
        .action_timeout(Duration::from_secs(60))
        .build();
    let (client, _events) = Client::connect(config).await.unwrap();
    fake.stall().await;

    let blob = "x".repeat(32 * 1024);
    // join_all polls in order, so the actions are queued in index order.
    let results = futures::future::join_all((0..N).map(|i| {
        client.send(
            Action::new("UserEvent")
                .header("N", i.to_string())
                .header("Blob", blob.as_str()),
        )
    }))
    .await;
    let written: Vec<bool> = results
        .iter()
        .map(|r| match r {
            Err(ClientError::ConnectionLost { written }) => *written,
            other => panic!("expected ConnectionLost, got {other:?}"),
        })
        .collect();
    let k = written.iter().take_while(|w| **w).count();
    assert!(k > 0, "nothing was written before the buffers filled");
    assert!(
        k < N,
        "all {N} actions ({} MB) fit in the socket buffers",
        N * 32 / 1024
    );
    assert!(
        written[k..].iter().all(|w| !w),
        "written flags are not a prefix: {k}"
    );
    assert!(matches!(&results[N - 1], Err(e) if e.is_retryable()));
    drop(fake);
    client.close().await;
}
