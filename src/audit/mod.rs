//! The access log: an append-only record of every read, search, change, export and deletion
//! of a child's personal data (time, user, role, action, child), as the Danish Data
//! Protection Agency's guidance asks of public systems. A change is logged in the change's own
//! transaction; a read is logged before the page is rendered, so a read that cannot be logged
//! is not served.

pub mod routes;

use chrono::{DateTime, Utc};

use crate::auth::CurrentUser;
use crate::db::Conn;
use crate::dispatch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Search,
    Create,
    Change,
    Export,
    Delete,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Read,
        Action::Search,
        Action::Create,
        Action::Change,
        Action::Export,
        Action::Delete,
    ];

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The catalogue key of the action's name.
    pub fn label_key(self) -> &'static str {
        match self {
            Action::Read => "log.action.read",
            Action::Search => "log.action.search",
            Action::Create => "log.action.create",
            Action::Change => "log.action.change",
            Action::Export => "log.action.export",
            Action::Delete => "log.action.delete",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Search => "search",
            Action::Create => "create",
            Action::Change => "change",
            Action::Export => "export",
            Action::Delete => "delete",
        }
    }
}

/// One access to one child's data. `object` names what was touched (`child`, `group:12`,
/// `guardian:4`…); `detail` holds search criteria and the like — never personal data.
#[tracing::instrument(skip_all)]
pub async fn record(
    c: &mut impl Conn,
    user: &CurrentUser,
    action: Action,
    child_id: Option<i64>,
    object: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query(
        "INSERT INTO access_log (at, user_id, role, action, child_id, object, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(now)
    .bind(user.id)
    .bind(user.role.as_str())
    .bind(action.as_str())
    .bind(child_id)
    .bind(object)
    .bind(detail)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The same access to many children at once (a group's page, an overview, an export, a
/// search): one record naming them all in `children` — their ids, sorted, comma-separated —
/// rather than a record per child (the log's compact form, docs/decisions.md). "Who saw this
/// child" finds it through an index of those lists: a GIN index on PostgreSQL, an FTS5 index
/// (`access_log_children`, keyed by the record's id) on SQLite, written here in the same
/// transaction.
#[tracing::instrument(skip_all)]
pub async fn record_many(
    c: &mut impl Conn,
    user: &CurrentUser,
    action: Action,
    child_ids: &[i64],
    object: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut ids = child_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    match ids[..] {
        [] => return Ok(()),
        [one] => return record(c, user, action, Some(one), object, "", now).await,
        _ => {}
    }
    let list = children_list(&ids);
    let id: i64 = dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO access_log (at, user_id, role, action, child_id, object, detail, children) \
         VALUES ($1, $2, $3, $4, NULL, $5, '', $6) RETURNING id",
    )
    .bind(now)
    .bind(user.id)
    .bind(user.role.as_str())
    .bind(action.as_str())
    .bind(object)
    .bind(&list)
    .fetch_one(&mut *c)
    .await)?;
    if let crate::db::Raw::Sqlite(c) = c.raw() {
        sqlx::query("INSERT INTO access_log_children (rowid, children) VALUES ($1, $2)")
            .bind(id)
            .bind(&list)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// The ids of a record's children as stored: sorted, comma-separated.
fn children_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub user_id: i64,
    pub user_name: Option<String>,
    pub role: String,
    pub action: String,
    pub child_id: Option<i64>,
    pub object: String,
    pub detail: String,
    /// The children of an access to many at once (see [`record_many`]).
    pub children: Option<String>,
}

impl Entry {
    /// How many children an access to many at once concerned (0 for one or none).
    pub fn child_count(&self) -> usize {
        self.children.as_deref().map_or(0, |c| c.split(',').count())
    }

    /// The catalogue key of the entry's action.
    pub fn action_key(&self) -> &'static str {
        Action::parse(&self.action).map_or("log.action.other", Action::label_key)
    }

    /// The catalogue key of what the entry touched: the kind before `:` in `object` (`child`,
    /// `assessment:17`, `overview.csv`…), or `log.object.other` for a kind it does not know
    /// (the raw `object` is then shown beside it).
    pub fn object_key(&self) -> &'static str {
        let kind = self.object.split(':').next().unwrap_or_default();
        OBJECT_KINDS
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or("log.object.other", |(_, key)| key)
    }

    /// The number after the kind (`assessment:17` → `17`), when there is one.
    pub fn object_number(&self) -> Option<&str> {
        self.object
            .split_once(':')
            .map(|(_, n)| n)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The catalogue key of the detail when it is one of the codes the pages write
    /// (`submitted`, `quick-placement`…); search criteria and the like are shown as written.
    pub fn detail_key(&self) -> Option<&'static str> {
        DETAIL_CODES
            .iter()
            .find(|(k, _)| *k == self.detail)
            .map(|(_, key)| *key)
    }

    /// The catalogue key of the role the entry was made in.
    pub fn role_key(&self) -> &'static str {
        crate::auth::Role::parse(&self.role)
            .map(crate::auth::Role::label_key)
            .unwrap_or("role.unknown")
    }

    /// Where the next, older page starts (keyset paging).
    pub fn cursor(&self) -> String {
        format!(
            "{}_{}",
            self.at.timestamp_nanos_opt().unwrap_or_default(),
            self.id
        )
    }
}

