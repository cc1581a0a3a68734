//! `tower-sessions` store on our own database (either backend), so sessions survive restarts
//! and are shared by every app instance. Expired rows are removed by the
//! retention policy's `sessions` rule ([`crate::retention::run`]).
//!
//! A session's row also names its account (`user_id`, copied from the session's data when it
//! is saved), and loading a session reads that account in the same statement if it is still
//! active, handing it to the request under [`ACCOUNT_KEY`]: every request learns who is
//! logged in, and that the account has not been deactivated since, in one round trip. The
//! account is never written back (saving drops the key).
//!
//! Each instance keeps the sessions it has read, with their accounts, for at most
//! `session_cache_seconds` ([`SessionCache`]): a busy user's requests then need no read at
//! all. Whatever this instance changes (a save, a logout, an account edited by the admin, a
//! language chosen) drops the copies at once; a change made elsewhere (another instance, SQL
//! by hand) bites once the copy is that old. Expiry is still checked on every request.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::USER_KEY;
use super::users::UserRow;
use crate::clock::Clock;
use crate::db::Db;
use crate::dispatch;

/// Where a loaded session carries its active account ([`UserRow`]); absent when the session
/// has no login or the account is no longer active.
pub const ACCOUNT_KEY: &str = "account";

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    db: Db,
    cache: SessionCache,
    clock: Clock,
}

impl DbSessionStore {
    pub fn new(db: Db, cache: SessionCache, clock: Clock) -> Self {
        DbSessionStore { db, cache, clock }
    }
}

/// Sessions read recently by this instance, with their accounts; shared by the store and
/// the features that change accounts, which drop a user's copies with [`Self::forget_user`].
#[derive(Debug, Clone, Default)]
pub struct SessionCache {
    inner: Arc<Mutex<CacheInner>>,
    ttl: chrono::Duration,
}

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<Id, Cached>,
    /// Counts the changes; a read that began before one is not kept (it may predate it).
    generation: u64,
}

#[derive(Debug)]
struct Cached {
    record: Record,
    user_id: Option<i64>,
    read_at: chrono::DateTime<chrono::Utc>,
}

/// Past this many copies, the stale ones are swept out on the next insert.
const CACHE_SWEEP_AT: usize = 10_000;

impl SessionCache {
    /// Copies live `seconds`; 0 turns the cache off (every request reads the database).
    pub fn new(seconds: u64) -> Self {
        SessionCache {
            inner: Default::default(),
            ttl: chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1000)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(ttl: chrono::Duration, c: &Cached, now: chrono::DateTime<chrono::Utc>) -> bool {
        c.read_at <= now && now - c.read_at < ttl
    }

    /// A fresh copy of session `id`, or else the generation to hand to [`Self::put`].
    fn get(&self, id: &Id, now: chrono::DateTime<chrono::Utc>) -> Result<Record, u64> {
        let inner = self.lock();
        match inner.entries.get(id) {
            Some(c)
                if Self::fresh(self.ttl, c, now)
                    && c.record.expiry_date > time::OffsetDateTime::now_utc() =>
            {
                Ok(c.record.clone())
            }
            _ => Err(inner.generation),
        }
    }

    /// Keeps `record`, read at `now`, unless something changed since `generation`.
    fn put(&self, record: &Record, now: chrono::DateTime<chrono::Utc>, generation: u64) {
        if self.ttl <= chrono::Duration::zero() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= CACHE_SWEEP_AT {
            let ttl = self.ttl;
            inner.entries.retain(|_, c| Self::fresh(ttl, c, now));
        }
        let user_id = record.data.get(USER_KEY).and_then(|v| v.as_i64());
        inner.entries.insert(
            record.id,
            Cached {
                record: record.clone(),
                user_id,
                read_at: now,
            },
        );
    }

    fn forget(&self, id: &Id) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(id);
    }

