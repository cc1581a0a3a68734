//! SQL for the organisation, one function per statement, on any [`Conn`].

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::Conn;
use crate::dispatch;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct District {
    pub id: i64,
    pub name: String,
    pub institutions: i64,
    pub workers: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Institution {
    pub id: i64,
    pub district_id: i64,
    pub district_name: String,
    pub name: String,
    pub kind: String,
}

impl Institution {
    pub fn kind_label_key(&self) -> &'static str {
        super::InstitutionKind::parse(&self.kind)
            .map(|k| k.label_key())
            .unwrap_or("kind.unknown")
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Group {
    pub id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub institution_kind: String,
    pub district_id: i64,
    pub name: String,
    pub kind: String,
    pub school_year: String,
    pub children: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Child {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: NaiveDate,
    pub gender: String,
    pub external_id: Option<String>,
    pub protected_address: bool,
    /// The day the child left the municipality's institutions (retention counts from it).
    pub left_on: Option<NaiveDate>,
}

impl Child {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    pub fn gender_key(&self) -> &'static str {
        match self.gender.as_str() {
            "p" => "gender.p",
            "d" => "gender.d",
            _ => "gender.u",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Enrolment {
    pub id: i64,
    pub group_id: i64,
    pub group_name: String,
    pub institution_name: String,
    pub from_date: NaiveDate,
    pub to_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Guardian {
    pub id: i64,
    pub child_id: i64,
    pub name: String,
    pub relation: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub has_custody: bool,
}

const GROUP_SELECT: &str = "SELECT g.id, g.institution_id, i.name AS institution_name, i.kind AS institution_kind, i.district_id, \
     g.name, g.kind, g.school_year, \
     (SELECT COUNT(*) FROM enrolments e WHERE e.group_id = g.id AND e.to_date IS NULL) AS children \
     FROM groups g JOIN institutions i ON i.id = g.institution_id";

const INSTITUTION_SELECT: &str = "SELECT i.id, i.district_id, d.name AS district_name, i.name, i.kind \
     FROM institutions i JOIN districts d ON d.id = i.district_id";

pub(crate) const CHILD_COLUMNS: &str = "c.id, c.first_name, c.last_name, c.birth_date, c.gender, c.external_id, c.protected_address, c.left_on";

// ---- municipality ----

#[tracing::instrument(skip_all)]
pub async fn municipality_name(c: &mut impl Conn) -> anyhow::Result<Option<String>> {
    Ok(
        dispatch!(c, c => sqlx::query_scalar("SELECT name FROM municipality WHERE id = 1")
        .fetch_optional(&mut *c)
        .await)?,
    )
}

#[tracing::instrument(skip_all)]
pub async fn set_municipality_name(c: &mut impl Conn, name: &str) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query(
        "INSERT INTO municipality (id, name) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
    )
    .bind(name)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- districts ----

#[tracing::instrument(skip_all)]
pub async fn districts(c: &mut impl Conn) -> anyhow::Result<Vec<District>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT d.id, d.name, \
         (SELECT COUNT(*) FROM institutions i WHERE i.district_id = d.id) AS institutions, \
         (SELECT COUNT(*) FROM user_districts ud JOIN users u ON u.id = ud.user_id \
            WHERE ud.district_id = d.id AND u.active AND u.role = 'social_worker') AS workers \
         FROM districts d ORDER BY d.name",
    )
    .fetch_all(&mut *c)
    .await)?)
}

#[tracing::instrument(skip_all)]
pub async fn district(c: &mut impl Conn, id: i64) -> anyhow::Result<Option<District>> {
    Ok(districts(c).await?.into_iter().find(|d| d.id == id))
}

/// Inserts or renames a district; `Ok(None)` when the name is already used by another.
#[tracing::instrument(skip_all)]
pub async fn save_district(
    c: &mut impl Conn,
    id: Option<i64>,
    name: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let key = super::name_key(name);
    let taken: i64 = dispatch!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM districts WHERE name_key = $1 AND id <> $2",
    )
    .bind(&key)
    .bind(id.unwrap_or(-1))
    .fetch_one(&mut *c)
    .await)?;
    if taken > 0 {
        return Ok(None);
    }
    let id = match id {
        Some(id) => {
            dispatch!(c, c => sqlx::query("UPDATE districts SET name = $1, name_key = $2 WHERE id = $3")
                .bind(name.trim())
                .bind(&key)
                .bind(id)
                .execute(&mut *c)
                .await.map(|r| r.rows_affected()))?;
            id
        }
        None => dispatch!(c, c => sqlx::query_scalar(
            "INSERT INTO districts (name, name_key, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name.trim())
        .bind(&key)
        .bind(now)
        .fetch_one(&mut *c)
        .await)?,
    };
    Ok(Some(id))
}

// ---- institutions ----

#[tracing::instrument(skip_all)]
pub async fn institutions(c: &mut impl Conn) -> anyhow::Result<Vec<Institution>> {
    let sql = format!("{INSTITUTION_SELECT} ORDER BY d.name, i.name");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).fetch_all(&mut *c).await)?)
}

