//! An app's own tables in the server's store (issue 14, item 4): the store's
//! pool, shared; one folder of migrations, portable SQL with a file per
//! dialect where it must differ ([`crate::migrations!`]); each query written
//! once where the SQL is portable (`$1`, `$2`, … placeholders work on both),
//! or once per dialect where it is not ([`AppStore::dialect`]). Every call
//! runs under the store's deadline, as gatehouse's own calls do.
//!
//! ```no_run
//! use gatehouse::{AppMigrations, AppStore, Store, StoreError};
//!
//! // One folder: `0001_notes.sql` runs on both databases; a version may
//! // instead be a `.sqlite.sql` / `.postgres.sql` pair.
//! static MIGRATIONS: AppMigrations = gatehouse::migrations!("../tests/migrations/notes");
//!
//! #[derive(sqlx::FromRow)]
//! struct Note {
//!     id: String,
//!     body: String,
//! }
//!
//! async fn notes_of(store: &Store, user: &str) -> Result<Vec<Note>, StoreError> {
//!     // Applies what is new; tracked in `_notes_migrations`.
//!     let notes = AppStore::open(store, "notes", &MIGRATIONS).await?;
//!     notes
//!         .query("INSERT INTO notes (id, owner, body) VALUES ($1, $2, $3)")
//!         .bind("n1")
//!         .bind(user)
//!         .bind("milk")
//!         .execute()
//!         .await?;
//!     notes
//!         .query("SELECT id, body FROM notes WHERE owner = $1 ORDER BY id")
//!         .bind(user)
//!         .fetch_all()
//!         .await
//! }
//! ```

use std::borrow::Cow;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, PgPool, SqlSafeStr, SqlitePool};

use super::{Backend, Store, StoreResult, within};

/// One migration of an app: portable SQL, or one text per dialect.
#[derive(Debug, Clone, Copy)]
pub struct AppMigration {
    /// Its number (the file name's prefix); migrations run in this order.
    pub version: i64,
    /// The rest of the file name.
    pub description: &'static str,
    /// `<version>_<description>.sql`: SQL both databases run.
    pub portable: Option<&'static str>,
    /// `….sqlite.sql`: SQLite's text where the dialects differ.
    pub sqlite: Option<&'static str>,
    /// `….postgres.sql`: PostgreSQL's text where the dialects differ.
    pub postgres: Option<&'static str>,
}

