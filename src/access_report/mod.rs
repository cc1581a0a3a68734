//! The parents' right of access (indsigtsret, GDPR art. 15 and forvaltningsloven): for one
//! child, the data-protection officer or the admin produces the complete record Trivsel keeps
//! — the child and guardians, enrolments, every position and individual view with answers,
//! observations and justifications, the follow-ups, the alerts and their history, the consent
//! history, and who accessed the child's data when — as a printable Danish page and as JSON.
//! Producing it is logged (an export).
//!
//! What the report leaves out is decided by the caseworker who hands it over, not here: the
//! law lets the municipality withhold, for instance, a notification's source when the duty to
//! notify applied (Barnets Lov, forvaltningsloven § 15 b), and the report marks such alerts
//! so. Trivsel produces everything it has; docs/privacy.md says who decides the rest.

use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{self, Action};
use crate::auth::{Auth, Role, scope};
use crate::db::Conn;
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{PageCtx, render};

pub fn router() -> Router<AppState> {
    Router::new().route("/children/{id}/access-report", get(report_page))
}

/// Who may produce the report.
pub fn may_produce(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Dpo)
}

#[derive(Serialize)]
pub struct Report {
    pub produced_at: DateTime<Utc>,
    pub child: ChildPart,
    pub guardians: Vec<GuardianPart>,
    pub enrolments: Vec<EnrolmentPart>,
    pub assessments: Vec<AssessmentPart>,
    pub alerts: Vec<AlertPart>,
    pub consent: Vec<ConsentPart>,
    pub accesses: Vec<AccessPart>,
}

#[derive(Serialize)]
pub struct ChildPart {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: NaiveDate,
    pub gender: String,
    pub external_id: Option<String>,
    pub protected_address: bool,
}

#[derive(Serialize)]
pub struct GuardianPart {
    pub name: String,
    pub relation: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub has_custody: bool,
}

#[derive(Serialize)]
pub struct EnrolmentPart {
    pub institution: String,
    pub group: String,
    pub from_date: NaiveDate,
    pub to_date: Option<NaiveDate>,
}

#[derive(Serialize)]
pub struct AssessmentPart {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub round: Option<String>,
    pub author: String,
    pub questionnaire: String,
    pub questionnaire_version: i32,
    pub answers: serde_json::Value,
    /// Answers to free-text items, by item id.
    pub free_text: serde_json::Value,
    pub domain_scores: serde_json::Value,
    pub suggested_level: Option<String>,
    pub decided_level: Option<String>,
    pub justification: String,
    pub observation: String,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub follow_ups: Vec<FollowUpPart>,
}

#[derive(Serialize)]
pub struct FollowUpPart {
    pub kind: String,
    pub body: String,
    pub review_on: NaiveDate,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize)]
pub struct AlertPart {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub rules: String,
    pub consultation_text: String,
    pub parents_informed: String,
    pub outcome: Option<String>,
    pub deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// A notification under the duty to notify: its source may be withheld (see the module).
    pub notification: bool,
    pub events: Vec<AlertEventPart>,
    /// The conversation between the social worker and the team.
    pub messages: Vec<AlertMessagePart>,
}

#[derive(Serialize, sqlx::FromRow)]
pub struct AlertMessagePart {
    pub at: DateTime<Utc>,
    #[serde(rename = "by")]
    pub by_name: String,
    pub side: String,
    pub body: String,
}

#[derive(Serialize, sqlx::FromRow)]
pub struct AlertEventPart {
    pub at: DateTime<Utc>,
    #[serde(rename = "by")]
    pub by_name: Option<String>,
    pub event: String,
    pub note: String,
}

#[derive(Serialize)]
pub struct ConsentPart {
    pub purpose: String,
    pub event: String,
    pub guardian: Option<String>,
    pub method: String,
    pub expires_on: Option<NaiveDate>,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Serialize)]
pub struct AccessPart {
    pub at: DateTime<Utc>,
    pub user: String,
    pub role: String,
    pub action: String,
    pub object: String,
}

