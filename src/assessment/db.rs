//! SQL for rounds and assessments.

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::Conn;
use crate::dispatch;
use crate::scoring::Outcome;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Round {
    pub id: i64,
    pub name: String,
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
    pub institution_kinds: String,
    /// The optional instruments used beside the questionnaire for each age (comma-separated
    /// ids; empty: none).
    pub questionnaires: String,
}

impl Round {
    /// The optional instruments the round names.
    pub fn instruments(&self) -> Vec<&str> {
        self.questionnaires
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[tracing::instrument(skip_all)]
pub async fn rounds(c: &mut impl Conn) -> anyhow::Result<Vec<Round>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT id, name, opens_on, closes_on, institution_kinds, questionnaires FROM rounds ORDER BY opens_on DESC, id DESC",
    )
    .fetch_all(&mut *c)
    .await)?)
}

/// The rounds that have at least one team position, from the kept counts: one look into
/// the counts' primary key per round (reading every round's counts with `DISTINCT` took
/// 9 ms on PostgreSQL at 110,000 children).
#[tracing::instrument(skip_all)]
pub async fn rounds_with_positions(c: &mut impl Conn) -> anyhow::Result<Vec<i64>> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "SELECT r.id FROM rounds r WHERE EXISTS \
         (SELECT 1 FROM round_counts rc WHERE rc.round_id = r.id AND rc.n > 0)",
    )
    .fetch_all(&mut *c)
    .await)?)
}

#[tracing::instrument(skip_all)]
pub async fn insert_round(
    c: &mut impl Conn,
    name: &str,
    opens_on: NaiveDate,
    closes_on: NaiveDate,
    kinds: &str,
    instruments: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO rounds (name, opens_on, closes_on, institution_kinds, questionnaires, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(name.trim())
    .bind(opens_on)
    .bind(closes_on)
    .bind(kinds)
    .bind(instruments)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?)
}

/// The id of the open round covering institutions of kind `kind` (an SQL expression) on the
/// day bound as `day` (a placeholder): [`super::round_covers`] written as SQL, for reads
/// that find the round together with more. A test holds the two equal on both backends.
/// (Institution kinds are plain words, so `LIKE` needs no escaping.)
pub fn open_round_sql(kind: &str, day: &str) -> String {
    format!(
        "(SELECT r2.id FROM rounds r2 WHERE r2.opens_on <= {day} AND {day} <= r2.closes_on \
         AND (r2.institution_kinds = '' OR ',' || r2.institution_kinds || ',' LIKE '%,' || {kind} || ',%') \
         ORDER BY r2.opens_on DESC, r2.id DESC LIMIT 1)"
    )
}

/// What the assessment form of a child needs: the child and the round open today for the
/// type of institution it attends (none when not enrolled).
#[derive(Debug, sqlx::FromRow)]
pub struct FormContext {
    #[sqlx(flatten)]
    pub child: crate::org::db::Child,
    round_id: Option<i64>,
    round_name: Option<String>,
    round_opens_on: Option<NaiveDate>,
    round_closes_on: Option<NaiveDate>,
    round_kinds: Option<String>,
    round_questionnaires: Option<String>,
    /// The child's current group.
    pub group_id: Option<i64>,
    /// The assessment that is the child's team position in the open round, if any.
    pub position_id: Option<i64>,
}

impl FormContext {
    pub fn round(&self) -> Option<Round> {
        Some(Round {
            id: self.round_id?,
            name: self.round_name.clone()?,
            opens_on: self.round_opens_on?,
            closes_on: self.round_closes_on?,
            institution_kinds: self.round_kinds.clone()?,
            questionnaires: self.round_questionnaires.clone()?,
        })
    }
}

/// The form's context for child `id` if `condition` (SQL over `c`, with `$2` bound to
/// `user_id`) holds, on `day`: one statement; for [`crate::auth::scope`], which decides the
/// condition.
#[tracing::instrument(skip_all)]
pub async fn form_context_where(
    c: &mut impl Conn,
    id: i64,
    user_id: i64,
    condition: &str,
    day: NaiveDate,
) -> anyhow::Result<Option<FormContext>> {
    let sql = format!(
        "SELECT {}, r.id AS round_id, r.name AS round_name, \
         r.opens_on AS round_opens_on, r.closes_on AS round_closes_on, r.institution_kinds AS round_kinds, \
         r.questionnaires AS round_questionnaires, e.group_id, (SELECT rp.assessment_id FROM round_positions rp WHERE rp.child_id = c.id AND rp.round_id = r.id) AS position_id \
         FROM children c \
         LEFT JOIN enrolments e ON e.child_id = c.id AND e.to_date IS NULL \
         LEFT JOIN groups g ON g.id = e.group_id \
         LEFT JOIN institutions i ON i.id = g.institution_id \
         LEFT JOIN rounds r ON r.id = {} \
         WHERE c.id = $1 AND {condition}",
        crate::org::db::CHILD_COLUMNS,
        open_round_sql("i.kind", "$3"),
    );
    Ok(dispatch!(c, c => sqlx::query_as(&sql)
        .bind(id)
        .bind(user_id)
        .bind(day)
        .fetch_optional(&mut *c)
        .await)?)
}

