//! The start page, made for each role: what the person works with, and nothing else.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{Auth, Role};
use crate::error::AppResult;
use crate::org::db::{self as org, Counts, District, Group, Institution};
use crate::state::AppState;
use crate::web::{PageCtx, render};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

#[derive(Template)]
#[template(path = "home_educator.html")]
struct EducatorHome {
    ctx: PageCtx,
    groups: Vec<Group>,
    progress: Progress,
}

/// Group id → (round name, children with a team position in it).
type Progress = std::collections::HashMap<i64, (String, i64)>;

struct InstitutionGroups {
    institution: Institution,
    groups: Vec<Group>,
}

#[derive(Template)]
#[template(path = "home_leader.html")]
struct LeaderHome {
    ctx: PageCtx,
    institutions: Vec<InstitutionGroups>,
    progress: Progress,
}

struct DistrictInstitutions {
    district: District,
    institutions: Vec<Institution>,
}

#[derive(Template)]
#[template(path = "home_social_worker.html")]
struct SocialWorkerHome {
    ctx: PageCtx,
    districts: Vec<DistrictInstitutions>,
    /// Reviews of measures due this week or overdue: (alert, measure, kind, date, overdue).
    due: Vec<(i64, i64, String, String, bool)>,
}

#[derive(Template)]
#[template(path = "home_dpo.html")]
struct DpoHome {
    ctx: PageCtx,
}

#[derive(Template)]
#[template(path = "home_admin.html")]
struct AdminHome {
    ctx: PageCtx,
    counts: Counts,
    queue: i64,
    districts: Vec<District>,
}

async fn home(State(state): State<AppState>, a: Auth) -> AppResult<Response> {
    let mut c = state.db.conn().await?;
    let page = match a.user.role {
        Role::Educator => {
            let groups = org::groups_of_user(&mut c, a.user.id).await?;
            let progress =
                crate::assessment::db::progress_for(&mut c, &groups, state.now().date_naive())
                    .await?;
            render(EducatorHome {
                groups,
                progress,
                ctx: a.ctx,
            })?
        }
        Role::Leader => {
            let mut institutions = Vec::new();
            let mut progress = Progress::new();
            let today = state.now().date_naive();
            for institution in org::institutions_of_user(&mut c, a.user.id).await? {
                let groups = org::groups_of_institution(&mut c, institution.id).await?;
                progress.extend(crate::assessment::db::progress_for(&mut c, &groups, today).await?);
                institutions.push(InstitutionGroups {
                    institution,
                    groups,
                });
            }
            render(LeaderHome {
                ctx: a.ctx,
                institutions,
                progress,
            })?
        }
        Role::SocialWorker => {
            let assigned = crate::auth::users::assignments(&mut c, a.user.id)
                .await?
                .districts;
            let mut districts = Vec::new();
            for district in org::districts(&mut c).await? {
                if assigned.contains(&district.id) {
                    let institutions = org::institutions_in_district(&mut c, district.id).await?;
                    districts.push(DistrictInstitutions {
                        district,
                        institutions,
                    });
                }
            }
            let today = state
                .now()
                .with_timezone(&state.config.time_zone)
                .date_naive();
            let due = crate::alerts::measures::due_for_worker(
                &mut c,
                a.user.id,
                today + chrono::Duration::days(7),
            )
            .await?
            .into_iter()
            .map(|d| {
                let kind = state
                    .config
                    .measure_types
                    .iter()
                    .find(|t| t.id == d.kind)
                    .map_or(d.kind.clone(), |t| t.label(a.ctx.lang).to_string());
                (
                    d.alert_id,
                    d.id,
                    kind,
                    d.next_review_on.format("%d-%m-%Y").to_string(),
                    d.next_review_on < today,
                )
            })
            .collect();
            render(SocialWorkerHome {
                ctx: a.ctx,
                districts,
                due,
            })?
        }
        Role::Dpo => render(DpoHome { ctx: a.ctx })?,
        Role::Admin => render(AdminHome {
            queue: crate::alerts::queue_count(&mut c).await?,
            counts: org::counts(&mut c).await?,
            districts: org::districts(&mut c).await?,
            ctx: a.ctx,
        })?,
    };
    Ok(page.into_response())
}
