//! Actions: correlation under load, event lists, refusals, timeouts.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ami_client::ami_proto::{Action, Message};
use ami_client::testkit::{FakeAsterisk, ReplayOptions, Reply, event, load_capture, response};
use ami_client::{Client, ClientError, StreamItem};
use common::{capture, name, next_event, skip_boot};

/// 10,000 concurrent actions, each answered with its own number, while the
/// server interleaves an event before every reply and replays a capture
/// three times in the middle of it all. Every caller gets its own answer
/// and every event arrives, in order, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_actions_interleaved_with_events() {
    const N: usize = 10_000;
    const REPLAYS: usize = 3;
    let fake = FakeAsterisk::builder()
        .on_action(|a: &Message| {
            if a.action_name().is_some_and(|n| n == "Echo") {
                let n = a
                    .get("N")
                    .map(|v| v.to_str().into_owned())
                    .unwrap_or_default();
                Reply::Messages(vec![
                    event("VarSet", &[("Variable", "ECHO"), ("Value", &n)]),
                    response("Success", &[("N", &n)]),
                ])
            } else {
                Reply::Default
            }
        })
        .start()
        .await
        .unwrap();
    let config = fake.client_config().event_buffer(1_000_000).build();
    let (client, mut events) = Client::connect(config).await.unwrap();
    skip_boot(&mut events).await;

    let path = capture("queue-answered.server.ami");
    let replayed = load_capture(
        &path,
        &ReplayOptions {
            events_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    let capture_events: Vec<Message> = replayed
        .messages
        .iter()
        .map(|m| Message::parse(&m.bytes).unwrap())
        .collect();
    assert!(capture_events.len() > 100);

    let fake = Arc::new(fake);
    let mut callers = Vec::with_capacity(N);
    for i in 0..N {
        let client = client.clone();
        callers.push(tokio::spawn(async move {
            let r = client
                .send(Action::new("Echo").header("N", i.to_string()))
                .await?;
            Ok::<_, ClientError>((i, r))
        }));
    }
    let replayer = {
        let fake = fake.clone();
        let path = path.clone();
        tokio::spawn(async move {
            for _ in 0..REPLAYS {
                let opts = ReplayOptions {
                    events_only: true,
                    ..Default::default()
                };
                fake.replay(&path, opts).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    for c in callers {
        let (i, r) = c.await.unwrap().unwrap();
        assert_eq!(
            r.get("N").unwrap(),
            i.to_string().as_str(),
            "caller {i} got another answer"
        );
        assert!(
            r.action_id()
                .unwrap()
                .as_bytes()
                .starts_with(client.action_id_prefix().as_bytes())
        );
    }
    replayer.await.unwrap();
    // Everything the server wrote before this Ping's reply has been read.
    client.send(Action::ping()).await.unwrap();

    let mut echoes = vec![false; N];
    let mut replay_seen = Vec::new();
    while let Some(item) = events.try_recv() {
        let StreamItem::Event(e) = item else {
            panic!("unexpected marker {item:?}");
        };
        if e.is_event("VarSet") && e.get("Variable").is_some_and(|v| v == "ECHO") {
            let n: usize = e.get("Value").unwrap().parse().unwrap();
            assert!(!echoes[n], "echo event {n} twice");
            echoes[n] = true;
        } else {
            replay_seen.push(e);
        }
    }
    assert!(echoes.iter().all(|&e| e), "missing echo events");
    assert_eq!(replay_seen.len(), REPLAYS * capture_events.len());
    for (k, chunk) in replay_seen.chunks(capture_events.len()).enumerate() {
        assert_eq!(
            chunk,
            &capture_events[..],
            "replay {k} out of order or altered"
        );
    }
    assert_eq!(fake.actions_named("Echo").len(), N);
    client.close().await;
}

#[tokio::test]
async fn event_list_is_collected_and_kept_off_the_stream() {
    let items = vec![
        event(
            "CoreShowChannel",
            &[("Channel", "PJSIP/trunk-00000001"), ("Uniqueid", "1.1")],
        ),
        event(
            "CoreShowChannel",
            &[("Channel", "PJSIP/agent1001-00000002"), ("Uniqueid", "1.2")],
        ),
    ];
    let fake = FakeAsterisk::builder()
        .reply(
            "CoreShowChannels",
            Reply::list("CoreShowChannelsComplete", items.clone()),
        )
        .start()
        .await
        .unwrap();
    let (client, mut events) = Client::connect(fake.client_config().build()).await.unwrap();
    skip_boot(&mut events).await;

    let list = client
        .send_list(Action::core_show_channels())
        .await
        .unwrap();
    assert!(list.response.is_list_start());
    assert_eq!(list.items.len(), 2);
    assert_eq!(
        list.items[0].get("Channel").unwrap(),
        "PJSIP/trunk-00000001"
    );
    assert_eq!(list.items[1].get("Uniqueid").unwrap(), "1.2");
    let complete = list.complete.unwrap();
    assert!(complete.is_event("CoreShowChannelsComplete"));
    assert_eq!(complete.get("ListItems").unwrap(), "2");

    // Several lists at once, interleaved with ordinary events.
    let (a, b) = tokio::join!(
        client.send_list(Action::core_show_channels()),
        client.send_list(Action::core_show_channels())
    );
    assert_eq!(a.unwrap().items.len(), 2);
    assert_eq!(b.unwrap().items.len(), 2);

    // List items never reached the event stream; a later event is next.
    fake.emit(&event("Newchannel", &[("Channel", "PJSIP/x-1")]))
        .await;
    assert_eq!(name(&next_event(&mut events).await), "Newchannel");
    client.close().await;
}

#[tokio::test]
async fn real_capture_list_replies() {
    // The Status list as Asterisk 22 sent it (protocol-misc capture): the
    // ActionID is the *last* header of each item.
    let status_items = [event(
        "Status",
        &[
            ("Privilege", "Call"),
            ("Channel", "PJSIP/agent1001-00000001"),
            ("Uniqueid", "1795516000.1"),
        ],
    )];
    let fake = FakeAsterisk::builder()
        .on_action(move |a| {
            if a.action_name().is_some_and(|n| n.eq_ignore_case("Status")) {
                let id = a
                    .action_id()
                    .map(|v| v.to_str().into_owned())
                    .unwrap_or_default();
                let mut items: Vec<Message> = status_items
                    .iter()
                    .map(|e| {
                        let mut b = Message::builder();
                        for h in e.headers() {
                            b = b.header(h.name.as_bytes(), h.value.as_bytes());
                        }
                        b.header("ActionID", &id).build().unwrap()
                    })
                    .collect();
                items.push(event(
                    "StatusComplete",
                    &[
                        ("EventList", "Complete"),
                        ("ListItems", "1"),
                        ("Items", "1"),
                    ],
                ));
                let mut all = vec![response(
                    "Success",
                    &[
                        ("EventList", "start"),
                        ("Message", "Channel status will follow"),
                    ],
                )];
                all.extend(items);
                Reply::Messages(all)
            } else {
                Reply::Default
            }
        })
        .start()
        .await
        .unwrap();
    let (client, _events) = Client::connect(fake.client_config().build()).await.unwrap();
    let list = client.send_list(Action::status(None)).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(
        list.items[0].get("Channel").unwrap(),
        "PJSIP/agent1001-00000001"
    );
    assert_eq!(list.complete.unwrap().get("Items").unwrap(), "1");
    client.close().await;
}

/// Before Asterisk 13.2 some lists ended with a `…Complete` event without
/// `EventList: Complete`.
#[tokio::test]
async fn legacy_list_end_without_eventlist_header() {
    let fake = FakeAsterisk::builder()
        .reply(
            "QueueStatus",
            Reply::Messages(vec![
                response(
                    "Success",
                    &[
                        ("EventList", "start"),
                        ("Message", "Queue status will follow"),
                    ],
                ),
                event("QueueParams", &[("Queue", "support")]),
                event(
                    "QueueMember",
                    &[("Queue", "support"), ("Name", "Agent 1001")],
                ),
                event("QueueStatusComplete", &[]),
            ]),
        )
        .start()
        .await
        .unwrap();
    let (client, mut events) = Client::connect(fake.client_config().build()).await.unwrap();
    skip_boot(&mut events).await;
    let list = client.send_list(Action::queue_status(None)).await.unwrap();
    assert_eq!(list.items.len(), 2);
    assert!(list.complete.unwrap().is_event("QueueStatusComplete"));
    fake.emit(&event("Newchannel", &[])).await;
    assert_eq!(name(&next_event(&mut events).await), "Newchannel");
    client.close().await;
}

#[tokio::test]
async fn server_refusal_is_distinct_from_transport_errors() {
    let fake = FakeAsterisk::builder()
        .reply("Originate", Reply::error("Permission denied"))
        .start()
        .await
        .unwrap();
    let (client, _events) = Client::connect(fake.client_config().build()).await.unwrap();

    let err = client
        .send(Action::new("ThisDoesNotExist"))
        .await
        .unwrap_err();
    match &err {
        ClientError::ServerError { message, response } => {
            assert!(
                message.starts_with("Invalid/unknown command: ThisDoesNotExist"),
                "{message}"
            );
            assert_eq!(response.response().unwrap(), "Error");
        }
        other => panic!("expected ServerError, got {other:?}"),
    }
    assert!(err.is_server_error() && !err.is_connection_lost() && !err.is_retryable());

    let err = client
        .send_list(Action::new("Originate"))
        .await
        .unwrap_err();
    assert_eq!(
        err.response().unwrap().message_text().unwrap(),
        "Permission denied"
    );

    // An action that cannot be encoded never leaves the process.
    let err = client
        .send(Action::hangup("PJSIP/a-1\r\n\r\nAction: Originate", None))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Proto(_)), "{err:?}");
    assert!(fake.actions_named("Hangup").is_empty());

    // The connection is still fine.
    client.send(Action::ping()).await.unwrap();
    assert_eq!(fake.connection_attempts().len(), 1);
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn unanswered_action_times_out_and_the_late_reply_is_dropped() {
    let fake = FakeAsterisk::builder()
        .reply("Slow", Reply::Ignore)
        .start()
        .await
        .unwrap();
    let config = fake
        .client_config()
        .action_timeout(Duration::from_secs(3))
        .build();
    let (client, _events) = Client::connect(config).await.unwrap();

    let start = tokio::time::Instant::now();
    let err = client.send(Action::new("Slow")).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(start.elapsed() >= Duration::from_secs(3));

    let err = client
        .send_with_timeout(Action::new("Slow"), Duration::from_millis(10))
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let pong = client.send(Action::ping()).await.unwrap();
    assert_eq!(pong.get("Ping").unwrap(), "Pong");
    client.close().await;
}

#[tokio::test]
async fn originate_response_event_with_our_action_id_reaches_the_stream() {
    // OriginateResponse carries the Originate's ActionID but comes after
    // its response: it is an event like any other.
    let fake = FakeAsterisk::start().await.unwrap();
    fake.set_reply(
        "Originate",
        Reply::success(&[("Message", "Originate successfully queued")]),
    );
    let (client, mut events) = Client::connect(fake.client_config().build()).await.unwrap();
    skip_boot(&mut events).await;
    let r = client
        .send(
            ami_client::ami_proto::Originate::new(
                "PJSIP/agent1001",
                ami_client::ami_proto::OriginateTarget::Exten {
                    context: "outbound".into(),
                    exten: "+5511999990002".into(),
                    priority: "1".into(),
                },
            )
            .build(),
        )
        .await
        .unwrap();
    let id = r.action_id().unwrap().to_str().into_owned();
    fake.emit(&event(
        "OriginateResponse",
        &[("ActionID", &id), ("Response", "Success")],
    ))
    .await;
    let e = next_event(&mut events).await;
    assert!(e.is_event("OriginateResponse"));
    assert_eq!(e.action_id().unwrap(), id.as_str());
    client.close().await;
}