/// The open round covering institutions of `kind` on `day` (the most recently opened).
pub async fn current_round(
    c: &mut impl Conn,
    kind: &str,
    day: NaiveDate,
) -> anyhow::Result<Option<Round>> {
    Ok(rounds(c)
        .await?
        .into_iter()
        .find(|r| super::round_covers(r, kind, day)))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Assessment {
    pub id: i64,
    pub child_id: i64,
    pub round_id: Option<i64>,
    pub round_name: Option<String>,
    pub kind: String,
    pub status: String,
    /// `questionnaire` or `judgement` (see migration 0010).
    pub mode: String,
    pub author_id: i64,
    pub author_name: String,
    pub questionnaire_id: String,
    pub questionnaire_version: i32,
    pub questionnaire_hash: String,
    pub scale_id: String,
    pub answers: String,
    pub domain_scores: String,
    pub reasons: String,
    pub total: Option<i64>,
    pub suggested_rank: Option<i32>,
    pub suggested_level: Option<String>,
    pub decided_rank: Option<i32>,
    pub decided_level: Option<String>,
    pub justification: String,
    pub observation: String,
    pub supersedes_id: Option<i64>,
    pub superseded: bool,
    pub submission_key: String,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// Answers to free-text items: a JSON object, or '' (see migration 0026).
    #[sqlx(default)]
    pub free_text: String,
}

impl Assessment {
    pub fn answer_map(&self) -> super::AnswerMap {
        serde_json::from_str(&self.answers).unwrap_or_default()
    }

    /// Answers to the free-text items, by item id.
    pub fn free_text_map(&self) -> super::AnswerMap {
        serde_json::from_str(&self.free_text).unwrap_or_default()
    }

    pub fn domains(&self) -> Vec<crate::scoring::DomainScore> {
        serde_json::from_str::<Vec<StoredDomain>>(&self.domain_scores)
            .unwrap_or_default()
            .into_iter()
            .map(|d| crate::scoring::DomainScore {
                id: d.id,
                score: d.score.map(|s| (s * 100.0).round() as i64),
                answered: d.answered,
                items: d.items,
                not_applicable: d.not_applicable,
            })
            .collect()
    }

    pub fn is_team(&self) -> bool {
        self.kind == super::TEAM
    }
}

/// Domain scores as stored (the engine's serialised form: scores as decimals).
#[derive(Debug, serde::Deserialize)]
struct StoredDomain {
    id: String,
    score: Option<f64>,
    answered: usize,
    items: usize,
    #[serde(default)]
    not_applicable: usize,
}

pub(crate) const SELECT: &str = "SELECT a.id, a.child_id, a.round_id, r.name AS round_name, a.kind, a.status, a.mode, a.author_id, \
     u.name AS author_name, a.questionnaire_id, a.questionnaire_version, a.questionnaire_hash, a.scale_id, \
     a.answers, a.domain_scores, a.reasons, a.total, a.suggested_rank, a.suggested_level, a.decided_rank, \
     a.decided_level, a.justification, a.observation, a.supersedes_id, \
     EXISTS (SELECT 1 FROM assessments n WHERE n.supersedes_id = a.id AND n.status = 'submitted') AS superseded, \
     a.submission_key, a.created_at, a.submitted_at, a.free_text \
     FROM assessments a JOIN users u ON u.id = a.author_id LEFT JOIN rounds r ON r.id = a.round_id";

#[tracing::instrument(skip_all)]
pub async fn get(c: &mut impl Conn, id: i64) -> anyhow::Result<Option<Assessment>> {
    let sql = format!("{SELECT} WHERE a.id = $1");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await)?)
}

/// The assessment `id` if `condition` (SQL over `a`, with `$2` bound to `user_id`) holds;
/// for [`crate::auth::scope`], which decides the condition.
pub async fn get_where(
    c: &mut impl Conn,
    id: i64,
    user_id: i64,
    condition: &str,
) -> anyhow::Result<Option<Assessment>> {
    let sql = format!("{SELECT} WHERE a.id = $1 AND {condition}");
    Ok(
        dispatch!(c, c => sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(&mut *c).await)?,
    )
}

#[tracing::instrument(skip_all)]
pub async fn by_key(c: &mut impl Conn, key: &str) -> anyhow::Result<Option<Assessment>> {
    let sql = format!("{SELECT} WHERE a.submission_key = $1");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(key).fetch_optional(&mut *c).await)?)
}

/// Submitted assessments of a child, oldest first.
#[tracing::instrument(skip_all)]
pub async fn history(c: &mut impl Conn, child_id: i64) -> anyhow::Result<Vec<Assessment>> {
    let sql = format!(
        "{SELECT} WHERE a.child_id = $1 AND a.status = 'submitted' ORDER BY a.submitted_at, a.id"
    );
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(child_id).fetch_all(&mut *c).await)?)
}

/// The newest unfinished assessment (draft or awaiting decision) this author has for the child
/// with questionnaire `questionnaire_id`.
#[tracing::instrument(skip_all)]
pub async fn open_draft(
    c: &mut impl Conn,
    child_id: i64,
    author_id: i64,
    questionnaire_id: &str,
) -> anyhow::Result<Option<Assessment>> {
    let sql = format!(
        "{SELECT} WHERE a.child_id = $1 AND a.author_id = $2 AND a.questionnaire_id = $3 AND a.status <> 'submitted' ORDER BY a.created_at DESC, a.id DESC LIMIT 1"
    );
    Ok(dispatch!(c, c => sqlx::query_as(&sql)
        .bind(child_id)
        .bind(author_id)
        .bind(questionnaire_id)
        .fetch_optional(&mut *c)
        .await)?)
}

