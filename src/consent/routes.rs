//! Recording consent events from the child's page (educators and leaders of the child).

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;

use super::{EventKind, Purpose, State as ConsentState, allowed, db};
use crate::audit::{self, Action};
use crate::auth::{Auth, scope};
use crate::error::{AppError, AppResult};
use crate::org::parse_date;
use crate::state::AppState;
use crate::web::{render, tkey};

pub fn router() -> Router<AppState> {
    Router::new().route("/children/{id}/consent", post(record))
}

/// The consent form as submitted (kept to fill the form again after an error).
#[derive(Deserialize, Default)]
pub struct ConsentForm {
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub guardian_id: String,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub expires_on: String,
    #[serde(default)]
    pub note: String,
}

/// One line per purpose on the child's page.
pub struct PurposeView {
    pub purpose: &'static str,
    pub label: &'static str,
    pub state: &'static str,
    pub expires_on: Option<chrono::NaiveDate>,
}

pub fn purpose_views(events: &[super::Event], today: chrono::NaiveDate) -> Vec<PurposeView> {
    Purpose::ALL
        .iter()
        .map(|p| {
            let s = super::state(events, *p, today);
            PurposeView {
                purpose: p.as_str(),
                label: p.label_key(),
                state: s.key(),
                expires_on: match s {
                    ConsentState::Given { expires_on } => expires_on,
                    _ => None,
                },
            }
        })
        .collect()
}

async fn record(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<ConsentForm>,
) -> AppResult<Response> {
    let now = state.now();
    let today = now.date_naive();
    let mut tx = state.db.begin().await?;
    scope::assessable_child(&mut tx, &a.user, id).await?;
    let purpose = Purpose::parse(&form.purpose);
    let kind = EventKind::parse(&form.event);
    let events = db::as_events(&db::events(&mut tx, id).await?);
    let guardians = crate::org::db::guardians(&mut tx, id).await?;
    let guardian_id = form.guardian_id.trim().parse::<i64>().ok();
    let mut problem: Option<&'static str> = None;
    let (Some(purpose), Some(kind)) = (purpose, kind) else {
        return Err(AppError::BadRequest("unknown consent purpose or event"));
    };
    let current = super::state(&events, purpose, today);
    if !allowed(current, kind) {
        problem = Some(tkey("consent.err.transition"));
    } else if kind != EventKind::Requested {
        if !guardian_id.is_some_and(|g| guardians.iter().any(|x| x.id == g && x.has_custody)) {
            problem = Some(tkey("consent.err.guardian"));
        } else if !matches!(form.method.as_str(), "written" | "oral") {
            problem = Some(tkey("consent.err.method"));
        }
    }
    let expires_on = match form.expires_on.trim() {
        "" => None,
        s => match parse_date(s) {
            Some(d) if d >= today && kind == EventKind::Given => Some(d),
            _ => {
                problem = problem.or(Some(tkey("consent.err.expiry")));
                None
            }
        },
    };
    if form.note.chars().count() > 1000 {
        problem = problem.or(Some(tkey("err.too_long")));
    }
    if let Some(p) = problem {
        drop(tx);
        let page = crate::org::routes::child_page_for(&state, a, id, form, Some(p)).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
    }
    let event = db::NewEvent {
        child_id: id,
        purpose,
        kind,
        guardian_id: if kind == EventKind::Requested {
            None
        } else {
            guardian_id
        },
        method: if kind == EventKind::Requested {
            ""
        } else {
            &form.method
        },
        expires_on,
        note: form.note.trim(),
        recorded_by: a.user.id,
    };
    let eid = db::insert(&mut tx, &event, now).await?;
    audit::record(
        &mut tx,
        &a.user,
        Action::Change,
        Some(id),
        &format!("consent:{eid}"),
        &format!("{}:{}", purpose.as_str(), kind.as_str()),
        now,
    )
    .await?;
    if purpose == Purpose::ShareWithSocialWorker && kind == EventKind::Given {
        crate::alerts::identity_now_shared(&mut tx, &state, &a.user, id, now).await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/children/{id}?saved=consent#consent")).into_response())
}