/// The kinds of object the pages record, with the catalogue key of each one's name.
const OBJECT_KINDS: &[(&str, &str)] = &[
    ("child", "log.object.child"),
    ("group", "log.object.group"),
    ("guardian", "log.object.guardian"),
    ("assessment", "log.object.assessment"),
    ("assessment-form", "log.object.assessment_form"),
    ("follow_up", "log.object.follow_up"),
    ("alert", "log.object.alert"),
    ("alert-inbox", "log.object.alert_inbox"),
    ("consent", "log.object.consent"),
    ("enrolment", "log.object.enrolment"),
    ("legal-hold", "log.object.legal_hold"),
    ("legal-holds", "log.object.legal_holds"),
    ("left", "log.object.left"),
    ("user", "log.object.user"),
    ("overview", "log.object.overview"),
    ("overview.csv", "log.object.overview_csv"),
    ("municipality.csv", "log.object.municipality_csv"),
    ("children", "log.object.children"),
    ("search", "log.object.search"),
    ("unenrolled", "log.object.unenrolled"),
    ("access-report", "log.object.access_report"),
    ("print", "log.object.print"),
    ("handover", "log.object.handover"),
    ("measure", "log.object.measure"),
    ("meeting", "log.object.meeting"),
];

/// The details that are codes rather than criteria, with the catalogue key of each.
const DETAIL_CODES: &[(&str, &str)] = &[
    ("submitted", "log.detail.submitted"),
    ("quick-placement", "log.detail.quick_placement"),
    ("round-position", "log.detail.round_position"),
    ("named", "log.detail.named"),
    ("anonymous", "log.detail.anonymous"),
    ("details", "log.detail.details"),
    ("message", "log.detail.message"),
    ("import", "log.detail.import"),
    ("admin", "log.detail.admin"),
    ("left", "log.detail.left"),
    ("lifted", "log.detail.lifted"),
    ("two-factor-reset", "log.detail.two_factor_reset"),
];

/// What a page of the log is narrowed to; every part optional.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub child: Option<i64>,
    pub user: Option<i64>,
    pub action: Option<Action>,
    /// From this time (inclusive)…
    pub since: Option<DateTime<Utc>>,
    /// …to this one (exclusive).
    pub until: Option<DateTime<Utc>>,
}