/// Submitted individual assessments of a child in a round (for the team's side-by-side view).
#[tracing::instrument(skip_all)]
pub async fn individual_in_round(
    c: &mut impl Conn,
    child_id: i64,
    round_id: i64,
) -> anyhow::Result<Vec<Assessment>> {
    let sql = format!(
        "{SELECT} WHERE a.child_id = $1 AND a.round_id = $2 AND a.kind = 'individual' AND a.status = 'submitted' ORDER BY a.submitted_at"
    );
    Ok(
        dispatch!(c, c => sqlx::query_as(&sql).bind(child_id).bind(round_id).fetch_all(&mut *c).await)?,
    )
}

/// What a form submission writes.
pub struct Draft<'a> {
    pub key: &'a str,
    pub child_id: i64,
    pub round_id: Option<i64>,
    pub kind: &'a str,
    pub author_id: i64,
    pub questionnaire_id: &'a str,
    pub questionnaire_version: i32,
    pub questionnaire_hash: &'a str,
    pub scale_id: &'a str,
    pub answers: String,
    /// Answers to free-text items (JSON object, or '' when none).
    pub free_text: String,
    pub observation: &'a str,
    pub supersedes_id: Option<i64>,
    /// Saved in the background while the form is open: it may update a draft, never an
    /// assessment already scored (a save that arrives after the user's own submission).
    pub background: bool,
}

/// Where a save may land when the service has not read the child first: the child only if
/// `condition` (SQL over `e.group_id` and `g.institution_id`, the child's current group and
/// its institution: [`crate::auth::scope::assessable_enrolled_where`], with `$2` bound to the
/// author) holds and it was born in (`born_after`, `born_until`] (the questionnaire's
/// age band), in the round open for its institution on `day`; all in the inserting statement.
pub struct Within<'a> {
    pub condition: &'a str,
    pub day: NaiveDate,
    pub born_after: NaiveDate,
    pub born_until: NaiveDate,
}

impl<'a> Within<'a> {
    /// `condition` on `day`, within the age band of questionnaire `q`.
    pub fn band(
        condition: &'a str,
        q: &crate::questionnaire::Questionnaire,
        day: NaiveDate,
    ) -> Within<'a> {
        let (born_after, born_until) =
            crate::org::born_between_ages(q.def.age_from, q.def.age_to, day);
        Within {
            condition,
            day,
            born_after,
            born_until,
        }
    }
}

/// Saves a draft, or a scored assessment awaiting the decision, under its submission key.
/// A second submission with the same key updates the same row (double clicks, reloads and
/// retries store one assessment); a row already submitted, or another author's or child's
/// row under the same key, is left as it is and `None` comes back. With `within`, the round
/// is found in the statement (`d.round_id` is not used) and `None` also means the child is
/// not one `within` admits.
#[tracing::instrument(skip_all)]
pub async fn save(
    c: &mut impl Conn,
    d: &Draft<'_>,
    scored: Option<(&Outcome, &str)>,
    within: Option<&Within<'_>>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let (status, domains, reasons, total, rank, level) = match scored {
        Some((o, level_id)) => (
            "scored",
            serde_json::to_string(&o.domains)?,
            serde_json::to_string(&o.reasons)?,
            o.total,
            Some(o.level as i32),
            Some(level_id),
        ),
        None => (
            "draft",
            "[]".to_string(),
            "[]".to_string(),
            None,
            None,
            None,
        ),
    };
    const VALUES: &str =
        "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18";
    let source = match within {
        None => format!("VALUES ($1, {VALUES}, $19, $23)"),
        Some(w) => format!(
            "SELECT c.id, {VALUES}, {}, $23 FROM children c \
             LEFT JOIN enrolments e ON e.child_id = c.id AND e.to_date IS NULL \
             LEFT JOIN groups g ON g.id = e.group_id \
             LEFT JOIN institutions i ON i.id = g.institution_id \
             WHERE c.id = $1 AND {} AND c.birth_date > $20 AND c.birth_date <= $21",
            open_round_sql("i.kind", "$19"),
            w.condition
        ),
    };
    let sql = format!(
        "INSERT INTO assessments (child_id, author_id, kind, status, questionnaire_id, questionnaire_version, \
         questionnaire_hash, scale_id, answers, domain_scores, reasons, total, suggested_rank, suggested_level, \
         observation, supersedes_id, submission_key, created_at, updated_at, round_id, free_text) {source} \
         ON CONFLICT (submission_key) DO UPDATE SET kind = excluded.kind, status = excluded.status, \
         answers = excluded.answers, domain_scores = excluded.domain_scores, reasons = excluded.reasons, \
         total = excluded.total, suggested_rank = excluded.suggested_rank, suggested_level = excluded.suggested_level, \
         observation = excluded.observation, free_text = excluded.free_text, updated_at = excluded.updated_at \
         WHERE assessments.status <> 'submitted' AND ($22 = FALSE OR assessments.status = 'draft') \
         AND assessments.child_id = excluded.child_id \
         AND assessments.author_id = excluded.author_id \
         RETURNING id"
    );
    Ok(dispatch!(c, c => {
        let q = sqlx::query_scalar(&sql)
            .bind(d.child_id)
            .bind(d.author_id)
            .bind(d.kind)
            .bind(status)
            .bind(d.questionnaire_id)
            .bind(d.questionnaire_version)
            .bind(d.questionnaire_hash)
            .bind(d.scale_id)
            .bind(&d.answers)
            .bind(&domains)
            .bind(&reasons)
            .bind(total)
            .bind(rank)
            .bind(level)
            .bind(d.observation)
            .bind(d.supersedes_id)
            .bind(d.key)
            .bind(now);
        let q = match within {
            None => q.bind(d.round_id).bind(None::<NaiveDate>).bind(None::<NaiveDate>),
            Some(w) => q.bind(w.day).bind(w.born_after).bind(w.born_until),
        };
        let q = q.bind(d.background).bind(&d.free_text);
        q.fetch_optional(&mut *c).await
    })?)
}

