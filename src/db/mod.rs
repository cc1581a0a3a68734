//! One code path for SQLite (the embedded default) and PostgreSQL (production).
//!
//! Queries are written once in the SQL subset both engines share (`$N` placeholders,
//! `RETURNING`, `ON CONFLICT`) and expanded for each backend by [`dispatch!`], so they keep
//! native `chrono` types. sqlx's `Any` driver is avoided on purpose: it cannot carry them.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{
    Connection, PgConnection, Postgres, Sqlite, SqliteConnection, Transaction, TransactionManager,
};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

/// Expands one query body for both backends.
///
/// `dispatch!(conn, c => body)` (`conn` a `&mut` to a [`Conn`]) binds `c` to `&mut SqliteConnection` or `&mut PgConnection`.
#[macro_export]
macro_rules! dispatch {
    ($conn:expr, $c:ident => $body:expr) => {
        match $crate::db::Conn::raw(&mut *$conn) {
            $crate::db::Raw::Sqlite($c) => $body,
            $crate::db::Raw::Postgres($c) => $body,
        }
    };
}

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The connection pool, for either backend. Cheap to clone.
///
/// SQLite allows one writer at a time; when several connections race for the lock, the losers
/// sleep in SQLite's busy handler (up to 100 ms a turn), which shows as long latency tails. So
/// SQLite gets a read-only pool for [`Db::conn`] and one writer connection for [`Db::writer`]
/// and [`Db::begin`]: writers queue in-process, fairly, without sleeping, and a write issued
/// on a read connection fails loudly instead of slipping past the queue. PostgreSQL uses one
/// pool for both.
///
/// The writer is a connection behind a fair async mutex rather than a pool of one: a pool
/// hands a returned connection back through a spawned task that first pings it (a round trip
/// to SQLite's worker thread), and all writes queue behind that hand-over. Behind the mutex
/// the next writer gets the connection as the last one lets go; a transaction left unfinished
/// (an error, a dropped request) is rolled back before the next command runs, as sqlx does.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite {
        read: sqlx::SqlitePool,
        /// `None` once [`Db::close`] has closed it.
        write: Arc<Mutex<Option<SqliteConnection>>>,
    },
    Postgres(sqlx::PgPool),
}

/// SQLite's durability from the URL's `synchronous` parameter (ours, taken out before the URL
/// is parsed): `full`, the default, makes every acknowledged commit survive a power cut;
/// `normal` may lose the last commits before one, for fewer disk flushes
/// (docs/decisions.md, "Durability on SQLite").
fn sqlite_synchronous(url: &str) -> anyhow::Result<(String, SqliteSynchronous)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), SqliteSynchronous::Full));
    };
    let mut synchronous = SqliteSynchronous::Full;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("synchronous", "full")) => synchronous = SqliteSynchronous::Full,
            Some(("synchronous", "normal")) => synchronous = SqliteSynchronous::Normal,
            Some(("synchronous", other)) => {
                anyhow::bail!("SQLite URL: synchronous must be full or normal, not {other:?}")
            }
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, synchronous))
}

/// How long a request waits for a pooled connection before it is answered "try again": long
/// enough for a burst, short enough that nobody watches a page hang when the database is gone.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a write waits for SQLite's one writer before it gives up.
const SQLITE_WRITER_TIMEOUT: Duration = Duration::from_secs(30);

/// SQLite's writer connection, held.
type Writer = OwnedMappedMutexGuard<Option<SqliteConnection>, SqliteConnection>;

/// A raw connection of either backend, borrowed for one query.
pub enum Raw<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// Anything a query can run on: a pooled connection or an open transaction.
pub trait Conn: Send {
    fn raw(&mut self) -> Raw<'_>;
}

/// Which engine a connection talks to, for the few statements whose dialects really differ.
pub fn backend_of(c: &mut impl Conn) -> Backend {
    match c.raw() {
        Raw::Sqlite(_) => Backend::Sqlite,
        Raw::Postgres(_) => Backend::Postgres,
    }
}

impl<T: Conn + ?Sized> Conn for &mut T {
    fn raw(&mut self) -> Raw<'_> {
        (**self).raw()
    }
}