#[tracing::instrument(skip_all)]
pub async fn institution(c: &mut impl Conn, id: i64) -> anyhow::Result<Option<Institution>> {
    let sql = format!("{INSTITUTION_SELECT} WHERE i.id = $1");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await)?)
}

#[tracing::instrument(skip_all)]
pub async fn institutions_of_user(
    c: &mut impl Conn,
    user_id: i64,
) -> anyhow::Result<Vec<Institution>> {
    let sql = format!(
        "{INSTITUTION_SELECT} WHERE i.id IN (SELECT institution_id FROM user_institutions WHERE user_id = $1) \
         ORDER BY i.name"
    );
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(user_id).fetch_all(&mut *c).await)?)
}

#[tracing::instrument(skip_all)]
pub async fn institutions_in_district(
    c: &mut impl Conn,
    district_id: i64,
) -> anyhow::Result<Vec<Institution>> {
    let sql = format!("{INSTITUTION_SELECT} WHERE i.district_id = $1 ORDER BY i.name");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(district_id).fetch_all(&mut *c).await)?)
}

/// Inserts or updates an institution; `Ok(None)` when the name is taken.
#[tracing::instrument(skip_all)]
pub async fn save_institution(
    c: &mut impl Conn,
    id: Option<i64>,
    district_id: i64,
    name: &str,
    kind: super::InstitutionKind,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let key = super::name_key(name);
    let taken: i64 = dispatch!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM institutions WHERE name_key = $1 AND id <> $2",
    )
    .bind(&key)
    .bind(id.unwrap_or(-1))
    .fetch_one(&mut *c)
    .await)?;
    if taken > 0 {
        return Ok(None);
    }
    let id = match id {
        Some(id) => {
            dispatch!(c, c => sqlx::query(
                "UPDATE institutions SET district_id = $1, name = $2, name_key = $3, kind = $4 WHERE id = $5",
            )
            .bind(district_id)
            .bind(name.trim())
            .bind(&key)
            .bind(kind.as_str())
            .bind(id)
            .execute(&mut *c)
            .await.map(|r| r.rows_affected()))?;
            id
        }
        None => dispatch!(c, c => sqlx::query_scalar(
            "INSERT INTO institutions (district_id, name, name_key, kind, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(district_id)
        .bind(name.trim())
        .bind(&key)
        .bind(kind.as_str())
        .bind(now)
        .fetch_one(&mut *c)
        .await)?,
    };
    Ok(Some(id))
}

// ---- groups ----

#[tracing::instrument(skip_all)]
pub async fn group(c: &mut impl Conn, id: i64) -> anyhow::Result<Option<Group>> {
    let sql = format!("{GROUP_SELECT} WHERE g.id = $1");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await)?)
}

#[tracing::instrument(skip_all)]
pub async fn groups_of_institution(
    c: &mut impl Conn,
    institution_id: i64,
) -> anyhow::Result<Vec<Group>> {
    let sql =
        format!("{GROUP_SELECT} WHERE g.institution_id = $1 ORDER BY g.school_year DESC, g.name");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(institution_id).fetch_all(&mut *c).await)?)
}

#[tracing::instrument(skip_all)]
pub async fn groups_of_user(c: &mut impl Conn, user_id: i64) -> anyhow::Result<Vec<Group>> {
    let sql = format!(
        "{GROUP_SELECT} WHERE g.id IN (SELECT group_id FROM user_groups WHERE user_id = $1) \
         ORDER BY i.name, g.name"
    );
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(user_id).fetch_all(&mut *c).await)?)
}

