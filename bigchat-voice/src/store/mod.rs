//! Persistence: calls become BigChat `Contacts`, `Tickets`, `CallRecords`,
//! `Messages` and `TicketTraking` rows.
//!
//! One API ([`Store`]) with two backends chosen by the database URL
//! ([`AnyStore::connect`]): SQLite (`sqlite://path/to/file.db`, created on
//! first use, or `sqlite::memory:`) and PostgreSQL (`postgres://…`). Each
//! backend embeds its own migrations (`migrations/sqlite`,
//! `migrations/postgres`) and runs them on connect. Table and column names
//! are BigChat's Sequelize names (see `docs/bigchat-integration.md`).
//!
//! # Behavior
//! * **One transaction per effect.** [`Store::apply`] either stores all the
//!   consequences of an [`Effect`] or none.
//! * **Idempotent and order-tolerant.** A call record is keyed by
//!   (`asteriskId`, `uniqueId`); a call's message and tracking row by
//!   `callRecordId`. Applying the same effect again changes nothing (not
//!   even `updatedAt`); `CallEnded` (or `CallUpdated`) for a call never
//!   started creates the contact, ticket and record first, and a
//!   `CallStarted`/`CallUpdated` arriving after the call ended is ignored, so
//!   a replay converges to the same rows.
//! * **Contacts** are matched by normalised number ([`normalize_number`]):
//!   digits with a leading `+` kept for storage; `+5511…` and `5511…` are
//!   the same contact (both spellings are looked up; the oldest match wins).
//! * **Secrets.** `Asterisks.password` is never written: the AMI secret stays
//!   in the connector's configuration; the column stays NULL.
//! * Times `createdAt`/`updatedAt` are the wall clock when a row is written.
//!
//! For never losing an effect when the database is down, see [`writer`].
//!
//! # Example
//! ```
//! use bigchat_voice::model::{Call, Direction, Effect};
//! use bigchat_voice::store::{AnyStore, Store};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), bigchat_voice::store::StoreError> {
//! let store = AnyStore::connect("sqlite::memory:").await?;
//! let pbx = store.ensure_asterisk("main-pbx", "10.0.0.5", 5038, "bigchat", 1).await?;
//! let mut call = Call::ringing("1732443200.17", Direction::Inbound, chrono::Utc::now());
//! call.caller_id = "+5511999990001".into();
//! call.caller_name = Some("Maria".into());
//! call.called_number = "4000".into();
//! call.contact_number = "+5511999990001".into();
//! call.contact_name = Some("Maria".into());
//! let applied = store.apply(pbx, 1, &Effect::CallStarted(call.clone())).await?;
//! assert!(applied.record_created && applied.ticket_created);
//! assert_eq!(applied.ticket.unwrap().last_message.as_deref(), Some("Incoming call"));
//! // The same effect again changes nothing.
//! assert!(store.apply(pbx, 1, &Effect::CallStarted(call)).await?.is_noop());
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "sqlite")]
mod direct;
mod error;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod exec;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod legacy;
mod logic;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[macro_use]
mod ops;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
pub mod schema;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod writer;

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::model::Effect;

pub use error::{BoxError, StoreError};
pub use logic::{
    ANONYMOUS_NUMBER, call_media_type, call_message_id, call_summary, format_duration,
    normalize_number,
};
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use rows::{
    Applied, AsteriskRow, AsteriskStatus, CallFilter, CallRecordRow, ContactRow, MessageRow,
    OriginateClaim, OriginateKey, TicketRow,
};
pub use schema::{SchemaInfo, SchemaMode, SchemaReport};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
/// The sqlx this crate is built with, for the pools [`SqliteStore::pool`]
/// and [`PgStore::pool`] hand out (an escape hatch for tools and tests:
/// its version moves with this crate's, and a write made through it
/// bypasses the store's guarantees).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sqlx;

/// What opening an SQLite database may create
/// ([`AnyStore::connect_with`]). PostgreSQL databases are never created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Creation {
    /// Nothing: the file must exist (tools that only read).
    Nothing,
    /// The file, in a directory that exists (the daemon). The default.
    #[default]
    File,
    /// The file and its directories (`db migrate`).
    FileAndDirectory,
}