/// An app's migrations, in version order ([`crate::migrations!`] embeds a
/// folder of them).
#[derive(Debug, Clone, Copy)]
pub struct AppMigrations(pub &'static [AppMigration]);

impl AppMigrations {
    /// The SQL of each migration for `backend`, in order.
    fn for_backend(&self, backend: Backend) -> Vec<Migration> {
        self.0
            .iter()
            .map(|m| {
                let dialect = match backend {
                    Backend::Sqlite => m.sqlite,
                    Backend::Postgres => m.postgres,
                };
                // The macro checked that each has one or the other.
                let sql = dialect.or(m.portable).unwrap_or_default();
                Migration::new(
                    m.version,
                    Cow::Borrowed(m.description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect()
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An app's tables in the server's store; cheap to clone.
#[derive(Clone)]
pub struct AppStore {
    pool: Pool,
    deadline: Duration,
}

/// A value bound to a query's placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `TEXT` (from `&str`, `String` and their `Option`s; `None` is NULL).
    Text(Option<String>),
    /// `INTEGER`/`BIGINT` (from `i64`, `i32`, `u32`).
    Int(Option<i64>),
    /// `REAL`/`DOUBLE PRECISION` (from `f64`).
    Float(Option<f64>),
    /// `BOOLEAN` (SQLite stores 0 or 1).
    Bool(Option<bool>),
    /// `BLOB`/`BYTEA`.
    Bytes(Option<Vec<u8>>),
}

macro_rules! arg_from {
    ($($t:ty => $variant:ident($conv:expr)),* $(,)?) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Arg {
                Arg::$variant(Some(($conv)(v)))
            }
        }
        impl From<Option<$t>> for Arg {
            fn from(v: Option<$t>) -> Arg {
                Arg::$variant(v.map($conv))
            }
        }
    )*};
}

arg_from! {
    String => Text(|v| v),
    &str => Text(str::to_string),
    &String => Text(String::clone),
    i64 => Int(|v| v),
    i32 => Int(i64::from),
    u32 => Int(i64::from),
    f64 => Float(|v| v),
    bool => Bool(|v| v),
    Vec<u8> => Bytes(|v| v),
}

impl AppStore {
    /// The app `name`'s tables in `store`, migrated: its migrations are
    /// tracked in `_{name}_migrations`, apart from gatehouse's own and other
    /// apps'. Opening again applies only what is new; a migration changed
    /// after it was applied is refused (`StoreError::Migration`).
    pub async fn open(
        store: &Store,
        name: &str,
        migrations: &AppMigrations,
    ) -> StoreResult<AppStore> {
        // Part of a table name in the migrator's SQL: a plain identifier only.
        let plain = name.len() <= 40
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !plain {
            return Err(super::StoreError::BadAppName(name.to_string()));
        }
        let pool = match (store.sqlite(), store.postgres()) {
            (Some(p), _) => Pool::Sqlite(p.clone()),
            (_, Some(p)) => Pool::Postgres(p.clone()),
            (None, None) => unreachable!("a store has one of its two pools"),
        };
        let mut migrator = Migrator::with_migrations(migrations.for_backend(store.backend()));
        migrator.dangerous_set_table_name(format!("_{name}_migrations"));
        match &pool {
            Pool::Sqlite(p) => migrator.run(p).await?,
            Pool::Postgres(p) => {
                // On its own connection, closed if the run fails: sqlx returns
                // from a refused migration (one edited after it ran) still
                // holding its session advisory lock, and a pooled connection
                // would keep it, stalling every later migration on this
                // database, gatehouse's own at the next start included.
                let mut conn = p.acquire().await?;
                if let Err(e) = migrator.run(&mut *conn).await {
                    conn.close_on_drop();
                    return Err(e.into());
                }
            }
        }
        Ok(AppStore {
            pool,
            deadline: store.deadline,
        })
    }

    /// Which database the app's tables are in.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// A query written once for both databases (`$1`, `$2`, … placeholders).
    pub fn query(&self, sql: &'static str) -> Query<'_> {
        Query {
            store: self,
            sql,
            args: Vec::new(),
        }
    }

    /// A query whose SQL differs by database (full-text search, say); the
    /// arguments bound are the same.
    pub fn dialect(&self, sqlite: &'static str, postgres: &'static str) -> Query<'_> {
        let sql = match self.pool {
            Pool::Sqlite(_) => sqlite,
            Pool::Postgres(_) => postgres,
        };
        self.query(sql)
    }
}

/// A query with its arguments, run by one of its `execute` or `fetch_*`.
pub struct Query<'a> {
    store: &'a AppStore,
    sql: &'static str,
    args: Vec<Arg>,
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Float(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Bytes(v) => q.bind(v),
            };
        }
        q
    }};
}

/// Run `query` on whichever pool the store has, under its deadline: `make`
/// builds the statement (its database inferred per arm), `run` is the
/// executor method, and an optional `.then()` reads its result (whose type
/// differs per database).
macro_rules! run_on_pool {
    ($query:expr, $make:expr, $run:ident $(.$then:ident())?) => {{
        let Query { store, sql, args } = $query;
        within(store.deadline, async move {
            Ok(match &store.pool {
                Pool::Sqlite(p) => bind_all!($make(sql), args).$run(p).await? $(.$then())?,
                Pool::Postgres(p) => bind_all!($make(sql), args).$run(p).await? $(.$then())?,
            })
        })
        .await
    }};
}

impl Query<'_> {
    /// Bind the next placeholder.
    pub fn bind(mut self, value: impl Into<Arg>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Run a statement; the number of rows it changed.
    pub async fn execute(self) -> StoreResult<u64> {
        run_on_pool!(self, sqlx::query, execute.rows_affected())
    }

    /// Every row, as `T` (`#[derive(sqlx::FromRow)]` decodes from both).
    pub async fn fetch_all<T>(self) -> StoreResult<Vec<T>>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        run_on_pool!(self, sqlx::query_as::<_, T>, fetch_all)
    }

    /// The first row, if any, as `T`.
    pub async fn fetch_optional<T>(self) -> StoreResult<Option<T>>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        run_on_pool!(self, sqlx::query_as::<_, T>, fetch_optional)
    }
}