/// The groups with the given ids, by institution and name, one query.
#[tracing::instrument(skip_all)]
pub async fn groups_by_ids(c: &mut impl Conn, ids: &[i64]) -> anyhow::Result<Vec<Group>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{GROUP_SELECT} WHERE g.id IN ({}) ORDER BY i.name, g.name",
        crate::db::placeholders(1, ids.len())
    );
    crate::db::fetch_all_with_ids(c, &sql, ids).await
}

/// Finds a group by institution, name and school year (CSV import).
#[tracing::instrument(skip_all)]
pub async fn group_by_name(
    c: &mut impl Conn,
    institution_id: i64,
    name: &str,
    school_year: &str,
) -> anyhow::Result<Option<i64>> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "SELECT id FROM groups WHERE institution_id = $1 AND name_key = $2 AND school_year = $3",
    )
    .bind(institution_id)
    .bind(super::name_key(name))
    .bind(school_year)
    .fetch_optional(&mut *c)
    .await)?)
}

/// Inserts or updates a group; `Ok(None)` when the institution already has one of that name
/// in that school year.
#[tracing::instrument(skip_all)]
pub async fn save_group(
    c: &mut impl Conn,
    id: Option<i64>,
    institution_id: i64,
    name: &str,
    kind: super::GroupKind,
    school_year: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let key = super::name_key(name);
    let taken: i64 = dispatch!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM groups WHERE institution_id = $1 AND name_key = $2 AND school_year = $3 AND id <> $4",
    )
    .bind(institution_id)
    .bind(&key)
    .bind(school_year)
    .bind(id.unwrap_or(-1))
    .fetch_one(&mut *c)
    .await)?;
    if taken > 0 {
        return Ok(None);
    }
    let id = match id {
        Some(id) => {
            dispatch!(c, c => sqlx::query(
                "UPDATE groups SET institution_id = $1, name = $2, name_key = $3, kind = $4, school_year = $5 WHERE id = $6",
            )
            .bind(institution_id)
            .bind(name.trim())
            .bind(&key)
            .bind(kind.as_str())
            .bind(school_year)
            .bind(id)
            .execute(&mut *c)
            .await.map(|r| r.rows_affected()))?;
            id
        }
        None => dispatch!(c, c => sqlx::query_scalar(
            "INSERT INTO groups (institution_id, name, name_key, kind, school_year, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(institution_id)
        .bind(name.trim())
        .bind(&key)
        .bind(kind.as_str())
        .bind(school_year)
        .bind(now)
        .fetch_one(&mut *c)
        .await)?,
    };
    Ok(Some(id))
}

// ---- children ----

#[tracing::instrument(skip_all)]
pub async fn child(c: &mut impl Conn, id: i64) -> anyhow::Result<Option<Child>> {
    let sql = format!("SELECT {CHILD_COLUMNS} FROM children c WHERE c.id = $1");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await)?)
}

/// The children with the given ids (in no particular order), one query.
pub async fn children_by_ids(c: &mut impl Conn, ids: &[i64]) -> anyhow::Result<Vec<Child>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {CHILD_COLUMNS} FROM children c WHERE c.id IN ({})",
        crate::db::placeholders(1, ids.len())
    );
    crate::db::fetch_all_with_ids(c, &sql, ids).await
}

/// The children currently enrolled in a group, by name.
#[tracing::instrument(skip_all)]
pub async fn children_in_group(c: &mut impl Conn, group_id: i64) -> anyhow::Result<Vec<Child>> {
    let sql = format!(
        "SELECT {CHILD_COLUMNS} FROM children c JOIN enrolments e ON e.child_id = c.id \
         WHERE e.group_id = $1 AND e.to_date IS NULL ORDER BY c.first_name, c.last_name, c.id"
    );
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(group_id).fetch_all(&mut *c).await)?)
}

