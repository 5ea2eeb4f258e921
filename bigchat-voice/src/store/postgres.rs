//! The PostgreSQL backend (BigChat's own database engine).

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use chrono::{DateTime, Utc};

use super::schema::{self, SchemaInfo};
use super::writer::Job;
use super::{Applied, StoreError, legacy, ops};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The migrations, recorded in the connector's own table.
static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| schema::migrator(&MIGRATIONS));

/// [`Store`](super::Store) on PostgreSQL.
///
/// Tables go to the first schema of the connection's `search_path` (set it
/// with `?options=-csearch_path%3Dmyschema` in the URL to keep the
/// connector's tables apart). A pool of up to 8 connections; acquiring one
/// times out after 5 s, which [`StoreError::is_retryable`] reports as
/// retryable.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    schema: SchemaInfo,
}

impl PgStore {
    /// Connects, finds out which database it is and migrates it (see
    /// [`schema`](super::schema)).
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let pool = pool(url, 8).await?;
        let found = schema::classify(&schema::pg_catalogue(&pool).await?)?;
        if found == schema::Found::BigChat {
            schema::pg_check_unique_keys(&pool).await?;
        }
        let (mode, legacy) = schema::plan(&found);
        let before = applied(&pool).await;
        if legacy {
            legacy::upgrade_postgres(&pool, &MIGRATOR).await?;
        } else {
            MIGRATOR.run(&pool).await?;
        }
        let schema = SchemaInfo {
            mode,
            applied: applied(&pool).await.saturating_sub(before),
            upgraded_legacy: legacy,
        };
        Ok(PgStore { pool, schema })
    }

    /// What the database is and what migrating it would do, without
    /// changing anything (see [`AnyStore::inspect`](super::AnyStore::inspect)).
    pub async fn inspect(url: &str) -> Result<schema::SchemaReport, StoreError> {
        let pool = pool(url, 1).await?;
        let report = match schema::pg_catalogue(&pool).await {
            Ok(catalogue) => {
                let total = MIGRATIONS.migrations.len();
                schema::report(&catalogue, total, applied(&pool).await)
            }
            Err(e) => Err(e),
        };
        pool.close().await;
        report
    }

    /// What the store found, and did, when it opened the database.
    pub fn schema(&self) -> &SchemaInfo {
        &self.schema
    }

    /// In attach mode, what BigChat lacks of the configured company, users
    /// (extension → `Users.id`) and queues (PBX queue → `Queues.id`), as
    /// plain sentences: a ticket naming a user or queue BigChat does not
    /// have would be refused by its foreign keys, and the call with it.
    /// Standalone: nothing (there are no `Users` or `Queues`).
    pub async fn missing_references(
        &self,
        company_id: i64,
        users: &[(String, i64)],
        queues: &[(String, i64)],
    ) -> Result<Vec<String>, StoreError> {
        if self.schema.mode != schema::SchemaMode::Attach {
            return Ok(Vec::new());
        }
        missing_in(&self.pool, company_id, users, queues).await
    }

    /// [`missing_references`](Self::missing_references) of the database at
    /// `url`, opened without migrating or changing anything (for `check`).
    pub async fn inspect_references(
        url: &str,
        company_id: i64,
        users: &[(String, i64)],
        queues: &[(String, i64)],
    ) -> Result<Vec<String>, StoreError> {
        let pool = pool(url, 1).await?;
        let result = async {
            let found = schema::classify(&schema::pg_catalogue(&pool).await?)?;
            if schema::plan(&found).0 != schema::SchemaMode::Attach {
                return Ok(Vec::new());
            }
            missing_in(&pool, company_id, users, queues).await
        }
        .await;
        pool.close().await;
        result
    }

    /// The underlying pool (for tools and tests), a type of the re-exported
    /// [`sqlx`](crate::store::sqlx): reading through it is safe; writing
    /// through it bypasses the store's idempotency and notifications.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl PgStore {
    /// The ticket statements for this database's mode.
    fn ticket_sql(&self) -> &'static super::sql::TicketSql {
        match self.schema.mode {
            schema::SchemaMode::Attach => &super::sql::ATTACH,
            _ => &super::sql::STANDALONE,
        }
    }
}

/// A pool of up to `max` connections to `url`; acquiring one times out
/// after 5 s.
async fn pool(url: &str, max: u32) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        reason: e.to_string(),
    })?;
    Ok(PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?)
}

/// What BigChat's tables lack of the configured company, users and queues.
async fn missing_in(
    pool: &PgPool,
    company_id: i64,
    users: &[(String, i64)],
    queues: &[(String, i64)],
) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let company: Option<i32> =
        sqlx::query_scalar(r#"SELECT "id" FROM "Companies" WHERE "id" = $1"#)
            .bind(company_id)
            .fetch_optional(pool)
            .await?;
    if company.is_none() {
        problems.push(format!(
            "company {company_id} does not exist in BigChat's Companies"
        ));
    }
    let owned = [
        (
            "user",
            r#"SELECT CAST("companyId" AS BIGINT) FROM "Users" WHERE "id" = $1"#,
            users,
            "extension",
        ),
        (
            "queue",
            r#"SELECT CAST("companyId" AS BIGINT) FROM "Queues" WHERE "id" = $1"#,
            queues,
            "PBX queue",
        ),
    ];
    for (what, sql, mapping, from) in owned {
        for (key, id) in mapping {
            let owner: Option<Option<i64>> = sqlx::query_scalar(sql)
                .bind(*id)
                .fetch_optional(pool)
                .await?;
            match owner {
                None => problems.push(format!(
                    "{from} {key:?} maps to {what} {id}, which BigChat does not have"
                )),
                Some(owner) if owner != Some(company_id) => problems.push(format!(
                    "{from} {key:?} maps to {what} {id}, which belongs to company {}, not {company_id}",
                    owner.map_or("none".to_string(), |c| c.to_string())
                )),
                Some(_) => {}
            }
        }
    }
    Ok(problems)
}

