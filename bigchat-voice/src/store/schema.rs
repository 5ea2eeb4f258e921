//! Which database the store was pointed at, and what it may do to it.
//!
//! Before anything is written the store reads the list of tables and
//! columns and decides:
//!
//! | what is there | mode | what happens |
//! |---|---|---|
//! | nothing | [`SchemaMode::Standalone`] | BigChat's voice-related tables are created with BigChat's own types, then the voice tables |
//! | BigChat (`SequelizeMeta` and the tables the voice channel writes) | [`SchemaMode::Attach`] | only the voice tables and columns are added; no BigChat column is dropped or retyped |
//! | this connector's bookkeeping table ([`MIGRATIONS_TABLE`]) | as recorded | pending migrations, if any |
//! | an earlier version's schema (`_sqlx_migrations` with its tables) | standalone | upgraded in place (the `legacy` module) |
//! | anything else | refused | [`StoreError::UnrecognisedDatabase`] names what is missing; nothing is written |
//!
//! Migrations are tracked in [`MIGRATIONS_TABLE`], never in sqlx's default
//! `_sqlx_migrations`, which another tool sharing BigChat's database could use.

// Without a backend only the public types below are used.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use std::collections::{BTreeMap, BTreeSet};

use super::StoreError;

/// The table that records which of the connector's migrations ran.
pub const MIGRATIONS_TABLE: &str = "bigchat_voice_migrations";

/// The table BigChat's Sequelize keeps its migrations in: its presence is
/// what tells a BigChat database apart.
const SEQUELIZE_META: &str = "SequelizeMeta";

/// The earlier connector versions' bookkeeping table (sqlx's default).
const LEGACY_MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// How the connector's tables sit in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemaMode {
    /// A BigChat database: the connector added its voice tables and columns
    /// to BigChat's own.
    Attach,
    /// The connector's own database (the embedded SQLite default, or an
    /// empty PostgreSQL): it created the BigChat tables it writes to.
    Standalone,
}

impl SchemaMode {
    /// `attach` or `standalone`.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaMode::Attach => "attach",
            SchemaMode::Standalone => "standalone",
        }
    }
}

impl std::fmt::Display for SchemaMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the store found, and did, when it opened the database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaInfo {
    /// The mode.
    pub mode: SchemaMode,
    /// Migrations applied by this open (0: the schema was up to date).
    pub applied: usize,
    /// The schema of an earlier connector version was upgraded (its
    /// contacts' numbers made digits-only and merged).
    pub upgraded_legacy: bool,
}

/// What [`AnyStore::inspect`](super::AnyStore::inspect) found, without
/// changing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaReport {
    /// The mode the database is (or would be, once migrated) in.
    pub mode: SchemaMode,
    /// The connector's migrations not applied yet.
    pub pending: usize,
    /// The schema of an earlier connector version, to be upgraded.
    pub legacy: bool,
    /// The database exists (false: an SQLite file not created yet).
    pub exists: bool,
}

/// Tables and their columns, as read from the database's catalogue.
pub(crate) type Catalogue = BTreeMap<String, BTreeSet<String>>;

/// The BigChat tables the voice channel writes to, and the columns it
/// reads or writes in each.
pub(crate) const BIGCHAT_TABLES: [(&str, &[&str]); 5] = [
    (
        "Whatsapps",
        &[
            "id",
            "name",
            "status",
            "provider",
            "isDefault",
            "retries",
            "greetingMessage",
            "complationMessage",
            "outOfHoursMessage",
            "ratingMessage",
            "farewellMessage",
            "companyId",
            "createdAt",
            "updatedAt",
        ],
    ),
    (
        "Contacts",
        &[
            "id",
            "name",
            "number",
            "email",
            "isGroup",
            "companyId",
            "createdAt",
            "updatedAt",
        ],
    ),
    (
        "Tickets",
        &[
            "id",
            "status",
            "lastMessage",
            "contactId",
            "userId",
            "whatsappId",
            "isGroup",
            "unreadMessages",
            "queueId",
            "companyId",
            "uuid",
            "fromMe",
            "createdAt",
            "updatedAt",
        ],
    ),
    (
        "Messages",
        &[
            "id",
            "body",
            "ack",
            "read",
            "mediaType",
            "mediaUrl",
            "ticketId",
            "fromMe",
            "isDeleted",
            "isEdited",
            "contactId",
            "companyId",
            "queueId",
            "createdAt",
            "updatedAt",
        ],
    ),
    (
        "TicketTraking",
        &[
            "id",
            "ticketId",
            "companyId",
            "whatsappId",
            "userId",
            "queuedAt",
            "startedAt",
            "finishedAt",
            "rated",
            "createdAt",
            "updatedAt",
        ],
    ),
];

/// The tables only this connector creates.
const VOICE_TABLES: [&str; 4] = [
    "Asterisks",
    "AsteriskQueues",
    "CallRecords",
    "CallOriginateKeys",
];

/// What a catalogue is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// No table at all.
    Empty,
    /// The connector's own bookkeeping table: migrated before, in this mode.
    Ours(SchemaMode),
    /// A BigChat database the connector has not touched yet.
    BigChat,
    /// An earlier connector version's schema.
    Legacy,
}

