//! The configuration file, environment overrides and flags, resolved into
//! one [`Settings`].

use std::path::{Path, PathBuf};

use anyhow::bail;
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
/// what`, without the line itself: it may be the secret's. Keys are
/// camelCase; a key in the earlier snake_case spelling is refused with its
/// new name, and settings that would silently shadow one another are
/// refused (see [`conflicts`]).
pub fn parse_file(text: &str, path: &Path) -> anyhow::Result<FileConfig> {
    let usage = |what: String| {
        crate::exit::coded(
            crate::exit::Code::Usage,
            format!("invalid configuration file {}{what}", path.display()),
        )
    };
    let at = |span: Option<std::ops::Range<usize>>| {
        span.map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(":{line}:{column}")
        })
        .unwrap_or_default()
    };
    // The message itself may quote the value (`invalid type: integer
    // `1234`, expected a string`): not on a secret's line.
    let what = |e: &toml::de::Error| {
        let line = e.span().map(|span| {
            let start = text[..span.start.min(text.len())]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            text[start..]
                .lines()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        });
        let key = line
            .as_deref()
            .and_then(|l| l.split('=').next())
            .unwrap_or("");
        if ["secret", "token", "password"]
            .iter()
            .any(|w| key.contains(w))
        {
            "invalid value (not shown: this line holds a secret)".to_owned()
        } else {
            e.message().trim_end().to_owned()
        }
    };
    let table: toml::Table = toml::from_str(text)
        .map_err(|e: toml::de::Error| usage(format!("{}: {}", at(e.span()), what(&e))))?;
    if let Some(problem) = old_spelling(&table, "") {
        return Err(usage(format!(": {problem}")));
    }
    let mut file: FileConfig = toml::from_str(text)
        .map_err(|e: toml::de::Error| usage(format!("{}: {}", at(e.span()), what(&e))))?;
    if let Some(problem) = conflicts(&table).into_iter().next() {
        return Err(usage(format!(": {problem}")));
    }
    // Whether `[tracker] companyId` was written (its default cannot tell).
    file.tracker_company_id = table
        .get("tracker")
        .and_then(|t| t.get("companyId")?.as_integer());
    Ok(file)
}

/// Tables whose keys are the operator's data (extensions, queue names),
/// not configuration keys.
const DATA_TABLES: [&str; 3] = ["tracker.users", "tracker.queues", "control.queueExtensions"];

/// The first key written in the earlier snake_case spelling, with its
/// camelCase name.
fn old_spelling(table: &toml::Table, at: &str) -> Option<String> {
    if DATA_TABLES.contains(&at) {
        return None;
    }
    for (key, value) in table {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        if key.contains('_')
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Some(format!(
                "`{path}`: keys are written in camelCase: `{}`",
                camel_case(key)
            ));
        }
        let nested = match value {
            toml::Value::Table(t) => old_spelling(t, &path),
            toml::Value::Array(items) => items.iter().find_map(|i| match i {
                toml::Value::Table(t) => old_spelling(t, &path),
                _ => None,
            }),
            _ => None,
        };
        if nested.is_some() {
            return nested;
        }
    }
    None
}

fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Settings of the file that would shadow or contradict one another:
/// each would leave one of them silently unused.
pub fn conflicts(table: &toml::Table) -> Vec<String> {
    let mut out = Vec::new();
    let has = |t: &toml::Table, k: &str| t.contains_key(k);
    let servers = table
        .get("asterisk")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_table()).collect::<Vec<_>>())
        .unwrap_or_default();
    for s in servers {
        let name = s.get("name").and_then(|v| v.as_str()).unwrap_or("?");
        let tls = s.get("tls").and_then(|v| v.as_bool()).unwrap_or(false);
        if has(s, "secret") && has(s, "secretFile") {
            out.push(format!(
                "[[asterisk]] {name:?}: both secret and secretFile are set (keep secretFile)"
            ));
        }
        for key in ["tlsFingerprint", "tlsCaFile"] {
            if has(s, key) && !tls {
                out.push(format!(
                    "[[asterisk]] {name:?}: {key} is set but tls is not true (it would be unused)"
                ));
            }
        }
        if has(s, "tlsFingerprint") && has(s, "tlsCaFile") {
            out.push(format!(
                "[[asterisk]] {name:?}: tlsFingerprint and tlsCaFile are both set (a pinned \
                 certificate is trusted without a CA: keep one)"
            ));
        }
    }
    if let Some(n) = table.get("notify").and_then(|v| v.as_table())
        && has(n, "webhookSecretFile")
        && !has(n, "webhookUrl")
    {
        out.push("[notify] webhookSecretFile is set without webhookUrl".to_owned());
    }
    if let Some(t) = table.get("tracker").and_then(|v| v.as_table())
        && has(t, "extensions")
    {
        for key in ["extensionMinDigits", "extensionMaxDigits"] {
            if has(t, key) {
                out.push(format!(
                    "[tracker] {key} is set with extensions (the list decides; {key} would be unused)"
                ));
            }
        }
    }
    out
}

