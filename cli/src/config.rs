//! The configuration file, environment overrides and flags, resolved into
//! one [`Settings`].

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bigchat_voice::tracker::TrackerConfig;
use serde::Deserialize;

use crate::args::{Cli, ServerArgs};

/// Default AMI port.
pub const DEFAULT_AMI_PORT: u16 = 5038;
/// Default database when none is configured: a file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://bigchat-voice.db";
/// The configuration file read when `--config` is not given, if present.
pub const DEFAULT_CONFIG_FILE: &str = "bigchat-voice.toml";

/// Parses the configuration file. A mistake is said as `file:line:column:
/// what`, without the line itself: it may be the secret's.
pub fn parse_file(text: &str, path: &Path) -> anyhow::Result<FileConfig> {
    let mut file: FileConfig = toml::from_str(text).map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        crate::exit::coded(
            crate::exit::Code::Usage,
            format!(
                "invalid configuration file {}{at}: {}",
                path.display(),
                e.message().trim_end()
            ),
        )
    })?;
    // Whether `[tracker] companyId` was written (its default cannot tell).
    file.tracker_company_id = text
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("tracker")?.get("companyId")?.as_integer());
    Ok(file)
}

/// The TOML file, as written by the operator (see
/// `bigchat-voice.example.toml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// BigChat company of every call.
    pub company_id: Option<i64>,
    /// Database URL.
    pub database_url: Option<String>,
    /// Asterisk servers.
    #[serde(default, rename = "asterisk")]
    pub servers: Vec<ServerConfig>,
    /// Click-to-call settings.
    #[serde(default)]
    pub originate: OriginateConfig,
    /// Notification sinks.
    #[serde(default)]
    pub notify: NotifyConfig,
    /// `[journal]`.
    #[serde(default)]
    pub journal: JournalFileConfig,
    /// The HTTP endpoint of `listen` (health, readiness, metrics, control).
    #[serde(default)]
    pub api: ApiFileConfig,
    /// Transfers (CLI `transfer` and the control API).
    #[serde(default)]
    pub control: ControlFileConfig,
    /// Call tracking (trunks, contexts, agents, recordings).
    pub tracker: Option<TrackerConfig>,
    /// `[tracker] companyId` when the file sets it.
    #[serde(skip)]
    pub tracker_company_id: Option<i64>,
}

/// One Asterisk server.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Name shown in logs and stored in `Asterisks.name`.
    pub name: String,
    /// Host name or address.
    pub host: String,
    /// AMI port (5038; 5039 is the usual TLS port).
    #[serde(default = "default_port")]
    pub port: u16,
    /// AMI user.
    pub username: String,
    /// AMI secret (prefer `secret_file` or `BIGCHAT_VOICE_AMI_SECRET`).
    pub secret: Option<String>,
    /// File whose first line is the secret.
    pub secret_file: Option<PathBuf>,
    /// `md5` (the default: MD5 challenge, no fallback) or `plain` (the
    /// secret sent as is; use TLS). `auto` is a deprecated spelling of `md5`.
    #[serde(default = "default_auth")]
    pub auth: String,
    /// AMI over TLS.
    #[serde(default)]
    pub tls: bool,
    /// TLS: trust exactly the PBX certificate with this SHA-256 fingerprint
    /// (its own self-signed one; `openssl x509 -noout -fingerprint -sha256`
    /// prints it) instead of a CA.
    #[serde(default, rename = "tlsFingerprint")]
    pub tls_fingerprint: Option<String>,
    /// TLS: PEM file of the CA that signed the PBX's certificate (besides
    /// the system's; else `BIGCHAT_VOICE_AMI_CA_FILE`).
    #[serde(default, rename = "tlsCaFile")]
    pub tls_ca_file: Option<PathBuf>,
    /// Event classes to receive (`Events:` on login).
    pub events: Option<String>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("secret_file", &self.secret_file)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("tls_fingerprint", &self.tls_fingerprint)
            .field("tls_ca_file", &self.tls_ca_file)
            .finish()
    }
}

fn default_port() -> u16 {
    DEFAULT_AMI_PORT
}

