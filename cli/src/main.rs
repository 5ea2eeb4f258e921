//! The `bigchat-voice` binary: a thin `main` over one module per command.
//! See `exit.rs` for the exit codes.

mod ami;
#[cfg(feature = "api")]
mod api;
mod args;
mod cmd_calls;
mod cmd_check;
mod cmd_db;
mod cmd_discover;
mod cmd_events;
mod cmd_hangup;
mod cmd_listen;
mod cmd_originate;
mod cmd_sync;
mod cmd_transfer;
mod config;
mod exit;
mod publish;
mod signal;
mod tls;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use args::{Cli, Command, DbCommand, LogFormat};

fn init_logging(cli: &Cli) {
    let level = match (cli.verbose, cli.quiet) {
        (0, 0) => "info",
        (1, _) => "debug",
        (v, _) if v >= 2 => "trace",
        (_, 1) => "warn",
        _ => "error",
    };
    // RUST_LOG, when set, wins (e.g. RUST_LOG=ami_client=trace).
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},sqlx=warn,hyper=warn,reqwest=warn,rustls=warn"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_target(false).init(),
    }
}

/// Hides the password of a database URL for messages and logs: the one
/// in `user:password@` and any `password=`/`sslpassword=` query parameter.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &base[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &base[..scheme + 3],
                    &creds[..colon],
                    &base[at..]
                ),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.to_ascii_lowercase().contains("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// Opens (and migrates) the configured database, naming it on failure.
/// `create`: what a missing SQLite file or directory may become (a missing
/// one that may not be created is a configuration error, exit 2).
pub async fn open_store(
    settings: &config::Settings,
    create: bigchat_voice::store::Creation,
) -> anyhow::Result<bigchat_voice::store::AnyStore> {
    use anyhow::Context;
    bigchat_voice::store::AnyStore::connect_with(&settings.database_url, create)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                redact_url(&settings.database_url)
            )
        })
}

/// The schema mode in a few words, for `db migrate` and `check`.
pub fn describe_mode(mode: bigchat_voice::store::SchemaMode) -> &'static str {
    match mode {
        bigchat_voice::store::SchemaMode::Attach => {
            "attach mode: voice tables added to BigChat's database"
        }
        _ => "standalone mode: the connector's own database",
    }
}

/// Opens the database for a command that writes calls (`listen`, `sync`,
/// `originate`): in attach mode, a configured company, user or queue that
/// BigChat does not have is refused now (exit 2) rather than every call
/// that names it later.
pub async fn open_store_for_calls(
    settings: &config::Settings,
) -> anyhow::Result<bigchat_voice::store::AnyStore> {
    let store = open_store(settings, bigchat_voice::store::Creation::File).await?;
    let schema = store.schema();
    tracing::info!(mode = %schema.mode, applied = schema.applied, "database ready");
    let users = settings.tracker.user_list();
    let queues = settings.tracker.queue_list();
    let problems = anyhow::Context::context(
        store
            .missing_references(settings.company_id, &users, &queues)
            .await,
        "cannot read BigChat's users and queues",
    )?;
    if !problems.is_empty() {
        bigchat_voice::store::Store::close(&store).await;
        return Err(exit::coded(
            exit::Code::Usage,
            format!(
                "the configuration names what BigChat does not have:\n  {}",
                problems.join("\n  ")
            ),
        ));
    }
    Ok(store)
}

/// The server's `Asterisks` row (and voice connection), with the
/// configured PBX queue → BigChat queue mapping written to it.
pub async fn register_server(
    store: &bigchat_voice::store::AnyStore,
    settings: &config::Settings,
    config: &config::ServerConfig,
) -> anyhow::Result<i64> {
    register_server_as(
        store,
        settings,
        &config.name,
        &config.host,
        config.port,
        &config.username,
    )
    .await
}

/// [`register_server`] for a server given by its parts (a replay).
pub async fn register_server_as(
    store: &bigchat_voice::store::AnyStore,
    settings: &config::Settings,
    name: &str,
    host: &str,
    port: u16,
    username: &str,
) -> anyhow::Result<i64> {
    use bigchat_voice::store::Store;
    let id = store
        .ensure_asterisk(name, host, port, username, settings.company_id)
        .await?;
    store
        .map_queues(id, settings.company_id, &settings.tracker.queue_mapping())
        .await?;
    Ok(id)
}

/// Writes what `completions` and `man` print: generated from the command
/// line's definition, no configuration read.
#[cfg(feature = "completions")]
fn generated(command: &Command) -> Option<anyhow::Result<()>> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    Some(match command {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut cmd, "bigchat-voice", &mut out);
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(cmd)
            .render(&mut out)
            .map_err(Into::into),
        _ => return None,
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    #[cfg(feature = "completions")]
    if let Some(done) = generated(&cli.command) {
        return done;
    }
    let settings = config::Settings::load(&cli)
        .map_err(|e| exit::coded(exit::Code::Usage, format!("{e:#}")))?;
    match &cli.command {
        Command::Listen(a) => cmd_listen::run(&settings, a).await,
        Command::Originate(a) => cmd_originate::run(&settings, a).await,
        Command::Sync(a) => cmd_sync::run(&settings, a).await,
        Command::Hangup(a) => cmd_hangup::run(&settings, a).await,
        Command::Transfer(a) => cmd_transfer::run(&settings, a).await,
        Command::Events(a) => cmd_events::run(&settings, a).await,
        Command::Calls(a) => cmd_calls::run(&settings, a).await,
        Command::Db {
            command: DbCommand::Migrate,
        } => cmd_db::migrate(&settings).await,
        Command::Check(a) => cmd_check::run(&settings, a).await,
        Command::Discover(a) => cmd_discover::run(&settings, a).await,
        #[cfg(feature = "completions")]
        Command::Completions { .. } | Command::Man => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bigchat-voice: cannot start the async runtime: {e}");
            return ExitCode::from(exit::Code::Failure as u8);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = exit::code_for(&err);
            // The whole chain, outermost first: "cannot log in …: authentication failed".
            eprintln!("bigchat-voice: {}", describe(&err));
            ExitCode::from(code as u8)
        }
    }
}

/// The error's chain, outermost first, `: `-separated, without a cause
/// that its outer error already said (many errors repeat their source's
/// text: "I/O error: Connection refused" over "Connection refused").
fn describe(err: &anyhow::Error) -> String {
    describe_error(err.as_ref())
}

/// [`describe`] for any error (a library error formatted into a message).
pub fn describe_error(err: &(dyn std::error::Error + 'static)) -> String {
    bigchat_voice::error_chain(err)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_cause_already_said_is_not_repeated() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        #[derive(Debug)]
        struct Wrap(std::io::Error);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "I/O error: {}", self.0)
            }
        }
        impl std::error::Error for Wrap {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = anyhow::Error::new(Wrap(io)).context("cannot log in to Asterisk \"pbx\"");
        assert_eq!(
            super::describe(&err),
            "cannot log in to Asterisk \"pbx\": I/O error: Connection refused (os error 111)"
        );
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_url("postgres://bigchat:s3cret@db:5432/bigchat"),
            "postgres://bigchat:***@db:5432/bigchat"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(
            redact_url("postgres://db/bigchat?user=bob&password=hunter2&sslmode=require"),
            "postgres://db/bigchat?user=bob&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u:p@h/d?sslpassword=k"),
            "postgres://u:***@h/d?sslpassword=***"
        );
        assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
    }
}