/// The TOML file, as written by the operator (see
/// `bigchat-voice.example.toml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
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
    /// `[store]`: the writer's queue.
    #[serde(default)]
    pub store: StoreFileConfig,
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
#[serde(deny_unknown_fields, rename_all = "camelCase")]
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
    /// AMI secret (prefer `secretFile` or `BIGCHAT_VOICE_AMI_SECRET`).
    pub secret: Option<String>,
    /// File whose first line is the secret.
    pub secret_file: Option<PathBuf>,
    /// `md5` (the default: MD5 challenge, no fallback) or `plain` (the
    /// secret sent as is; use TLS). `auto` (earlier versions) is refused with this advice.
    #[serde(default = "default_auth")]
    pub auth: String,
    /// AMI over TLS.
    #[serde(default)]
    pub tls: bool,
    /// TLS: trust exactly the PBX certificate with this SHA-256 fingerprint
    /// (its own self-signed one; `openssl x509 -noout -fingerprint -sha256`
    /// prints it) instead of a CA.
    #[serde(default)]
    pub tls_fingerprint: Option<String>,
    /// TLS: PEM file of the CA that signed the PBX's certificate (besides
    /// the system's; else `BIGCHAT_VOICE_AMI_CA_FILE`).
    #[serde(default)]
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
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
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

/// `[store]`: the queue of effects waiting to be stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct StoreFileConfig {
    /// Most bytes (estimated) the waiting effects may hold before tracking
    /// waits for the database. Default 2 MiB.
    pub queue_bytes: usize,
}

impl Default for StoreFileConfig {
    fn default() -> Self {
        StoreFileConfig {
            queue_bytes: bigchat_voice::store::writer::DEFAULT_QUEUE_BYTES,
        }
    }
}

/// `[journal]`: the durable journal of received frames.
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

/// `[api]`: the HTTP endpoint of `listen`.
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

/// `[control]`: where transfers go.
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
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct NotifyConfig {
    /// Print notifications to stdout as JSON Lines.
    pub stdout: bool,
    /// Append them to this file as JSON Lines.
    pub file: Option<PathBuf>,
    /// POST them to this URL.
    pub webhook_url: Option<String>,
    /// File holding the webhook's HMAC secret (or `BIGCHAT_VOICE_WEBHOOK_SECRET`).
    pub webhook_secret_file: Option<PathBuf>,
    /// Notifications per webhook POST, at most (1: one JSON object per
    /// POST; more: a JSON array of up to this many).
    pub webhook_batch: Option<u32>,
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
                    .map_err(|e| unreadable("configuration file", p, e))?;
                (Some(p.clone()), Some(text))
            }
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                let p = PathBuf::from(DEFAULT_CONFIG_FILE);
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| unreadable("configuration file", &p, e))?;
                (Some(p), Some(text))
            }
            None => (None, None),
        };
        let file: FileConfig = match (&path, text) {
            (Some(p), Some(text)) => parse_file(&text, p)?,
            _ => FileConfig::default(),
        };
        let company_id = match env("BIGCHAT_VOICE_COMPANY_ID") {
            Some(v) => v.parse().map_err(|_| {
                crate::exit::coded(
                    crate::exit::Code::Usage,
                    format!("BIGCHAT_VOICE_COMPANY_ID={v:?} is not a number"),
                )
            })?,
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
                     (companyId or BIGCHAT_VOICE_COMPANY_ID): every call belongs to that one; \
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
                return Err(crate::exit::coded(
                    crate::exit::Code::Usage,
                    format!(
                        "configuration: two [[asterisk]] servers are named {:?}",
                        s.name
                    ),
                ));
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
        let text =
            std::fs::read_to_string(path).map_err(|e| unreadable("configuration file", path, e))?;
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
            let flag_secret_file = args.ami_secret_file.clone();
            if s.username.is_empty() {
                bail!(
                    "server {:?}: no AMI user name (--ami-username or username = …)",
                    s.name
                );
            }
            let secret = resolve_secret(&s, flag_secret_file.as_deref())?;
            if let Some(f) = flag_secret_file {
                s.secret_file = Some(f);
            }
            if s.auth == "auto" {
                bail!(
                    "server {:?}: auth = \"auto\" is gone: the MD5 challenge is the default \
                     and never falls back (write auth = \"md5\", or auth = \"plain\" for a PBX \
                     without the challenge, best with tls = true)",
                    s.name
                );
            }
            if !matches!(s.auth.as_str(), "md5" | "plain") {
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

/// The secret, from (first found) `--ami-secret-file`,
/// `BIGCHAT_VOICE_AMI_SECRET`, the file's `secretFile`, the file's `secret`:
/// flags over the environment over the file.
fn resolve_secret(s: &ServerConfig, flag_file: Option<&Path>) -> anyhow::Result<String> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|e| unreadable(&format!("server {:?}: secret file", s.name), path, e))
            .map(|text| text.lines().next().unwrap_or("").to_owned())
    };
    if let Some(path) = flag_file {
        return read(path);
    }
    if let Some(v) = env("BIGCHAT_VOICE_AMI_SECRET") {
        return Ok(v);
    }
    if let Some(path) = &s.secret_file {
        return read(path);
    }
    match &s.secret {
        Some(v) => Ok(v.clone()),
        None => bail!(
            "server {:?}: no AMI secret (set BIGCHAT_VOICE_AMI_SECRET, secretFile or secret)",
            s.name
        ),
    }
}