/// A connection checked out of the pool (on SQLite, for writing, the one writer).
pub enum PoolConn {
    Sqlite(PoolConnection<Sqlite>),
    SqliteWriter(Writer),
    Postgres(PoolConnection<Postgres>),
}

impl Conn for PoolConn {
    fn raw(&mut self) -> Raw<'_> {
        match self {
            PoolConn::Sqlite(c) => Raw::Sqlite(c),
            PoolConn::SqliteWriter(c) => Raw::Sqlite(c),
            PoolConn::Postgres(c) => Raw::Postgres(c),
        }
    }
}

/// An open transaction. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(SqliteTx),
    Postgres(Transaction<'static, Postgres>),
}

/// A transaction on SQLite's writer connection, holding the writer until it ends.
pub struct SqliteTx {
    conn: Writer,
    open: bool,
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            // Queued on the connection's worker ahead of whatever the next holder sends.
            <Sqlite as sqlx::Database>::TransactionManager::start_rollback(&mut self.conn);
        }
    }
}

impl Conn for Tx {
    fn raw(&mut self) -> Raw<'_> {
        match self {
            Tx::Sqlite(t) => Raw::Sqlite(&mut t.conn),
            Tx::Postgres(t) => Raw::Postgres(t),
        }
    }
}

impl Tx {
    pub async fn commit(self) -> anyhow::Result<()> {
        match self {
            Tx::Sqlite(mut t) => {
                <Sqlite as sqlx::Database>::TransactionManager::commit(&mut t.conn).await?;
                t.open = false;
                Ok(())
            }
            Tx::Postgres(t) => t.commit().await.map_err(anyhow::Error::from),
        }
        .context("commit transaction")
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to `url`: `postgres://…` selects PostgreSQL, `sqlite:…` SQLite (the file is
    /// created if missing, WAL mode, foreign keys on, a busy timeout so writers queue).
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).context("parse PostgreSQL URL")?;
            // One connection first, so that a failure names its cause ("connection refused",
            // a wrong password, a missing database) instead of the pool's time-out.
            let first = PgConnection::connect_with(&opts).await.with_context(|| {
                format!(
                    "connect to PostgreSQL at {}:{}",
                    opts.get_host(),
                    opts.get_port()
                )
            })?;
            sqlx::Connection::close(first).await.ok();
            // sqlx pings every connection it hands out by default: one more round trip per
            // acquire, which on a busy server is a third of all round trips. A connection
            // that was in use moments ago is alive; only one that has sat idle for a while
            // (the server restarted, a firewall dropped it) is checked first.
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > Duration::from_secs(30) {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(opts)
                .await
                .context("connect to PostgreSQL")?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let (url, synchronous) = sqlite_synchronous(url)?;
            let opts = SqliteConnectOptions::from_str(&url)
                .context("parse SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // What is deleted is overwritten, not left readable in free pages (retention).
                .pragma("secure_delete", "on");
            // The writer first: it creates the file and switches it to WAL. A connection to
            // a local file cannot go stale, so the read pool does not ping before handing one
            // out.
            let path = opts.get_filename().display().to_string();
            // A new file gives freed pages back to the file system after a retention run
            // (`PRAGMA incremental_vacuum`); a file made before keeps its setting until a
            // VACUUM (docs/operations.md).
            let write = SqliteConnection::connect_with(
                &opts
                    .clone()
                    .auto_vacuum(sqlx::sqlite::SqliteAutoVacuum::Incremental),
            )
            .await
            .with_context(|| {
                format!("open SQLite database {path} (is its folder there and writable?)")
            })?;
            let write = Arc::new(Mutex::new(Some(write)));
            // Each reader keeps its own page cache: 1 MiB each (SQLite's default is 2 MiB)
            // keeps a full pool within the memory target on a large file (docs/benchmarks.md);
            // the operating system's file cache holds the rest.
            let read = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .test_before_acquire(false)
                .connect_with(opts.read_only(true).pragma("cache_size", "-1024"))
                .await
                .context("open SQLite database for reading")?;
            Ok(Db::Sqlite { read, write })
        } else {
            anyhow::bail!("database URL must start with sqlite: or postgres://")
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite { write, .. } => {
                SQLITE_MIGRATIONS
                    .run(&mut *sqlite_writer(write).await?)
                    .await
            }
            Db::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await,
        }
        .context("apply database migrations")
    }

    /// Keeps the query planner's statistics current (docs/decisions.md, "Statistics").
    /// SQLite: `PRAGMA optimize` with the flags that also look at tables never analysed (it
    /// sets its own analysis limit, so it stays quick on a large file); after a bulk load
    /// (`bulk`), a full `ANALYZE` bounded by `analysis_limit`. PostgreSQL: after a bulk load,
    /// `ANALYZE`; otherwise autovacuum keeps the statistics, and nothing is done here.
    pub async fn refresh_statistics(&self, bulk: bool) -> anyhow::Result<()> {
        match self {
            Db::Sqlite { write, .. } => {
                let mut w = sqlite_writer(write).await?;
                let steps: &[&str] = if bulk {
                    &["PRAGMA analysis_limit = 1000", "ANALYZE"]
                } else {
                    &["PRAGMA optimize = 0x10002"]
                };
                let mut done = Ok(());
                for sql in steps {
                    done = sqlx::query(sql).execute(&mut *w).await.map(|_| ());
                    if done.is_err() {
                        break;
                    }
                }
                done
            }
            Db::Postgres(p) if bulk => sqlx::query("ANALYZE").execute(p).await.map(|_| ()),
            Db::Postgres(_) => Ok(()),
        }
        .context("refresh planner statistics")
    }

    /// A connection for reading. On SQLite it is read-only: writes go through
    /// [`Db::writer`] or [`Db::begin`].
    pub async fn conn(&self) -> anyhow::Result<PoolConn> {
        Ok(match self {
            Db::Sqlite { read, .. } => {
                PoolConn::Sqlite(read.acquire().await.context("acquire connection")?)
            }
            Db::Postgres(p) => PoolConn::Postgres(p.acquire().await.context("acquire connection")?),
        })
    }

    /// A connection for a single write statement (or a few that need no atomicity). Hold it
    /// briefly: on SQLite it is the one writer.
    pub async fn writer(&self) -> anyhow::Result<PoolConn> {
        Ok(match self {
            Db::Sqlite { write, .. } => PoolConn::SqliteWriter(sqlite_writer(write).await?),
            Db::Postgres(p) => PoolConn::Postgres(p.acquire().await.context("acquire connection")?),
        })
    }

    /// A transaction (on SQLite, on the one writer connection).
    pub async fn begin(&self) -> anyhow::Result<Tx> {
        Ok(match self {
            Db::Sqlite { write, .. } => {
                let mut conn = sqlite_writer(write).await?;
                // IMMEDIATE: the write lock is taken at the start, so a transaction that reads
                // and then writes never finds its snapshot outdated by another process's
                // commit (two instances on one file, `trivsel` commands beside the service);
                // SQLite's busy handler waits for the lock instead.
                <Sqlite as sqlx::Database>::TransactionManager::begin(
                    &mut conn,
                    Some("BEGIN IMMEDIATE".into()),
                )
                .await
                .context("begin transaction")?;
                Tx::Sqlite(SqliteTx { conn, open: true })
            }
            Db::Postgres(p) => Tx::Postgres(p.begin().await.context("begin transaction")?),
        })
    }

    /// Whether the database answers and takes a write: a read and a one-row update (the
    /// `readiness` table). Bound it with a time-out: a locked or unreachable database makes
    /// it wait.
    pub async fn ready(&self) -> anyhow::Result<()> {
        self.ping().await?;
        // SQLite's one writer busy with this service's own work (a long import, say) shows
        // the file takes writes: waiting behind it would only call a busy service unready.
        if let Db::Sqlite { write, .. } = self
            && write.try_lock().is_err()
        {
            return Ok(());
        }
        let mut w = self.writer().await?;
        dispatch!(&mut w, c => sqlx::query("UPDATE readiness SET checked_at = $1 WHERE id = 1")
            .bind(chrono::Utc::now())
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .context("write to the database")
    }

    /// Writes a consistent copy of a SQLite database to `file` (`VACUUM INTO`): one read
    /// transaction's snapshot, taken while the service goes on writing; the copy is compact
    /// and has no write-ahead log beside it.
    pub async fn backup_to(&self, file: &std::path::Path) -> anyhow::Result<()> {
        match self {
            Db::Sqlite { read, .. } => {
                sqlx::query("VACUUM INTO $1")
                    .bind(file.display().to_string())
                    .execute(read)
                    .await
                    .with_context(|| format!("back up to {}", file.display()))?;
                Ok(())
            }
            Db::Postgres(_) => anyhow::bail!("PostgreSQL is backed up with its own tools"),
        }
    }

    /// The pools' connections, in use and idle: (pool, in use, idle).
    pub fn pool_usage(&self) -> Vec<(&'static str, u32, u32)> {
        fn usage(size: u32, idle: usize) -> (u32, u32) {
            let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
            (size - idle, idle)
        }
        match self {
            Db::Sqlite { read, write } => {
                let (in_use, idle) = usage(read.size(), read.num_idle());
                let writing = u32::from(write.try_lock().is_err());
                vec![("read", in_use, idle), ("write", writing, 1 - writing)]
            }
            Db::Postgres(p) => {
                let (in_use, idle) = usage(p.size(), p.num_idle());
                vec![("postgres", in_use, idle)]
            }
        }
    }

    /// A trivial round trip.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut c = self.conn().await?;
        dispatch!(&mut c, c => sqlx::query("SELECT 1").execute(&mut *c).await.map(|_| ()))
            .context("ping database")
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write } => {
                read.close().await;
                // After the write in progress, if any; later writes fail.
                if let Some(w) = write.lock().await.take()
                    && let Err(e) = w.close().await
                {
                    tracing::warn!(error = %e, "closing the SQLite writer");
                }
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// SQLite's writer, once the writes queued before this one are done.
async fn sqlite_writer(write: &Arc<Mutex<Option<SqliteConnection>>>) -> anyhow::Result<Writer> {
    let held = tokio::time::timeout(SQLITE_WRITER_TIMEOUT, write.clone().lock_owned())
        .await
        .context("acquire writer: timed out")?;
    OwnedMutexGuard::try_map(held, Option::as_mut)
        .map_err(|_| anyhow::anyhow!("acquire writer: the database is closed"))
}

/// The rows of `sql` with `ids` bound in order as `$1, $2, …` (a query over an `IN (…)`
/// list of ids, [`placeholders`]).
pub async fn fetch_all_with_ids<T>(
    c: &mut impl Conn,
    sql: &str,
    ids: &[i64],
) -> anyhow::Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    Ok(crate::dispatch!(c, c => {
        let mut q = sqlx::query_as(sql);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *c).await
    })?)
}

/// The background jobs that must run on one instance at a time (see `crate::jobs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Escalation,
    Reminders,
    SealAccessLog,
}