/// Decides what the database is, or why the store must not touch it.
pub(crate) fn classify(catalogue: &Catalogue) -> Result<Found, StoreError> {
    let has = |t: &str| catalogue.contains_key(t);
    let bigchat = has(SEQUELIZE_META);
    if has(MIGRATIONS_TABLE) {
        let mode = if bigchat {
            SchemaMode::Attach
        } else {
            SchemaMode::Standalone
        };
        return Ok(Found::Ours(mode));
    }
    if catalogue.is_empty() {
        return Ok(Found::Empty);
    }
    if !bigchat && has(LEGACY_MIGRATIONS_TABLE) && has("CallRecords") && has("Asterisks") {
        return Ok(Found::Legacy);
    }
    let missing = missing_bigchat_parts(catalogue);
    if bigchat && missing.is_empty() {
        if let Some(t) = VOICE_TABLES.iter().find(|t| has(t)) {
            return Err(StoreError::UnrecognisedDatabase {
                reason: format!(
                    "this is a BigChat database, but it already has a table \"{t}\" that \
                     bigchat-voice did not create (no {MIGRATIONS_TABLE} table); \
                     rename or drop it first"
                ),
            });
        }
        return Ok(Found::BigChat);
    }
    let mut tables: Vec<&str> = catalogue.keys().map(String::as_str).collect();
    let shown = tables.len().min(5);
    let more = tables.len() - shown;
    tables.truncate(shown);
    let found = format!(
        "{}{}",
        tables.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    );
    let reason = if bigchat {
        format!(
            "it has BigChat's {SEQUELIZE_META} but lacks {}: run BigChat's own migrations first",
            missing.join(", ")
        )
    } else {
        let mut needed = vec![SEQUELIZE_META.to_string()];
        needed.extend(missing);
        format!(
            "the database is neither empty nor a BigChat database (it has {found}; \
             a BigChat database has {})",
            needed.join(", ")
        )
    };
    Err(StoreError::UnrecognisedDatabase { reason })
}

/// The BigChat tables and columns the voice channel needs that the
/// catalogue lacks, as `Table` or `Table.column`.
pub(crate) fn missing_bigchat_parts(catalogue: &Catalogue) -> Vec<String> {
    let mut missing = Vec::new();
    for (table, columns) in BIGCHAT_TABLES {
        match catalogue.get(table) {
            None => missing.push(table.to_string()),
            Some(have) => missing.extend(
                columns
                    .iter()
                    .filter(|c| !have.contains(**c))
                    .map(|c| format!("{table}.{c}")),
            ),
        }
    }
    missing
}

/// The connector's migrator for `source` (an embedded `migrate!`), keeping
/// its records in [`MIGRATIONS_TABLE`].
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn migrator(source: &'static sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    let mut m = sqlx::migrate::Migrator::DEFAULT;
    m.migrations = source.migrations.clone();
    m.dangerous_set_table_name(MIGRATIONS_TABLE);
    m
}

/// Reads the tables (and their columns) of the schema new tables go to
/// (the first of the `search_path`), from `pg_catalog`, which shows every
/// table whatever the role may read (`information_schema` hides the ones
/// it has no privilege on). BigChat's tables in another schema of the
/// search path would otherwise make a BigChat database look empty, and the
/// connector would build its own copy where BigChat never looks: refused.
#[cfg(feature = "postgres")]
pub(crate) async fn pg_catalogue(pool: &sqlx::PgPool) -> Result<Catalogue, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        r#"SELECT c.relname::text, a.attname::text
 FROM pg_catalog.pg_class c
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"#,
    )
    .fetch_all(pool)
    .await?;
    let catalogue = collect(rows);
    if !catalogue.contains_key(SEQUELIZE_META) {
        let elsewhere: Option<(String, Option<String>)> = sqlx::query_as(
            r#"SELECT n.nspname::text, current_schema()::text FROM pg_catalog.pg_class c
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relname = 'SequelizeMeta' AND n.nspname = ANY (current_schemas(false))
 AND n.nspname IS DISTINCT FROM current_schema() LIMIT 1"#,
        )
        .fetch_optional(pool)
        .await?;
        if let Some((bigchat, ours)) = elsewhere {
            return Err(StoreError::UnrecognisedDatabase {
                reason: format!(
                    "BigChat's tables are in schema \"{bigchat}\", but this connection creates \
                     tables in schema \"{}\" (the first of its search_path): put \"{bigchat}\" \
                     first (e.g. ALTER ROLE … SET search_path = {bigchat})",
                    ours.unwrap_or_default()
                ),
            });
        }
    }
    Ok(catalogue)
}