/// The storage API the connector uses, implemented by [`SqliteStore`],
/// [`PgStore`] and [`AnyStore`] (pick one by URL).
///
/// All methods are safe to call concurrently; [`apply`](Store::apply) runs
/// each effect in its own transaction.
pub trait Store: Send + Sync + 'static {
    /// Finds the `Asterisks` row of this company with this `name`, creating
    /// it (status `DISCONNECTED`, protocol `ami`, no password) or updating
    /// its host/port/username, and gives it its voice connection: a BigChat
    /// `Whatsapps` row with provider `asterisk`, named `NAME (voice)`
    /// (`NAME (voice #ID)` if another company has that name), that its
    /// tickets belong to. Returns its id.
    fn ensure_asterisk(
        &self,
        name: &str,
        host: &str,
        port: u16,
        username: &str,
        company_id: i64,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Sets an Asterisk connection's `status` (its voice connection's
    /// `Whatsapps.status` is never set `CONNECTED`: BigChat would take it
    /// for a WhatsApp phone); returns the row (for the `company-{id}-asterisk`
    /// notification). `updatedAt` only moves when the status changes.
    fn set_asterisk_status(
        &self,
        asterisk_id: i64,
        status: AsteriskStatus,
    ) -> impl Future<Output = Result<AsteriskRow, StoreError>> + Send;

    /// Makes `queues` the server's PBX queue → BigChat queue (`Queues.id`)
    /// mapping (`AsteriskQueues`), replacing what was there. A call's
    /// ticket takes the BigChat queue of the PBX queue it went through.
    fn map_queues(
        &self,
        asterisk_id: i64,
        company_id: i64,
        queues: &[(String, Option<i64>)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Applies one tracker effect in one transaction (see the module's
    /// `# Behavior`). `NeedsReconciliation` and `PbxRestarted` change no row
    /// and return [`Applied::default()`].
    fn apply(
        &self,
        asterisk_id: i64,
        company_id: i64,
        effect: &Effect,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send;

    /// Applies several effects, in order, in **one** transaction: all are
    /// stored or none (on any error nothing is kept). Same results as
    /// [`apply`](Store::apply) on each, with one commit instead of one per
    /// effect — what the [`writer`] uses to keep up with bursts (a commit
    /// costs an fsync on PostgreSQL).
    ///
    /// The default implementation applies them one by one (not atomic);
    /// [`SqliteStore`], [`PgStore`] and [`AnyStore`] override it.
    fn apply_many(
        &self,
        jobs: &[writer::Job],
    ) -> impl Future<Output = Result<Vec<Applied>, StoreError>> + Send {
        async move {
            let mut out = Vec::with_capacity(jobs.len());
            for job in jobs {
                out.push(
                    self.apply(job.asterisk_id, job.company_id, &job.effect)
                        .await?,
                );
            }
            Ok(out)
        }
    }

    /// Call records matching `filter`, newest first.
    fn recent_calls(
        &self,
        filter: &CallFilter,
    ) -> impl Future<Output = Result<Vec<CallRecordRow>, StoreError>> + Send;

    /// Records of this Asterisk still in a live state (`ringing`,
    /// `answered`, `on_hold`, `transferred`), oldest first.
    fn live_calls(
        &self,
        asterisk_id: i64,
    ) -> impl Future<Output = Result<Vec<CallRecordRow>, StoreError>> + Send;

    /// Ends a live record that the PBX no longer knows: final status
    /// `completed` if it was answered, else `no_answer`; `endedAt` =
    /// `ended_at`; durations recomputed; `reconciled = true`; the call
    /// message and tracking row are written as for any ended call.
    /// Returns `None` when no live record has that `uniqueId`.
    fn close_reconciled(
        &self,
        asterisk_id: i64,
        company_id: i64,
        unique_id: &str,
        ended_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<Applied>, StoreError>> + Send;

    /// The contact of this company whose number matches `number` once
    /// normalised (either spelling, with or without `+`).
    fn find_contact(
        &self,
        company_id: i64,
        number: &str,
    ) -> impl Future<Output = Result<Option<ContactRow>, StoreError>> + Send;

    /// One ticket by id.
    fn ticket(
        &self,
        ticket_id: i64,
    ) -> impl Future<Output = Result<Option<TicketRow>, StoreError>> + Send;

    /// Claims an originate idempotency key for a call about to be placed,
    /// durably (one statement, committed): [`OriginateClaim::Claimed`] when
    /// the key was free, else what the earlier claim names. Two requests
    /// racing with one key get one `Claimed` between them.
    fn claim_originate_key(
        &self,
        claim: &OriginateKey<'_>,
    ) -> impl Future<Output = Result<OriginateClaim, StoreError>> + Send;

    /// What key `key` of `company_id` names, if claimed: `Taken`, with
    /// `same_request` comparing `request_hash` with the claim's (read
    /// only; see [`claim_originate_key`](Store::claim_originate_key)).
    fn find_originate_key(
        &self,
        company_id: i64,
        key: &str,
        request_hash: &str,
    ) -> impl Future<Output = Result<Option<OriginateClaim>, StoreError>> + Send;

    /// Gives back a key claimed for call `unique_id` (the call was not
    /// placed after all), so that the request can be made again.
    fn release_originate_key(
        &self,
        company_id: i64,
        key: &str,
        unique_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Closes the connection pool; later calls fail with [`StoreError::Closed`].
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// Runs `$e` on whichever backend `$self` is.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite($s) => $e,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($s) => $e,
        }
    };
}

/// A store chosen at run time from a database URL.
///
/// Only the backends compiled in (features `sqlite`, `postgres`) are
/// variants; a URL for another is [`StoreError::InvalidUrl`].
#[derive(Debug, Clone)]
#[non_exhaustive]
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub enum AnyStore {
    /// `sqlite:…` URLs.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// `postgres://…` / `postgresql://…` URLs.
    #[cfg(feature = "postgres")]
    Postgres(PgStore),
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl AnyStore {
    /// Connects (creating an SQLite file, not its directory, if needed),
    /// finds out which database it is, and migrates it (see [`schema`]: a
    /// database that is neither empty, nor BigChat's, nor the connector's
    /// is refused untouched with [`StoreError::UnrecognisedDatabase`]).
    pub async fn connect(url: &str) -> Result<AnyStore, StoreError> {
        AnyStore::connect_with(url, Creation::File).await
    }

    /// [`connect`](Self::connect), creating what `create` allows.
    pub async fn connect_with(url: &str, create: Creation) -> Result<AnyStore, StoreError> {
        let _ = create;
        match Backend::of(url)? {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Ok(AnyStore::Sqlite(
                SqliteStore::connect_with(url, create).await?,
            )),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Ok(AnyStore::Postgres(PgStore::connect(url).await?)),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => "postgres",
        }
    }

    /// See [`PgStore::missing_references`] (SQLite: always standalone,
    /// nothing to check).
    pub async fn missing_references(
        &self,
        company_id: i64,
        users: &[(String, i64)],
        queues: &[(String, i64)],
    ) -> Result<Vec<String>, StoreError> {
        let _ = (company_id, users, queues);
        match self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(_) => Ok(Vec::new()),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.missing_references(company_id, users, queues).await,
        }
    }

    /// [`missing_references`](Self::missing_references) of the database at
    /// `url`, opened without creating, migrating or changing anything (for
    /// `check`; SQLite: always standalone, nothing to check).
    pub async fn inspect_references(
        url: &str,
        company_id: i64,
        users: &[(String, i64)],
        queues: &[(String, i64)],
    ) -> Result<Vec<String>, StoreError> {
        let _ = (company_id, users, queues);
        match Backend::of(url)? {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Ok(Vec::new()),
            #[cfg(feature = "postgres")]
            Backend::Postgres => PgStore::inspect_references(url, company_id, users, queues).await,
        }
    }

    /// What the database at `url` is, and what opening it would migrate,
    /// without changing anything (for `check`): an SQLite file is opened
    /// read-only and never created; a database the store would refuse is
    /// refused the same way ([`StoreError::UnrecognisedDatabase`]).
    pub async fn inspect(url: &str) -> Result<SchemaReport, StoreError> {
        match Backend::of(url)? {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => SqliteStore::inspect(url).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres => PgStore::inspect(url).await,
        }
    }

    /// What the store found, and did, when it opened the database.
    pub fn schema(&self) -> &SchemaInfo {
        dispatch!(self, s => s.schema())
    }
}

/// The backend a URL names, if this build has it.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Backend {
    fn of(url: &str) -> Result<Backend, StoreError> {
        let (name, feature) = if url.starts_with("sqlite:") {
            ("SQLite", "sqlite")
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            ("PostgreSQL", "postgres")
        } else {
            return Err(StoreError::InvalidUrl {
                reason: "expected sqlite:… or postgres://…".to_string(),
            });
        };
        match feature {
            #[cfg(feature = "sqlite")]
            "sqlite" => Ok(Backend::Sqlite),
            #[cfg(feature = "postgres")]
            "postgres" => Ok(Backend::Postgres),
            _ => Err(StoreError::InvalidUrl {
                reason: format!("{name} is not in this build (feature `{feature}`)"),
            }),
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Store for AnyStore {
    async fn ensure_asterisk(
        &self,
        name: &str,
        host: &str,
        port: u16,
        username: &str,
        company_id: i64,
    ) -> Result<i64, StoreError> {
        dispatch!(self, s => s.ensure_asterisk(name, host, port, username, company_id).await)
    }

    async fn set_asterisk_status(
        &self,
        asterisk_id: i64,
        status: AsteriskStatus,
    ) -> Result<AsteriskRow, StoreError> {
        dispatch!(self, s => s.set_asterisk_status(asterisk_id, status).await)
    }

    async fn map_queues(
        &self,
        asterisk_id: i64,
        company_id: i64,
        queues: &[(String, Option<i64>)],
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.map_queues(asterisk_id, company_id, queues).await)
    }

    async fn apply(
        &self,
        asterisk_id: i64,
        company_id: i64,
        effect: &Effect,
    ) -> Result<Applied, StoreError> {
        dispatch!(self, s => s.apply(asterisk_id, company_id, effect).await)
    }

    async fn apply_many(&self, jobs: &[writer::Job]) -> Result<Vec<Applied>, StoreError> {
        dispatch!(self, s => s.apply_many(jobs).await)
    }

    async fn recent_calls(&self, filter: &CallFilter) -> Result<Vec<CallRecordRow>, StoreError> {
        dispatch!(self, s => s.recent_calls(filter).await)
    }

    async fn live_calls(&self, asterisk_id: i64) -> Result<Vec<CallRecordRow>, StoreError> {
        dispatch!(self, s => s.live_calls(asterisk_id).await)
    }

    async fn close_reconciled(
        &self,
        asterisk_id: i64,
        company_id: i64,
        unique_id: &str,
        ended_at: DateTime<Utc>,
    ) -> Result<Option<Applied>, StoreError> {
        dispatch!(self, s => s.close_reconciled(asterisk_id, company_id, unique_id, ended_at).await)
    }

    async fn find_contact(
        &self,
        company_id: i64,
        number: &str,
    ) -> Result<Option<ContactRow>, StoreError> {
        dispatch!(self, s => s.find_contact(company_id, number).await)
    }

    async fn ticket(&self, ticket_id: i64) -> Result<Option<TicketRow>, StoreError> {
        dispatch!(self, s => s.ticket(ticket_id).await)
    }

    async fn claim_originate_key(
        &self,
        claim: &OriginateKey<'_>,
    ) -> Result<OriginateClaim, StoreError> {
        dispatch!(self, s => s.claim_originate_key(claim).await)
    }

    async fn find_originate_key(
        &self,
        company_id: i64,
        key: &str,
        request_hash: &str,
    ) -> Result<Option<OriginateClaim>, StoreError> {
        dispatch!(self, s => s.find_originate_key(company_id, key, request_hash).await)
    }

    async fn release_originate_key(
        &self,
        company_id: i64,
        key: &str,
        unique_id: &str,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.release_originate_key(company_id, key, unique_id).await)
    }

    async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }
}