/// The children currently enrolled in each of `group_ids`, by group, in one statement.
#[tracing::instrument(skip_all)]
pub async fn children_in_groups(
    c: &mut impl Conn,
    group_ids: &[i64],
) -> anyhow::Result<std::collections::HashMap<i64, Vec<Child>>> {
    let mut out: std::collections::HashMap<i64, Vec<Child>> = std::collections::HashMap::new();
    if group_ids.is_empty() {
        return Ok(out);
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        group_id: i64,
        #[sqlx(flatten)]
        child: Child,
    }
    let sql = format!(
        "SELECT e.group_id, {CHILD_COLUMNS} FROM enrolments e CROSS JOIN children c \
         WHERE c.id = e.child_id AND e.group_id IN ({}) AND e.to_date IS NULL \
         ORDER BY c.first_name, c.last_name, c.id",
        crate::db::placeholders(1, group_ids.len())
    );
    let rows: Vec<Row> = crate::db::fetch_all_with_ids(c, &sql, group_ids).await?;
    for r in rows {
        out.entry(r.group_id).or_default().push(r.child);
    }
    Ok(out)
}

const UNENROLLED: &str = "FROM children c WHERE c.current_group_id IS NULL";

/// [`unenrolled_children`]'s page (`$1`/`$2`: limit and offset).
pub fn unenrolled_sql() -> String {
    format!("SELECT {CHILD_COLUMNS} {UNENROLLED} ORDER BY c.name_key, c.id LIMIT $1 OFFSET $2")
}

/// The children without a current enrolment (for the admin), by name, a page at a time; and
/// how many there are. Through the partial index on `current_group_id IS NULL`.
#[tracing::instrument(skip_all)]
pub async fn unenrolled_children(
    c: &mut impl Conn,
    limit: i64,
    offset: i64,
) -> anyhow::Result<(Vec<Child>, i64)> {
    let sql = unenrolled_sql();
    let rows =
        dispatch!(c, c => sqlx::query_as(&sql).bind(limit).bind(offset).fetch_all(&mut *c).await)?;
    let total: i64 = dispatch!(c, c => sqlx::query_scalar(&format!("SELECT COUNT(*) {UNENROLLED}"))
        .fetch_one(&mut *c)
        .await)?;
    Ok((rows, total))
}

#[tracing::instrument(skip_all)]
pub async fn external_id_taken(
    c: &mut impl Conn,
    external_id: &str,
    except: Option<i64>,
) -> anyhow::Result<bool> {
    let n: i64 = dispatch!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM children WHERE external_id = $1 AND id <> $2",
    )
    .bind(external_id)
    .bind(except.unwrap_or(-1))
    .fetch_one(&mut *c)
    .await)?;
    Ok(n > 0)
}

/// A child's details as entered in a form or a CSV row.
#[derive(Debug, Clone)]
pub struct ChildInput {
    pub first_name: String,
    pub last_name: String,
    pub birth_date: NaiveDate,
    pub gender: &'static str,
    pub external_id: Option<String>,
    pub protected_address: bool,
}

#[tracing::instrument(skip_all)]
pub async fn insert_child(
    c: &mut impl Conn,
    input: &ChildInput,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO children (first_name, last_name, birth_date, gender, external_id, protected_address, created_at, updated_at, \
         name_key, surname_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) RETURNING id",
    )
    .bind(input.first_name.trim())
    .bind(input.last_name.trim())
    .bind(input.birth_date)
    .bind(input.gender)
    .bind(input.external_id.as_deref())
    .bind(input.protected_address)
    .bind(now)
    .bind(search_key(&format!("{} {}", input.first_name, input.last_name)))
    .bind(search_key(&format!("{} {}", input.last_name, input.first_name)))
    .fetch_one(&mut *c)
    .await)?)
}

/// A name as the child search compares it: lower case (Danish letters too), single spaces.
pub fn search_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The children the admin's search finds (`$1`..`$2`: the range of keys that start with the
/// term, `$3`: the term as an external id): a prefix of the name, first name first or last
/// name first, through the name indexes.
const CHILD_FOUND: &str = "FROM children c \
     WHERE (c.name_key >= $1 AND c.name_key < $2) OR (c.surname_key >= $1 AND c.surname_key < $2) \
     OR c.external_id = $3";

