//! Every clap type of the command line, in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// bigchat-voice: brings Asterisk calls into BigChat.
///
/// Configuration comes from a TOML file (`--config`, default
/// `bigchat-voice.toml` when present), overridden by `BIGCHAT_VOICE_*`
/// environment variables, overridden by flags.
#[derive(Debug, Parser)]
#[command(name = "bigchat-voice", version, about, long_about = None)]
#[command(propagate_version = true, arg_required_else_help = true)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "BIGCHAT_VOICE_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// More log output (-v debug, -vv trace).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less log output (-q warnings and errors only, -qq errors only).
    #[arg(long, short = 'q', global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,

    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "BIGCHAT_VOICE_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Database URL: `sqlite://PATH` (created if missing) or `postgres://…`.
    #[arg(
        long,
        global = true,
        env = "BIGCHAT_VOICE_DATABASE_URL",
        value_name = "URL"
    )]
    pub database_url: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the connector: track calls, store them, publish notifications.
    Listen(ListenArgs),
    /// Click-to-call: ring the agent's phone, then the customer.
    Originate(OriginateArgs),
    /// Reconcile the database with the calls the PBX has right now.
    Sync(SyncArgs),
    /// Hang up a live call (every channel of it).
    Hangup(HangupArgs),
    /// Transfer a live call's other party (blind or attended).
    Transfer(TransferArgs),
    /// Show raw AMI events as they arrive (debugging).
    Events(EventsArgs),
    /// List recent call records.
    Calls(CallsArgs),
    /// Database maintenance.
    Db {
        /// What to do with the database.
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Check the configuration, the AMI login and rights, and the database.
    Check(ServerArgs),
    /// Propose the `[tracker]` section from the PBX (trunks, inbound
    /// contexts, extensions, users, queues), with the reason for each line.
    Discover(DiscoverArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[cfg(feature = "completions")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `man -l -` reads it).
    #[cfg(feature = "completions")]
    Man,
}

/// Database subcommands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create or upgrade the schema.
    Migrate,
}

/// Selecting or defining an Asterisk server by flags.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Use only this server of the configuration file.
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,
    /// AMI host (a single server given by flags).
    #[arg(long, env = "BIGCHAT_VOICE_AMI_HOST")]
    pub ami_host: Option<String>,
    /// AMI port.
    #[arg(long, env = "BIGCHAT_VOICE_AMI_PORT")]
    pub ami_port: Option<u16>,
    /// AMI user name. The secret comes from `BIGCHAT_VOICE_AMI_SECRET`,
    /// `--ami-secret-file` or the configuration file, never from a flag.
    #[arg(long, env = "BIGCHAT_VOICE_AMI_USERNAME")]
    pub ami_username: Option<String>,
    /// File holding the AMI secret (first line).
    #[arg(long, env = "BIGCHAT_VOICE_AMI_SECRET_FILE", value_name = "FILE")]
    pub ami_secret_file: Option<PathBuf>,
}

/// `listen` options.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// The servers to listen to.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Read a recorded AMI byte stream (`*.server.ami`) instead of a
    /// socket, process it to the end and exit.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Print notifications to stdout as JSON Lines.
    #[arg(long, env = "BIGCHAT_VOICE_NOTIFY_STDOUT")]
    pub notify_stdout: bool,
    /// Append notifications to this file as JSON Lines.
    #[arg(long, env = "BIGCHAT_VOICE_NOTIFY_FILE", value_name = "FILE")]
    pub notify_file: Option<PathBuf>,
    /// POST notifications to this URL (signed with
    /// `BIGCHAT_VOICE_WEBHOOK_SECRET`).
    #[arg(long, env = "BIGCHAT_VOICE_WEBHOOK_URL", value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Notifications per webhook POST, at most (default: the `[notify]
    /// webhookBatch` setting, else 1). Above 1, each POST is a JSON array
    /// of what is waiting (up to this many), which the receiver must
    /// accept (the companion's router does).
    #[arg(long, env = "BIGCHAT_VOICE_WEBHOOK_BATCH", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub webhook_batch: Option<u32>,
    /// Do not reconcile with the PBX after each (re)connect.
    #[arg(long)]
    pub no_sync: bool,
    /// Where each PBX's journal of received frames is kept (default: the
    /// `[journal] dir` setting, else `<sqlite file>.voice-journal` beside
    /// an SQLite database, else `bigchat-voice-journal`). With `--replay`,
    /// only this flag journals the replayed frames (to measure what the
    /// journal costs; a recording can always be replayed again).
    #[arg(long, env = "BIGCHAT_VOICE_JOURNAL_DIR", value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Keep no journal (a kill or crash then loses what was not stored).
    #[arg(long, conflicts_with = "journal_dir")]
    pub no_journal: bool,
    /// Serve health (`/healthz`), readiness (`/readyz`) and Prometheus
    /// metrics (`/metrics`) on this address (default: the `[api] listen`
    /// setting; none). Beyond loopback it needs a token
    /// (`BIGCHAT_VOICE_API_TOKEN` or `[api] tokenFile`).
    #[arg(long, env = "BIGCHAT_VOICE_API_ADDR", value_name = "ADDR")]
    pub api: Option<std::net::SocketAddr>,
}

