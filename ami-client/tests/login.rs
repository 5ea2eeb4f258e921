//! Connect and log in: MD5 (the default), explicit plain, a refused
//! challenge (no fallback), refused credentials.

mod common;

use std::time::Duration;

use ami_client::ami_proto::Action;
use ami_client::testkit::FakeAsterisk;
use ami_client::{
    AuthMode, Client, ClientConfig, ClientError, ConnectionState, DisconnectReason, StreamItem,
};
use common::{LogCapture, next, skip_boot};
use tracing::Level;

#[tokio::test]
async fn md5_login_sends_the_right_key_and_never_the_secret() {
    let fake = FakeAsterisk::start().await.unwrap();
    let config = fake
        .client_config()
        .auth(AuthMode::Md5)
        .events("call,system")
        .build();
    let (client, mut events) = Client::connect(config).await.unwrap();
    skip_boot(&mut events).await;

    assert_eq!(client.banner_version().as_deref(), Some("11.0.0"));
    assert!(client.state().borrow().is_connected());
    let logins = fake.logins();
    assert_eq!(logins.len(), 1);
    assert!(logins[0].md5 && logins[0].accepted, "{logins:?}");
    assert_eq!(logins[0].username, "bigchat");
    assert_eq!(logins[0].events.as_deref(), Some("call,system"));
    let actions = fake.actions();
    assert_eq!(actions[0].name(), "Challenge");
    assert_eq!(actions[0].get("AuthType").as_deref(), Some("MD5"));
    assert_eq!(actions[1].name(), "Login");
    assert_eq!(actions[1].get("Key").map(|k| k.len()), Some(32));
    assert!(actions.iter().all(|a| a.get("Secret").is_none()));

    let pong = client.send(Action::ping()).await.unwrap();
    assert_eq!(pong.get("Ping").unwrap(), "Pong");
    client.close().await;
}

#[tokio::test]
async fn plain_login() {
    let fake = FakeAsterisk::builder()
        .user("ops", "s3cr3t")
        .start()
        .await
        .unwrap();
    let config = fake.client_config().auth(AuthMode::Plain).build();
    let (client, _events) = Client::connect(config).await.unwrap();
    let logins = fake.logins();
    assert_eq!(logins.len(), 1);
    assert!(!logins[0].md5 && logins[0].accepted);
    assert_eq!(logins[0].username, "ops");
    assert!(fake.actions_named("Challenge").is_empty());
    assert_eq!(
        fake.actions_named("Login")[0].get("Secret").as_deref(),
        Some("s3cr3t")
    );
    client.close().await;
}

/// Without any `auth` setting the login is the MD5 challenge.
#[tokio::test]
async fn the_default_login_is_the_md5_challenge() {
    let fake = FakeAsterisk::start().await.unwrap();
    let (client, _events) = Client::connect(fake.client_config().build()).await.unwrap();
    let actions = fake.actions();
    assert_eq!(actions[0].name(), "Challenge");
    assert_eq!(actions[0].get("AuthType").as_deref(), Some("MD5"));
    assert_eq!(actions[1].name(), "Login");
    assert_eq!(actions[1].get("AuthType").as_deref(), Some("MD5"));
    assert!(actions.iter().all(|a| a.get("Secret").is_none()));
    let logins = fake.logins();
    assert!(logins[0].md5 && logins[0].accepted, "{logins:?}");
    client.close().await;
}

