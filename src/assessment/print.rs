//! "Udskriv" for the parent meeting: a child's record, or one assessment, on A4 with no
//! navigation. The record holds the child's facts, the positions over time (chart and
//! table), the shown position's answers by domain, its handleguide, the focus points or action
//! plan with their review dates, and the consent state. It leaves out the observation and the
//! free-text answers: those are the team's working notes, read on screen, not handed across
//! the table. Printing is its own route, so that it is its own access-log event (an export of
//! the child's data, object `print`).

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::db::{self as adb, Assessment};
use super::routes::{
    Chart, FollowUpView, GuideView, SummaryView, catalogue, chart, child_history, follow_up_views,
    guide, load_assessment, summary,
};
use super::{follow_up, versions};
use crate::audit::{self, Action};
use crate::auth::{Auth, scope};
use crate::consent::routes::PurposeView;
use crate::error::{AppError, AppResult};
use crate::org::db::Child;
use crate::state::AppState;
use crate::web::{PageCtx, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/children/{id}/print", get(print_child))
        .route("/assessments/{id}/print", get(print_assessment))
}

/// One domain of the printed assessment: its score and each asked item with the answer given.
pub struct DomainAnswers {
    pub label: String,
    pub score: String,
    pub items: Vec<(String, String)>,
}

/// The assessment a print shows in full.
pub struct Printed {
    pub summary: SummaryView,
    pub domains: Vec<DomainAnswers>,
    pub guide: GuideView,
    pub follow_ups: Vec<FollowUpView>,
}

#[derive(Template)]
#[template(path = "print.html")]
struct PrintPage {
    ctx: PageCtx,
    child: Child,
    age: i32,
    printed_on: String,
    history: Vec<SummaryView>,
    chart: Option<Chart>,
    consent_states: Vec<PurposeView>,
    printed: Option<Printed>,
    /// Where "back" leads (the child's page or the assessment's).
    back: String,
}

/// The child's record with its newest current team position in full.
async fn print_child(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    if !scope::sees_assessments(&a.user) {
        return Err(AppError::NotFound);
    }
    let child = scope::assessable_child(&mut state.db.conn().await?, &a.user, id).await?;
    let latest = {
        let mut c = state.db.conn().await?;
        let today = state.now().date_naive();
        let window = scope::record_window(&mut c, &a.user, id, today).await?;
        adb::history(&mut c, id)
            .await?
            .into_iter()
            .filter(|x| x.is_team() && !x.superseded)
            .rfind(|x| window.admits(x.submitted_at.unwrap_or(x.created_at)))
    };
    let back = format!("/children/{id}");
    page(&state, a, child, latest, back).await
}

/// One assessment in full, with the child's record around it.
async fn print_assessment(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (assessment, child) = load_assessment(&state, &a, id).await?;
    if assessment.status != "submitted" {
        return Err(AppError::NotFound);
    }
    let back = format!("/assessments/{id}");
    page(&state, a, child, Some(assessment), back).await
}

async fn page(
    state: &AppState,
    a: Auth,
    child: Child,
    shown: Option<Assessment>,
    back: String,
) -> AppResult<Response> {
    let cat = catalogue(state)?;
    let now = state.now();
    let mut c = state.db.conn().await?;
    let window = scope::record_window(&mut c, &a.user, child.id, now.date_naive()).await?;
    let history = child_history(&mut c, state, child.id, &window, &a.ctx).await?;
    let chart = chart(&history, state, a.ctx.lang)?;
    let events = crate::consent::db::events(&mut c, child.id).await?;
    let consent_states = crate::consent::routes::purpose_views(
        &crate::consent::db::as_events(&events),
        now.date_naive(),
    );
    let printed = match &shown {
        Some(x) => {
            let q =
                versions::questionnaire(&mut c, &cat, &x.questionnaire_id, &x.questionnaire_hash)
                    .await?;
            let lang = a.ctx.lang;
            let given = x.answer_map();
            let scores = x.domains();
            let domains = q
                .as_deref()
                .map(|q| {
                    q.def
                        .domains
                        .iter()
                        .map(|d| DomainAnswers {
                            label: d.label.get(lang).to_string(),
                            score: scores
                                .iter()
                                .find(|s| s.id == d.id)
                                .map(|s| super::routes::score_text(s.score))
                                .unwrap_or_else(|| "–".into()),
                            items: q
                                .def
                                .items
                                .iter()
                                .filter(|i| i.domain == d.id)
                                .filter_map(|i| {
                                    let value = given.get(&i.id)?;
                                    let label = q
                                        .def
                                        .response_sets
                                        .get(&i.responses)
                                        .and_then(|set| {
                                            set.options.iter().find(|o| &o.value == value)
                                        })
                                        .map_or(value.clone(), |o| o.label.get(lang).to_string());
                                    Some((i.text.get(lang).to_string(), label))
                                })
                                .collect(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let rank = x.decided_rank.or(x.suggested_rank).unwrap_or(0).max(0) as usize;
            Some(Printed {
                summary: summary(x, &cat.scale, q.as_deref(), &a.ctx),
                domains,
                guide: guide(&cat.scale, rank, lang),
                follow_ups: follow_up_views(
                    follow_up::for_assessment(&mut c, x.id).await?,
                    a.ctx.tz,
                ),
            })
        }
        None => None,
    };
    drop(c);
    let detail = shown
        .as_ref()
        .map(|x| format!("assessment:{}", x.id))
        .unwrap_or_default();
    audit::record(
        &mut state.db.writer().await?,
        &a.user,
        Action::Export,
        Some(child.id),
        "print",
        &detail,
        now,
    )
    .await?;
    Ok(render(PrintPage {
        printed_on: a.ctx.date(&now),
        age: crate::org::age_on(child.birth_date, now.date_naive()),
        history,
        chart,
        consent_states,
        printed,
        back,
        child,
        ctx: a.ctx,
    })?
    .into_response())
}