/// A page of the admin's child search ([`CHILD_FOUND`]; `$4`/`$5`: limit and offset).
pub fn child_search_sql() -> String {
    format!("SELECT {CHILD_COLUMNS} {CHILD_FOUND} ORDER BY c.name_key, c.id LIMIT $4 OFFSET $5")
}

/// Children whose name matches `term` ([`CHILD_FOUND`]), a page at a time; and how many
/// there are.
pub async fn search_children(
    c: &mut impl Conn,
    term: &str,
    limit: i64,
    offset: i64,
) -> anyhow::Result<(Vec<Child>, i64)> {
    let from = search_key(term);
    let until = format!("{from}\u{10ffff}");
    let rows = dispatch!(c, c => sqlx::query_as(&child_search_sql())
        .bind(&from)
        .bind(&until)
        .bind(term.trim())
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *c)
        .await)?;
    let total: i64 = dispatch!(c, c => sqlx::query_scalar(&format!("SELECT COUNT(*) {CHILD_FOUND}"))
    .bind(&from)
    .bind(&until)
    .bind(term.trim())
    .fetch_one(&mut *c)
    .await)?;
    Ok((rows, total))
}

/// Fills the search keys of children written before they existed (migration 0011), in
/// batches; a no-op once every child has them.
pub async fn fill_search_keys(db: &crate::db::Db) -> anyhow::Result<u64> {
    let mut filled = 0;
    loop {
        let mut tx = db.begin().await?;
        let batch: Vec<(i64, String, String)> = dispatch!(&mut tx, c => sqlx::query_as(
            "SELECT id, first_name, last_name FROM children WHERE name_key = '' LIMIT 5000",
        )
        .fetch_all(&mut *c)
        .await)?;
        if batch.is_empty() {
            return Ok(filled);
        }
        for (id, first, last) in &batch {
            dispatch!(&mut tx, c => sqlx::query(
                "UPDATE children SET name_key = $1, surname_key = $2 WHERE id = $3",
            )
            .bind(search_key(&format!("{first} {last}")))
            .bind(search_key(&format!("{last} {first}")))
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        filled += batch.len() as u64;
    }
}

#[tracing::instrument(skip_all)]
pub async fn update_child(
    c: &mut impl Conn,
    id: i64,
    input: &ChildInput,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query(
        "UPDATE children SET first_name = $1, last_name = $2, birth_date = $3, gender = $4, \
         external_id = $5, protected_address = $6, updated_at = $7, name_key = $9, surname_key = $10 \
         WHERE id = $8",
    )
    .bind(input.first_name.trim())
    .bind(input.last_name.trim())
    .bind(input.birth_date)
    .bind(input.gender)
    .bind(input.external_id.as_deref())
    .bind(input.protected_address)
    .bind(now)
    .bind(id)
    .bind(search_key(&format!("{} {}", input.first_name, input.last_name)))
    .bind(search_key(&format!("{} {}", input.last_name, input.first_name)))
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- enrolments ----

#[tracing::instrument(skip_all)]
pub async fn enrolments(c: &mut impl Conn, child_id: i64) -> anyhow::Result<Vec<Enrolment>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT e.id, e.group_id, g.name AS group_name, i.name AS institution_name, e.from_date, e.to_date \
         FROM enrolments e JOIN groups g ON g.id = e.group_id JOIN institutions i ON i.id = g.institution_id \
         WHERE e.child_id = $1 ORDER BY e.from_date DESC, e.id DESC",
    )
    .bind(child_id)
    .fetch_all(&mut *c)
    .await)?)
}