/// [`entries`]' statement on `backend`: `$1` the limit, then the child, the user, the action,
/// the time range and the keyset's time and id, each only when used.
///
/// A child's accesses are the records about the child alone and the records of accesses to
/// many that name the child, each found through its own index. They are gathered first
/// (`seen`, a few thousand at most even for a year's log) and only then ordered: a plan that
/// walked the whole log newest first, hoping to meet the child's records soon, would be fast
/// for a child seen today and slow for one seen last year.
pub fn entries_sql(backend: crate::db::Backend, f: &LogFilter, before: bool) -> String {
    let mut conditions = Vec::new();
    let mut n = 1;
    let mut next = || {
        n += 1;
        n
    };
    let seen = f.child.map(|_| {
        let k = next();
        let named = match backend {
            crate::db::Backend::Sqlite => format!(
                "SELECT rowid AS id FROM access_log_children \
                 WHERE access_log_children MATCH '\"' || ${k} || '\"'"
            ),
            crate::db::Backend::Postgres => format!(
                "SELECT id FROM access_log WHERE children IS NOT NULL \
                 AND string_to_array(children, ',')::bigint[] @> ARRAY[${k}]::bigint[]"
            ),
        };
        format!(
            "WITH seen AS MATERIALIZED (SELECT id FROM access_log WHERE child_id = ${k} UNION ALL {named}) "
        )
    });
    if f.user.is_some() {
        conditions.push(format!("a.user_id = ${}", next()));
    }
    // The action is one of [`Action`]'s names, written into the statement (never the user's
    // text), so that the planner can see it is not a read and use the partial index of the
    // other actions; reads are walked along the time index.
    if let Some(action) = f.action {
        conditions.push(format!("a.action = '{}'", action.as_str()));
        if action != Action::Read {
            // The partial index's own condition, word for word: SQLite uses a partial index
            // only when the query states its condition.
            conditions.push("a.action <> 'read'".into());
        }
    }
    if f.since.is_some() {
        conditions.push(format!("a.at >= ${}", next()));
    }
    if f.until.is_some() {
        conditions.push(format!("a.at < ${}", next()));
    }
    if before {
        let (t, i) = (next(), next());
        conditions.push(format!("(a.at < ${t} OR (a.at = ${t} AND a.id < ${i}))"));
    }
    let from = if seen.is_some() {
        conditions.insert(0, "a.id = s.id".into());
        "seen s CROSS JOIN access_log a"
    } else {
        "access_log a"
    };
    format!(
        "{}SELECT a.id, a.at, a.user_id, u.name AS user_name, a.role, a.action, a.child_id, a.object, a.detail, a.children \
         FROM {from} LEFT JOIN users u ON u.id = a.user_id {} \
         ORDER BY a.at DESC, a.id DESC LIMIT $1",
        seen.unwrap_or_default(),
        if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        }
    )
}

