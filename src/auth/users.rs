//! Staff accounts and their assignments (groups, institutions, districts).

use chrono::{DateTime, Utc};

use super::{CurrentUser, Role};
use crate::db::Conn;
use crate::dispatch;
use crate::web::Lang;

/// Emails are compared case-insensitively: stored trimmed and lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub lang: String,
}

impl UserRow {
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }

    /// The logged-in staff member this account is, if it is active and its role known.
    pub fn into_current(self) -> Option<CurrentUser> {
        if !self.active {
            return None;
        }
        Some(CurrentUser {
            id: self.id,
            role: self.role()?,
            lang: Lang::from_code(&self.lang),
            name: self.name,
            email: self.email,
        })
    }
}

/// The id, password hash and active flag of the account with `email`, for login.
#[tracing::instrument(skip_all)]
pub async fn credentials(
    c: &mut impl Conn,
    email: &str,
) -> anyhow::Result<Option<(i64, Option<String>, bool)>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT id, password_hash, active FROM users WHERE email = $1",
    )
    .bind(normalise_email(email))
    .fetch_optional(&mut *c)
    .await)?)
}

#[tracing::instrument(skip_all)]
pub async fn by_id(c: &mut impl Conn, id: i64) -> anyhow::Result<Option<UserRow>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT id, email, name, role, active, lang FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await)?)
}

#[tracing::instrument(skip_all)]
pub async fn list(c: &mut impl Conn) -> anyhow::Result<Vec<UserRow>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT id, email, name, role, active, lang FROM users ORDER BY role, name",
    )
    .fetch_all(&mut *c)
    .await)?)
}

/// Users whose name or email contains `term` (case-insensitive), by name; at most `limit`.
#[tracing::instrument(skip_all)]
pub async fn search(c: &mut impl Conn, term: &str, limit: i64) -> anyhow::Result<Vec<UserRow>> {
    let pattern = format!(
        "%{}%",
        term.trim()
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT id, email, name, role, active, lang FROM users \
         WHERE LOWER(name) LIKE $1 ESCAPE '\\' OR LOWER(email) LIKE $1 ESCAPE '\\' \
         ORDER BY name, id LIMIT $2",
    )
    .bind(pattern)
    .bind(limit)
    .fetch_all(&mut *c)
    .await)?)
}

#[tracing::instrument(skip_all)]
pub async fn count(c: &mut impl Conn) -> anyhow::Result<i64> {
    Ok(
        dispatch!(c, c => sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *c)
        .await)?,
    )
}

#[tracing::instrument(skip_all)]
pub async fn email_taken(
    c: &mut impl Conn,
    email: &str,
    except: Option<i64>,
) -> anyhow::Result<bool> {
    let n: i64 = dispatch!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE email = $1 AND id <> $2",
    )
    .bind(normalise_email(email))
    .bind(except.unwrap_or(-1))
    .fetch_one(&mut *c)
    .await)?;
    Ok(n > 0)
}

/// Inserts an account; returns its id. The caller checks that the email is free.
#[tracing::instrument(skip_all)]
pub async fn insert(
    c: &mut impl Conn,
    email: &str,
    name: &str,
    role: Role,
    password_hash: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO users (email, name, role, password_hash, active, lang, created_at) \
         VALUES ($1, $2, $3, $4, TRUE, 'da', $5) RETURNING id",
    )
    .bind(normalise_email(email))
    .bind(name.trim())
    .bind(role.as_str())
    .bind(password_hash)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?)
}

#[tracing::instrument(skip_all)]
pub async fn update(
    c: &mut impl Conn,
    id: i64,
    email: &str,
    name: &str,
    role: Role,
    active: bool,
) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query(
        "UPDATE users SET email = $1, name = $2, role = $3, active = $4 WHERE id = $5",
    )
    .bind(normalise_email(email))
    .bind(name.trim())
    .bind(role.as_str())
    .bind(active)
    .bind(id)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn set_password_hash(c: &mut impl Conn, id: i64, hash: &str) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn set_lang(c: &mut impl Conn, id: i64, lang: Lang) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query("UPDATE users SET lang = $1 WHERE id = $2")
        .bind(lang.code())
        .bind(id)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The ids an account is assigned to, in the table that fits its role.
#[derive(Debug, Clone, Default)]
pub struct Assignments {
    pub groups: Vec<i64>,
    pub institutions: Vec<i64>,
    pub districts: Vec<i64>,
}

#[tracing::instrument(skip_all)]
pub async fn assignments(c: &mut impl Conn, user_id: i64) -> anyhow::Result<Assignments> {
    let groups = dispatch!(c, c => sqlx::query_scalar(
        "SELECT group_id FROM user_groups WHERE user_id = $1 ORDER BY group_id",
    )
    .bind(user_id)
    .fetch_all(&mut *c)
    .await)?;
    let institutions = dispatch!(c, c => sqlx::query_scalar(
        "SELECT institution_id FROM user_institutions WHERE user_id = $1 ORDER BY institution_id",
    )
    .bind(user_id)
    .fetch_all(&mut *c)
    .await)?;
    let districts = dispatch!(c, c => sqlx::query_scalar(
        "SELECT district_id FROM user_districts WHERE user_id = $1 ORDER BY district_id",
    )
    .bind(user_id)
    .fetch_all(&mut *c)
    .await)?;
    Ok(Assignments {
        groups,
        institutions,
        districts,
    })
}

/// Replaces an account's assignments with those that fit `role` (the others are cleared).
#[tracing::instrument(skip_all)]
/// Whether each of `ids` (distinct) names an existing group, institution or district, as
/// `role` assigns them.
pub async fn assignments_exist(c: &mut impl Conn, role: Role, ids: &[i64]) -> anyhow::Result<bool> {
    let table = match role {
        Role::Educator => "groups",
        Role::Leader => "institutions",
        Role::SocialWorker => "districts",
        Role::Admin | Role::Dpo => return Ok(true),
    };
    if ids.is_empty() {
        return Ok(true);
    }
    let sql = format!(
        "SELECT COUNT(*) FROM {table} WHERE id IN ({})",
        crate::db::placeholders(1, ids.len())
    );
    let found: i64 = dispatch!(c, c => {
        let mut q = sqlx::query_scalar(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_one(&mut *c).await
    })?;
    Ok(found == ids.len() as i64)
}

pub async fn set_assignments(
    c: &mut impl Conn,
    user_id: i64,
    role: Role,
    ids: &[i64],
) -> anyhow::Result<()> {
    for table in ["user_groups", "user_institutions", "user_districts"] {
        let sql = format!("DELETE FROM {table} WHERE user_id = $1");
        dispatch!(c, c => sqlx::query(&sql).bind(user_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    let sql = match role {
        Role::Educator => "INSERT INTO user_groups (user_id, group_id) VALUES ($1, $2)",
        Role::Leader => "INSERT INTO user_institutions (user_id, institution_id) VALUES ($1, $2)",
        Role::SocialWorker => "INSERT INTO user_districts (user_id, district_id) VALUES ($1, $2)",
        Role::Admin | Role::Dpo => return Ok(()),
    };
    for id in ids {
        dispatch!(c, c => sqlx::query(sql)
            .bind(user_id)
            .bind(*id)
            .execute(&mut *c)
            .await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}