/// Records the quick placement "Trives": the team's position at the scale's lowest level
/// (rank 0, `level`) as a professional judgement, with no item answers and the questionnaire
/// of `d` recorded, in the round open for the child's institution. One statement admits the
/// child only `within` its bounds (scope, age band, open round) and only if it has no position
/// in that round, no alert that is not closed, and a newest team position (if any) at the
/// lowest level; then it becomes the round's position. `None` when refused; a repeat under
/// the same key returns the stored row's id.
#[tracing::instrument(skip_all)]
pub async fn quick_placement(
    c: &mut impl Conn,
    d: &Draft<'_>,
    within: &Within<'_>,
    level: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Decide>> {
    let sql = format!(
        "INSERT INTO assessments (child_id, author_id, kind, status, mode, questionnaire_id, questionnaire_version, \
         questionnaire_hash, scale_id, answers, decided_rank, decided_level, submission_key, created_at, updated_at, \
         submitted_at, round_id) \
         SELECT c.id, $2, 'team', 'submitted', 'judgement', $3, $4, $5, $6, '{{}}', 0, $7, $8, $9, $9, $9, r.id \
         FROM children c \
         LEFT JOIN enrolments e ON e.child_id = c.id AND e.to_date IS NULL \
         LEFT JOIN groups g ON g.id = e.group_id \
         LEFT JOIN institutions i ON i.id = g.institution_id \
         JOIN rounds r ON r.id = {} \
         WHERE c.id = $1 AND {} AND c.birth_date > $11 AND c.birth_date <= $12 \
         AND NOT EXISTS (SELECT 1 FROM round_positions rp WHERE rp.child_id = c.id AND rp.round_id = r.id) \
         AND NOT EXISTS (SELECT 1 FROM alerts al WHERE al.child_id = c.id AND al.status <> 'closed') \
         AND COALESCE((SELECT p.decided_rank FROM assessments p WHERE p.child_id = c.id AND p.kind = 'team' \
           AND p.status = 'submitted' ORDER BY p.submitted_at DESC, p.id DESC LIMIT 1), 0) = 0 \
         ON CONFLICT (submission_key) DO NOTHING \
         RETURNING id, child_id, round_id, kind, supersedes_id, reasons, decided_rank",
        open_round_sql("i.kind", "$10"),
        within.condition
    );
    let placed: Option<Decided> = dispatch!(c, c => sqlx::query_as(&sql)
        .bind(d.child_id)
        .bind(d.author_id)
        .bind(d.questionnaire_id)
        .bind(d.questionnaire_version)
        .bind(d.questionnaire_hash)
        .bind(d.scale_id)
        .bind(level)
        .bind(d.key)
        .bind(now)
        .bind(within.day)
        .bind(within.born_after)
        .bind(within.born_until)
        .fetch_optional(&mut *c)
        .await)?;
    let Some(placed) = placed else {
        return Ok(None);
    };
    if let Some(round) = placed.round_id
        && !record_round_position(c, placed.id, None).await?
    {
        let taken = round_position(c, placed.child_id, round)
            .await?
            .ok_or_else(|| anyhow::anyhow!("round position neither recorded nor present"))?;
        return Ok(Some(Decide::PositionTaken(taken)));
    }
    Ok(Some(Decide::Recorded(placed)))
}

/// The professional's decision on a scored assessment.
pub struct Decision<'a> {
    pub rank: i32,
    pub level: &'a str,
    pub justification: &'a str,
    /// Whether the justification is long enough to choose a level other than the suggestion.
    pub justified: bool,
}

/// A decision just recorded: what the alert rules need of it.
#[derive(Debug, sqlx::FromRow)]
pub struct Decided {
    pub id: i64,
    pub child_id: i64,
    pub round_id: Option<i64>,
    pub kind: String,
    pub supersedes_id: Option<i64>,
    pub reasons: String,
    pub decided_rank: Option<i32>,
}