/// A page of the log, newest first, for one child and/or one user, starting after `before`
/// (an [`Entry::cursor`]); see [`entries_filtered`].
pub async fn entries(
    c: &mut impl Conn,
    child_id: Option<i64>,
    user_id: Option<i64>,
    before: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<Entry>> {
    let f = LogFilter {
        child: child_id,
        user: user_id,
        ..Default::default()
    };
    entries_filtered(c, &f, before, limit).await
}

/// A page of the log, newest first, narrowed by `f`, starting after `before`. Each filter is
/// its own condition, and the page is read by keyset along an index — by child `(child_id,
/// at)`, by user `(user_id, at)`, or by time `(at, id)` — never a sort or a count over the
/// whole log. (An action alone is checked along the time index.)
#[tracing::instrument(skip_all)]
pub async fn entries_filtered(
    c: &mut impl Conn,
    f: &LogFilter,
    before: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<Entry>> {
    let before = before.and_then(|b| {
        let (nanos, id) = b.split_once('_')?;
        Some((
            DateTime::<Utc>::from_timestamp_nanos(nanos.parse().ok()?),
            id.parse::<i64>().ok()?,
        ))
    });
    let sql = entries_sql(crate::db::backend_of(c), f, before.is_some());
    Ok(dispatch!(c, c => {
        let mut q = sqlx::query_as(&sql).bind(limit);
        if let Some(id) = f.child {
            q = q.bind(id);
        }
        if let Some(id) = f.user {
            q = q.bind(id);
        }
        if let Some(t) = f.since {
            q = q.bind(t);
        }
        if let Some(t) = f.until {
            q = q.bind(t);
        }
        if let Some((at, id)) = before {
            q = q.bind(at).bind(id);
        }
        q.fetch_all(&mut *c).await
    })?)
}

// ---- tamper evidence ----

/// How many records one seal covers at most.
const SEAL_BATCH: i64 = 1000;

/// Records younger than this are left for the next run: a transaction that took an id a
/// moment ago may not have committed yet, and a seal must never pass over it.
const SEAL_AFTER: chrono::Duration = chrono::Duration::minutes(1);

/// The hash the first seal chains to.
const GENESIS: &str = "trivsel-access-log";

#[derive(sqlx::FromRow)]
struct Sealed {
    id: i64,
    at: DateTime<Utc>,
    user_id: i64,
    role: String,
    action: String,
    child_id: Option<i64>,
    object: String,
    detail: String,
    children: Option<String>,
}

/// SHA-256 over the previous hash and the records, each in one canonical line (an access to
/// many adds its children; a record without them keeps the line it was first sealed with).
fn seal_hash(prev: &str, records: &[Sealed]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    for r in records {
        h.update(
            format!(
                "\n{}|{}|{}|{}|{}|{}|{}|{}",
                r.id,
                r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                r.user_id,
                r.role,
                r.action,
                r.child_id.map(|c| c.to_string()).unwrap_or_default(),
                r.object.replace('|', "||"),
                r.detail.replace('|', "||"),
            )
            .as_bytes(),
        );
        if let Some(children) = &r.children {
            h.update(format!("|{children}").as_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

const SEALED_COLUMNS: &str = "id, at, user_id, role, action, child_id, object, detail, children";

/// The newest seal: (last record id, hash); none: where the chain begins.
async fn last_seal(c: &mut impl Conn) -> anyhow::Result<(i64, String)> {
    let row: Option<(i64, String)> = dispatch!(c, c => sqlx::query_as(
        "SELECT last_id, hash FROM access_log_seals ORDER BY last_id DESC LIMIT 1",
    )
    .fetch_optional(&mut *c)
    .await)?;
    match row {
        Some(r) => Ok(r),
        None => chain_start(c).await,
    }
}

/// Seals the records older than a minute that no seal covers yet, in batches, chaining each
/// seal to the one before; returns how many records were sealed. One instance at a time.
pub async fn seal(db: &crate::db::Db, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let mut sealed = 0u64;
    loop {
        let mut tx = db.begin().await?;
        if !crate::db::try_job_lock(&mut tx, crate::db::Job::SealAccessLog).await? {
            return Ok(sealed);
        }
        let (after, prev) = last_seal(&mut tx).await?;
        let sql =
            format!("SELECT {SEALED_COLUMNS} FROM access_log WHERE id > $1 ORDER BY id LIMIT $2");
        let mut records: Vec<Sealed> = dispatch!(&mut tx, c => sqlx::query_as(&sql)
            .bind(after)
            .bind(SEAL_BATCH)
            .fetch_all(&mut *c)
            .await)?;
        let full = records.len() as i64 == SEAL_BATCH;
        // Stop at the first record still too young: a seal covers consecutive records.
        if let Some(young) = records.iter().position(|r| r.at >= now - SEAL_AFTER) {
            records.truncate(young);
        }
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(sealed);
        };
        let (first_id, last_id, n) = (first.id, last.id, records.len() as i64);
        let hash = seal_hash(&prev, &records);
        dispatch!(&mut tx, c => sqlx::query(
            "INSERT INTO access_log_seals (first_id, last_id, records, prev_hash, hash, sealed_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(first_id)
        .bind(last_id)
        .bind(n)
        .bind(&prev)
        .bind(&hash)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        sealed += n as u64;
        if !full || n < SEAL_BATCH {
            return Ok(sealed);
        }
    }
}

/// Removes access-log records older than `cutoff`, a whole seal at a time from the start of
/// the chain (a seal goes only when all its records are older), one transaction per seal so
/// pages stay fast meanwhile, and records where the chain now begins. Returns how many
/// records went. Unsealed records are never purged.
pub async fn purge(
    db: &crate::db::Db,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let mut purged = 0u64;
    loop {
        let mut tx = db.begin().await?;
        if !crate::db::try_job_lock(&mut tx, crate::db::Job::SealAccessLog).await? {
            return Ok(purged);
        }
        let oldest: Option<(i64, i64, i64, String)> = dispatch!(&mut tx, c => sqlx::query_as(
            "SELECT id, first_id, last_id, hash FROM access_log_seals ORDER BY last_id LIMIT 1",
        )
        .fetch_optional(&mut *c)
        .await)?;
        let Some((seal, first_id, last_id, hash)) = oldest else {
            return Ok(purged);
        };
        // The seal's records' times, read along the primary key and compared here: asked as
        // `MAX(at)`, both engines may walk the time index from its newest end instead, through
        // the whole log.
        let times: Vec<DateTime<Utc>> = dispatch!(&mut tx, c => sqlx::query_scalar(
            "SELECT at FROM access_log WHERE id >= $1 AND id <= $2",
        )
        .bind(first_id)
        .bind(last_id)
        .fetch_all(&mut *c)
        .await)?;
        if times.iter().any(|at| *at >= cutoff) {
            return Ok(purged);
        }
        // The index of accesses to many goes with the records (PostgreSQL's goes by itself).
        if let crate::db::Raw::Sqlite(c) = tx.raw() {
            sqlx::query("DELETE FROM access_log_children WHERE rowid BETWEEN $1 AND $2")
                .bind(first_id)
                .bind(last_id)
                .execute(&mut *c)
                .await?;
        }
        let gone = dispatch!(&mut tx, c => sqlx::query("DELETE FROM access_log WHERE id <= $1")
            .bind(last_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        dispatch!(&mut tx, c => sqlx::query("DELETE FROM access_log_seals WHERE id = $1")
            .bind(seal)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        dispatch!(&mut tx, c => sqlx::query(
            "INSERT INTO access_log_purges (through_id, hash, records, purged_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(last_id)
        .bind(&hash)
        .bind(gone as i64)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        purged += gone;
        // A breath between seals, so the pages' own writes go in between.
        tokio::time::sleep(PURGE_BREATHE).await;
    }
}

/// The pause between two sealed batches of a purge.
const PURGE_BREATHE: std::time::Duration = std::time::Duration::from_millis(10);

/// Where the chain begins: after the last purge (its last record id and seal hash), or at
/// the very start.
async fn chain_start(c: &mut impl Conn) -> anyhow::Result<(i64, String)> {
    let row: Option<(i64, String)> = dispatch!(c, c => sqlx::query_as(
        "SELECT through_id, hash FROM access_log_purges ORDER BY through_id DESC LIMIT 1",
    )
    .fetch_optional(&mut *c)
    .await)?;
    Ok(row.unwrap_or((0, GENESIS.to_string())))
}

/// What `trivsel audit verify` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Every seal holds: `sealed` records in `seals` seals, `unsealed` newer records after.
    Intact {
        seals: i64,
        sealed: i64,
        unsealed: i64,
    },
    /// The first seal that does not hold, with its record range and what is wrong.
    Broken {
        seal: i64,
        first_id: i64,
        last_id: i64,
        reason: String,
    },
}

/// Walks the seals in order and checks each against the records it covers.
pub async fn verify(c: &mut impl Conn) -> anyhow::Result<Verified> {
    let seals: Vec<(i64, i64, i64, i64, String, String)> = dispatch!(c, c => sqlx::query_as(
        "SELECT id, first_id, last_id, records, prev_hash, hash FROM access_log_seals ORDER BY last_id",
    )
    .fetch_all(&mut *c)
    .await)?;
    let (mut prev_last, mut prev) = chain_start(c).await?;
    let mut sealed = 0i64;
    for (id, first_id, last_id, n, prev_hash, hash) in &seals {
        let broken = |reason: String| Verified::Broken {
            seal: *id,
            first_id: *first_id,
            last_id: *last_id,
            reason,
        };
        if *prev_hash != prev {
            return Ok(broken("the seal does not follow the one before it".into()));
        }
        // Everything after the previous seal up to this one's last record: a record inserted
        // or deleted anywhere in between changes the count or the hash.
        let sql = format!(
            "SELECT {SEALED_COLUMNS} FROM access_log WHERE id > $1 AND id <= $2 ORDER BY id"
        );
        let records: Vec<Sealed> = dispatch!(c, c => sqlx::query_as(&sql)
            .bind(prev_last)
            .bind(*last_id)
            .fetch_all(&mut *c)
            .await)?;
        if records.len() as i64 != *n {
            return Ok(broken(format!(
                "{} records where {n} were sealed (a record was inserted or deleted)",
                records.len()
            )));
        }
        if seal_hash(&prev, &records) != *hash {
            return Ok(broken("a record was changed".into()));
        }
        prev = hash.clone();
        prev_last = *last_id;
        sealed += n;
    }
    let unsealed: i64 = dispatch!(c, c => sqlx::query_scalar("SELECT COUNT(*) FROM access_log WHERE id > $1")
        .bind(prev_last)
        .fetch_one(&mut *c)
        .await)?;
    Ok(Verified::Intact {
        seals: seals.len() as i64,
        sealed,
        unsealed,
    })
}