/// BigChat's unique keys that the connector's upserts rely on (`ON
/// CONFLICT`): a database without them is refused by name (every call
/// would fail otherwise).
#[cfg(feature = "postgres")]
pub(crate) async fn pg_check_unique_keys(pool: &sqlx::PgPool) -> Result<(), StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        r#"SELECT c.relname::text, array_to_string(ARRAY(
   SELECT a.attname::text FROM unnest(i.indkey) AS k(attnum)
   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
   ORDER BY 1), ',')
 FROM pg_catalog.pg_index i
 JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE i.indisunique AND n.nspname = current_schema() AND c.relname IN ('Tickets', 'Contacts')"#,
    )
    .fetch_all(pool)
    .await?;
    let has = |table: &str, cols: &str| rows.iter().any(|(t, c)| t == table && c == cols);
    let mut missing = Vec::new();
    if !has("Tickets", "companyId,contactId,whatsappId") {
        missing.push("UNIQUE (\"contactId\", \"companyId\", \"whatsappId\") on Tickets");
    }
    if !has("Contacts", "companyId,number") {
        missing.push("UNIQUE (\"number\", \"companyId\") on Contacts");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::UnrecognisedDatabase {
            reason: format!(
                "this BigChat database lacks {}: run BigChat's own migrations first",
                missing.join(" and ")
            ),
        })
    }
}

/// Reads the tables (and their columns) of an SQLite database.
#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite_catalogue(pool: &sqlx::SqlitePool) -> Result<Catalogue, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p
 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(pool)
    .await?;
    Ok(collect(rows))
}

fn collect(rows: Vec<(String, String)>) -> Catalogue {
    let mut out = Catalogue::new();
    for (table, column) in rows {
        out.entry(table).or_default().insert(column);
    }
    out
}

/// The mode a database found as `found` is opened in, and whether it is an
/// earlier version's schema to upgrade first.
pub(crate) fn plan(found: &Found) -> (SchemaMode, bool) {
    match found {
        Found::Empty => (SchemaMode::Standalone, false),
        Found::Ours(mode) => (*mode, false),
        Found::BigChat => (SchemaMode::Attach, false),
        Found::Legacy => (SchemaMode::Standalone, true),
    }
}

/// The report on a database whose catalogue is `catalogue`, with `applied`
/// of the connector's `total` migrations recorded.
pub(crate) fn report(
    catalogue: &Catalogue,
    total: usize,
    applied: usize,
) -> Result<SchemaReport, StoreError> {
    let (mode, legacy) = plan(&classify(catalogue)?);
    Ok(SchemaReport {
        mode,
        pending: total.saturating_sub(applied),
        legacy,
        exists: true,
    })
}

/// The statement counting the connector's applied migrations.
pub(crate) const COUNT_APPLIED: &str =
    "SELECT CAST(COUNT(*) AS BIGINT) FROM bigchat_voice_migrations WHERE success";

#[cfg(test)]
mod tests {
    use super::*;

    fn bigchat() -> Catalogue {
        let mut c = Catalogue::new();
        for (table, columns) in BIGCHAT_TABLES {
            c.insert(
                table.to_string(),
                columns.iter().map(|s| s.to_string()).collect(),
            );
        }
        c.insert(SEQUELIZE_META.to_string(), ["name".to_string()].into());
        c.insert("Users".to_string(), ["id".to_string()].into());
        c
    }

    #[test]
    fn tells_the_databases_apart() {
        assert_eq!(classify(&Catalogue::new()).ok(), Some(Found::Empty));
        let mut c = bigchat();
        assert_eq!(classify(&c).ok(), Some(Found::BigChat));
        c.insert(MIGRATIONS_TABLE.to_string(), BTreeSet::new());
        assert_eq!(classify(&c).ok(), Some(Found::Ours(SchemaMode::Attach)));
        let mut ours = Catalogue::new();
        ours.insert(MIGRATIONS_TABLE.to_string(), BTreeSet::new());
        assert_eq!(
            classify(&ours).ok(),
            Some(Found::Ours(SchemaMode::Standalone))
        );
        let mut legacy = Catalogue::new();
        for t in [
            LEGACY_MIGRATIONS_TABLE,
            "Asterisks",
            "CallRecords",
            "Contacts",
        ] {
            legacy.insert(t.to_string(), BTreeSet::new());
        }
        assert_eq!(classify(&legacy).ok(), Some(Found::Legacy));
    }

    #[test]
    fn refuses_what_it_does_not_know_and_says_why() {
        let mut other = Catalogue::new();
        other.insert("invoices".to_string(), ["id".to_string()].into());
        let err = classify(&other).expect_err("foreign database");
        let text = err.to_string();
        assert!(
            text.contains("neither empty nor a BigChat database"),
            "{text}"
        );
        assert!(
            text.contains("invoices") && text.contains("SequelizeMeta"),
            "{text}"
        );

        let mut old = bigchat();
        old.remove("TicketTraking");
        if let Some(cols) = old.get_mut("Tickets") {
            cols.remove("uuid");
        }
        let text = classify(&old).expect_err("incomplete").to_string();
        assert!(
            text.contains("TicketTraking") && text.contains("Tickets.uuid"),
            "{text}"
        );

        let mut clash = bigchat();
        clash.insert("CallRecords".to_string(), BTreeSet::new());
        let text = classify(&clash).expect_err("clash").to_string();
        assert!(text.contains("\"CallRecords\""), "{text}");
    }
}