/// What [`decide`] did.
#[derive(Debug)]
pub enum Decide {
    Recorded(Decided),
    /// Nothing was recorded (a repeated click, out of scope, a justification missing): the
    /// caller reads why.
    NotRecorded,
    /// A team position for a child and round that already have one (assessment `.0`), and
    /// this is not a correction of it. The assessment was marked submitted in the
    /// transaction: the caller must roll it back.
    PositionTaken(i64),
}

/// Records the decision on assessment `id` in one statement, and only if it holds: the
/// assessment awaits `author_id`'s decision, the level is the suggested one or the decision is
/// justified, and `condition` (SQL over `assessments`, with `$2` bound to the author; the
/// scope rule from [`crate::auth::scope`]) is true. A team position in a round becomes the
/// child's position in that round in the same transaction — the one position per child and
/// round (see [`record_round_position`]).
#[tracing::instrument(skip_all)]
pub async fn decide(
    c: &mut impl Conn,
    id: i64,
    author_id: i64,
    condition: &str,
    d: &Decision<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Decide> {
    let sql = format!(
        "UPDATE assessments SET status = 'submitted', decided_rank = $3, decided_level = $4, justification = $5, \
         submitted_at = $6, updated_at = $6 \
         WHERE id = $1 AND author_id = $2 AND status = 'scored' AND (suggested_rank = $3 OR $7) AND {condition} \
         RETURNING id, child_id, round_id, kind, supersedes_id, reasons, decided_rank"
    );
    let decided: Option<Decided> = dispatch!(c, c => sqlx::query_as(&sql)
        .bind(id)
        .bind(author_id)
        .bind(d.rank)
        .bind(d.level)
        .bind(d.justification)
        .bind(now)
        .bind(d.justified)
        .fetch_optional(&mut *c)
        .await)?;
    let Some(decided) = decided else {
        return Ok(Decide::NotRecorded);
    };
    if let (super::TEAM, Some(round)) = (decided.kind.as_str(), decided.round_id)
        && !record_round_position(c, id, decided.supersedes_id).await?
    {
        let taken = round_position(c, decided.child_id, round)
            .await?
            .ok_or_else(|| anyhow::anyhow!("round position neither recorded nor present"))?;
        return Ok(Decide::PositionTaken(taken));
    }
    Ok(Decide::Recorded(decided))
}

/// The assessment that is the child's team position in the round, if any.
#[tracing::instrument(skip_all)]
pub async fn round_position(
    c: &mut impl Conn,
    child_id: i64,
    round_id: i64,
) -> anyhow::Result<Option<i64>> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "SELECT assessment_id FROM round_positions WHERE child_id = $1 AND round_id = $2",
    )
    .bind(child_id)
    .bind(round_id)
    .fetch_optional(&mut *c)
    .await)?)
}

/// Makes the submitted team assessment `id` the child's position in its round
/// (`round_positions`), with the child's group (and its district and institution type) now
/// and its gender and birth date. This is where "one position per child and round" holds, in
/// the database: the table's key is (child, round), and an existing position is replaced only
/// by the correction that `supersedes` it. Under concurrency the loser of two inserts, or of
/// two corrections of one position, finds the row changed and records nothing (PostgreSQL
/// re-checks the `WHERE` against the committed row; SQLite has one writer). False when
/// nothing was recorded.
async fn record_round_position(
    c: &mut impl Conn,
    id: i64,
    supersedes: Option<i64>,
) -> anyhow::Result<bool> {
    // The position this one replaces, if any, leaves the municipal counts; this one enters.
    let place: Option<(i64, i64)> = dispatch!(c, c => sqlx::query_as(
        "SELECT child_id, round_id FROM assessments WHERE id = $1 AND round_id IS NOT NULL",
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await)?;
    let before = match place {
        Some((child, round)) => counted_cells(c, child, Some(round)).await?,
        None => Vec::new(),
    };
    let sql = format!(
        "INSERT INTO round_positions ({POSITION_COLUMNS}) {POSITION_SELECT} WHERE a.id = $1 \
         AND a.kind = 'team' AND a.status = 'submitted' AND a.round_id IS NOT NULL \
         ON CONFLICT (child_id, round_id) DO UPDATE SET assessment_id = excluded.assessment_id, \
         decided_rank = excluded.decided_rank, submitted_at = excluded.submitted_at, \
         group_id = excluded.group_id, district_id = excluded.district_id, \
         institution_kind = excluded.institution_kind, gender = excluded.gender, birth_date = excluded.birth_date \
         WHERE round_positions.assessment_id = $2"
    );
    let n = dispatch!(c, c => sqlx::query(&sql)
        .bind(id)
        .bind(supersedes)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    if n == 1
        && let Some((child, round)) = place
    {
        for cell in &before {
            count(c, cell, -1).await?;
        }
        for cell in counted_cells(c, child, Some(round)).await? {
            count(c, &cell, 1).await?;
        }
    }
    Ok(n == 1)
}

/// A position as the municipal counts (`round_counts`, migration 0013) see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CountedCell {
    pub round_id: i64,
    pub closes_on: NaiveDate,
    pub district_id: Option<i64>,
    pub institution_kind: Option<String>,
    pub gender: String,
    pub birth_date: NaiveDate,
    pub decided_rank: i32,
}

/// The child's positions in `round` (or in every round) as counted.
async fn counted_cells(
    c: &mut impl Conn,
    child_id: i64,
    round_id: Option<i64>,
) -> anyhow::Result<Vec<CountedCell>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT rp.round_id, r.closes_on, rp.district_id, rp.institution_kind, rp.gender, rp.birth_date, \
         rp.decided_rank FROM round_positions rp JOIN rounds r ON r.id = rp.round_id \
         WHERE rp.child_id = $1 AND ($2 IS NULL OR rp.round_id = $2)",
    )
    .bind(child_id)
    .bind(round_id)
    .fetch_all(&mut *c)
    .await)?)
}

