//! The store's services, written once for every backend.
//!
//! The rules that turn a call effect into rows ([`apply_jobs`],
//! [`reconcile`]) are generic over [`Exec`]: the same code runs on a
//! PostgreSQL transaction, on an SQLite transaction of sqlx's pool and on
//! the direct SQLite connection of the store's writer thread. The SQL
//! ([`super::sql`]) is the same text everywhere except the message/tracking
//! upsert ([`Exec::upsert_message_traking`]).
//!
//! The remaining services (reads, the `Asterisks` row) run on the sqlx pool
//! of each backend: sqlx code that is generic over the database needs
//! higher-ranked `Executor`/`Encode`/`Decode` bounds on every function, so
//! they are a macro instantiated per backend instead.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::exec::{Arg, Exec, One};
use super::writer::Job;
use super::{Applied, CallRecordRow, ContactRow, StoreError, TicketRow, logic, sql};
use crate::model::{Call, CallStatus, Direction, Effect};

/// `$work` (an expression using `$conn`, the transaction's connection) run
/// in one transaction of the sqlx pool `$pool`, opened with the statement
/// `$begin` and committed when `$work` succeeds (dropped, hence rolled
/// back, otherwise). Evaluates to `Ok(result)`; use inside a function
/// returning `Result<_, StoreError>`.
macro_rules! in_transaction {
    ($pool:expr, $begin:literal, |$conn:ident| $work:expr) => {{
        let mut tx = $pool.begin_with($begin).await?;
        let $conn = &mut *tx;
        let out = $work.await?;
        tx.commit().await?;
        Ok(out)
    }};
}