fn default_auth() -> String {
    "md5".to_owned()
}

/// Click-to-call settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginateConfig {
    /// The agent's phone: `{ext}` is replaced by `--from`.
    pub channel: String,
    /// Dialplan context that dials the customer (with MixMonitor).
    pub context: String,
    /// Priority in that context.
    pub priority: String,
    /// Caller ID shown on the agent's phone: `{to}` is the customer number.
    pub caller_id: String,
}

impl OriginateConfig {
    /// As the library's control code takes it.
    pub fn dialplan(&self) -> bigchat_voice::control::OriginateDialplan {
        let mut d = bigchat_voice::control::OriginateDialplan::default();
        d.channel = self.channel.clone();
        d.context = self.context.clone();
        d.priority = self.priority.clone();
        d.caller_id = self.caller_id.clone();
        d
    }
}

impl Default for OriginateConfig {
    fn default() -> Self {
        OriginateConfig {
            channel: "PJSIP/{ext}".to_owned(),
            context: "outbound".to_owned(),
            priority: "1".to_owned(),
            caller_id: "\"Call {to}\" <{to}>".to_owned(),
        }
    }
}

/// `[journal]`: the durable journal of received frames (keys camelCase,
/// as `[tracker]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct JournalFileConfig {
    /// Keep a journal. Default true.
    pub enabled: bool,
    /// The directory (one sub-directory per PBX).
    pub dir: Option<PathBuf>,
    /// Most bytes per PBX. Default 1 GiB.
    pub max_bytes: u64,
    /// Longest time, in milliseconds, a received frame may wait before it
    /// is forced to disk (what a power loss can cost). 0: every frame.
    /// Default 200.
    pub sync_ms: u64,
}

impl Default for JournalFileConfig {
    fn default() -> Self {
        JournalFileConfig {
            enabled: true,
            dir: None,
            max_bytes: 1 << 30,
            sync_ms: 200,
        }
    }
}

/// `[api]`: the HTTP endpoint of `listen` (keys camelCase, as
/// `[journal]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct ApiFileConfig {
    /// Address to listen on, e.g. `127.0.0.1:8089` (`--api` wins).
    pub listen: Option<std::net::SocketAddr>,
    /// File holding the bearer token (its first line); else
    /// `BIGCHAT_VOICE_API_TOKEN`. This token may see and act on every call.
    pub token_file: Option<PathBuf>,
    /// Tokens scoped to a company, or to one user of it (`[[api.tokens]]`).
    pub tokens: Vec<ScopedTokenConfig>,
}

/// `[[api.tokens]]`: a bearer token that sees and acts on one company's
/// calls only — or, with `userId`, one user's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScopedTokenConfig {
    /// File holding the token (its first line).
    pub token_file: PathBuf,
    /// The BigChat company.
    pub company_id: i64,
    /// The BigChat user (`Users.id`), if the token is one agent's.
    pub user_id: Option<i64>,
}

/// `[control]`: where transfers go (keys camelCase).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct ControlFileConfig {
    /// Dialplan context a transfer target is dialled in (default: the
    /// agent channel's own context).
    pub transfer_context: Option<String>,
    /// PBX queue name → the extension that reaches it, for transfers to a
    /// queue, e.g. `{ support = "4000" }`.
    pub queue_extensions: std::collections::BTreeMap<String, String>,
}

impl ControlFileConfig {
    /// The extension a transfer dials: `extension`, or `queue`'s from
    /// `queueExtensions` (exactly one of them).
    pub fn target(&self, extension: Option<&str>, queue: Option<&str>) -> Result<String, String> {
        match (extension, queue) {
            (Some(e), None) => Ok(e.to_owned()),
            (None, Some(q)) => self.queue_extensions.get(q).cloned().ok_or_else(|| {
                format!(
                    "queue {q:?} is not in [control] queueExtensions (which extension reaches it?)"
                )
            }),
            _ => Err("name exactly one of an extension and a queue".to_owned()),
        }
    }
}