    /// Drops every copy of `user_id`'s sessions: their account changed on this instance.
    pub fn forget_user(&self, user_id: i64) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.retain(|_, c| c.user_id != Some(user_id));
    }
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// The session's data as stored (without the account read along with it) and its user id.
fn encode(record: &Record) -> session_store::Result<(String, Option<i64>)> {
    let data: BTreeMap<_, _> = record
        .data
        .iter()
        .filter(|(k, _)| k.as_str() != ACCOUNT_KEY)
        .collect();
    let data =
        serde_json::to_string(&data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    Ok((data, record.data.get(USER_KEY).and_then(|v| v.as_i64())))
}

/// A session row with its account, when the account is active.
#[derive(sqlx::FromRow)]
struct Loaded {
    data: String,
    expires_at: i64,
    user_id: Option<i64>,
    email: Option<String>,
    name: Option<String>,
    role: Option<String>,
    lang: Option<String>,
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (data, user_id) = encode(record)?;
        let mut c = self.db.writer().await.map_err(backend)?;
        // A fresh random 128-bit id collides essentially never; if it does, draw again.
        loop {
            let inserted = dispatch!(&mut c, c => sqlx::query(
                "INSERT INTO sessions (id, data, expires_at, user_id) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(record.id.to_string())
            .bind(&data)
            .bind(record.expiry_date.unix_timestamp())
            .bind(user_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))
            .map_err(backend)?;
            if inserted == 1 {
                self.cache.forget(&record.id);
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, user_id) = encode(record)?;
        let mut c = self.db.writer().await.map_err(backend)?;
        // The copy goes after the write: a read that began before it may have seen the old row.
        // An update, never an insert: a session deleted meanwhile (a logout while another
        // request of the same session was in flight) stays deleted. New sessions are created
        // by `create`.
        let saved = dispatch!(&mut c, c => sqlx::query(
            "UPDATE sessions SET data = $2, expires_at = $3, user_id = $4 WHERE id = $1",
        )
        .bind(record.id.to_string())
        .bind(&data)
        .bind(record.expiry_date.unix_timestamp())
        .bind(user_id)
        .execute(&mut *c)
        .await
        .map(|_| ()))
        .map_err(backend);
        self.cache.forget(&record.id);
        saved
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let read_at = self.clock.now();
        let generation = match self.cache.get(id, read_at) {
            Ok(record) => return Ok(Some(record)),
            Err(generation) => generation,
        };
        let mut c = self.db.conn().await.map_err(backend)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let row: Option<Loaded> = dispatch!(&mut c, c => sqlx::query_as(
            "SELECT s.data, s.expires_at, u.id AS user_id, u.email, u.name, u.role, u.lang \
             FROM sessions s LEFT JOIN users u ON u.id = s.user_id AND u.active \
             WHERE s.id = $1 AND s.expires_at > $2",
        )
        .bind(id.to_string())
        .bind(now)
        .fetch_optional(&mut *c)
        .await)
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let decode = |e: &dyn std::fmt::Display| session_store::Error::Decode(e.to_string());
        let mut data: std::collections::HashMap<String, serde_json::Value> =
            serde_json::from_str(&row.data).map_err(|e| decode(&e))?;
        if let (Some(id), Some(email), Some(name), Some(role), Some(lang)) =
            (row.user_id, row.email, row.name, row.role, row.lang)
        {
            let account = UserRow {
                id,
                email,
                name,
                role,
                active: true,
                lang,
            };
            data.insert(
                ACCOUNT_KEY.to_string(),
                serde_json::to_value(account).map_err(|e| decode(&e))?,
            );
        }
        let record = Record {
            id: *id,
            data,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(row.expires_at)
                .map_err(|e| decode(&e))?,
        };
        self.cache.put(&record, read_at, generation);
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let mut c = self.db.writer().await.map_err(backend)?;
        let deleted = dispatch!(&mut c, c => sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *c)
            .await
            .map(|_| ()))
        .map_err(backend);
        self.cache.forget(id);
        deleted
    }
}