/// Implements [`Store`](super::Store) for `$store`, whose write
/// transactions on the pool begin with `$begin`, and which has a `pool`
/// field (sqlx) and the inherent methods `write(&self, &[Job])` (apply
/// effects in one transaction) and `reconcile(&self, asterisk_id,
/// company_id, unique_id, ended_at)` (end one live record in one
/// transaction).
macro_rules! impl_store {
    ($store:ty, $db:ty, $begin:literal) => {
        impl $crate::store::Store for $store {
            async fn ensure_asterisk(
                &self,
                name: &str,
                host: &str,
                port: u16,
                username: &str,
                company_id: i64,
            ) -> Result<i64, $crate::store::StoreError> {
                let server = $crate::store::ops::Server {
                    name,
                    host,
                    port,
                    username,
                    company_id,
                };
                in_transaction!(self.pool, $begin, |conn| {
                    $crate::store::ops::ensure_asterisk(conn, server)
                })
            }

            async fn set_asterisk_status(
                &self,
                asterisk_id: i64,
                status: $crate::store::AsteriskStatus,
            ) -> Result<$crate::store::AsteriskRow, $crate::store::StoreError> {
                in_transaction!(self.pool, $begin, |conn| {
                    $crate::store::ops::set_asterisk_status(conn, asterisk_id, status)
                })
            }

            async fn map_queues(
                &self,
                asterisk_id: i64,
                company_id: i64,
                queues: &[(String, Option<i64>)],
            ) -> Result<(), $crate::store::StoreError> {
                in_transaction!(self.pool, $begin, |conn| {
                    $crate::store::ops::map_queues(conn, asterisk_id, company_id, queues)
                })
            }

            async fn apply(
                &self,
                asterisk_id: i64,
                company_id: i64,
                effect: &$crate::model::Effect,
            ) -> Result<$crate::store::Applied, $crate::store::StoreError> {
                if !$crate::store::ops::writes_rows(effect) {
                    return Ok($crate::store::Applied::default());
                }
                let job = $crate::store::writer::Job::new(asterisk_id, company_id, effect.clone());
                let mut applied = self.write(std::slice::from_ref(&job)).await?;
                Ok(applied.pop().unwrap_or_default())
            }

            async fn apply_many(
                &self,
                jobs: &[$crate::store::writer::Job],
            ) -> Result<Vec<$crate::store::Applied>, $crate::store::StoreError> {
                self.write(jobs).await
            }

            async fn recent_calls(
                &self,
                filter: &$crate::store::CallFilter,
            ) -> Result<Vec<$crate::store::CallRecordRow>, $crate::store::StoreError> {
                // Only the filters given are in the statement: a catch-all
                // `$1 IS NULL OR …` keeps both planners off the
                // (companyId, startedAt) index, and the newest 50 of a
                // million records then cost a scan and a sort of all.
                let mut q = sqlx::QueryBuilder::<$db>::new($crate::store::sql::RECENT_RECORDS);
                if let Some(v) = filter.company_id {
                    q.push(r#" AND "companyId" = "#).push_bind(v);
                }
                if let Some(v) = filter.asterisk_id {
                    q.push(r#" AND "asteriskId" = "#).push_bind(v);
                }
                if let Some(v) = filter.status {
                    q.push(r#" AND "status" = "#).push_bind(v.as_str());
                }
                if let Some(v) = filter.direction {
                    q.push(r#" AND "direction" = "#).push_bind(v.as_str());
                }
                if let Some(v) = filter.agent_extension.as_deref() {
                    q.push(r#" AND "agentExtension" = "#).push_bind(v);
                }
                if let Some(v) = filter.user_id {
                    q.push(r#" AND "userId" = "#).push_bind(v);
                }
                if let Some(v) = filter.since {
                    q.push(r#" AND "startedAt" >= "#).push_bind(v);
                }
                if let Some(v) = filter.until {
                    q.push(r#" AND "startedAt" < "#).push_bind(v);
                }
                if let Some(v) = filter.unique_id.as_deref() {
                    q.push(r#" AND "uniqueId" = "#).push_bind(v);
                }
                q.push(r#" ORDER BY "startedAt" DESC, "id" DESC LIMIT "#)
                    .push_bind(i64::from(filter.limit.unwrap_or(50)));
                Ok(q.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn live_calls(
                &self,
                asterisk_id: i64,
            ) -> Result<Vec<$crate::store::CallRecordRow>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::sql::LIVE_RECORDS)
                    .bind(asterisk_id)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn close_reconciled(
                &self,
                asterisk_id: i64,
                company_id: i64,
                unique_id: &str,
                ended_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::store::Applied>, $crate::store::StoreError> {
                self.reconcile(asterisk_id, company_id, unique_id, ended_at)
                    .await
            }

            async fn find_contact(
                &self,
                company_id: i64,
                number: &str,
            ) -> Result<Option<$crate::store::ContactRow>, $crate::store::StoreError> {
                let number = $crate::store::logic::normalize_number(number);
                let (plus, digits) = $crate::store::logic::number_spellings(&number);
                Ok(sqlx::query_as($crate::store::sql::FIND_CONTACT)
                    .bind(company_id)
                    .bind(plus)
                    .bind(digits)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn ticket(
                &self,
                ticket_id: i64,
            ) -> Result<Option<$crate::store::TicketRow>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::sql::SELECT_TICKET)
                    .bind(ticket_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn claim_originate_key(
                &self,
                claim: &$crate::store::OriginateKey<'_>,
            ) -> Result<$crate::store::OriginateClaim, $crate::store::StoreError> {
                let inserted = sqlx::query($crate::store::sql::CLAIM_ORIGINATE_KEY)
                    .bind(claim.company_id)
                    .bind(claim.key)
                    .bind(claim.request_hash)
                    .bind(claim.asterisk_id)
                    .bind(claim.unique_id)
                    .bind(chrono::Utc::now())
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                if inserted == 1 {
                    return Ok($crate::store::OriginateClaim::Claimed);
                }
                // Taken. (Released between the insert and this read: the
                // key is free again, and this request may simply retry.)
                self.find_originate_key(claim.company_id, claim.key, claim.request_hash)
                    .await?
                    .ok_or_else(|| {
                        $crate::store::StoreError::InvalidData(
                            "the idempotency key was released meanwhile: try again".to_owned(),
                        )
                    })
            }

            async fn find_originate_key(
                &self,
                company_id: i64,
                key: &str,
                request_hash: &str,
            ) -> Result<Option<$crate::store::OriginateClaim>, $crate::store::StoreError> {
                // `asteriskId` is an int4 (as Sequelize makes ids).
                let row: Option<(String, i32, String)> =
                    sqlx::query_as($crate::store::sql::SELECT_ORIGINATE_KEY)
                        .bind(company_id)
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(
                    |(hash, asterisk_id, unique_id)| $crate::store::OriginateClaim::Taken {
                        same_request: hash == request_hash,
                        asterisk_id: i64::from(asterisk_id),
                        unique_id,
                    },
                ))
            }

            async fn release_originate_key(
                &self,
                company_id: i64,
                key: &str,
                unique_id: &str,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::sql::RELEASE_ORIGINATE_KEY)
                    .bind(company_id)
                    .bind(key)
                    .bind(unique_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn close(&self) {
                self.close_connections().await;
            }
        }
    };
}

/// An Asterisk server as [`Store::ensure_asterisk`](super::Store::ensure_asterisk) names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Server<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub username: &'a str,
    pub company_id: i64,
}

/// Finds or creates the server's `Asterisks` row and its voice connection
/// (see [`Store::ensure_asterisk`](super::Store::ensure_asterisk)).
pub(crate) async fn ensure_asterisk<E: Exec>(
    db: &mut E,
    server: Server<'_>,
) -> Result<i64, StoreError> {
    let now = Utc::now();
    let company = Arg::I64(server.company_id);
    let upsert = [
        Arg::Text(server.name),
        Arg::Text(server.host),
        Arg::I64(i64::from(server.port)),
        Arg::Text(server.username),
        company,
        Arg::Time(now),
    ];
    let id = match db.fetch::<One<i64>>(sql::INSERT_ASTERISK, &upsert).await? {
        Some(One(id)) => id,
        None => match db
            .fetch::<One<i64>>(sql::FIND_ASTERISK, &[company, Arg::Text(server.name)])
            .await?
        {
            Some(One(id)) => id,
            None => {
                return Err(StoreError::InvalidData(format!(
                    "Asterisks row {:?} neither found nor created",
                    server.name
                )));
            }
        },
    };
    ensure_voice_connection(db, id, server.name, server.company_id).await?;
    Ok(id)
}

/// Gives server `id` its voice connection if it has none (a new server,
/// or BigChat deleted the connection: its tickets would otherwise be made
/// with no connection, which BigChat cannot accept or close).
async fn ensure_voice_connection<E: Exec>(
    db: &mut E,
    id: i64,
    server_name: &str,
    company_id: i64,
) -> Result<(), StoreError> {
    if db
        .fetch::<One<i64>>(sql::ASTERISK_CONNECTION, &[Arg::I64(id)])
        .await?
        .is_some()
    {
        return Ok(());
    }
    let now = Utc::now();
    let company = Arg::I64(company_id);
    // BigChat's connection names are unique across companies: the plain
    // name first, then one made unique by the server's id.
    let names = [
        logic::voice_connection_name(server_name, None),
        logic::voice_connection_name(server_name, Some(id)),
    ];
    for name in &names {
        let created = db
            .fetch::<One<i64>>(
                sql::INSERT_VOICE_CONNECTION,
                &[Arg::Text(name), company, Arg::Time(now)],
            )
            .await?;
        let found = match created {
            Some(c) => Some(c),
            None => {
                db.fetch::<One<i64>>(sql::FIND_VOICE_CONNECTION, &[Arg::Text(name), company])
                    .await?
            }
        };
        if let Some(One(connection)) = found {
            let link = [Arg::I64(id), Arg::I64(connection), Arg::Time(now)];
            db.execute(sql::LINK_VOICE_CONNECTION, &link).await?;
            tracing::info!(server = server_name, connection = %name, "voice connection ready");
            return Ok(());
        }
    }
    Err(StoreError::InvalidData(format!(
        "BigChat connections named {:?} and {:?} already exist and are not voice \
         connections of company {company_id}: rename the Asterisk server",
        names[0], names[1]
    )))
}

/// Sets a server's status. Its voice connection's `Whatsapps.status` is
/// left alone: BigChat takes any `CONNECTED` connection as a default for
/// WhatsApp work (schedules, number checks), so a voice connection must
/// never look like one.
pub(crate) async fn set_asterisk_status<E: Exec>(
    db: &mut E,
    asterisk_id: i64,
    status: super::AsteriskStatus,
) -> Result<super::AsteriskRow, StoreError> {
    let now = Arg::Time(Utc::now());
    let args = [Arg::I64(asterisk_id), Arg::Text(status.as_str()), now];
    let Some(row) = db
        .fetch::<super::AsteriskRow>(sql::SET_ASTERISK_STATUS, &args)
        .await?
    else {
        return Err(StoreError::InvalidData(format!(
            "no Asterisks row with id {asterisk_id}"
        )));
    };
    Ok(row)
}

/// Makes the server's `AsteriskQueues` rows exactly `queues` (the
/// configuration is their source: rows it no longer names go).
pub(crate) async fn map_queues<E: Exec>(
    db: &mut E,
    asterisk_id: i64,
    company_id: i64,
    queues: &[(String, Option<i64>)],
) -> Result<(), StoreError> {
    let now = Utc::now();
    db.execute(sql::UNMAP_QUEUES, &[Arg::I64(asterisk_id)])
        .await?;
    for (queue, queue_id) in queues {
        let args = [
            Arg::I64(asterisk_id),
            Arg::Text(queue),
            Arg::OptI64(*queue_id),
            Arg::I64(company_id),
            Arg::Time(now),
        ];
        db.execute(sql::MAP_QUEUE, &args).await?;
    }
    Ok(())
}

/// What the current transaction already knows, so that a later effect of
/// the same batch reads it from here instead of the database.
///
/// Call records and tickets are kept as the transaction's own writes
/// (`RETURNING`) gave them: until the commit nobody else can change them
/// (PostgreSQL holds the row locks, SQLite the write lock). Contacts are
/// kept as found or created: the connector never changes a contact, and
/// one found earlier in the transaction is the one a second look would
/// find (the oldest of its number's spellings).
#[derive(Debug)]
pub(crate) struct Written {
    /// By (`asteriskId`, `uniqueId`).
    records: HashMap<(i64, String), CallRecordRow>,
    /// The batch's records as read before its first effect (`None`: no
    /// such record then), for the effects that find none in `records`.
    read: HashMap<(i64, String), Option<CallRecordRow>>,
    /// By id.
    ticket_rows: HashMap<i64, TicketRow>,
    /// By id.
    contacts: HashMap<i64, ContactRow>,
    /// Contact ids by (`companyId`, normalised number).
    numbers: HashMap<(i64, String), i64>,
    /// The ticket statements of the database's schema mode.
    tickets: &'static sql::TicketSql,
}

impl Written {
    pub(crate) fn new(tickets: &'static sql::TicketSql) -> Written {
        Written {
            records: HashMap::new(),
            read: HashMap::new(),
            ticket_rows: HashMap::new(),
            contacts: HashMap::new(),
            numbers: HashMap::new(),
            tickets,
        }
    }

    fn get(&self, key: &(i64, String)) -> Option<&CallRecordRow> {
        self.records.get(key)
    }

    fn insert(&mut self, key: (i64, String), record: CallRecordRow) {
        self.records.insert(key, record);
    }

    /// The record as this transaction wrote it or read it first; `None`
    /// when it was not looked for.
    fn record(&self, key: &(i64, String)) -> Option<Option<&CallRecordRow>> {
        match self.records.get(key) {
            Some(row) => Some(Some(row)),
            None => self.read.get(key).map(Option::as_ref),
        }
    }

    fn ticket(&self, id: i64) -> Option<&TicketRow> {
        self.ticket_rows.get(&id)
    }

    /// A ticket as this transaction wrote it.
    fn wrote_ticket(&mut self, ticket: &TicketRow) {
        self.ticket_rows.insert(ticket.id, ticket.clone());
    }

    fn contact(&self, id: i64) -> Option<&ContactRow> {
        self.contacts.get(&id)
    }

    fn contact_of(&self, company_id: i64, number: &str) -> Option<&ContactRow> {
        // The key is owned; a batch holds a few hundred numbers at most.
        let id = self.numbers.get(&(company_id, number.to_owned()))?;
        self.contacts.get(id)
    }

    fn keep_contact(&mut self, number: Option<(i64, &str)>, contact: &ContactRow) {
        if let Some((company_id, number)) = number {
            self.numbers
                .insert((company_id, number.to_owned()), contact.id);
        }
        self.contacts.insert(contact.id, contact.clone());
    }
}

/// Which effect a call change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallEffectKind {
    Started,
    Updated,
    Ended,
}

/// The call and kind of a call effect; `None` for the others.
pub(crate) fn call_effect(effect: &Effect) -> Option<(&Call, CallEffectKind)> {
    match effect {
        Effect::CallStarted(c) => Some((c, CallEffectKind::Started)),
        Effect::CallUpdated(c) => Some((c, CallEffectKind::Updated)),
        Effect::CallEnded(c) => Some((c, CallEffectKind::Ended)),
        _ => None,
    }
}

/// Applies `jobs` in order inside the caller's transaction; effects that
/// touch no call give [`Applied::default()`].
pub(crate) async fn apply_jobs<E: Exec>(
    db: &mut E,
    jobs: &[Job],
    tickets: &'static sql::TicketSql,
) -> Result<Vec<Applied>, StoreError> {
    let mut out = Vec::with_capacity(jobs.len());
    let mut written = Written::new(tickets);
    if jobs.len() > 1 {
        read_ahead(db, jobs, &mut written).await?;
    }
    for job in jobs {
        out.push(match (&job.effect, call_effect(&job.effect)) {
            (_, Some((call, kind))) => {
                let change = Change {
                    call,
                    kind,
                    position: job.position,
                };
                apply_call(db, job.asterisk_id, job.company_id, change, &mut written).await?
            }
            (Effect::OriginateFailed { unique_id, at }, None) => {
                let ids = (job.asterisk_id, job.company_id);
                let failed = (unique_id.as_str(), *at, job.position);
                originate_failed(db, ids, failed, &mut written).await?
            }
            _ => Applied::default(),
        });
    }
    Ok(out)
}

/// Reads the records of a batch's calls and the contacts of the new ones
/// (one statement per server and company, instead of one or two per
/// call), into `written`.
async fn read_ahead<E: Exec>(
    db: &mut E,
    jobs: &[Job],
    written: &mut Written,
) -> Result<(), StoreError> {
    let mut calls: HashMap<i64, Vec<&str>> = HashMap::new();
    for job in jobs {
        if let Some((call, _)) = call_effect(&job.effect) {
            let ids = calls.entry(job.asterisk_id).or_default();
            if !ids.contains(&call.unique_id.as_str()) {
                ids.push(&call.unique_id);
            }
        }
    }
    for (&asterisk_id, ids) in &calls {
        let list = json_list(ids)?;
        let rows: Vec<CallRecordRow> = db
            .fetch_all(
                E::SELECT_RECORDS,
                &[Arg::I64(asterisk_id), Arg::Text(&list)],
            )
            .await?;
        for id in ids {
            written.read.insert((asterisk_id, (*id).to_owned()), None);
        }
        for row in rows {
            written
                .read
                .insert((asterisk_id, row.unique_id.clone()), Some(row));
        }
    }
    // The numbers of the calls not recorded yet, by company.
    let mut numbers: HashMap<i64, Vec<String>> = HashMap::new();
    for job in jobs {
        let Some((call, _)) = call_effect(&job.effect) else {
            continue;
        };
        let key = (job.asterisk_id, call.unique_id.clone());
        if call.direction == Direction::Internal || !matches!(written.read.get(&key), Some(None)) {
            continue;
        }
        let number = logic::normalize_number(&call.contact_number);
        let wanted = numbers.entry(job.company_id).or_default();
        if !wanted.contains(&number) {
            wanted.push(number);
        }
    }
    for (company_id, wanted) in numbers {
        let spellings: Vec<String> = wanted
            .iter()
            .flat_map(|n| {
                let (plus, digits) = logic::number_spellings(n);
                [plus, digits]
            })
            .collect();
        let spellings: Vec<&str> = spellings.iter().map(String::as_str).collect();
        let list = json_list(&spellings)?;
        let rows: Vec<ContactRow> = db
            .fetch_all(
                E::SELECT_CONTACTS,
                &[Arg::I64(company_id), Arg::Text(&list)],
            )
            .await?;
        // As FIND_CONTACT: the oldest contact with either spelling.
        for number in &wanted {
            let (plus, digits) = logic::number_spellings(number);
            let found = rows
                .iter()
                .filter(|c| c.number == plus || c.number == digits)
                .min_by_key(|c| c.id);
            if let Some(c) = found {
                written.keep_contact(Some((company_id, number)), c);
            }
        }
    }
    Ok(())
}

/// `items` as a JSON array of strings (the statements' list parameter).
fn json_list(items: &[&str]) -> Result<String, StoreError> {
    serde_json::to_string(items).map_err(|e| StoreError::InvalidData(e.to_string()))
}

/// True for the effects that write rows.
pub(crate) fn writes_rows(effect: &Effect) -> bool {
    call_effect(effect).is_some() || matches!(effect, Effect::OriginateFailed { .. })
}

/// Ends the live, unanswered record `unique_id` as `failed` (its Originate
/// failed before any channel existed); nothing otherwise.
async fn originate_failed<E: Exec>(
    db: &mut E,
    (asterisk_id, company_id): (i64, i64),
    (unique_id, at, position): (&str, DateTime<Utc>, Option<u64>),
    written: &mut Written,
) -> Result<Applied, StoreError> {
    let live = match written.get(&(asterisk_id, unique_id.to_owned())) {
        Some(row) => Some(row.clone()),
        None => {
            db.fetch::<CallRecordRow>(
                sql::SELECT_LIVE_RECORD,
                &[Arg::I64(asterisk_id), Arg::Text(unique_id)],
            )
            .await?
        }
    };
    let Some(live) = live else {
        return Ok(Applied::default());
    };
    if live.answered_at.is_some() || live.call_status()?.is_final() {
        return Ok(Applied::default());
    }
    let mut call = reconciled_end(&live, at)?;
    call.status = CallStatus::Failed;
    call.reconciled = false;
    let change = Change {
        call: &call,
        kind: CallEffectKind::Ended,
        position,
    };
    apply_call(db, asterisk_id, company_id, change, written).await
}

/// Ends the live record `unique_id` (see
/// [`Store::close_reconciled`](super::Store::close_reconciled)) inside the
/// caller's transaction.
pub(crate) async fn reconcile<E: Exec>(
    db: &mut E,
    (asterisk_id, company_id): (i64, i64),
    unique_id: &str,
    ended_at: DateTime<Utc>,
    tickets: &'static sql::TicketSql,
) -> Result<Option<Applied>, StoreError> {
    let live: Option<CallRecordRow> = db
        .fetch(
            sql::SELECT_LIVE_RECORD,
            &[Arg::I64(asterisk_id), Arg::Text(unique_id)],
        )
        .await?;
    let Some(live) = live else {
        return Ok(None);
    };
    let call = reconciled_end(&live, ended_at)?;
    let change = Change {
        call: &call,
        kind: CallEffectKind::Ended,
        position: None,
    };
    let applied = apply_call(
        db,
        asterisk_id,
        company_id,
        change,
        &mut Written::new(tickets),
    )
    .await?;
    Ok(Some(applied))
}

async fn find_or_create_contact<E: Exec>(
    db: &mut E,
    company_id: i64,
    call: &Call,
    now: DateTime<Utc>,
    written: &mut Written,
) -> Result<(ContactRow, bool), StoreError> {
    let number = logic::normalize_number(&call.contact_number);
    if let Some(c) = written.contact_of(company_id, &number) {
        return Ok((c.clone(), false));
    }
    let (plus, digits) = logic::number_spellings(&number);
    let find = [Arg::I64(company_id), Arg::Text(&plus), Arg::Text(&digits)];
    let key = Some((company_id, number.as_str()));
    if let Some(c) = db.fetch(sql::FIND_CONTACT, &find).await? {
        written.keep_contact(key, &c);
        return Ok((c, false));
    }
    let name = call
        .contact_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&number);
    // BigChat's Contacts.name is a VARCHAR(255): a longer caller-ID name
    // must not make the call unstorable.
    let name = logic::fit_varchar(name);
    let insert = [
        Arg::Text(name),
        Arg::Text(&number),
        Arg::I64(company_id),
        Arg::Time(now),
    ];
    match db.fetch(sql::INSERT_CONTACT, &insert).await? {
        Some(c) => {
            written.keep_contact(key, &c);
            Ok((c, true))
        }
        // Lost a race with another writer: take theirs.
        None => match db.fetch(sql::FIND_CONTACT, &find).await? {
            Some(c) => {
                written.keep_contact(key, &c);
                Ok((c, false))
            }
            None => Err(StoreError::InvalidData(format!(
                "contact {number} neither found nor created"
            ))),
        },
    }
}

async fn find_or_create_ticket<E: Exec>(
    db: &mut E,
    (company_id, contact_id, asterisk_id): (i64, i64, i64),
    call: &Call,
    now: DateTime<Utc>,
    written: &mut Written,
) -> Result<(TicketRow, bool), StoreError> {
    let tickets = written.tickets;
    let last = logic::start_last_message(call.direction);
    let from_me = call.direction == Direction::Outbound;
    let queue = call.queue.as_deref();
    let reuse = [
        Arg::I64(company_id),
        Arg::I64(contact_id),
        Arg::I64(asterisk_id),
        Arg::Text(call.direction.as_str()),
        Arg::Text(last),
        Arg::Bool(from_me),
        Arg::Time(now),
        Arg::OptText(queue),
    ];
    let insert = [
        Arg::Text(last),
        Arg::Bool(from_me),
        Arg::I64(contact_id),
        Arg::I64(company_id),
        Arg::I64(asterisk_id),
        Arg::Text(call.direction.as_str()),
        Arg::Time(now),
        Arg::OptText(queue),
    ];
    let find = [
        Arg::I64(company_id),
        Arg::I64(contact_id),
        Arg::I64(asterisk_id),
    ];
    for attempt in 0..2 {
        if let Some(t) = db.fetch(tickets.reuse, &reuse).await? {
            written.wrote_ticket(&t);
            return Ok((t, false));
        }
        if let Some(t) = db.fetch(tickets.insert, &insert).await? {
            written.wrote_ticket(&t);
            return Ok((t, true));
        }
        // The contact's voice ticket exists in a state the connector leaves
        // alone, or another writer created it meanwhile: the call goes there.
        if let Some(t) = db.fetch(sql::SELECT_VOICE_TICKET, &find).await? {
            return Ok((t, false));
        }
        // Nothing matched at all: the server has no voice connection any
        // more (BigChat deleted it). Made again once, then tried again.
        if attempt == 0 {
            let server = [Arg::I64(asterisk_id)];
            let Some(One(name)) = db.fetch::<One<String>>(sql::ASTERISK_NAME, &server).await?
            else {
                return Err(StoreError::InvalidData(format!(
                    "no Asterisks row with id {asterisk_id}"
                )));
            };
            tracing::warn!(server = %name, "the voice connection is gone from BigChat: making it again");
            ensure_voice_connection(db, asterisk_id, &name, company_id).await?;
        }
    }
    Err(StoreError::InvalidData(format!(
        "no voice ticket for contact {contact_id} could be found or created \
         (Asterisks row {asterisk_id} has no voice connection)"
    )))
}

/// The record columns `callerId` … `reconciled`, in the order both
/// [`sql::INSERT_RECORD`] and [`sql::UPDATE_RECORD`] take them (`$2`..`$18`).
fn record_fields(call: &Call) -> [Arg<'_>; 17] {
    [
        Arg::Text(&call.caller_id),
        Arg::OptText(call.caller_name.as_deref()),
        Arg::Text(&call.called_number),
        Arg::Text(call.direction.as_str()),
        Arg::Text(call.status.as_str()),
        Arg::I64(call.duration),
        Arg::I64(call.hold_time),
        Arg::I64(call.talk_time),
        Arg::OptText(call.recording_url.as_deref()),
        Arg::OptText(call.recording_file.as_deref()),
        Arg::Time(call.started_at),
        Arg::OptTime(call.answered_at),
        Arg::OptTime(call.ended_at),
        Arg::OptText(call.agent_extension.as_deref()),
        Arg::OptText(call.queue.as_deref()),
        Arg::OptI64(call.hangup_cause.map(i64::from)),
        Arg::Bool(call.reconciled),
    ]
}

/// A journal position as the database keeps it.
fn position_arg(position: Option<u64>) -> Arg<'static> {
    Arg::OptI64(position.map(|p| i64::try_from(p).unwrap_or(i64::MAX)))
}

/// Inserts the record; `None` when another writer created it first.
async fn insert_record<E: Exec>(
    db: &mut E,
    ids: RecordLinks,
    call: &Call,
    (now, position): (DateTime<Utc>, Option<u64>),
) -> Result<Option<CallRecordRow>, StoreError> {
    let mut args = Vec::with_capacity(26);
    args.push(Arg::Text(&call.unique_id));
    args.extend(record_fields(call));
    args.extend([
        Arg::OptI64(ids.ticket_id),
        Arg::I64(ids.asterisk_id),
        Arg::OptI64(call.user_id),
        Arg::OptI64(ids.contact_id),
        Arg::I64(ids.company_id),
        Arg::Time(now),
        position_arg(position),
        Arg::OptText(call.classification.as_deref()),
    ]);
    db.fetch(sql::INSERT_RECORD, &args).await
}

/// Updates the record's own fields; `None` when nothing changed.
async fn update_record<E: Exec>(
    db: &mut E,
    record_id: i64,
    call: &Call,
    (now, position): (DateTime<Utc>, Option<u64>),
) -> Result<Option<CallRecordRow>, StoreError> {
    let mut args = Vec::with_capacity(22);
    args.push(Arg::I64(record_id));
    args.extend(record_fields(call));
    args.extend([
        Arg::OptI64(call.user_id),
        Arg::Time(now),
        position_arg(position),
        Arg::OptText(call.classification.as_deref()),
    ]);
    db.fetch(sql::UPDATE_RECORD, &args).await
}

/// What a new record links to.
#[derive(Debug, Clone, Copy)]
struct RecordLinks {
    asterisk_id: i64,
    company_id: i64,
    /// None for an internal call: it has no contact and no ticket.
    ticket_id: Option<i64>,
    contact_id: Option<i64>,
}

/// One change to a call record: the call as the effect has it, which effect,
/// and the journal position it came from.
#[derive(Debug, Clone, Copy)]
struct Change<'a> {
    call: &'a Call,
    kind: CallEffectKind,
    position: Option<u64>,
}

/// The whole of one call effect, inside the caller's transaction.
async fn apply_call<E: Exec>(
    db: &mut E,
    asterisk_id: i64,
    company_id: i64,
    Change {
        call,
        kind,
        position,
    }: Change<'_>,
    written: &mut Written,
) -> Result<Applied, StoreError> {
    let now = Utc::now();
    let stamp = (now, position);
    let mut out = Applied::default();
    // A record this transaction already wrote is known (and locked until
    // the commit): no need to read it back.
    let key = (asterisk_id, call.unique_id.clone());
    let record_key = [Arg::I64(asterisk_id), Arg::Text(&call.unique_id)];
    let existing: Option<CallRecordRow> = match written.record(&key) {
        Some(known) => known.cloned(),
        None => db.fetch(sql::SELECT_RECORD, &record_key).await?,
    };
    // An effect replayed from the journal whose change is already stored
    // (the record holds a later position): nothing to do. The same position
    // again is applied: it changes nothing, unless it is a later effect
    // sharing a saturated position (see `journal::effect_position`).
    if let (Some(old), Some(p)) = (&existing, position)
        && old
            .journal_seq
            .is_some_and(|done| u64::try_from(done).is_ok_and(|done| done > p))
    {
        out.call_record_id = Some(old.id);
        out.ticket_id = old.ticket_id;
        out.contact_id = old.contact_id;
        return Ok(out);
    }
    // Never forget an answer already stored (e.g. the tracker rejoined the
    // call after a restart and missed it).
    let merged;
    let call: &Call = match existing
        .as_ref()
        .and_then(|old| logic::keep_answer(old, call))
    {
        Some(m) => {
            merged = m;
            &merged
        }
        None => call,
    };
    // `before`: the record as it was before this effect (None: new).
    let (before, after) = match existing {
        Some(old) => {
            let was_final = old.call_status()?.is_final();
            let after = if kind == CallEffectKind::Ended
                || (kind == CallEffectKind::Updated && !was_final)
            {
                if E::UPDATE_CALL {
                    let ids = (asterisk_id, company_id);
                    return update_at_once(db, ids, old, (call, kind, stamp), key, written).await;
                }
                update_record(db, old.id, call, stamp).await?
            } else {
                // A start replayed, or a live update after the end.
                None
            };
            (Some(old), after)
        }
        None if call.direction == Direction::Internal => {
            // Between extensions: nobody to be a contact, no ticket.
            let links = RecordLinks {
                asterisk_id,
                company_id,
                ticket_id: None,
                contact_id: None,
            };
            insert_new(db, links, call, stamp, kind, &record_key, &mut out).await?
        }
        None => {
            let (contact, contact_created) =
                find_or_create_contact(db, company_id, call, now, written).await?;
            let ids = (company_id, contact.id, asterisk_id);
            // PostgreSQL: the ticket reused and the record inserted in one
            // statement (`Some(None)`: the record exists already).
            let mut inserted = None;
            let started = if E::UPDATE_CALL {
                let args = start_args(ids, call, stamp);
                db.start_call(written.tickets.start_call, &args).await?
            } else {
                None
            };
            let (ticket, ticket_created) = match started {
                Some((t, record)) => {
                    written.wrote_ticket(&t);
                    inserted = Some(record);
                    (t, false)
                }
                None => find_or_create_ticket(db, ids, call, now, written).await?,
            };
            out.contact_created = contact_created;
            out.ticket_created = ticket_created;
            let links = RecordLinks {
                asterisk_id,
                company_id,
                ticket_id: Some(ticket.id),
                contact_id: Some(contact.id),
            };
            out.ticket = Some(ticket);
            out.contact = Some(contact);
            match inserted {
                Some(Some(row)) => {
                    out.record_created = true;
                    (None, Some(row))
                }
                Some(None) => created_meanwhile(db, call, stamp, kind, &record_key).await?,
                None => insert_new(db, links, call, stamp, kind, &record_key, &mut out).await?,
            }
        }
    };
    let Some(current) = after.as_ref().or(before.as_ref()) else {
        return Err(StoreError::InvalidData("call record vanished".to_string()));
    };
    out.call_record_id = Some(current.id);
    out.ticket_id = current.ticket_id;
    out.contact_id = current.contact_id;

    let Some(record) = after else {
        return Ok(out); // nothing changed: nothing follows
    };
    let Next {
        open,
        touch,
        ended,
        before_final,
        last_message,
        unread,
    } = next_steps(before.as_ref(), call, kind)?;
    let answered = call.answered_at.is_some();
    if let (Some(ticket_id), true) = (record.ticket_id, touch) {
        // The ticket as it was, for the `delete` BigChat sends to the rooms
        // it leaves: only an opening changes its status or agent. Known if
        // this effect or transaction wrote it, else read.
        let before_ticket = match out.ticket.take() {
            Some(t) => Some(t),
            None if open => match written.ticket(ticket_id) {
                Some(t) => Some(t.clone()),
                None => {
                    db.fetch::<TicketRow>(sql::SELECT_TICKET, &[Arg::I64(ticket_id)])
                        .await?
                }
            },
            None => None,
        };
        let args = [
            Arg::I64(ticket_id),
            Arg::Bool(open),
            Arg::OptI64(call.user_id),
            Arg::OptText(last_message.as_deref()),
            Arg::I64(unread),
            Arg::Time(now),
            Arg::I64(asterisk_id),
            Arg::OptText(call.queue.as_deref()),
        ];
        match db.fetch::<TicketRow>(written.tickets.touch, &args).await? {
            Some(t) => {
                written.wrote_ticket(&t);
                if out.contact.is_none() {
                    out.contact = contact_by_id(db, t.contact_id, written).await?;
                }
                if !out.ticket_created {
                    out.ticket_before = before_ticket;
                }
                out.ticket = Some(t);
            }
            None => {
                return Err(StoreError::InvalidData(format!(
                    "ticket {ticket_id} of call record {} is gone",
                    record.id
                )));
            }
        }
    }
    if let (true, Some(ticket_id)) = (ended, record.ticket_id) {
        let from_me = call.direction == Direction::Outbound;
        let summary = logic::call_summary(call);
        let message_id = logic::call_message_id(asterisk_id, &call.unique_id);
        let args = [
            Arg::Text(&summary),
            Arg::OptText(logic::media_url(call.recording_url.as_deref())),
            Arg::Bool(from_me),
            Arg::Bool(from_me || answered),
            Arg::I64(ticket_id),
            Arg::OptI64(record.contact_id),
            Arg::I64(record.id),
            Arg::I64(company_id),
            Arg::Time(now),
            Arg::OptI64(call.user_id),
            Arg::Time(call.started_at),
            Arg::OptTime(call.answered_at),
            Arg::OptTime(call.ended_at),
            Arg::Text(&message_id),
            Arg::I64(asterisk_id),
            Arg::Text(logic::call_media_type(call)),
        ];
        let wrote = db.upsert_message_traking(&args).await?;
        out.message_created = !before_final;
        if out.message_created {
            out.message = match wrote {
                Some(m) => Some(m),
                // Unchanged, or a backend that does not return it.
                None => {
                    db.fetch::<super::MessageRow>(sql::SELECT_MESSAGE, &[Arg::Text(&message_id)])
                        .await?
                }
            };
        }
    }
    written.insert(key, record.clone());
    out.record = Some(record);
    Ok(out)
}

/// What follows a change of a call record.
#[derive(Debug)]
struct Next {
    /// The ticket opens for the call's agent.
    open: bool,
    /// The ticket changes (see the fields below).
    touch: bool,
    /// The effect ends the call.
    ended: bool,
    /// The record was final before this effect.
    before_final: bool,
    /// The ticket's new `lastMessage`, if any.
    last_message: Option<String>,
    /// Unread messages to add to the ticket.
    unread: i64,
}

/// What follows the change of a record that was `before` (None: new) to
/// `call` by an effect of `kind`.
fn next_steps(
    before: Option<&CallRecordRow>,
    call: &Call,
    kind: CallEffectKind,
) -> Result<Next, StoreError> {
    let before_answered = before.is_some_and(|b| b.answered_at.is_some());
    let before_user = before.and_then(|b| b.user_id);
    let before_status = before.map(|b| b.status.as_str());
    let before_final = match before {
        Some(b) => b.call_status()?.is_final(),
        None => false,
    };
    let answered = call.answered_at.is_some();
    // A ticket is opened for the agent only when the agent is a BigChat
    // user: open with nobody, nobody would see it (pending, every agent of
    // its queue does).
    let open =
        answered && call.user_id.is_some() && (!before_answered || call.user_id != before_user);
    let queue_changed = call.queue.is_some() && before.is_none_or(|b| b.queue != call.queue);
    let ended = kind == CallEffectKind::Ended;
    // The ticket first: the call's message takes the ticket's queue.
    let (last_message, unread) = if ended {
        let first_end = !before_final;
        let unread = i64::from(first_end && logic::is_missed_inbound(call));
        (Some(logic::end_last_message(call)), unread)
    } else if before_status != Some(call.status.as_str()) {
        (logic::live_last_message(call), 0)
    } else {
        (None, 0)
    };
    let touch = open || queue_changed || last_message.is_some() || unread != 0;
    Ok(Next {
        open,
        touch,
        ended,
        before_final,
        last_message,
        unread,
    })
}

/// The contact `id`, as this transaction knows it or read.
async fn contact_by_id<E: Exec>(
    db: &mut E,
    id: i64,
    written: &mut Written,
) -> Result<Option<ContactRow>, StoreError> {
    if let Some(c) = written.contact(id) {
        return Ok(Some(c.clone()));
    }
    let c = db
        .fetch::<ContactRow>(sql::SELECT_CONTACT, &[Arg::I64(id)])
        .await?;
    if let Some(c) = &c {
        written.keep_contact(None, c);
    }
    Ok(c)
}

/// [`apply_call`]'s change of the existing record `old`, with what follows
/// it (ticket, message, tracking row), in one statement
/// ([`Exec::update_call`]): the same rows and the same [`Applied`] as the
/// statements one by one.
async fn update_at_once<E: Exec>(
    db: &mut E,
    (asterisk_id, company_id): (i64, i64),
    old: CallRecordRow,
    (call, kind, (now, position)): (&Call, CallEffectKind, (DateTime<Utc>, Option<u64>)),
    key: (i64, String),
    written: &mut Written,
) -> Result<Applied, StoreError> {
    let mut out = Applied::default();
    let next = next_steps(Some(&old), call, kind)?;
    let ticket_id = old.ticket_id;
    let touch = next.touch && ticket_id.is_some();
    let message = next.ended && ticket_id.is_some();
    let known_before = match ticket_id {
        Some(id) if touch && next.open => written.ticket(id).cloned(),
        _ => None,
    };
    let want_before = touch && next.open && known_before.is_none();
    let from_me = call.direction == Direction::Outbound;
    let answered = call.answered_at.is_some();
    let (summary, message_id) = if message {
        let id = logic::call_message_id(asterisk_id, &call.unique_id);
        (logic::call_summary(call), id)
    } else {
        (String::new(), String::new())
    };
    let mut args = Vec::with_capacity(38);
    args.push(Arg::I64(old.id));
    args.extend(record_fields(call));
    args.extend([
        Arg::OptI64(call.user_id),
        Arg::Time(now),
        position_arg(position),
        Arg::OptText(call.classification.as_deref()),
        Arg::OptI64(ticket_id),
        Arg::Bool(next.open),
        Arg::OptText(next.last_message.as_deref()),
        Arg::I64(next.unread),
        Arg::I64(asterisk_id),
        Arg::Bool(touch),
        Arg::Text(&summary),
        Arg::OptText(logic::media_url(call.recording_url.as_deref())),
        Arg::Bool(from_me),
        Arg::Bool(from_me || answered),
        Arg::OptI64(old.contact_id),
        Arg::I64(company_id),
        Arg::Text(&message_id),
        Arg::Text(logic::call_media_type(call)),
        Arg::Bool(message),
        Arg::Bool(want_before),
    ]);
    let Some(done) = db.update_call(written.tickets.update_call, &args).await? else {
        // Nothing changed: nothing follows.
        out.call_record_id = Some(old.id);
        out.ticket_id = old.ticket_id;
        out.contact_id = old.contact_id;
        return Ok(out);
    };
    let record = done.record;
    out.call_record_id = Some(record.id);
    out.ticket_id = record.ticket_id;
    out.contact_id = record.contact_id;
    if touch {
        let Some(t) = done.ticket else {
            return Err(StoreError::InvalidData(format!(
                "ticket {} of call record {} is gone",
                ticket_id.unwrap_or_default(),
                record.id
            )));
        };
        written.wrote_ticket(&t);
        out.contact = contact_by_id(db, t.contact_id, written).await?;
        out.ticket_before = known_before.or(done.ticket_before);
        out.ticket = Some(t);
    }
    if message {
        out.message_created = !next.before_final;
        if out.message_created {
            out.message = match done.message {
                Some(m) => Some(m),
                None => {
                    db.fetch::<super::MessageRow>(sql::SELECT_MESSAGE, &[Arg::Text(&message_id)])
                        .await?
                }
            };
        }
    }
    written.insert(key, record.clone());
    out.record = Some(record);
    Ok(out)
}

/// Inserts a new record, or, when another writer created it meanwhile,
/// treats it as existing: (the record before this effect, after it).
async fn insert_new<E: Exec>(
    db: &mut E,
    links: RecordLinks,
    call: &Call,
    stamp: (DateTime<Utc>, Option<u64>),
    kind: CallEffectKind,
    record_key: &[Arg<'_>],
    out: &mut Applied,
) -> Result<(Option<CallRecordRow>, Option<CallRecordRow>), StoreError> {
    if let Some(row) = insert_record(db, links, call, stamp).await? {
        out.record_created = true;
        return Ok((None, Some(row)));
    }
    created_meanwhile(db, call, stamp, kind, record_key).await
}

/// The record another writer created meanwhile, as existing: (the record
/// before this effect, after it).
async fn created_meanwhile<E: Exec>(
    db: &mut E,
    call: &Call,
    stamp: (DateTime<Utc>, Option<u64>),
    kind: CallEffectKind,
    record_key: &[Arg<'_>],
) -> Result<(Option<CallRecordRow>, Option<CallRecordRow>), StoreError> {
    let Some(old) = db
        .fetch::<CallRecordRow>(sql::SELECT_RECORD, record_key)
        .await?
    else {
        return Err(StoreError::InvalidData("call record vanished".to_string()));
    };
    let after = if kind == CallEffectKind::Started {
        None
    } else {
        update_record(db, old.id, call, stamp).await?
    };
    Ok((Some(old), after))
}

/// [`sql::TicketSql::start_call`]'s arguments: the ticket of contact
/// (`company`, `contact`) on server `asterisk`, and the record of `call`.
fn start_args(
    (company_id, contact_id, asterisk_id): (i64, i64, i64),
    call: &Call,
    (now, position): (DateTime<Utc>, Option<u64>),
) -> Vec<Arg<'_>> {
    let mut args = Vec::with_capacity(29);
    args.extend([
        Arg::I64(company_id),
        Arg::I64(contact_id),
        Arg::I64(asterisk_id),
        Arg::Text(call.direction.as_str()),
        Arg::Text(logic::start_last_message(call.direction)),
        Arg::Bool(call.direction == Direction::Outbound),
        Arg::Time(now),
        Arg::OptText(call.queue.as_deref()),
        Arg::Text(&call.unique_id),
    ]);
    args.extend(record_fields(call));
    args.extend([
        Arg::OptI64(call.user_id),
        position_arg(position),
        Arg::OptText(call.classification.as_deref()),
    ]);
    args
}

/// The final state of a live record the PBX no longer knows.
pub(crate) fn reconciled_end(
    live: &CallRecordRow,
    ended_at: DateTime<Utc>,
) -> Result<Call, StoreError> {
    let mut call = live.to_call()?;
    let ended_at = ended_at.max(call.started_at);
    call.status = if call.answered_at.is_some() {
        CallStatus::Completed
    } else {
        CallStatus::NoAnswer
    };
    call.ended_at = Some(ended_at);
    call.duration = (ended_at - call.started_at).num_seconds().max(0);
    call.talk_time = match call.answered_at {
        Some(a) => ((ended_at - a).num_seconds() - call.hold_time).max(0),
        None => 0,
    };
    call.reconciled = true;
    Ok(call)
}