/// Notification sinks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Print notifications to stdout as JSON Lines.
    pub stdout: bool,
    /// Append them to this file as JSON Lines.
    pub file: Option<PathBuf>,
    /// POST them to this URL.
    pub webhook_url: Option<String>,
    /// File holding the webhook's HMAC secret (or `BIGCHAT_VOICE_WEBHOOK_SECRET`).
    pub webhook_secret_file: Option<PathBuf>,
}

/// A server with its secret resolved.
#[derive(Clone)]
pub struct Server {
    /// The configuration entry.
    pub config: ServerConfig,
    /// The secret (never logged).
    pub secret: String,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Everything resolved: file < environment < flags.
#[derive(Debug)]
pub struct Settings {
    /// Where the file came from, if any.
    pub config_path: Option<PathBuf>,
    /// BigChat company.
    pub company_id: i64,
    /// Database URL.
    pub database_url: String,
    /// File settings.
    pub file: FileConfig,
    /// Tracker settings (with `company_id` applied).
    pub tracker: TrackerConfig,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    /// Loads the file (if any) and applies environment and global flags.
    pub fn load(cli: &Cli) -> anyhow::Result<Settings> {
        let (path, text) = match &cli.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read configuration file {}", p.display()))?;
                (Some(p.clone()), Some(text))
            }
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                let p = PathBuf::from(DEFAULT_CONFIG_FILE);
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read configuration file {}", p.display()))?;
                (Some(p), Some(text))
            }
            None => (None, None),
        };
        let file: FileConfig = match (&path, text) {
            (Some(p), Some(text)) => parse_file(&text, p)?,
            _ => FileConfig::default(),
        };
        let company_id = match env("BIGCHAT_VOICE_COMPANY_ID") {
            Some(v) => v
                .parse()
                .with_context(|| format!("BIGCHAT_VOICE_COMPANY_ID={v:?} is not a number"))?,
            None => file.company_id.unwrap_or(1),
        };
        let database_url = cli
            .database_url
            .clone()
            .or_else(|| env("DATABASE_URL"))
            .or_else(|| file.database_url.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if let Some(other) = file.tracker_company_id
            && other != company_id
        {
            return Err(crate::exit::coded(
                crate::exit::Code::Usage,
                format!(
                    "[tracker] companyId = {other} but the daemon's company is {company_id} \
                     (company_id or BIGCHAT_VOICE_COMPANY_ID): every call belongs to that one; \
                     remove [tracker] companyId or make them agree"
                ),
            ));
        }
        let mut tracker = file.tracker.clone().unwrap_or_default();
        tracker.company_id = company_id;
        if let Some(base) = env("BIGCHAT_VOICE_RECORDING_BASE_URL") {
            tracker.recording.base_url = Some(base);
        }
        let mut names = std::collections::HashSet::new();
        for s in &file.servers {
            if !names.insert(s.name.as_str()) {
                bail!(
                    "configuration: two [[asterisk]] servers are named {:?}",
                    s.name
                );
            }
        }
        Ok(Settings {
            config_path: path,
            company_id,
            database_url,
            file,
            tracker,
        })
    }

    /// The `[tracker]` section read again from the configuration file (for
    /// SIGHUP), for the same company as at start.
    pub fn reread_tracker(&self) -> anyhow::Result<TrackerConfig> {
        let Some(path) = &self.config_path else {
            return Ok(self.tracker.clone());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        let file: FileConfig = parse_file(&text, path)?;
        let mut tracker = file.tracker.unwrap_or_default();
        tracker.company_id = self.company_id;
        Ok(tracker)
    }

    /// The servers selected by `args`: one given entirely by flags, or the
    /// file's (all, or the one named by `--server`). Flags override the
    /// selected file entry field by field.
    pub fn servers(&self, args: &ServerArgs) -> anyhow::Result<Vec<Server>> {
        self.select_servers(args)
            .map_err(|e| crate::exit::coded(crate::exit::Code::Usage, format!("{e:#}")))
    }

    fn select_servers(&self, args: &ServerArgs) -> anyhow::Result<Vec<Server>> {
        let mut selected: Vec<ServerConfig> = match &args.server {
            Some(name) => match self.file.servers.iter().find(|s| &s.name == name) {
                Some(s) => vec![s.clone()],
                None => bail!(
                    "no server named {name:?} in the configuration (known: {})",
                    self.file
                        .servers
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            None => self.file.servers.clone(),
        };
        if let Some(host) = &args.ami_host {
            if selected.len() > 1 {
                bail!(
                    "--ami-host given but the configuration has several servers; pick one with --server"
                );
            }
            match selected.first_mut() {
                Some(s) => s.host = host.clone(),
                None => selected.push(ServerConfig {
                    name: host.clone(),
                    host: host.clone(),
                    port: DEFAULT_AMI_PORT,
                    username: String::new(),
                    secret: None,
                    secret_file: None,
                    auth: default_auth(),
                    tls: false,
                    tls_fingerprint: None,
                    tls_ca_file: None,
                    events: None,
                }),
            }
        }
        if selected.is_empty() {
            bail!(
                "no Asterisk server configured: give --ami-host/--ami-username (secret in \
                 BIGCHAT_VOICE_AMI_SECRET) or add an [[asterisk]] section to the configuration file"
            );
        }
        let mut out = Vec::new();
        for mut s in selected {
            if let Some(p) = args.ami_port {
                s.port = p;
            }
            if let Some(u) = &args.ami_username {
                s.username = u.clone();
            }
            if let Some(f) = &args.ami_secret_file {
                s.secret_file = Some(f.clone());
            }
            if s.username.is_empty() {
                bail!(
                    "server {:?}: no AMI user name (--ami-username or username = …)",
                    s.name
                );
            }
            let secret = resolve_secret(&s)?;
            if s.auth == "auto" {
                tracing::warn!(
                    server = %s.name,
                    "auth = \"auto\" is deprecated and now means md5 (no plain fallback): \
                     write auth = \"md5\", or auth = \"plain\" for a PBX without the MD5 challenge"
                );
            }
            if !matches!(s.auth.as_str(), "auto" | "md5" | "plain") {
                bail!(
                    "server {:?}: auth must be md5 or plain, not {:?}",
                    s.name,
                    s.auth
                );
            }
            out.push(Server { config: s, secret });
        }
        Ok(out)
    }
}

fn resolve_secret(s: &ServerConfig) -> anyhow::Result<String> {
    if let Some(path) = &s.secret_file {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "server {:?}: cannot read secret file {}",
                s.name,
                path.display()
            )
        })?;
        return Ok(text.lines().next().unwrap_or("").to_owned());
    }
    if let Some(v) = env("BIGCHAT_VOICE_AMI_SECRET") {
        return Ok(v);
    }
    match &s.secret {
        Some(v) => Ok(v.clone()),
        None => bail!(
            "server {:?}: no AMI secret (set BIGCHAT_VOICE_AMI_SECRET, secret_file or secret)",
            s.name
        ),
    }
}

/// Parses `NAME=VALUE`.
pub fn parse_pair(s: &str, what: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => bail!("{what} must look like NAME=VALUE, got {s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mistake on the secret's line names the place, never the line.
    #[test]
    fn a_config_error_never_shows_the_secret() {
        let text = "[[asterisk]]\nname = \"pbx\"\nhost = \"h\"\nusername = \"u\"\nsecret = \"s3cr3t-value\nport = 5038\n";
        let err = parse_file(text, Path::new("voice.toml")).unwrap_err();
        let shown = format!("{err:#}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.starts_with("invalid configuration file voice.toml:5:"),
            "{shown}"
        );
        assert_eq!(crate::exit::code_for(&err), crate::exit::Code::Usage);
        let err = parse_file("companyId = 1\n", Path::new("v.toml")).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
        let file = parse_file(
            "company_id = 2\n[tracker]\ncompanyId = 5\n",
            Path::new("v.toml"),
        )
        .unwrap();
        assert_eq!(file.tracker_company_id, Some(5));
        let file = parse_file("company_id = 2\n[tracker]\n", Path::new("v.toml")).unwrap();
        assert_eq!(file.tracker_company_id, None);
    }
}
