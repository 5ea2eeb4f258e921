//! Connects to an AMI server, prints its events and shows the client's
//! actions, event lists and reconnect marker.
//!
//! ```text
//! # Against the built-in fake Asterisk (no PBX needed): it replays a real
//! # capture at 20x speed, restarts once, and the program exits.
//! cargo run -p ami-client --features testkit --example client
//!
//! # Against a real Asterisk: print events until Ctrl-C.
//! AMI_HOST=127.0.0.1 AMI_PORT=5038 AMI_USER=bigchat AMI_SECRET=... \
//!     cargo run -p ami-client --features testkit --example client
//! ```
//!
//! Exit status: 0 on success, 1 if the client failed (e.g. 1 with
//! "authentication failed" for a wrong secret).

use std::process::ExitCode;
use std::time::Duration;

use ami_client::ami_proto::Action;
use ami_client::testkit::{FakeAsterisk, ReplayOptions, Reply, Restart, event};
use ami_client::{Client, ClientConfig, ClientError, EventStream, StreamItem};

#[tokio::main]
async fn main() -> ExitCode {
    let result = match std::env::var("AMI_HOST") {
        Ok(host) => real(host).await,
        Err(_) => demo().await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn describe(item: &StreamItem) -> String {
    match item {
        StreamItem::Event(e) => {
            let name = e
                .event_name()
                .map(|v| v.to_str().into_owned())
                .unwrap_or_default();
            let channel = e
                .get("Channel")
                .map(|v| v.to_str().into_owned())
                .unwrap_or_default();
            format!("event {name:<24} {channel}")
        }
        StreamItem::Lagged { missed } => format!("LAGGED: {missed} events missed, resync"),
        StreamItem::Reconnected { version } => format!("RECONNECTED (AMI {version}): resync"),
        other => format!("{other:?}"),
    }
}

/// Prints events from a real server until the stream ends or Ctrl-C.
async fn real(host: String) -> Result<(), ClientError> {
    let port = std::env::var("AMI_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5038);
    let config = ClientConfig::builder(host, port)
        .username(std::env::var("AMI_USER").unwrap_or_default())
        .secret(std::env::var("AMI_SECRET").unwrap_or_default())
        .events(std::env::var("AMI_EVENTS").unwrap_or_else(|_| "on".into()))
        .build();
    let (client, mut events) = Client::connect(config).await?;
    println!(
        "connected: AMI {}",
        client.banner_version().unwrap_or_default()
    );
    let channels = client.send_list(Action::core_show_channels()).await?;
    println!("{} channel(s) up", channels.items.len());
    loop {
        tokio::select! {
            item = events.recv() => match item {
                Some(item) => println!("{}", describe(&item)),
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    client.close().await;
    Ok(())
}

/// Runs against the fake server: a capture, a list action, a restart.
async fn demo() -> Result<(), ClientError> {
    let fake = FakeAsterisk::builder()
        .reply(
            "CoreShowChannels",
            Reply::list(
                "CoreShowChannelsComplete",
                vec![event(
                    "CoreShowChannel",
                    &[("Channel", "PJSIP/trunk-00000001")],
                )],
            ),
        )
        .start()
        .await?;
    println!("fake Asterisk on {}", fake.addr());
    let config = fake.client_config().filter("!Event: VarSet").build();
    println!("config: {config:?}");
    let (client, mut events) = Client::connect(config).await?;
    println!(
        "connected: AMI {}",
        client.banner_version().unwrap_or_default()
    );

    let pong = client.send(Action::ping()).await?;
    println!(
        "ping -> {}",
        pong.get("Ping").map(|v| v.to_string()).unwrap_or_default()
    );
    let channels = client.send_list(Action::core_show_channels()).await?;
    println!("{} channel(s) up", channels.items.len());
    match client.send(Action::new("NoSuchAction")).await {
        Err(ClientError::ServerError { message, .. }) => println!("refused as expected: {message}"),
        other => println!("unexpected: {other:?}"),
    }

    let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/captures/inbound-busy.server.ami");
    let opts = ReplayOptions {
        pace: Some(20.0),
        events_only: true,
    };
    let sent = fake.replay(&capture, opts).await?;
    println!("replayed {sent} events");
    fake.restart(
        Restart::new()
            .with_shutdown_event()
            .refusing_for(Duration::from_millis(300)),
    )
    .await;
    print_until_reconnected(&mut events).await;
    // The fake records filters but does not apply them (so VarSet showed up).
    println!(
        "filters received by the server: {} (one per login)",
        fake.actions_named("Filter").len()
    );
    fake.emit(&event(
        "Newchannel",
        &[("Channel", "PJSIP/after-restart-1")],
    ))
    .await;
    client.send(Action::ping()).await?; // everything before it has been read
    while let Some(item) = events.try_recv() {
        println!("{}", describe(&item));
    }
    client.close().await;
    println!("closed");
    Ok(())
}

async fn print_until_reconnected(events: &mut EventStream) {
    while let Some(item) = events.recv().await {
        println!("{}", describe(&item));
        if matches!(item, StreamItem::Reconnected { .. }) {
            break;
        }
    }
}
