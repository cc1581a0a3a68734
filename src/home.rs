//! The start page, made for each role: what the person works with, and nothing else.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;
use crate::auth::{Auth, Role};
use crate::error::AppResult;
use crate::org::db::{self as org, Counts, District, Group, Institution};
use crate::web::{PageCtx, render};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

#[derive(Template)]
#[template(path = "home_educator.html")]
struct EducatorHome {
    ctx: PageCtx,
    groups: Vec<Group>,
}

struct InstitutionGroups {
    institution: Institution,
    groups: Vec<Group>,
}

#[derive(Template)]
#[template(path = "home_leader.html")]
struct LeaderHome {
    ctx: PageCtx,
    institutions: Vec<InstitutionGroups>,
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
}

#[derive(Template)]
#[template(path = "home_admin.html")]
struct AdminHome {
    ctx: PageCtx,
    counts: Counts,
    districts: Vec<District>,
}

async fn home(State(state): State<AppState>, a: Auth) -> AppResult<Response> {
    let mut c = state.db.conn().await?;
    let page = match a.user.role {
        Role::Educator => render(EducatorHome {
            groups: org::groups_of_user(&mut c, a.user.id).await?,
            ctx: a.ctx,
        })?,
        Role::Leader => {
            let mut institutions = Vec::new();
            for institution in org::institutions_of_user(&mut c, a.user.id).await? {
                let groups = org::groups_of_institution(&mut c, institution.id).await?;
                institutions.push(InstitutionGroups {
                    institution,
                    groups,
                });
            }
            render(LeaderHome {
                ctx: a.ctx,
                institutions,
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
            render(SocialWorkerHome {
                ctx: a.ctx,
                districts,
            })?
        }
        Role::Admin => render(AdminHome {
            counts: org::counts(&mut c).await?,
            districts: org::districts(&mut c).await?,
            ctx: a.ctx,
        })?,
    };
    Ok(page.into_response())
}
