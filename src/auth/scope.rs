//! The one place that decides what a user may see. Every handler that shows or changes an
//! organisation object or a child asks here first; an object outside the caller's scope is
//! answered exactly like a missing one ([`AppError::NotFound`]), so scope cannot be probed.
//!
//! - educator: the groups assigned to them and the children currently enrolled there;
//! - leader: their institutions, the groups in them, and those groups' current children;
//! - preventive social worker: their districts; children only through routed alerts (no
//!   child is visible by organisation alone);
//! - municipal admin: the whole organisation and children's basic details, never the
//!   content of assessments;
//! - data-protection officer: children's basic details, the access log and who has seen a
//!   child; no organisation pages, never assessments;
//! - of a child's record, educators and leaders see what was recorded since the child came
//!   to their institution, unless the parents consented to the handover ([`record_window`]).

use chrono::{DateTime, NaiveDate, Utc};

use super::{CurrentUser, Role};
use crate::db::Conn;
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::org::db::{self as org, Child, Group, Institution};

/// The group `id` if `user` may see it.
pub async fn group(c: &mut impl Conn, user: &CurrentUser, id: i64) -> AppResult<Group> {
    let group = org::group(c, id).await?.ok_or(AppError::NotFound)?;
    let visible = match user.role {
        Role::Admin => true,
        Role::Educator => assigned(c, "user_groups", "group_id", user.id, group.id).await?,
        Role::Leader => {
            assigned(
                c,
                "user_institutions",
                "institution_id",
                user.id,
                group.institution_id,
            )
            .await?
        }
        Role::SocialWorker | Role::Dpo => false,
    };
    if visible {
        Ok(group)
    } else {
        Err(AppError::NotFound)
    }
}

/// The institution `id` if `user` may see it.
pub async fn institution(c: &mut impl Conn, user: &CurrentUser, id: i64) -> AppResult<Institution> {
    let inst = org::institution(c, id).await?.ok_or(AppError::NotFound)?;
    let visible = match user.role {
        Role::Admin => true,
        Role::Leader => {
            assigned(c, "user_institutions", "institution_id", user.id, inst.id).await?
        }
        Role::SocialWorker => {
            assigned(
                c,
                "user_districts",
                "district_id",
                user.id,
                inst.district_id,
            )
            .await?
        }
        Role::Educator | Role::Dpo => false,
    };
    if visible {
        Ok(inst)
    } else {
        Err(AppError::NotFound)
    }
}

/// How much of a child's record a user may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordWindow {
    /// The whole record.
    All,
    /// What was recorded on or after this day (UTC), the day the child first came to one of
    /// the user's institutions; `None`: nothing (the child never was in one).
    Since(Option<NaiveDate>),
}

impl RecordWindow {
    /// Whether a record made at `at` is within the window.
    pub fn admits(&self, at: DateTime<Utc>) -> bool {
        match self {
            RecordWindow::All => true,
            RecordWindow::Since(since) => since.is_some_and(|d| at.date_naive() >= d),
        }
    }

    /// The window of the *positions* (levels and dates, nothing else) of a child whose first
    /// day in the user's institutions was `since`: with the parents' handover consent the
    /// earlier positions show too (the group sheet's last position, the overview), because
    /// the handover summary shows the last one. Answers, observations and free text never
    /// follow the child: see [`record_window`].
    pub fn of(
        since: Option<NaiveDate>,
        consent: &[crate::consent::Event],
        today: NaiveDate,
    ) -> RecordWindow {
        if crate::consent::may_share_earlier_records(consent, today) {
            RecordWindow::All
        } else {
            RecordWindow::Since(since)
        }
    }
}

/// What of child `child_id`'s record `user` may see in full (assessments with their answers,
/// observations and free text). Educators and leaders see what was recorded since the child
/// first came to one of their institutions: a child moved from a daycare to a school does
/// not bring the daycare's assessments to the new teacher. With the parents' handover consent
/// the new institution sees a summary instead (`assessment::handover`): the last position,
/// the active focus points or action plan and the active measures — never answers or
/// observations. (A child that left and came back shows the time between too; enrolment
/// periods are not cut apart.) A social worker's view comes through the alert; the admin
/// sees no assessments.
pub async fn record_window(
    c: &mut impl Conn,
    user: &CurrentUser,
    child_id: i64,
    _today: NaiveDate,
) -> AppResult<RecordWindow> {
    if matches!(user.role, Role::Admin | Role::SocialWorker | Role::Dpo) {
        return Ok(RecordWindow::All);
    }
    Ok(RecordWindow::Since(first_day(c, user, child_id).await?))
}

/// The first day child `child_id` was in one of `user`'s institutions (an educator's groups'
/// institutions, a leader's), if ever.
pub async fn first_day(
    c: &mut impl Conn,
    user: &CurrentUser,
    child_id: i64,
) -> AppResult<Option<NaiveDate>> {
    let institutions = match user.role {
        Role::Admin | Role::SocialWorker | Role::Dpo => return Ok(None),
        Role::Educator => {
            "SELECT g2.institution_id FROM user_groups ug JOIN groups g2 ON g2.id = ug.group_id \
             WHERE ug.user_id = $2"
        }
        Role::Leader => "SELECT institution_id FROM user_institutions WHERE user_id = $2",
    };
    let sql = format!(
        "SELECT MIN(e.from_date) FROM enrolments e JOIN groups g ON g.id = e.group_id \
         WHERE e.child_id = $1 AND g.institution_id IN ({institutions})"
    );
    Ok(dispatch!(c, c => sqlx::query_scalar(&sql)
        .bind(child_id)
        .bind(user.id)
        .fetch_one(&mut *c)
        .await)?)
}

