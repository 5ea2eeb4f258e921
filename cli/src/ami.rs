//! Turning a configured server into a running AMI client.

use std::time::Duration;

use ami_client::{AuthMode, Client, ClientConfig, EventStream};

use crate::config::Server;

/// Client settings for `server`. `events` is the event mask to ask for.
pub fn client_config(server: &Server, events: Option<&str>) -> anyhow::Result<ClientConfig> {
    let c = &server.config;
    // `md5` (the default; the deprecated `auto` means it too) never falls
    // back to a plain login.
    let auth = match c.auth.as_str() {
        "plain" => AuthMode::Plain,
        _ => AuthMode::Md5,
    };
    let mut b = ClientConfig::builder(c.host.clone(), c.port)
        .name(c.name.clone())
        .username(c.username.clone())
        .secret(server.secret.clone())
        .auth(auth)
        .connect_timeout(Duration::from_secs(10))
        .action_timeout(Duration::from_secs(15))
        .keepalive(Duration::from_secs(20), Duration::from_secs(10))
        .backoff(Duration::from_millis(500), Duration::from_secs(30))
        .event_buffer(65_536);
    if let Some(mask) = events.or(c.events.as_deref()) {
        b = b.events(mask.to_owned());
    }
    if c.tls {
        b = b.tls(
            crate::tls::client_tls(c)
                .map_err(|e| crate::exit::coded(crate::exit::Code::Usage, format!("{e:#}")))?,
        );
    } else if c.tls_fingerprint.is_some() || c.tls_ca_file.is_some() {
        return Err(crate::exit::coded(
            crate::exit::Code::Usage,
            format!(
                "server {:?}: tlsFingerprint/tlsCaFile need tls = true",
                c.name
            ),
        ));
    }
    Ok(b.build())
}

/// Connects and logs in once (failing fast with a clear error), then keeps
/// the connection up in the background.
pub async fn connect(
    server: &Server,
    events: Option<&str>,
) -> anyhow::Result<(Client, EventStream)> {
    let config = client_config(server, events)?;
    let c = &server.config;
    Client::connect(config).await.map_err(|e| {
        let mut context = format!(
            "cannot log in to Asterisk {:?} at {}:{} as {:?}",
            c.name, c.host, c.port, c.username
        );
        if e.is_challenge_refused() {
            context.push_str(if c.tls {
                " (to allow a plain login, set auth = \"plain\" for this server)"
            } else {
                " (to allow a plain login, set auth = \"plain\" for this server, with tls = true: \
                 without TLS the secret crosses the network in clear)"
            });
        }
        anyhow::Error::new(e).context(context)
    })
}