/// A file the configuration names that cannot be read: a configuration
/// error (exit 2), with the operating system's reason.
fn unreadable(what: &str, path: &Path, e: std::io::Error) -> anyhow::Error {
    crate::exit::coded(
        crate::exit::Code::Usage,
        format!("cannot read {what} {}: {e}", path.display()),
    )
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

    /// The keys a configuration struct accepts, as serde names them: a
    /// deserializer that only records the field list it is asked for.
    fn keys<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
        struct Probe<'a>(&'a mut Vec<&'static str>);
        impl<'de> serde::Deserializer<'de> for Probe<'_> {
            type Error = serde::de::value::Error;
            fn deserialize_any<V: serde::de::Visitor<'de>>(
                self,
                _: V,
            ) -> Result<V::Value, Self::Error> {
                Err(serde::de::Error::custom("probe"))
            }
            fn deserialize_struct<V: serde::de::Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Self::Error> {
                self.0.extend_from_slice(fields);
                Err(serde::de::Error::custom("probe"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
                bytes byte_buf option unit unit_struct newtype_struct seq tuple
                tuple_struct map enum identifier ignored_any
            }
        }
        let mut out = Vec::new();
        let _ = T::deserialize(Probe(&mut out));
        assert!(
            !out.is_empty(),
            "{} has no keys?",
            std::any::type_name::<T>()
        );
        out
    }

    const EXAMPLE: &str = include_str!("../../bigchat-voice.example.toml");

    /// The example file parses, and names (set or commented out) every key
    /// of every section the configuration accepts, in camelCase.
    #[test]
    fn the_example_file_names_every_key() {
        parse_file(EXAMPLE, Path::new("bigchat-voice.example.toml")).expect("the example parses");
        let sections: [(&str, Vec<&str>); 11] = [
            ("", keys::<FileConfig>()),
            ("asterisk", keys::<ServerConfig>()),
            ("originate", keys::<OriginateConfig>()),
            ("notify", keys::<NotifyConfig>()),
            ("journal", keys::<JournalFileConfig>()),
            ("store", keys::<StoreFileConfig>()),
            ("api", keys::<ApiFileConfig>()),
            ("api.tokens", keys::<ScopedTokenConfig>()),
            ("control", keys::<ControlFileConfig>()),
            ("tracker", keys::<TrackerConfig>()),
            (
                "tracker.recording",
                keys::<bigchat_voice::tracker::RecordingConfig>(),
            ),
        ];
        // Each line's key (uncommented), with the section it is under.
        let mut section = String::new();
        let mut named = std::collections::HashSet::new();
        for line in EXAMPLE.lines() {
            let line = line.trim_start_matches('#').trim();
            if let Some(header) = line.strip_prefix('[') {
                let header = header.trim_start_matches('[');
                if let Some(end) = header.find(']') {
                    section = header[..end].trim().to_owned();
                    let (parent, last) = section.rsplit_once('.').unwrap_or(("", &section));
                    named.insert((parent.to_owned(), last.to_owned()));
                }
                continue;
            }
            if let Some((key, _)) = line.split_once('=') {
                let key = key.trim();
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()) {
                    named.insert((section.clone(), key.to_owned()));
                }
            }
        }
        let mut missing = Vec::new();
        for (section, keys) in &sections {
            for key in keys {
                if !named.contains(&(section.to_string(), key.to_string())) {
                    missing.push(format!("[{section}] {key}"));
                }
                assert!(!key.contains('_'), "{section}.{key}: not camelCase");
            }
        }
        assert!(
            missing.is_empty(),
            "the example file does not name: {missing:?}"
        );
    }

    #[test]
    fn auth_auto_is_refused_with_advice() {
        let file = parse_file(
            "[[asterisk]]\nname = \"a\"\nhost = \"h\"\nusername = \"u\"\nsecret = \"x\"\nauth = \"auto\"\n",
            Path::new("v.toml"),
        )
        .expect("parses");
        let settings = Settings {
            config_path: None,
            company_id: 1,
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            file,
            tracker: TrackerConfig::default(),
        };
        let err = settings.servers(&ServerArgs::default()).unwrap_err();
        assert!(format!("{err:#}").contains("auth = \"md5\""), "{err:#}");
        assert_eq!(crate::exit::code_for(&err), crate::exit::Code::Usage);
    }

    #[test]
    fn old_spellings_and_shadowed_settings_are_refused() {
        let err = parse_file("company_id = 1\n", Path::new("v.toml")).unwrap_err();
        assert!(format!("{err:#}").contains("`companyId`"), "{err:#}");
        let err = parse_file(
            "[[asterisk]]\nname = \"a\"\nhost = \"h\"\nusername = \"u\"\nsecret_file = \"/s\"\n",
            Path::new("v.toml"),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}")
                .contains("`asterisk.secret_file`: keys are written in camelCase: `secretFile`"),
            "{err:#}"
        );
        assert_eq!(crate::exit::code_for(&err), crate::exit::Code::Usage);
        // Operator data keeps its own names.
        parse_file("[tracker.queues]\nsales_team = 1\n", Path::new("v.toml")).expect("data keys");
        for (text, says) in [
            (
                "[[asterisk]]\nname = \"a\"\nhost = \"h\"\nusername = \"u\"\nsecret = \"x\"\nsecretFile = \"/s\"\n",
                "both secret and secretFile",
            ),
            (
                "[[asterisk]]\nname = \"a\"\nhost = \"h\"\nusername = \"u\"\ntlsFingerprint = \"AA\"\n",
                "tls is not true",
            ),
            (
                "[[asterisk]]\nname = \"a\"\nhost = \"h\"\nusername = \"u\"\ntls = true\ntlsFingerprint = \"AA\"\ntlsCaFile = \"/ca\"\n",
                "keep one",
            ),
            (
                "[notify]\nwebhookSecretFile = \"/s\"\n",
                "without webhookUrl",
            ),
            (
                "[tracker]\nextensions = [\"_1XX\"]\nextensionMinDigits = 3\n",
                "the list decides",
            ),
        ] {
            let err = parse_file(text, Path::new("v.toml")).unwrap_err();
            assert!(format!("{err:#}").contains(says), "{text}: {err:#}");
            assert_eq!(crate::exit::code_for(&err), crate::exit::Code::Usage);
        }
    }

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
        // A secret of the wrong type: serde's message would quote it.
        let text =
            "[[asterisk]]\nname = \"pbx\"\nhost = \"h\"\nusername = \"u\"\nsecret = 987654321\n";
        let err = parse_file(text, Path::new("voice.toml")).unwrap_err();
        let shown = format!("{err:#}");
        assert!(!shown.contains("987654321"), "{shown}");
        assert!(shown.contains("voice.toml:5:"), "{shown}");
        let err = parse_file("companyID = 1\n", Path::new("v.toml")).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
        let file = parse_file(
            "companyId = 2\n[tracker]\ncompanyId = 5\n",
            Path::new("v.toml"),
        )
        .unwrap();
        assert_eq!(file.tracker_company_id, Some(5));
        let file = parse_file("companyId = 2\n[tracker]\n", Path::new("v.toml")).unwrap();
        assert_eq!(file.tracker_company_id, None);
    }
}