/// Enrols a child in a group from `from`, ending the current enrolment the day before.
/// Returns `Ok(false)` when `from` is not after the current enrolment's start.
#[tracing::instrument(skip_all)]
pub async fn enrol(
    c: &mut impl Conn,
    child_id: i64,
    group_id: i64,
    from: NaiveDate,
) -> anyhow::Result<bool> {
    let current: Option<(i64, NaiveDate)> = dispatch!(c, c => sqlx::query_as(
        "SELECT id, from_date FROM enrolments WHERE child_id = $1 AND to_date IS NULL",
    )
    .bind(child_id)
    .fetch_optional(&mut *c)
    .await)?;
    if let Some((id, start)) = current {
        if from <= start {
            return Ok(false);
        }
        let end = from.pred_opt().unwrap_or(from);
        dispatch!(c, c => sqlx::query("UPDATE enrolments SET to_date = $1 WHERE id = $2")
            .bind(end)
            .bind(id)
            .execute(&mut *c)
            .await.map(|r| r.rows_affected()))?;
    }
    dispatch!(c, c => sqlx::query(
        "INSERT INTO enrolments (child_id, group_id, from_date) VALUES ($1, $2, $3)",
    )
    .bind(child_id)
    .bind(group_id)
    .bind(from)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    // The child's current group, beside its enrolments (migration 0012).
    // A child who comes back is no longer marked as having left.
    dispatch!(c, c => sqlx::query("UPDATE children SET current_group_id = $1, left_on = NULL WHERE id = $2")
        .bind(group_id)
        .bind(child_id)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    Ok(true)
}

/// Marks the child as having left the municipality's institutions on `on`: the current
/// enrolment (if any) ends that day. False when it cannot: already marked, or `on` is before
/// the current enrolment began.
pub async fn mark_left(c: &mut impl Conn, child_id: i64, on: NaiveDate) -> anyhow::Result<bool> {
    let current: Option<(i64, NaiveDate)> = dispatch!(c, c => sqlx::query_as(
        "SELECT id, from_date FROM enrolments WHERE child_id = $1 AND to_date IS NULL",
    )
    .bind(child_id)
    .fetch_optional(&mut *c)
    .await)?;
    if current.is_some_and(|(_, start)| on < start) {
        return Ok(false);
    }
    let marked = dispatch!(c, c => sqlx::query(
        "UPDATE children SET left_on = $1, current_group_id = NULL WHERE id = $2 AND left_on IS NULL",
    )
    .bind(on)
    .bind(child_id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    if marked == 0 {
        return Ok(false);
    }
    if let Some((id, _)) = current {
        dispatch!(c, c => sqlx::query("UPDATE enrolments SET to_date = $1 WHERE id = $2")
            .bind(on)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(true)
}

// ---- guardians ----

#[tracing::instrument(skip_all)]
pub async fn guardians(c: &mut impl Conn, child_id: i64) -> anyhow::Result<Vec<Guardian>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT id, child_id, name, relation, phone, email, address, has_custody \
         FROM guardians WHERE child_id = $1 ORDER BY id",
    )
    .bind(child_id)
    .fetch_all(&mut *c)
    .await)?)
}

#[derive(Debug, Clone)]
pub struct GuardianInput {
    pub name: String,
    pub relation: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub has_custody: bool,
}

#[tracing::instrument(skip_all)]
pub async fn insert_guardian(
    c: &mut impl Conn,
    child_id: i64,
    g: &GuardianInput,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO guardians (child_id, name, relation, phone, email, address, has_custody, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(child_id)
    .bind(g.name.trim())
    .bind(g.relation.trim())
    .bind(g.phone.trim())
    .bind(g.email.trim())
    .bind(g.address.trim())
    .bind(g.has_custody)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?)
}

/// Deletes a guardian of `child_id`; returns whether one was deleted.
#[tracing::instrument(skip_all)]
pub async fn delete_guardian(
    c: &mut impl Conn,
    child_id: i64,
    guardian_id: i64,
) -> anyhow::Result<bool> {
    let n = dispatch!(c, c => sqlx::query("DELETE FROM guardians WHERE id = $1 AND child_id = $2")
        .bind(guardian_id)
        .bind(child_id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

// ---- counts for the admin home ----

#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub districts: i64,
    pub institutions: i64,
    pub groups: i64,
    pub children: i64,
    pub users: i64,
}

#[tracing::instrument(skip_all)]
pub async fn counts(c: &mut impl Conn) -> anyhow::Result<Counts> {
    let row: (i64, i64, i64, i64, i64) = dispatch!(c, c => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM districts), (SELECT COUNT(*) FROM institutions), \
         (SELECT COUNT(*) FROM groups), (SELECT COUNT(*) FROM children), (SELECT COUNT(*) FROM users)",
    )
    .fetch_one(&mut *c)
    .await)?;
    Ok(Counts {
        districts: row.0,
        institutions: row.1,
        groups: row.2,
        children: row.3,
        users: row.4,
    })
}