/// Adds `delta` to the count of `cell`'s cell (positions outside any district are not
/// counted, as the municipal figures leave them out).
async fn count(c: &mut impl Conn, cell: &CountedCell, delta: i64) -> anyhow::Result<()> {
    let (Some(district), Some(kind)) = (cell.district_id, cell.institution_kind.as_deref()) else {
        return Ok(());
    };
    let age = crate::org::age_on(cell.birth_date, cell.closes_on);
    dispatch!(c, c => sqlx::query(
        "INSERT INTO round_counts (round_id, district_id, institution_kind, gender, age, decided_rank, n) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (round_id, district_id, institution_kind, gender, age, decided_rank) \
         DO UPDATE SET n = round_counts.n + excluded.n",
    )
    .bind(cell.round_id)
    .bind(district)
    .bind(kind)
    .bind(&cell.gender)
    .bind(age)
    .bind(cell.decided_rank)
    .bind(delta)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A child's gender or birth date was corrected: its positions' copies follow, and the
/// municipal counts with them.
pub async fn child_details_changed(
    c: &mut impl Conn,
    child_id: i64,
    gender: &str,
    birth_date: NaiveDate,
) -> anyhow::Result<()> {
    let before = counted_cells(c, child_id, None).await?;
    dispatch!(c, c => sqlx::query(
        "UPDATE round_positions SET gender = $1, birth_date = $2 WHERE child_id = $3",
    )
    .bind(gender)
    .bind(birth_date)
    .bind(child_id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    for old in before {
        count(c, &old, -1).await?;
        let new = CountedCell {
            gender: gender.to_string(),
            birth_date,
            ..old
        };
        count(c, &new, 1).await?;
    }
    Ok(())
}

const POSITION_COLUMNS: &str = "child_id, round_id, assessment_id, decided_rank, submitted_at, \
     group_id, district_id, institution_kind, gender, birth_date";
const POSITION_SELECT: &str = "SELECT a.child_id, a.round_id, a.id, a.decided_rank, a.submitted_at, \
     e.group_id, i.district_id, i.kind, ch.gender, ch.birth_date \
     FROM assessments a JOIN children ch ON ch.id = a.child_id \
     LEFT JOIN enrolments e ON e.child_id = a.child_id AND e.to_date IS NULL \
     LEFT JOIN groups g ON g.id = e.group_id LEFT JOIN institutions i ON i.id = g.institution_id";

/// Rebuilds `round_positions` from the assessments (after a bulk load such as the demo
/// generator's): the newest submitted team assessment per child and round.
pub async fn rebuild_round_positions(c: &mut impl Conn) -> anyhow::Result<u64> {
    dispatch!(c, c => sqlx::query("DELETE FROM round_positions").execute(&mut *c).await.map(|_| ()))?;
    // After a bulk load in the same transaction PostgreSQL has no statistics for the rows it
    // is about to join, and plans the rebuild for empty tables (32 s instead of a few at
    // 110,000 children); SQLite's plan does not depend on them here.
    if let crate::db::Raw::Postgres(pg) = c.raw() {
        sqlx::query("ANALYZE assessments, children, enrolments, groups, institutions")
            .execute(&mut *pg)
            .await?;
    }
    // The newest per child and round by a window over the team positions: one sort, where a
    // correlated "no newer one" check cost PostgreSQL 46 s on the 110,000-child data set.
    let newest = "(SELECT a.*, ROW_NUMBER() OVER (PARTITION BY a.child_id, a.round_id \
         ORDER BY a.submitted_at DESC, a.id DESC) AS newest FROM assessments a \
         WHERE a.kind = 'team' AND a.status = 'submitted' AND a.round_id IS NOT NULL) a";
    let sql = format!(
        "INSERT INTO round_positions ({POSITION_COLUMNS}) {} WHERE a.newest = 1",
        POSITION_SELECT.replace("FROM assessments a", &format!("FROM {newest}"))
    );
    let n = dispatch!(c, c => sqlx::query(&sql)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    rebuild_round_counts(c).await?;
    Ok(n)
}

/// Counts `round_counts` afresh from `round_positions`, a round at a time, with the age on
/// the round's closing day computed in SQL from bound cut-off dates
/// (`org::born_between_ages`, as `org::age_on` has it).
async fn rebuild_round_counts(c: &mut impl Conn) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query("DELETE FROM round_counts").execute(&mut *c).await.map(|_| ()))?;
    let rounds: Vec<(i64, NaiveDate)> = dispatch!(c, c => sqlx::query_as(
        "SELECT id, closes_on FROM rounds",
    )
    .fetch_all(&mut *c)
    .await)?;
    const OLDEST: u32 = 30;
    for (round, closes_on) in rounds {
        // Younger than `age + 1`: born after the latest birth date that age + 1 allows.
        let cutoffs: Vec<NaiveDate> = (1..=OLDEST)
            .map(|years| crate::org::born_between_ages(years, years, closes_on).1)
            .collect();
        let case = (0..OLDEST as usize)
            .map(|age| format!(" WHEN p.birth_date > ${} THEN {age}", age + 2))
            .collect::<String>();
        let sql = format!(
            "INSERT INTO round_counts (round_id, district_id, institution_kind, gender, age, decided_rank, n) \
             SELECT x.round_id, x.district_id, x.institution_kind, x.gender, x.age, x.decided_rank, COUNT(*) \
             FROM (SELECT p.round_id, p.district_id, p.institution_kind, p.gender, \
                   CASE{case} ELSE {OLDEST} END AS age, p.decided_rank FROM round_positions p \
                   WHERE p.round_id = $1 AND p.district_id IS NOT NULL AND p.institution_kind IS NOT NULL) x \
             GROUP BY x.round_id, x.district_id, x.institution_kind, x.gender, x.age, x.decided_rank"
        );
        dispatch!(c, c => {
            let mut q = sqlx::query(&sql).bind(round);
            for d in &cutoffs {
                q = q.bind(*d);
            }
            q.execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Per child: the newest submitted team position (rank, level id, round id), for group lists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Position {
    pub child_id: i64,
    pub decided_rank: i32,
    pub decided_level: String,
    pub round_id: Option<i64>,
    pub submitted_at: DateTime<Utc>,
    /// The day the child first came to the group's institution (`auth::scope::RecordWindow`).
    pub since: Option<NaiveDate>,
}

#[tracing::instrument(skip_all)]
pub async fn latest_positions(c: &mut impl Conn, group_id: i64) -> anyhow::Result<Vec<Position>> {
    Ok(dispatch!(c, c => sqlx::query_as(LATEST_POSITIONS)
    .bind(group_id)
    .fetch_all(&mut *c)
    .await)?)
}

/// [`latest_positions`]: driven from the group's current enrolments (`$1`: the group).
pub const LATEST_POSITIONS: &str = "SELECT a.child_id, a.decided_rank, a.decided_level, a.round_id, a.submitted_at, \
     (SELECT MIN(e2.from_date) FROM enrolments e2 JOIN groups g2 ON g2.id = e2.group_id \
      WHERE e2.child_id = a.child_id AND g2.institution_id = (SELECT institution_id FROM groups WHERE id = $1)) AS since \
     FROM assessments a \
     JOIN enrolments e ON e.child_id = a.child_id AND e.to_date IS NULL AND e.group_id = $1 \
     WHERE a.kind = 'team' AND a.status = 'submitted' \
     AND NOT EXISTS (SELECT 1 FROM assessments n WHERE n.supersedes_id = a.id AND n.status = 'submitted') \
     ORDER BY a.child_id, a.submitted_at DESC, a.id DESC";

/// [`round_progress`]: from the groups' current enrolments to the round's positions
/// (`$1`: the round, then the groups).
pub fn round_progress_sql(groups: usize) -> String {
    format!(
        "SELECT e.group_id, COUNT(*) FROM enrolments e \
         JOIN round_positions rp ON rp.child_id = e.child_id AND rp.round_id = $1 \
         WHERE e.group_id IN ({}) AND e.to_date IS NULL GROUP BY e.group_id",
        crate::db::placeholders(2, groups)
    )
}

/// Children with a team position in `round_id`, for each of `groups` (current enrolments).
/// Driven from the groups, so its cost follows their size, not the municipality's.
#[tracing::instrument(skip_all)]
pub async fn round_progress(
    c: &mut impl Conn,
    round_id: i64,
    groups: &[i64],
) -> anyhow::Result<std::collections::HashMap<i64, i64>> {
    if groups.is_empty() {
        return Ok(Default::default());
    }
    let sql = round_progress_sql(groups.len());
    let rows: Vec<(i64, i64)> = dispatch!(c, c => {
        let mut q = sqlx::query_as(&sql).bind(round_id);
        for g in groups {
            q = q.bind(*g);
        }
        q.fetch_all(&mut *c).await
    })?;
    Ok(rows.into_iter().collect())
}

/// Round progress for a list of groups: group id → (round name, children done).
pub async fn progress_for(
    c: &mut impl Conn,
    groups: &[crate::org::db::Group],
    today: NaiveDate,
) -> anyhow::Result<std::collections::HashMap<i64, (String, i64)>> {
    let all = rounds(c).await?;
    let mut by_round: std::collections::BTreeMap<i64, (&Round, Vec<i64>)> = Default::default();
    for g in groups {
        if let Some(r) = all
            .iter()
            .find(|r| super::round_covers(r, &g.institution_kind, today))
        {
            by_round.entry(r.id).or_insert((r, Vec::new())).1.push(g.id);
        }
    }
    let mut out = std::collections::HashMap::new();
    for (round_id, (r, ids)) in by_round {
        let done = round_progress(c, round_id, &ids).await?;
        for g in ids {
            out.insert(g, (r.name.clone(), done.get(&g).copied().unwrap_or(0)));
        }
    }
    Ok(out)
}

/// [`group_round`] (`$1`: the group, `$2`: the round).
pub const GROUP_ROUND: &str = "SELECT e.child_id, rp.child_id IS NOT NULL FROM enrolments e \
     JOIN children c ON c.id = e.child_id \
     LEFT JOIN round_positions rp ON rp.child_id = e.child_id AND rp.round_id = $2 \
     WHERE e.group_id = $1 AND e.to_date IS NULL ORDER BY c.first_name, c.last_name, c.id";

/// The children of group `group_id` now, in the group page's order, each with whether it has
/// a team position in round `round_id`: the screening sheet's progress and its "next child".
#[tracing::instrument(skip_all)]
pub async fn group_round(
    c: &mut impl Conn,
    group_id: i64,
    round_id: i64,
) -> anyhow::Result<Vec<(i64, bool)>> {
    Ok(dispatch!(c, c => sqlx::query_as(GROUP_ROUND)
    .bind(group_id)
    .bind(round_id)
    .fetch_all(&mut *c)
    .await)?)
}

/// The child's current group and the round open for its institution on `day`.
#[tracing::instrument(skip_all)]
pub async fn group_and_round(
    c: &mut impl Conn,
    child_id: i64,
    day: NaiveDate,
) -> anyhow::Result<Option<(i64, i64)>> {
    let sql = format!(
        "SELECT e.group_id, {} FROM enrolments e JOIN groups g ON g.id = e.group_id \
         JOIN institutions i ON i.id = g.institution_id WHERE e.child_id = $1 AND e.to_date IS NULL",
        open_round_sql("i.kind", "$2")
    );
    let found: Option<(i64, Option<i64>)> = dispatch!(c, c => sqlx::query_as(&sql)
        .bind(child_id)
        .bind(day)
        .fetch_optional(&mut *c)
        .await)?;
    Ok(found.and_then(|(g, r)| Some((g, r?))))
}

/// The next child after `after` in `sheet` ([`group_round`]) without a team position,
/// wrapping round to the start; `None` when every other child has one.
pub fn next_child(sheet: &[(i64, bool)], after: i64) -> Option<i64> {
    let at = sheet.iter().position(|(id, _)| *id == after).unwrap_or(0);
    sheet[at..]
        .iter()
        .chain(&sheet[..at])
        .find(|(id, done)| *id != after && !done)
        .map(|(id, _)| *id)
}

/// How far a child has come in a round, for the screening sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum RoundState {
    #[default]
    NotStarted,
    /// An unfinished assessment (draft, or awaiting its decision).
    Draft,
    /// Individual views submitted, no team position yet.
    Individual,
    /// The team's position is recorded.
    Position,
}

/// Each child of group `group_id` (current enrolments) with something in round `round_id`:
/// its state there, and whether it has an open alert. Driven from the group's enrolments:
/// `+ 0` keeps SQLite (which has no statistics for the planner) from walking the whole
/// round's assessments through the round index to find a group's children.
#[tracing::instrument(skip_all)]
pub async fn round_states(
    c: &mut impl Conn,
    group_id: i64,
    round_id: i64,
) -> anyhow::Result<std::collections::HashMap<i64, RoundState>> {
    let rows: Vec<(i64, String, String)> = dispatch!(c, c => sqlx::query_as(ROUND_STATES)
    .bind(group_id)
    .bind(round_id)
    .fetch_all(&mut *c)
    .await)?;
    let mut out: std::collections::HashMap<i64, RoundState> = Default::default();
    for (child, kind, status) in rows {
        let state = match (kind.as_str(), status.as_str()) {
            (super::TEAM, "submitted") => RoundState::Position,
            (_, "submitted") => RoundState::Individual,
            _ => RoundState::Draft,
        };
        let e = out.entry(child).or_default();
        *e = (*e).max(state);
    }
    Ok(out)
}

/// [`round_states`]: from the group's current enrolments to each child's assessments (the
/// `+ 0` keeps SQLite from driving from the round's index, which holds the whole round of
/// the municipality). `$1`: the group, `$2`: the round.
pub const ROUND_STATES: &str = "SELECT a.child_id, a.kind, a.status FROM enrolments e \
     JOIN assessments a ON a.child_id = e.child_id AND a.round_id + 0 = $2 \
     WHERE e.group_id = $1 AND e.to_date IS NULL";

/// Children of group `group_id` (current enrolments) with an alert not closed.
/// [`open_alerts_in_group`] (`$1`: the group).
pub const OPEN_ALERTS_IN_GROUP: &str = "SELECT DISTINCT al.child_id FROM enrolments e \
     JOIN alerts al ON al.child_id = e.child_id \
     WHERE e.group_id = $1 AND e.to_date IS NULL AND al.status <> 'closed'";

#[tracing::instrument(skip_all)]
pub async fn open_alerts_in_group(
    c: &mut impl Conn,
    group_id: i64,
) -> anyhow::Result<std::collections::HashSet<i64>> {
    Ok(
        dispatch!(c, c => sqlx::query_scalar::<_, i64>(OPEN_ALERTS_IN_GROUP)
    .bind(group_id)
    .fetch_all(&mut *c)
    .await)?
        .into_iter()
        .collect(),
    )
}