/// How many of the connector's migrations the database records.
async fn applied(pool: &PgPool) -> usize {
    let n: Result<i64, _> = sqlx::query_scalar(schema::COUNT_APPLIED)
        .fetch_one(pool)
        .await;
    n.ok().and_then(|n| usize::try_from(n).ok()).unwrap_or(0)
}

impl PgStore {
    /// Applies `jobs` in one transaction.
    async fn write(&self, jobs: &[Job]) -> Result<Vec<Applied>, StoreError> {
        let tickets = self.ticket_sql();
        in_transaction!(self.pool, "BEGIN", |conn| ops::apply_jobs(
            conn, jobs, tickets
        ))
    }

    /// Ends one live record in one transaction.
    async fn reconcile(
        &self,
        asterisk_id: i64,
        company_id: i64,
        unique_id: &str,
        ended_at: DateTime<Utc>,
    ) -> Result<Option<Applied>, StoreError> {
        let tickets = self.ticket_sql();
        in_transaction!(self.pool, "BEGIN", |conn| ops::reconcile(
            conn,
            (asterisk_id, company_id),
            unique_id,
            ended_at,
            tickets
        ))
    }

    async fn close_connections(&self) {
        self.pool.close().await;
    }
}

impl_store!(PgStore, sqlx::Postgres, "BEGIN");

#[cfg(test)]
mod tests {
    use sqlx::{AssertSqlSafe, Connection};

    use super::*;
    use crate::store::sql;

    /// The generic plan (the one a pooled connection keeps) of `statement`
    /// with parameter types `types` and values `values`, on fresh empty
    /// tables: the case that once produced scans.
    async fn generic_plan(
        conn: &mut sqlx::PgConnection,
        name: &str,
        types: &str,
        statement: &str,
        values: &str,
    ) -> String {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE {name}({types}) AS {statement}"
        )))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("prepare {name}: {e}"));
        let lines: Vec<String> =
            sqlx::query_scalar(AssertSqlSafe(format!("EXPLAIN EXECUTE {name}({values})")))
                .fetch_all(&mut *conn)
                .await
                .unwrap_or_else(|e| panic!("explain {name}: {e}"));
        lines.join("\n")
    }

    #[tokio::test]
    async fn record_and_contact_lookups_use_the_unique_keys() {
        if std::env::var("BIGCHAT_VOICE_SKIP_PG").is_ok_and(|v| v == "1") {
            return;
        }
        let base = std::env::var("BIGCHAT_VOICE_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at {base}: {e} (BIGCHAT_VOICE_SKIP_PG=1 skips)")
            });
        let schema = format!("plan_{:016x}", rand::random::<u64>());
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("create schema: {e}"));
        let store = PgStore::connect(&format!("{base}?options=-csearch_path%3D{schema}"))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let mut conn = store.pool.acquire().await.unwrap_or_else(|e| panic!("{e}"));

        let record = generic_plan(
            &mut conn,
            "record",
            "bigint, text",
            sql::SELECT_RECORD,
            "1, '1732443200.17'",
        )
        .await;
        let contact = generic_plan(
            &mut conn,
            "contact",
            "bigint, text, text",
            sql::FIND_CONTACT,
            "1, '+5511999990001', '5511999990001'",
        )
        .await;
        let records = generic_plan(
            &mut conn,
            "records",
            "bigint, text",
            sql::SELECT_RECORDS_PG,
            "1, '[\"1732443200.17\", \"1732443200.18\"]'",
        )
        .await;
        let contacts = generic_plan(
            &mut conn,
            "contacts",
            "bigint, text",
            sql::SELECT_CONTACTS_PG,
            "1, '[\"+5511999990001\", \"5511999990001\"]'",
        )
        .await;
        drop(conn);
        store.close_connections().await;
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
            .execute(&mut admin)
            .await;

        assert!(
            record.contains("CallRecords_asteriskId_uniqueId_key") && !record.contains("Filter"),
            "record lookup not on its unique key:\n{record}"
        );
        // The batch read-ahead: each id an equality on both key columns
        // (with `= ANY(…)` the empty table's plan kept `asteriskId` alone
        // in the index condition and filtered every row of the server).
        assert!(
            records.contains("CallRecords_asteriskId_uniqueId_key")
                && records
                    .lines()
                    .any(|l| l.contains("Index Cond") && l.contains("\"uniqueId\" =")),
            "batch record lookup not on its unique key:\n{records}"
        );
        assert!(
            contacts.contains("number_companyid_unique") && !contacts.contains("Filter"),
            "batch contact lookup not by number on the unique key:\n{contacts}"
        );
        let by_number = contact
            .lines()
            .filter(|l| l.contains("Index Cond") && l.contains("number"))
            .count();
        assert!(
            by_number == 2 && !contact.contains("Filter"),
            "contact lookup not by number on the unique key:\n{contact}"
        );
    }
}
