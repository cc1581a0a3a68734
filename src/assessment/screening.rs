//! The group page as a screening sheet: each child's last position and state in the open
//! round with the actions that fit it, and the quick placement "Trives" — the team's
//! professional judgement that a child is thriving, recorded in one action (TOPI practice).
//!
//! Quick placement is offered only where the municipality enabled it (`quick_placement`),
//! and never for a child whose newest position is above the scale's lowest level or who has
//! an alert that is not closed: those children need the questionnaire. The rule is checked
//! twice — here, to offer the button, and in the inserting statement
//! ([`adb::quick_placement`]), which is what decides. A quick placement is a team position
//! like any other: one per child and round, corrected (a new version) from its page.

use std::collections::{HashMap, HashSet};

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::db::{self as adb, Round, RoundState};
use super::routes::{LevelView, catalogue, position_taken};
use crate::audit::{self, Action};
use crate::auth::{Auth, scope};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::Lang;

/// For the group page: the open round, each child's newest team position, its state in the
/// round, and whether quick placement may be offered for it.
pub struct GroupStatus {
    pub round: Option<Round>,
    pub positions: HashMap<i64, LevelView>,
    pub states: HashMap<i64, RoundState>,
    pub alerts: HashSet<i64>,
    /// Children with positions this institution may not see (recorded before they came,
    /// no handover consent): the team has nothing to place them quickly on.
    pub unseen: HashSet<i64>,
    /// Quick placement is enabled and a round is open.
    pub quick: bool,
}

impl GroupStatus {
    /// Children with a team position in the round.
    pub fn done(&self) -> usize {
        self.states
            .values()
            .filter(|s| **s == RoundState::Position)
            .count()
    }

    pub fn state(&self, child: &i64) -> RoundState {
        self.states.get(child).copied().unwrap_or_default()
    }

    pub fn has_position(&self, child: &i64) -> bool {
        self.state(child) == RoundState::Position
    }

    /// The catalogue key of the child's state in the round.
    pub fn state_key(&self, child: &i64) -> &'static str {
        match self.state(child) {
            RoundState::NotStarted => crate::web::tkey("screen.state.not_started"),
            RoundState::Draft => crate::web::tkey("screen.state.draft"),
            RoundState::Individual => crate::web::tkey("screen.state.individual"),
            RoundState::Position => crate::web::tkey("screen.state.position"),
        }
    }

    /// Whether the row offers quick placement (the inserting statement decides again).
    pub fn offers_quick(&self, child: &i64) -> bool {
        self.quick
            && !self.has_position(child)
            && !self.alerts.contains(child)
            && (self.positions.contains_key(child) || !self.unseen.contains(child))
            && self.positions.get(child).is_none_or(|l| l.rank == 0)
    }
}

pub async fn group_status(
    c: &mut impl crate::db::Conn,
    state: &AppState,
    institution_kind: &str,
    group_id: i64,
    lang: Lang,
) -> AppResult<GroupStatus> {
    let cat = catalogue(state)?;
    let round = adb::current_round(c, institution_kind, state.now().date_naive()).await?;
    let today = state.now().date_naive();
    let latest = adb::latest_positions(c, group_id).await?;
    let mut children: Vec<i64> = latest.iter().map(|p| p.child_id).collect();
    children.dedup();
    let consent = crate::consent::db::events_of(c, &children).await?;
    let mut positions = HashMap::new();
    let mut unseen = HashSet::new();
    // What other institutions recorded shows only with the handover consent.
    for p in latest {
        let events = consent.get(&p.child_id).map(Vec::as_slice).unwrap_or(&[]);
        if !scope::RecordWindow::of(p.since, events, today).admits(p.submitted_at) {
            unseen.insert(p.child_id);
            continue;
        }
        positions
            .entry(p.child_id)
            .or_insert_with(|| LevelView::of(&cat.scale, p.decided_rank.max(0) as usize, lang));
    }
    let (states, alerts) = match &round {
        Some(r) => (
            adb::round_states(c, group_id, r.id).await?,
            adb::open_alerts_in_group(c, group_id).await?,
        ),
        None => Default::default(),
    };
    Ok(GroupStatus {
        quick: round.is_some() && state.config.quick_placement.unwrap_or(false),
        round,
        positions,
        states,
        alerts,
        unseen,
    })
}

#[derive(Deserialize)]
pub struct QuickForm {
    #[serde(default)]
    submission_key: String,
}

/// Records the quick placement "Trives" for child `id` and returns to the group page (at the
/// child's row). Refused like a missing page when the child is out of scope or the rule does
/// not allow it; a repeated click lands on the same position.
pub async fn quick_placement(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<QuickForm>,
) -> AppResult<Response> {
    if !state.config.quick_placement.unwrap_or(false) {
        return Err(AppError::NotFound);
    }
    if uuid::Uuid::parse_str(&form.submission_key).is_err() {
        return Err(AppError::BadRequest("malformed quick placement"));
    }
    let cat = catalogue(&state)?;
    let now = state.now();
    let today = now.date_naive();
    // The questionnaire of the child's age band is recorded with the judgement; each band is
    // tried in turn and the statement admits the child only within its own.
    let visible = scope::assessable_enrolled_where(&a.user, "e.group_id", "g.institution_id")?;
    let group = {
        let mut c = state.db.conn().await?;
        adb::group_and_round(&mut c, id, today)
            .await?
            .map(|(g, _)| g)
    };
    // Only the questionnaires for an age: an optional instrument never holds a team position.
    for q in cat.questionnaires.iter().filter(|q| !q.def.optional) {
        let within = adb::Within::band(&visible, q, today);
        let draft = adb::Draft {
            key: &form.submission_key,
            child_id: id,
            round_id: None,
            kind: super::TEAM,
            author_id: a.user.id,
            questionnaire_id: &q.def.id,
            questionnaire_version: q.def.version as i32,
            questionnaire_hash: &q.hash,
            scale_id: &cat.scale.def.id,
            answers: String::new(),
            free_text: String::new(),
            observation: "",
            supersedes_id: None,
            background: false,
        };
        let mut tx = state.db.begin().await?;
        let lowest = &cat.scale.level(0).id;
        match adb::quick_placement(&mut tx, &draft, &within, lowest, now).await? {
            None => continue,
            Some(adb::Decide::PositionTaken(position)) => {
                drop(tx); // rolls back
                return position_taken(a.ctx, position);
            }
            Some(adb::Decide::NotRecorded) => unreachable!("a placement is recorded or refused"),
            Some(adb::Decide::Recorded(placed)) => {
                audit::record(
                    &mut tx,
                    &a.user,
                    Action::Change,
                    Some(id),
                    &format!("assessment:{}", placed.id),
                    "quick-placement",
                    now,
                )
                .await?;
                crate::alerts::on_team_position(&mut tx, &state, &a.user, &placed, now).await?;
                tx.commit().await?;
                return Ok(back_to_group(group, id));
            }
        }
    }
    // Nothing admitted: a repeated click (the key holds this user's placement of this child)
    // lands back on the group; anything else is refused.
    let mut c = state.db.conn().await?;
    match adb::by_key(&mut c, &form.submission_key).await? {
        Some(x) if x.child_id == id && x.author_id == a.user.id => Ok(back_to_group(group, id)),
        _ => Err(AppError::NotFound),
    }
}

fn back_to_group(group: Option<i64>, child: i64) -> Response {
    match group {
        Some(g) => Redirect::to(&format!("/groups/{g}#child-{child}")).into_response(),
        None => Redirect::to(&format!("/children/{child}")).into_response(),
    }
}