/// A server that refuses the MD5 challenge: under the default (and an
/// explicit `Md5`) the login fails with a typed error saying so and how
/// to allow a plain login; there is no fallback, so the secret is never
/// sent, neither by `connect` nor by a reconnecting client, whose waiting
/// actions get the same error.
#[tokio::test]
async fn a_refused_challenge_is_a_typed_error_and_the_secret_is_never_sent() {
    let fake = FakeAsterisk::builder().md5(false).start().await.unwrap();
    let logs = LogCapture::default();
    let _guard = logs.install();

    let err = Client::connect(fake.client_config().build())
        .await
        .unwrap_err();
    assert!(err.is_challenge_refused() && err.is_auth(), "{err:?}");
    assert!(
        matches!(&err, ClientError::ChallengeRefused { message } if message == "Must specify AuthType"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("refused the MD5 challenge"), "{text}");
    assert!(text.contains("AuthMode::Plain"), "{text}");
    let err = Client::connect(fake.client_config().auth(AuthMode::Md5).build())
        .await
        .unwrap_err();
    assert!(err.is_challenge_refused(), "{err:?}");

    let (client, _events) = Client::start(fake.client_config().build());
    let err = client.send(Action::ping()).await.unwrap_err();
    assert!(err.is_challenge_refused(), "{err:?}");
    fake.wait_until(|f| f.actions_named("Challenge").len() >= 5)
        .await;
    let state = client
        .state()
        .wait_for(|s| matches!(s, ConnectionState::Disconnected { .. }))
        .await
        .unwrap()
        .clone();
    assert!(
        matches!(
            &state,
            ConnectionState::Disconnected {
                reason: DisconnectReason::AuthFailed { message }
            } if message.contains("MD5 challenge")
        ),
        "{state:?}"
    );
    client.close().await;

    // What the server received: challenges only.
    assert!(fake.actions_named("Login").is_empty());
    assert!(fake.logins().is_empty());
    assert!(
        fake.actions()
            .iter()
            .all(|a| a.name() == "Challenge" && a.get("Secret").is_none()),
        "{:?}",
        fake.actions()
    );
    assert!(
        !logs.all().contains("bigchat-secret"),
        "the secret was logged"
    );
}

/// `AuthMode::Plain` logs in where the challenge is refused; without TLS
/// it warns once per client (not again on its reconnects) and never logs
/// the secret.
#[tokio::test]
async fn explicit_plain_login_works_and_warns_once_without_tls() {
    let fake = FakeAsterisk::builder()
        .md5(false)
        .user("ops", "s3cr3t-value")
        .start()
        .await
        .unwrap();
    let logs = LogCapture::default();
    let _guard = logs.install();
    let config = fake.client_config().auth(AuthMode::Plain).build();
    let (client, mut events) = Client::connect(config).await.unwrap();
    skip_boot(&mut events).await;
    assert!(fake.actions_named("Challenge").is_empty());
    fake.close_all().await;
    assert!(matches!(
        next(&mut events).await,
        StreamItem::Reconnected { .. }
    ));
    let logins = fake.logins();
    assert_eq!(logins.len(), 2);
    assert!(logins.iter().all(|l| !l.md5 && l.accepted), "{logins:?}");
    client.close().await;

    let warnings: Vec<String> = logs
        .at(Level::WARN)
        .into_iter()
        .filter(|w| w.contains("plain login"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("in clear"), "{warnings:?}");
    assert!(
        !logs.all().contains("s3cr3t-value"),
        "the secret was logged"
    );
}

#[tokio::test]
async fn wrong_secret_is_a_distinct_auth_error() {
    let fake = FakeAsterisk::start().await.unwrap();
    for mode in [AuthMode::Md5, AuthMode::Plain] {
        let config = fake.client_config().secret("wrong").auth(mode).build();
        let err = Client::connect(config).await.unwrap_err();
        match &err {
            ClientError::Auth { message } => assert_eq!(message, "Authentication failed"),
            other => panic!("expected Auth, got {other:?}"),
        }
        assert!(err.is_auth() && !err.is_retryable() && !err.is_connection_lost());
    }
    let logins = fake.logins();
    assert_eq!(logins.len(), 2);
    assert!(logins.iter().all(|l| !l.accepted));
    // The server closes refused sessions; nothing stays connected.
    fake.wait_until(|f| f.session_count() == 0).await;
}

#[tokio::test]
async fn connect_to_a_closed_port_is_an_io_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = ClientConfig::builder("127.0.0.1", port)
        .username("x")
        .build();
    let err = Client::connect(config).await.unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err:?}");
    assert!(err.is_io() && !err.is_tls(), "{err:?}");
}

/// Bad credentials are retried on the backoff schedule, not hammered, and
/// callers waiting for the connection get the Auth error.
#[tokio::test(start_paused = true)]
async fn refused_credentials_are_backed_off() {
    let fake = FakeAsterisk::start().await.unwrap();
    let min = Duration::from_millis(100);
    let max = Duration::from_millis(800);
    let config = fake
        .client_config()
        .secret("wrong")
        .backoff(min, max)
        .build();
    let (client, _events) = Client::start(config);

    let err = client.send(Action::ping()).await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");

    fake.wait_until(|f| f.logins().len() >= 6).await;
    let mut st = client.state();
    let state = st
        .wait_for(|s| matches!(s, ConnectionState::Disconnected { .. }))
        .await
        .unwrap()
        .clone();
    assert!(
        matches!(
            state,
            ConnectionState::Disconnected {
                reason: DisconnectReason::AuthFailed { .. }
            }
        ),
        "{state:?}"
    );
    let at = fake.connection_attempts();
    for (n, pair) in at.windows(2).take(5).enumerate() {
        let gap = pair[1] - pair[0];
        let ceiling = (min * 2u32.pow(n as u32)).min(max);
        assert!(
            gap >= ceiling.mul_f64(0.75),
            "attempt {n}: gap {gap:?} < 0.75 × {ceiling:?}"
        );
        assert!(
            gap <= ceiling + Duration::from_millis(60),
            "attempt {n}: gap {gap:?} > {ceiling:?}"
        );
    }
    client.close().await;
}

#[test]
fn debug_never_shows_the_secret() {
    let config = ClientConfig::builder("pbx", 5038)
        .username("bigchat")
        .secret("hunter2-very-secret")
        .build();
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"));
    let builder = format!("{:?}", ClientConfig::builder("pbx", 5038).secret("hunter2"));
    assert!(!builder.contains("hunter2"), "{builder}");
}

/// `connect` returns only once the client says it is connected and knows
/// the banner's version (it used to answer just before storing them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_returns_with_the_version_and_state_set() {
    let fake = FakeAsterisk::start().await.unwrap();
    for _ in 0..50 {
        let (client, _events) = Client::connect(fake.client_config().build()).await.unwrap();
        assert_eq!(client.banner_version().as_deref(), Some("11.0.0"));
        assert!(client.state().borrow().is_connected());
        client.close().await;
    }
}