/// The child `id` if `user` may see the child's details: the child and the visibility check
/// in one statement, so missing and out of scope look the same.
pub async fn child(c: &mut impl Conn, user: &CurrentUser, id: i64) -> AppResult<Child> {
    let Some(visible) = child_visible(user.role, "c.id") else {
        return Err(AppError::NotFound);
    };
    let sql = format!(
        "SELECT {} FROM children c WHERE c.id = $1 AND {visible}",
        org::CHILD_COLUMNS
    );
    let row: Option<Child> = dispatch!(c, c => sqlx::query_as(&sql)
        .bind(id)
        .bind(user.id)
        .fetch_optional(&mut *c)
        .await)?;
    row.ok_or(AppError::NotFound)
}

/// The SQL condition under which `user` may read and record the assessments of the child
/// `child` (a column), with the user bound as `$2` ([`assessable_child`]'s rule), for a
/// feature that reads the child together with more in one statement.
pub fn assessable_where(user: &CurrentUser, child: &str) -> AppResult<String> {
    child_visible(user.role, child)
        .filter(|_| sees_assessments(user))
        .ok_or(AppError::NotFound)
}

/// [`assessable_where`]'s rule for a statement that has already joined the child's current
/// enrolment (`to_date IS NULL`) and its group: the condition over `group`, the current
/// group's id column, and `institution`, its institution's id column, with the user bound as
/// `$2`. It reads the enrolment once instead of twice; a child without a current enrolment
/// (both columns NULL) is admitted by no one.
pub fn assessable_enrolled_where(
    user: &CurrentUser,
    group: &str,
    institution: &str,
) -> AppResult<String> {
    match user.role {
        Role::Educator => Ok(format!(
            "EXISTS (SELECT 1 FROM user_groups ug WHERE ug.group_id = {group} AND ug.user_id = $2)"
        )),
        Role::Leader => Ok(format!(
            "EXISTS (SELECT 1 FROM user_institutions ui \
             WHERE ui.institution_id = {institution} AND ui.user_id = $2)"
        )),
        Role::Admin | Role::SocialWorker | Role::Dpo => Err(AppError::NotFound),
    }
}

/// The SQL condition under which the child `child` (a column) is visible to the user bound as
/// `$2`, for a role that sees children by organisation; `None` for a role that never does.
fn child_visible(role: Role, child: &str) -> Option<String> {
    match role {
        // The admin and the data-protection officer see every child's details ($2, the
        // user, is bound either way).
        Role::Admin | Role::Dpo => Some("$2 = $2".into()),
        Role::Educator => Some(format!(
            "EXISTS (SELECT 1 FROM enrolments e JOIN user_groups ug ON ug.group_id = e.group_id \
             WHERE e.child_id = {child} AND e.to_date IS NULL AND ug.user_id = $2)"
        )),
        Role::Leader => Some(format!(
            "EXISTS (SELECT 1 FROM enrolments e JOIN groups g ON g.id = e.group_id \
             JOIN user_institutions ui ON ui.institution_id = g.institution_id \
             WHERE e.child_id = {child} AND e.to_date IS NULL AND ui.user_id = $2)"
        )),
        Role::SocialWorker => None,
    }
}

/// The assessment `id` if `user` may read the child's assessments ([`assessable_child`]),
/// in one statement with the check.
pub async fn assessable_assessment(
    c: &mut impl Conn,
    user: &CurrentUser,
    id: i64,
) -> AppResult<crate::assessment::db::Assessment> {
    let visible = assessable_where(user, "a.child_id")?;
    crate::assessment::db::get_where(c, id, user.id, &visible)
        .await?
        .ok_or(AppError::NotFound)
}

/// Only the municipal admin maintains the organisation.
pub fn admin(user: &CurrentUser) -> AppResult<()> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Whether guardians' addresses may be shown: only to the admin who maintains them, and
/// never for a child with a protected name and address.
pub fn may_see_addresses(user: &CurrentUser, child: &Child) -> bool {
    user.role == Role::Admin && !child.protected_address
}

async fn assigned(
    c: &mut impl Conn,
    table: &'static str,
    column: &'static str,
    user_id: i64,
    object_id: i64,
) -> anyhow::Result<bool> {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1 AND {column} = $2");
    let n: i64 = dispatch!(c, c => sqlx::query_scalar(&sql)
        .bind(user_id)
        .bind(object_id)
        .fetch_one(&mut *c)
        .await)?;
    Ok(n > 0)
}

/// The child `id` if `user` may read and record its wellbeing assessments: the educators of
/// the child's group and the leaders of its institution. The admin maintains the organisation
/// but never sees assessments; social workers see what alerts route to them.
pub async fn assessable_child(c: &mut impl Conn, user: &CurrentUser, id: i64) -> AppResult<Child> {
    if !sees_assessments(user) {
        return Err(AppError::NotFound);
    }
    child(c, user, id).await
}

/// Whether `user`'s role works with assessments at all (for showing links and history).
pub fn sees_assessments(user: &CurrentUser) -> bool {
    matches!(user.role, Role::Educator | Role::Leader)
}