/// Everything Trivsel keeps about child `id`.
pub async fn build(c: &mut impl Conn, id: i64, now: DateTime<Utc>) -> AppResult<Report> {
    use crate::org::db as org;
    let child = org::child(c, id).await?.ok_or(AppError::NotFound)?;
    let guardians = org::guardians(c, id).await?;
    let enrolments = org::enrolments(c, id).await?;
    let sql = format!(
        "{} WHERE a.child_id = $1 ORDER BY a.created_at, a.id",
        crate::assessment::db::SELECT
    );
    let assessments: Vec<crate::assessment::db::Assessment> =
        dispatch!(c, c => sqlx::query_as(&sql).bind(id).fetch_all(&mut *c).await)?;
    let mut assessment_parts = Vec::new();
    for a in assessments {
        let follow_ups = crate::assessment::follow_up::for_assessment(c, a.id)
            .await?
            .into_iter()
            .map(|f| FollowUpPart {
                kind: f.kind,
                body: f.body,
                review_on: f.review_on,
                author: f.author_name,
                created_at: f.created_at,
            })
            .collect();
        assessment_parts.push(AssessmentPart {
            id: a.id,
            kind: a.kind.clone(),
            status: a.status.clone(),
            round: a.round_name.clone(),
            author: a.author_name.clone(),
            questionnaire: a.questionnaire_id.clone(),
            questionnaire_version: a.questionnaire_version,
            answers: serde_json::from_str(&a.answers).unwrap_or_default(),
            free_text: serde_json::from_str(&a.free_text).unwrap_or_default(),
            domain_scores: serde_json::from_str(&a.domain_scores).unwrap_or_default(),
            suggested_level: a.suggested_level.clone(),
            decided_level: a.decided_level.clone(),
            justification: a.justification.clone(),
            observation: a.observation.clone(),
            created_at: a.created_at,
            submitted_at: a.submitted_at,
            follow_ups,
        });
    }
    let mut alerts = Vec::new();
    for al in crate::alerts::routes::of_child(c, id).await? {
        let events: Vec<AlertEventPart> = dispatch!(c, c => sqlx::query_as(
            "SELECT e.at, u.name AS by_name, e.event, e.note FROM alert_events e \
             LEFT JOIN users u ON u.id = e.user_id WHERE e.alert_id = $1 ORDER BY e.at, e.id",
        )
        .bind(al.id)
        .fetch_all(&mut *c)
        .await)?;
        let messages: Vec<AlertMessagePart> = dispatch!(c, c => sqlx::query_as(
            "SELECT m.created_at AS at, u.name AS by_name, m.side, m.body FROM alert_messages m \
             JOIN users u ON u.id = m.author_id WHERE m.alert_id = $1 ORDER BY m.id",
        )
        .bind(al.id)
        .fetch_all(&mut *c)
        .await)?;
        alerts.push(AlertPart {
            messages,
            id: al.id,
            notification: al.kind == "notification",
            kind: al.kind,
            status: al.status,
            rules: al.rules,
            consultation_text: al.consultation_text,
            parents_informed: al.parents_informed,
            outcome: al.outcome,
            deadline: al.deadline,
            created_at: al.created_at,
            events,
        });
    }
    let consent = crate::consent::db::events(c, id)
        .await?
        .into_iter()
        .map(|e| ConsentPart {
            purpose: e.purpose,
            event: e.event,
            guardian: e.guardian_name,
            method: e.method,
            expires_on: e.expires_on,
            note: e.note,
            recorded_by: e.recorded_by_name,
            recorded_at: e.recorded_at,
        })
        .collect();
    // Every access, oldest first, a page of the log at a time.
    let mut accesses = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = audit::entries(c, Some(id), None, before.as_deref(), 1000).await?;
        let done = page.len() < 1000;
        before = page.last().map(audit::Entry::cursor);
        accesses.extend(page.into_iter().map(|e| {
            AccessPart {
                at: e.at,
                user: e
                    .user_name
                    .clone()
                    .unwrap_or_else(|| format!("#{}", e.user_id)),
                role: e.role.clone(),
                action: e.action.clone(),
                object: e.object.clone(),
            }
        }));
        if done {
            break;
        }
    }
    accesses.reverse();
    Ok(Report {
        produced_at: now,
        child: ChildPart {
            id: child.id,
            first_name: child.first_name,
            last_name: child.last_name,
            birth_date: child.birth_date,
            gender: child.gender,
            external_id: child.external_id,
            protected_address: child.protected_address,
        },
        guardians: guardians
            .into_iter()
            .map(|g| GuardianPart {
                name: g.name,
                relation: g.relation,
                phone: g.phone,
                email: g.email,
                address: g.address,
                has_custody: g.has_custody,
            })
            .collect(),
        enrolments: enrolments
            .into_iter()
            .map(|e| EnrolmentPart {
                institution: e.institution_name,
                group: e.group_name,
                from_date: e.from_date,
                to_date: e.to_date,
            })
            .collect(),
        assessments: assessment_parts,
        alerts,
        consent,
        accesses,
    })
}

#[derive(Deserialize, Default)]
struct Format {
    #[serde(default)]
    format: String,
}

#[derive(Template)]
#[template(path = "access_report.html")]
struct ReportPage {
    ctx: PageCtx,
    r: Report,
}

async fn report_page(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Query(f): Query<Format>,
) -> AppResult<Response> {
    if !may_produce(a.user.role) {
        return Err(AppError::NotFound);
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    scope::child(&mut tx, &a.user, id).await?;
    let report = build(&mut tx, id, now).await?;
    let detail = if f.format == "json" { "json" } else { "html" };
    audit::record(
        &mut tx,
        &a.user,
        Action::Export,
        Some(id),
        "access-report",
        detail,
        now,
    )
    .await?;
    tx.commit().await?;
    if f.format == "json" {
        return Ok(Json(report).into_response());
    }
    Ok(render(ReportPage {
        ctx: a.ctx,
        r: report,
    })?
    .into_response())
}
