//! The store's services, written once for both backends.
//!
//! The SQL ([`super::sql`]) is the same text for SQLite and PostgreSQL; only
//! the connection type differs. sqlx code that is generic over the database
//! needs higher-ranked `Executor`/`Encode`/`Decode` bounds on every function
//! (and trips over the "not general enough" limits of async fns), so the
//! services are a macro instantiated with the concrete connection type of
//! each backend instead.

/// Implements [`Store`](super::Store) for `$store` (which has a `pool`
/// field) over connections of type `$conn`, opening write transactions with
/// `$begin` and upserting a call's message and tracking row with the SQL
/// `$msg_track` (the one place where the backends' SQL differs).
macro_rules! impl_store {
    ($store:ty, $conn:ty, $begin:literal, $msg_track:expr) => {
        impl $store {
            async fn find_or_create_contact(
                conn: &mut $conn,
                company_id: i64,
                call: &$crate::model::Call,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<($crate::store::ContactRow, bool), $crate::store::StoreError> {
                use $crate::store::{ContactRow, logic, sql};
                let number = logic::normalize_number(&call.contact_number);
                let (plus, digits) = logic::number_spellings(&number);
                let found: Option<ContactRow> = sqlx::query_as(sql::FIND_CONTACT)
                    .bind(company_id)
                    .bind(&plus)
                    .bind(&digits)
                    .fetch_optional(&mut *conn)
                    .await?;
                if let Some(c) = found {
                    return Ok((c, false));
                }
                let name = call
                    .contact_name
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| number.clone());
                let inserted: Option<ContactRow> = sqlx::query_as(sql::INSERT_CONTACT)
                    .bind(&name)
                    .bind(&number)
                    .bind(company_id)
                    .bind(now)
                    .fetch_optional(&mut *conn)
                    .await?;
                match inserted {
                    Some(c) => Ok((c, true)),
                    // Lost a race with another writer: take theirs.
                    None => {
                        let c: ContactRow = sqlx::query_as(sql::FIND_CONTACT)
                            .bind(company_id)
                            .bind(&plus)
                            .bind(&digits)
                            .fetch_one(&mut *conn)
                            .await?;
                        Ok((c, false))
                    }
                }
            }

            async fn find_or_create_ticket(
                conn: &mut $conn,
                company_id: i64,
                contact_id: i64,
                asterisk_id: i64,
                call: &$crate::model::Call,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<($crate::store::TicketRow, bool), $crate::store::StoreError> {
                use $crate::model::Direction;
                use $crate::store::{TicketRow, logic, sql};
                let last = logic::start_last_message(call.direction);
                let from_me = call.direction == Direction::Outbound;
                let reused: Option<TicketRow> = sqlx::query_as(sql::REUSE_BEST_TICKET)
                    .bind(company_id)
                    .bind(contact_id)
                    .bind(asterisk_id)
                    .bind(call.direction.as_str())
                    .bind(last)
                    .bind(from_me)
                    .bind(now)
                    .fetch_optional(&mut *conn)
                    .await?;
                match reused {
                    Some(t) => Ok((t, false)),
                    None => {
                        let t: TicketRow = sqlx::query_as(sql::INSERT_TICKET)
                            .bind(last)
                            .bind(logic::new_uuid())
                            .bind(from_me)
                            .bind(contact_id)
                            .bind(company_id)
                            .bind(asterisk_id)
                            .bind(call.direction.as_str())
                            .bind(now)
                            .fetch_one(&mut *conn)
                            .await?;
                        Ok((t, true))
                    }
                }
            }

            async fn insert_record(
                conn: &mut $conn,
                asterisk_id: i64,
                company_id: i64,
                ticket_id: i64,
                contact_id: i64,
                call: &$crate::model::Call,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::store::CallRecordRow>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::sql::INSERT_RECORD)
                    .bind(&call.unique_id)
                    .bind(&call.caller_id)
                    .bind(&call.caller_name)
                    .bind(&call.called_number)
                    .bind(call.direction.as_str())
                    .bind(call.status.as_str())
                    .bind(call.duration)
                    .bind(call.hold_time)
                    .bind(call.talk_time)
                    .bind(&call.recording_url)
                    .bind(&call.recording_file)
                    .bind(call.started_at)
                    .bind(call.answered_at)
                    .bind(call.ended_at)
                    .bind(&call.agent_extension)
                    .bind(&call.queue)
                    .bind(call.hangup_cause.map(i64::from))
                    .bind(call.reconciled)
                    .bind(ticket_id)
                    .bind(asterisk_id)
                    .bind(call.user_id)
                    .bind(contact_id)
                    .bind(company_id)
                    .bind(now)
                    .fetch_optional(&mut *conn)
                    .await?)
            }

            async fn update_record(
                conn: &mut $conn,
                record_id: i64,
                call: &$crate::model::Call,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::store::CallRecordRow>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::sql::UPDATE_RECORD)
                    .bind(record_id)
                    .bind(&call.caller_id)
                    .bind(&call.caller_name)
                    .bind(&call.called_number)
                    .bind(call.direction.as_str())
                    .bind(call.status.as_str())
                    .bind(call.duration)
                    .bind(call.hold_time)
                    .bind(call.talk_time)
                    .bind(&call.recording_url)
                    .bind(&call.recording_file)
                    .bind(call.started_at)
                    .bind(call.answered_at)
                    .bind(call.ended_at)
                    .bind(&call.agent_extension)
                    .bind(&call.queue)
                    .bind(call.hangup_cause.map(i64::from))
                    .bind(call.reconciled)
                    .bind(call.user_id)
                    .bind(now)
                    .fetch_optional(&mut *conn)
                    .await?)
            }

            /// The whole of one call effect, inside the caller's transaction.
            async fn apply_call(
                conn: &mut $conn,
                asterisk_id: i64,
                company_id: i64,
                call: &$crate::model::Call,
                kind: $crate::store::ops::CallEffectKind,
                written: &mut $crate::store::ops::Written,
            ) -> Result<$crate::store::Applied, $crate::store::StoreError> {
                use $crate::model::Direction;
                use $crate::store::ops::CallEffectKind;
                use $crate::store::{Applied, CallRecordRow, TicketRow, logic, sql};

                let now = chrono::Utc::now();
                let mut out = Applied::default();
                // A record this transaction already wrote is known (and locked
                // until the commit): no need to read it back.
                let key = (asterisk_id, call.unique_id.clone());
                let existing: Option<CallRecordRow> = match written.get(&key) {
                    Some(row) => Some(row.clone()),
                    None => {
                        sqlx::query_as(sql::SELECT_RECORD)
                            .bind(asterisk_id)
                            .bind(&call.unique_id)
                            .fetch_optional(&mut *conn)
                            .await?
                    }
                };
                // Never forget an answer already stored (e.g. the tracker
                // rejoined the call after a restart and missed it).
                let merged;
                let call: &$crate::model::Call = match existing
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
                            Self::update_record(conn, old.id, call, now).await?
                        } else {
                            // A start replayed, or a live update after the end.
                            None
                        };
                        (Some(old), after)
                    }
                    None => {
                        let (contact, contact_created) =
                            Self::find_or_create_contact(conn, company_id, call, now).await?;
                        let (ticket, ticket_created) = Self::find_or_create_ticket(
                            conn,
                            company_id,
                            contact.id,
                            asterisk_id,
                            call,
                            now,
                        )
                        .await?;
                        out.contact_created = contact_created;
                        out.ticket_created = ticket_created;
                        out.ticket = Some(ticket.clone());
                        let inserted = Self::insert_record(
                            conn,
                            asterisk_id,
                            company_id,
                            ticket.id,
                            contact.id,
                            call,
                            now,
                        )
                        .await?;
                        match inserted {
                            Some(row) => {
                                out.record_created = true;
                                (None, Some(row))
                            }
                            None => {
                                // Another writer created it meanwhile: treat as existing.
                                let old: CallRecordRow = sqlx::query_as(sql::SELECT_RECORD)
                                    .bind(asterisk_id)
                                    .bind(&call.unique_id)
                                    .fetch_one(&mut *conn)
                                    .await?;
                                let after = if kind == CallEffectKind::Started {
                                    None
                                } else {
                                    Self::update_record(conn, old.id, call, now).await?
                                };
                                (Some(old), after)
                            }
                        }
                    }
                };
                let current = after.as_ref().or(before.as_ref());
                let Some(current) = current else {
                    return Err($crate::store::StoreError::InvalidData(
                        "call record vanished".to_string(),
                    ));
                };
                out.call_record_id = Some(current.id);
                out.ticket_id = current.ticket_id;
                out.contact_id = current.contact_id;

                let Some(record) = after else {
                    return Ok(out); // nothing changed: nothing follows
                };
                let before_answered = before.as_ref().is_some_and(|b| b.answered_at.is_some());
                let before_user = before.as_ref().and_then(|b| b.user_id);
                let before_status = before.as_ref().map(|b| b.status.as_str());
                let before_final = match before.as_ref() {
                    Some(b) => b.call_status()?.is_final(),
                    None => false,
                };
                let answered = call.answered_at.is_some();
                let open = answered
                    && (!before_answered
                        || (call.user_id.is_some() && call.user_id != before_user));
                let ended = kind == CallEffectKind::Ended;
                let mut last_message: Option<String> = None;
                let mut unread: i64 = 0;
                if ended {
                    last_message = Some(logic::end_last_message(call));
                    if let Some(ticket_id) = record.ticket_id {
                        let from_me = call.direction == Direction::Outbound;
                        sqlx::query($msg_track)
                            .bind(logic::call_summary(call))
                            .bind(&call.recording_url)
                            .bind(from_me)
                            .bind(from_me || answered)
                            .bind(ticket_id)
                            .bind(record.contact_id)
                            .bind(record.id)
                            .bind(company_id)
                            .bind(now)
                            .bind(call.user_id)
                            .bind(call.started_at)
                            .bind(call.answered_at)
                            .bind(call.ended_at)
                            .execute(&mut *conn)
                            .await?;
                        if !before_final {
                            out.message_created = true;
                            if logic::is_missed_inbound(call) {
                                unread = 1;
                            }
                        }
                    }
                } else if before_status != Some(call.status.as_str()) {
                    last_message = logic::live_last_message(call);
                }
                let touch = open || last_message.is_some() || unread != 0;
                if let (Some(ticket_id), true) = (record.ticket_id, touch) {
                    let t: TicketRow = sqlx::query_as(sql::TOUCH_TICKET)
                        .bind(ticket_id)
                        .bind(open)
                        .bind(call.user_id)
                        .bind(last_message)
                        .bind(unread)
                        .bind(now)
                        .fetch_one(&mut *conn)
                        .await?;
                    out.ticket = Some(t);
                }
                written.insert(key, record.clone());
                out.record = Some(record);
                Ok(out)
            }
        }

        impl $crate::store::Store for $store {
            async fn ensure_asterisk(
                &self,
                name: &str,
                host: &str,
                port: u16,
                username: &str,
                company_id: i64,
            ) -> Result<i64, $crate::store::StoreError> {
                use $crate::store::sql;
                let now = chrono::Utc::now();
                let id: Option<i64> = sqlx::query_scalar(sql::INSERT_ASTERISK)
                    .bind(name)
                    .bind(host)
                    .bind(i64::from(port))
                    .bind(username)
                    .bind(company_id)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                match id {
                    Some(id) => Ok(id),
                    None => Ok(sqlx::query_scalar(sql::FIND_ASTERISK)
                        .bind(company_id)
                        .bind(name)
                        .fetch_one(&self.pool)
                        .await?),
                }
            }

            async fn set_asterisk_status(
                &self,
                asterisk_id: i64,
                status: $crate::store::AsteriskStatus,
            ) -> Result<$crate::store::AsteriskRow, $crate::store::StoreError> {
                let row: Option<$crate::store::AsteriskRow> =
                    sqlx::query_as($crate::store::sql::SET_ASTERISK_STATUS)
                        .bind(asterisk_id)
                        .bind(status.as_str())
                        .bind(chrono::Utc::now())
                        .fetch_optional(&self.pool)
                        .await?;
                row.ok_or_else(|| {
                    $crate::store::StoreError::InvalidData(format!(
                        "no Asterisks row with id {asterisk_id}"
                    ))
                })
            }

            async fn apply(
                &self,
                asterisk_id: i64,
                company_id: i64,
                effect: &$crate::model::Effect,
            ) -> Result<$crate::store::Applied, $crate::store::StoreError> {
                use $crate::model::Effect;
                use $crate::store::ops::CallEffectKind;
                let (call, kind) = match effect {
                    Effect::CallStarted(c) => (c, CallEffectKind::Started),
                    Effect::CallUpdated(c) => (c, CallEffectKind::Updated),
                    Effect::CallEnded(c) => (c, CallEffectKind::Ended),
                    _ => return Ok($crate::store::Applied::default()),
                };
                let mut tx = self.pool.begin_with($begin).await?;
                let applied = Self::apply_call(
                    &mut tx,
                    asterisk_id,
                    company_id,
                    call,
                    kind,
                    &mut $crate::store::ops::Written::new(),
                )
                .await?;
                tx.commit().await?;
                Ok(applied)
            }

            async fn apply_many(
                &self,
                jobs: &[$crate::store::writer::Job],
            ) -> Result<Vec<$crate::store::Applied>, $crate::store::StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                let mut out = Vec::with_capacity(jobs.len());
                let mut written = $crate::store::ops::Written::new();
                for job in jobs {
                    let Some((call, kind)) = $crate::store::ops::call_effect(&job.effect) else {
                        out.push($crate::store::Applied::default());
                        continue;
                    };
                    out.push(
                        Self::apply_call(
                            &mut tx,
                            job.asterisk_id,
                            job.company_id,
                            call,
                            kind,
                            &mut written,
                        )
                        .await?,
                    );
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn recent_calls(
                &self,
                filter: &$crate::store::CallFilter,
            ) -> Result<Vec<$crate::store::CallRecordRow>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::sql::RECENT_RECORDS)
                    .bind(filter.company_id)
                    .bind(filter.asterisk_id)
                    .bind(filter.status.map(|s| s.as_str()))
                    .bind(filter.direction.map(|d| d.as_str()))
                    .bind(filter.agent_extension.as_deref())
                    .bind(filter.user_id)
                    .bind(filter.since)
                    .bind(filter.until)
                    .bind(i64::from(filter.limit.unwrap_or(50)))
                    .fetch_all(&self.pool)
                    .await?)
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
                use $crate::store::ops::CallEffectKind;
                let mut tx = self.pool.begin_with($begin).await?;
                let live: Option<$crate::store::CallRecordRow> =
                    sqlx::query_as($crate::store::sql::SELECT_LIVE_RECORD)
                        .bind(asterisk_id)
                        .bind(unique_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(live) = live else {
                    return Ok(None);
                };
                let call = $crate::store::ops::reconciled_end(&live, ended_at)?;
                let applied = Self::apply_call(
                    &mut tx,
                    asterisk_id,
                    company_id,
                    &call,
                    CallEffectKind::Ended,
                    &mut $crate::store::ops::Written::new(),
                )
                .await?;
                tx.commit().await?;
                Ok(Some(applied))
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

            async fn close(&self) {
                self.pool.close().await;
            }
        }
    };
}

use chrono::{DateTime, Utc};

use super::{CallRecordRow, StoreError};
use crate::model::{Call, CallStatus, Effect};

/// The call records written (inserted or updated) by the current
/// transaction, by (`asteriskId`, `uniqueId`), as their `RETURNING` gave
/// them. Until the commit nobody else can change them (PostgreSQL holds the
/// row locks, SQLite the write lock), so a later effect of the same call in
/// the same batch reads them from here instead of the database.
pub(crate) type Written = std::collections::HashMap<(i64, String), CallRecordRow>;

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