impl Job {
    /// The PostgreSQL advisory lock key ("Trivsel" in ASCII, then the job).
    fn key(self) -> i64 {
        const BASE: i64 = 0x5472_6976_7365_6c00;
        BASE + match self {
            Job::Escalation => 1,
            Job::Reminders => 2,
            Job::SealAccessLog => 3,
        }
    }
}

/// Takes `job`'s lock for the rest of the transaction `tx`: false when another instance runs
/// the job right now (that run is then skipped here). PostgreSQL releases the lock when the
/// transaction ends, or when a killed instance's connection drops. SQLite is one process's
/// file and its transactions already run one at a time: always true.
pub async fn try_job_lock(tx: &mut Tx, job: Job) -> anyhow::Result<bool> {
    match tx {
        Tx::Sqlite(_) => Ok(true),
        Tx::Postgres(t) => Ok(sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(job.key())
            .fetch_one(&mut **t)
            .await
            .context("take job lock")?),
    }
}

/// `$from, $from+1, …` for `n` bound parameters (an `IN (…)` list); both engines number
/// parameters the same way.
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The file names of the embedded migrations of each backend, for the test that keeps the two
/// folders in step.
pub fn migration_names() -> (Vec<String>, Vec<String>) {
    let names = |m: &sqlx::migrate::Migrator| {
        m.iter()
            .map(|m| format!("{}_{}", m.version, m.description))
            .collect()
    };
    (names(&SQLITE_MIGRATIONS), names(&POSTGRES_MIGRATIONS))
}