/// `originate` options.
#[derive(Debug, Args)]
pub struct OriginateArgs {
    /// The server to use.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The agent's extension (rung first), e.g. `1001`.
    #[arg(long, value_name = "EXTENSION")]
    pub from: String,
    /// The number to call, e.g. `+5511999990002`.
    #[arg(long, value_name = "NUMBER")]
    pub to: String,
    /// The BigChat ticket this call belongs to.
    #[arg(long)]
    pub ticket: Option<i64>,
    /// Channel variable for the call (repeatable): `--var NAME=VALUE`.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// An idempotency key: the same key again (from any client of this
    /// database, even after a restart) places no second call and prints
    /// the first call's id.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// How long the agent's phone may ring, e.g. `30s`.
    #[arg(long, default_value = "30s", value_parser = ring_timeout)]
    pub timeout: std::time::Duration,
    /// Wait for the outcome (OriginateResponse) and exit non-zero if the
    /// call failed.
    #[arg(long)]
    pub wait: bool,
}

/// `sync` options.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The servers to reconcile.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Show what would change without changing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// `discover` options.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// The PBX to look at.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Write the proposal to this file instead of stdout (an existing file
    /// is refused unless `--force`).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace `--output FILE` if it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
}

/// `hangup` options.
#[derive(Debug, Args)]
pub struct HangupArgs {
    /// The PBX the call is on.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The call: its Linkedid (the `uniqueId` that `calls` shows).
    #[arg(value_name = "CALL")]
    pub call: String,
}

/// `transfer` options.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["extension", "queue", "complete", "cancel"])))]
pub struct TransferArgs {
    /// The PBX the call is on.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The call: its Linkedid (the `uniqueId` that `calls` shows).
    #[arg(value_name = "CALL")]
    pub call: String,
    /// Transfer to this extension (of `[control] transferContext`, else
    /// the agent channel's context).
    #[arg(long, value_name = "EXTENSION")]
    pub extension: Option<String>,
    /// Transfer to this PBX queue (its extension from `[control]
    /// queueExtensions`).
    #[arg(long, value_name = "QUEUE")]
    pub queue: Option<String>,
    /// Attended (AMI Atxfer): the agent talks to the target first; it
    /// completes when the agent hangs up (or `--complete`, or the
    /// `atxfercomplete` code), and is cancelled by `--cancel` or
    /// `atxferabort`.
    #[arg(long, conflicts_with_all = ["complete", "cancel"])]
    pub attended: bool,
    /// Complete an attended transfer: hang up the agent's channel.
    #[arg(long, conflicts_with = "cancel")]
    pub complete: bool,
    /// Cancel an attended transfer (AMI CancelAtxfer).
    #[arg(long)]
    pub cancel: bool,
    /// The agent extension whose channel acts (default: the call record's).
    #[arg(long, value_name = "EXTENSION")]
    pub agent: Option<String>,
}

/// `events` options.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The server to watch.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only these events (repeatable, case-insensitive), e.g. `--event Hangup`.
    #[arg(long = "event", value_name = "NAME")]
    pub events: Vec<String>,
    /// Only events with this header value (repeatable), e.g.
    /// `--match Linkedid=1795515777.0`.
    #[arg(long = "match", value_name = "KEY=VALUE")]
    pub matches: Vec<String>,
    /// One JSON object per event instead of readable blocks.
    #[arg(long)]
    pub json: bool,
    /// Read a recorded AMI stream instead of a socket.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

/// `calls` options.
#[derive(Debug, Args)]
pub struct CallsArgs {
    /// Only calls in this state (`ringing`, `answered`, `completed`, `no_answer`, …).
    #[arg(long)]
    pub status: Option<String>,
    /// Only `inbound`, `outbound` or `internal` calls.
    #[arg(long)]
    pub direction: Option<String>,
    /// Only calls of this agent extension.
    #[arg(long)]
    pub agent: Option<String>,
    /// Only calls started at or after this time (RFC 3339, e.g. `2026-11-24T10:00:00Z`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only calls started before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many calls, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// JSON Lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--timeout`: a duration from 1 s to 1 h (Asterisk takes milliseconds;
/// anything longer is a typing mistake, and would overflow the wait).
fn ring_timeout(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if !(std::time::Duration::from_secs(1)..=std::time::Duration::from_secs(3600)).contains(&d) {
        return Err(format!("{s}: must be between 1s and 1h"));
    }
    Ok(d)
}
