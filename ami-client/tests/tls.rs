//! AMI over TLS against the fake Asterisk (features `tls` + `testkit`).
//!
//! `tests/data/` holds a test-only CA and a `localhost`/`127.0.0.1` server
//! certificate signed by it (valid until 2126), and `selfsigned.*`, a PBX's
//! own certificate as `openssl req -x509 -newkey ec -pkeyopt
//! ec_paramgen_curve:P-256 -nodes -days 36500 -subj /CN=pbx.example -addext
//! subjectAltName=DNS:localhost,IP:127.0.0.1` makes it (CA:TRUE); the keys
//! protect nothing.
#![cfg(feature = "tls")]

mod common;

use std::sync::Arc;

use ami_client::ami_proto::Action;
// The re-export: no rustls dependency of our own to keep in step.
use ami_client::rustls;
use ami_client::testkit::FakeAsterisk;
use ami_client::{AuthMode, Client, ClientError, TlsConfig};
use common::LogCapture;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const CA: &[u8] = include_bytes!("data/ca.pem");
const CERT: &[u8] = include_bytes!("data/server.pem");
const KEY: &[u8] = include_bytes!("data/server.key");

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config() -> Arc<rustls::ServerConfig> {
    let cert = CertificateDer::from_pem_slice(CERT).unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    Arc::new(config)
}

fn client_tls(server_name: &str, trust_ca: bool) -> TlsConfig {
    let mut roots = rustls::RootCertStore::empty();
    if trust_ca {
        roots
            .add(CertificateDer::from_pem_slice(CA).unwrap())
            .unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConfig::new(Arc::new(config), server_name)
}

#[tokio::test]
async fn md5_login_and_actions_over_tls() {
    let fake = FakeAsterisk::builder()
        .tls(server_config())
        .start()
        .await
        .unwrap();
    let config = fake
        .client_config()
        .tls(client_tls("localhost", true))
        .build();
    let (client, mut events) = Client::connect(config).await.unwrap();
    assert_eq!(client.banner_version().as_deref(), Some("11.0.0"));
    assert!(events.next_event().await.unwrap().is_event("FullyBooted"));
    assert!(fake.logins()[0].md5 && fake.logins()[0].accepted);
    let pong = client.send(Action::ping()).await.unwrap();
    assert_eq!(pong.get("Ping").unwrap(), "Pong");

    // Reconnects over TLS too.
    fake.close_all().await;
    assert!(matches!(
        events.recv().await.unwrap(),
        ami_client::StreamItem::Reconnected { .. }
    ));
    assert_eq!(fake.logins().len(), 2);
    client.close().await;
    assert_eq!(fake.actions_named("Logoff").len(), 1);
}

/// Inside TLS too there is no fallback: a server refusing the challenge
/// fails the default login (the secret is not sent); an explicit plain
/// login then works, without the warning plain TCP gets.
#[tokio::test]
async fn plain_login_inside_tls_is_explicit_and_does_not_warn() {
    let fake = FakeAsterisk::builder()
        .md5(false)
        .tls(server_config())
        .start()
        .await
        .unwrap();
    let logs = LogCapture::default();
    let _guard = logs.install();
    let config = fake
        .client_config()
        .tls(client_tls("localhost", true))
        .build();
    let err = Client::connect(config).await.unwrap_err();
    assert!(err.is_challenge_refused(), "{err:?}");
    assert!(fake.actions_named("Login").is_empty());

    let config = fake
        .client_config()
        .auth(AuthMode::Plain)
        .tls(client_tls("localhost", true))
        .build();
    let (client, _events) = Client::connect(config).await.unwrap();
    let logins = fake.logins();
    assert!(logins.len() == 1 && !logins[0].md5 && logins[0].accepted);
    client.close().await;
    let warnings = logs.at(tracing::Level::WARN);
    assert!(
        !warnings.iter().any(|w| w.contains("plain login")),
        "{warnings:?}"
    );
    assert!(
        !logs.all().contains("bigchat-secret"),
        "the secret was logged"
    );
}

#[tokio::test]
async fn untrusted_certificate_is_a_tls_error() {
    let fake = FakeAsterisk::builder()
        .tls(server_config())
        .start()
        .await
        .unwrap();
    let config = fake
        .client_config()
        .tls(client_tls("localhost", false))
        .build();
    let err = Client::connect(config).await.unwrap_err();
    assert!(matches!(err, ClientError::Tls(_)), "{err:?}");
    assert!(err.is_tls() && !err.is_io() && !err.is_auth(), "{err:?}");
    assert!(fake.logins().is_empty());

    // Wrong name: the certificate is for localhost / 127.0.0.1 only.
    let config = fake
        .client_config()
        .tls(client_tls("pbx.example.com", true))
        .build();
    let err = Client::connect(config).await.unwrap_err();
    assert!(matches!(err, ClientError::Tls(_)), "{err:?}");
}

/// A PBX's own self-signed certificate, as `openssl req -x509` makes it
/// (CA:TRUE; `tests/data/selfsigned.*`): refused by chain verification even
/// when trusted as a root (`CaUsedAsEndEntity`), accepted when pinned by its
/// SHA-256 fingerprint, refused under another pin.
#[tokio::test]
async fn a_self_signed_certificate_is_trusted_by_its_pinned_fingerprint() {
    use ami_client::pin::Fingerprint;
    const SELF_CERT: &[u8] = include_bytes!("data/selfsigned.pem");
    const SELF_KEY: &[u8] = include_bytes!("data/selfsigned.key");
    let cert = CertificateDer::from_pem_slice(SELF_CERT).unwrap();
    let key = PrivateKeyDer::from_pem_slice(SELF_KEY).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let fake = FakeAsterisk::builder()
        .tls(Arc::new(server))
        .start()
        .await
        .unwrap();

    // Its own certificate as the root: still refused.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let chain = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let config = fake
        .client_config()
        .tls(TlsConfig::new(Arc::new(chain), "localhost"))
        .build();
    let err = Client::connect(config).await.unwrap_err();
    assert!(format!("{err:?}").contains("CaUsedAsEndEntity"), "{err:?}");

    // Pinned as `openssl x509 -noout -fingerprint -sha256` prints it.
    let pin = Fingerprint::parse(
        "sha256 Fingerprint=03:EF:61:35:A7:B7:39:A5:66:E2:E8:22:BA:CA:97:E8:\
         75:AC:0E:00:14:9F:FD:CF:B7:10:13:DF:F9:CD:60:25",
    )
    .unwrap();
    assert_eq!(Fingerprint::of(cert.as_ref()), pin);
    let config = fake
        .client_config()
        .tls(TlsConfig::pinned(pin, "pbx.example"))
        .build();
    let (client, _events) = Client::connect(config).await.unwrap();
    let pong = client.send(Action::ping()).await.unwrap();
    assert_eq!(pong.get("Ping").unwrap(), "Pong");
    client.close().await;

    // Another pin: refused, saying the fingerprint the PBX has.
    let other = Fingerprint::parse(&"ab".repeat(32)).unwrap();
    let config = fake
        .client_config()
        .tls(TlsConfig::pinned(other, "localhost"))
        .build();
    let err = Client::connect(config).await.unwrap_err();
    assert!(matches!(err, ClientError::Tls(_)), "{err:?}");
    assert!(err.to_string().contains(&pin.to_string()), "{err}");
}
