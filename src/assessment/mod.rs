//! Wellbeing assessments: screening rounds, the assessment form built from the questionnaire
//! file, the engine's suggestion and the professional's decision, individual views and the
//! team's position, and each child's history. A submitted assessment is never edited: a
//! correction is a new row that supersedes it.

pub mod after_save;
pub mod db;
pub mod follow_up;
pub mod handover;
pub mod individual;
pub mod print;
pub mod reminders;
pub mod routes;
pub mod screening;
pub mod versions;

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::db::Db;
use crate::dispatch;
use crate::questionnaire::Catalogue;

/// Records each questionnaire version's content hash and text the first time it is seen, and
/// refuses a file whose content changed while its version did not: stored assessments name the
/// version they were scored with, so a silent change would rewrite their meaning. The text is
/// what [`versions::questionnaire`] shows and scores old assessments with.
pub async fn register_versions(
    db: &Db,
    catalogue: &Catalogue,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let problems = version_conflicts(&mut tx, catalogue).await?;
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
    for q in &catalogue.questionnaires {
        dispatch!(&mut tx, c => sqlx::query(
            "INSERT INTO questionnaire_versions (questionnaire_id, version, hash, first_seen, definition) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (questionnaire_id, version) DO UPDATE \
             SET definition = excluded.definition \
             WHERE questionnaire_versions.definition IS NULL AND questionnaire_versions.hash = excluded.hash",
        )
        .bind(&q.def.id)
        .bind(q.def.version as i32)
        .bind(&q.hash)
        .bind(now)
        .bind(&*q.text)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    tx.commit().await
}

/// The questionnaire files whose content differs from what the database recorded for the
/// same id and version, one message each (file, key and reason); reads only, so `trivsel
/// check` can ask before a restart.
pub async fn version_conflicts(
    c: &mut impl crate::db::Conn,
    catalogue: &Catalogue,
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for q in &catalogue.questionnaires {
        let existing: Option<String> = dispatch!(c, c => sqlx::query_scalar(
            "SELECT hash FROM questionnaire_versions WHERE questionnaire_id = $1 AND version = $2",
        )
        .bind(&q.def.id)
        .bind(q.def.version as i32)
        .fetch_optional(&mut *c)
        .await)?;
        if existing.is_some_and(|hash| hash != q.hash) {
            problems.push(format!(
                "{}: version: the file changed but its version is still {}; raise `version` (assessments already stored refer to version {} as it was)",
                q.file, q.def.version, q.def.version
            ));
        }
    }
    Ok(problems)
}

/// Kinds of assessment.
pub const INDIVIDUAL: &str = "individual";
pub const TEAM: &str = "team";

/// Answers as submitted: item id → option value.
pub type AnswerMap = BTreeMap<String, String>;

/// Whether a round covers an institution of `kind` on `day`.
pub fn round_covers(round: &db::Round, kind: &str, day: NaiveDate) -> bool {
    round.opens_on <= day
        && day <= round.closes_on
        && (round.institution_kinds.is_empty()
            || round.institution_kinds.split(',').any(|k| k.trim() == kind))
}
