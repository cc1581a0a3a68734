//! The overview pages and their CSV exports.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::suppress::{Cell, suppress};
use crate::assessment::db::{self as adb, Round};
use crate::assessment::routes::LevelView;
use crate::audit::{self, Action};
use crate::auth::{Auth, Role};
use crate::error::{AppError, AppResult};
use crate::org::db::{self as org, Group};
use crate::state::AppState;
use crate::web::csv::{self, Format, cell};
use crate::web::{Lang, PageCtx, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/overview", get(overview))
        .route("/overview/export.csv", get(export))
        .route("/overview/municipality", get(municipality))
        .route("/overview/municipality.csv", get(municipality_csv))
}

#[derive(Deserialize, Default)]
struct RoundQuery {
    round: Option<i64>,
    compare: Option<i64>,
    /// `raw`: the CSV for machines (`web::csv`).
    format: Option<String>,
}

fn pick_round(rounds: &[Round], id: Option<i64>) -> Option<Round> {
    match id {
        Some(id) => rounds.iter().find(|r| r.id == id).cloned(),
        None => rounds.first().cloned(),
    }
}

/// A segment of a stacked bar.
pub struct Segment {
    pub x: u32,
    pub width: u32,
    pub colour: String,
    pub label: String,
}

fn bar(counts: &[i64], levels: &[LevelView], width: u32) -> Vec<Segment> {
    let total: i64 = counts.iter().sum();
    if total == 0 {
        return Vec::new();
    }
    let mut x = 0;
    counts
        .iter()
        .zip(levels)
        .filter(|(n, _)| **n > 0)
        .map(|(n, l)| {
            let w = ((*n as f64 / total as f64) * f64::from(width)).round() as u32;
            let s = Segment {
                x,
                width: w.max(1),
                colour: l.colour.clone(),
                label: format!("{}: {n}", l.name),
            };
            x += w;
            s
        })
        .collect()
}

pub struct Concern {
    pub child_id: i64,
    pub name: String,
    pub level: LevelView,
    pub review_by: String,
    pub review_passed: bool,
    pub alert: Option<&'static str>,
    /// The position this concern is about.
    pub assessment_id: i64,
    /// The kind of follow-up recorded (catalogue key); none yet when missing.
    pub follow_up: Option<&'static str>,
}

pub struct Movement {
    pub child_id: i64,
    pub name: String,
    pub from: LevelView,
    pub to: LevelView,
    pub delta: i32,
    pub drivers: String,
}

pub struct GroupOverview {
    pub group: Group,
    pub counts: Vec<i64>,
    pub done: usize,
    pub bar: Vec<Segment>,
    pub concerns: Vec<Concern>,
    pub movements: Vec<Movement>,
    pub trend: Option<super::trend::TrendChart>,
    /// For a leader: the group's children with an active preventive measure, and the date
    /// of its next review (name, child, date, passed).
    pub measures: Vec<(String, i64, String, bool)>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    ctx: PageCtx,
    rounds: Vec<Round>,
    round: Option<Round>,
    compare: Option<Round>,
    levels: Vec<LevelView>,
    groups: Vec<GroupOverview>,
    trends: Vec<InstitutionTrend>,
}

pub struct InstitutionTrend {
    pub id: i64,
    pub name: String,
    pub chart: super::trend::TrendChart,
}

/// The groups the caller's overview covers: an educator's groups, a leader's institutions'.
async fn my_groups(c: &mut impl crate::db::Conn, a: &Auth) -> AppResult<Vec<Group>> {
    match a.user.role {
        Role::Educator => Ok(org::groups_of_user(c, a.user.id).await?),
        Role::Leader => {
            let mut out = Vec::new();
            for i in org::institutions_of_user(c, a.user.id).await? {
                out.extend(org::groups_of_institution(c, i.id).await?);
            }
            Ok(out)
        }
        _ => Err(AppError::NotFound),
    }
}

fn domain_map(json: &str) -> HashMap<String, f64> {
    serde_json::from_str::<Vec<serde_json::Value>>(json)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| {
            Some((
                d.get("id")?.as_str()?.to_string(),
                d.get("score")?.as_f64()?,
            ))
        })
        .collect()
}

async fn overview(
    State(state): State<AppState>,
    a: Auth,
    Query(q): Query<RoundQuery>,
) -> AppResult<Response> {
    let cat = state
        .catalogue
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no catalogue"))?;
    let lang = a.ctx.lang;
    let levels: Vec<LevelView> = (0..cat.scale.def.levels.len())
        .map(|r| LevelView::of(&cat.scale, r, lang))
        .collect();
    let mut c = state.db.conn().await?;
    let groups = my_groups(&mut c, &a).await?;
    let rounds = adb::rounds(&mut c).await?;
    let round = pick_round(&rounds, q.round);
    let compare = q.compare.and_then(|id| pick_round(&rounds, Some(id)));
    let ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
    let now = state.now();
    let mut out = Vec::new();
    // The chosen and the compared round's positions in one read.
    let wanted: Vec<i64> = round.iter().chain(compare.iter()).map(|r| r.id).collect();
    let by_round = super::positions_in_rounds(&mut c, &wanted, &ids, now.date_naive()).await?;
    if let Some(r) = &round {
        let none = HashMap::new();
        let pos = by_round.get(&r.id).unwrap_or(&none);
        let before = compare
            .as_ref()
            .and_then(|cr| by_round.get(&cr.id))
            .unwrap_or(&none);
        let open_alerts = super::open_alerts(&mut c, &ids).await?;
        let mut children_of = org::children_in_groups(&mut c, &ids).await?;
        for g in groups {
            let children = children_of.remove(&g.id).unwrap_or_default();
            let mut counts = vec![0i64; levels.len()];
            let mut concerns = Vec::new();
            let mut movements = Vec::new();
            let mut done = 0;
            for ch in &children {
                let Some(p) = pos.get(&ch.id) else { continue };
                done += 1;
                let rank = p.decided_rank.max(0) as usize;
                counts[rank.min(levels.len() - 1)] += 1;
                if rank >= 1 {
                    let weeks = cat.scale.level(rank).handleguide.review_weeks.unwrap_or(12);
                    let due = p.submitted_at + chrono::Duration::weeks(i64::from(weeks));
                    concerns.push(Concern {
                        child_id: ch.id,
                        name: ch.full_name(),
                        level: levels[rank.min(levels.len() - 1)].clone(),
                        review_by: a.ctx.date(&due),
                        review_passed: due < now,
                        alert: open_alerts.get(&ch.id).map(|s| match s.as_str() {
                            "new" => crate::web::tkey("alert.status.new"),
                            "taken" => crate::web::tkey("alert.status.taken"),
                            _ => crate::web::tkey("alert.status.in_progress"),
                        }),
                        assessment_id: p.assessment_id,
                        follow_up: None,
                    });
                }
                if let Some(b) = before.get(&ch.id) {
                    let delta = p.decided_rank - b.decided_rank;
                    if delta != 0 {
                        let (now_d, then_d) =
                            (domain_map(&p.domain_scores), domain_map(&b.domain_scores));
                        let mut changes: Vec<(String, f64)> = now_d
                            .iter()
                            .map(|(id, s)| (id.clone(), s - then_d.get(id).copied().unwrap_or(0.0)))
                            .filter(|(_, d)| (*d > 0.0) == (delta > 0) && *d != 0.0)
                            .collect();
                        changes.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
                        let label = |id: &str| {
                            cat.questionnaires
                                .iter()
                                .find_map(|q| {
                                    q.def
                                        .domains
                                        .iter()
                                        .find(|d| d.id == id)
                                        .map(|d| d.label.get(lang).to_string())
                                })
                                .unwrap_or(id.to_string())
                        };
                        movements.push(Movement {
                            child_id: ch.id,
                            name: ch.full_name(),
                            from: levels[(b.decided_rank.max(0) as usize).min(levels.len() - 1)]
                                .clone(),
                            to: levels[rank.min(levels.len() - 1)].clone(),
                            delta,
                            drivers: changes
                                .iter()
                                .take(2)
                                .map(|(id, d)| format!("{} {d:+}", label(id)))
                                .collect::<Vec<_>>()
                                .join(", "),
                        });
                    }
                }
            }
            movements.sort_by_key(|m| -m.delta);
            out.push(GroupOverview {
                bar: bar(&counts, &levels, 300),
                counts,
                done,
                concerns,
                movements,
                trend: None,
                measures: Vec::new(),
                group: g,
            });
        }
    }
    // Follow-up state: focus points or an action plan recorded, and its review date (which
    // replaces the handleguide's default).
    let concern_ids: Vec<i64> = out
        .iter()
        .flat_map(|g| g.concerns.iter().map(|cn| cn.assessment_id))
        .collect();
    let follow_ups = crate::assessment::follow_up::current(&mut c, &concern_ids).await?;
    for cn in out.iter_mut().flat_map(|g| g.concerns.iter_mut()) {
        if let Some((kind, review)) = follow_ups.get(&cn.assessment_id) {
            cn.follow_up = Some(crate::assessment::follow_up::kind_key(kind));
            cn.review_by = review.format("%d-%m-%Y").to_string();
            cn.review_passed = *review < now.date_naive();
        }
    }
    if a.user.role == crate::auth::Role::Leader {
        let today = now.with_timezone(&state.config.time_zone).date_naive();
        for m in crate::alerts::measures::active_in_groups(&mut c, &ids).await? {
            if let Some(g) = out.iter_mut().find(|g| g.group.id == m.group_id) {
                g.measures.push((
                    m.name,
                    m.child_id,
                    m.next_review_on.format("%d-%m-%Y").to_string(),
                    m.next_review_on < today,
                ));
            }
        }
    }
    // Trends across the last six rounds: per group, and per institution (its groups summed).
    let trend_rounds: Vec<&Round> = rounds.iter().take(6).rev().collect();
    let trend_ids: Vec<i64> = trend_rounds.iter().map(|r| r.id).collect();
    let mut counts: HashMap<(i64, i64), Vec<i64>> = HashMap::new();
    let mut institution_counts: HashMap<(i64, i64), Vec<i64>> = HashMap::new();
    let institution_of: HashMap<i64, i64> = out
        .iter()
        .map(|g| (g.group.id, g.group.institution_id))
        .collect();
    for (group_id, round_id, rank, n) in super::rank_counts(&mut c, &trend_ids, &ids).await? {
        let rank = (rank.max(0) as usize).min(levels.len() - 1);
        counts
            .entry((group_id, round_id))
            .or_insert_with(|| vec![0; levels.len()])[rank] += n;
        if let Some(&inst) = institution_of.get(&group_id) {
            institution_counts
                .entry((inst, round_id))
                .or_insert_with(|| vec![0; levels.len()])[rank] += n;
        }
    }
    let series = |key: i64, table: &HashMap<(i64, i64), Vec<i64>>| -> Vec<(String, Vec<i64>)> {
        trend_rounds
            .iter()
            .map(|r| {
                let c = table
                    .get(&(key, r.id))
                    .cloned()
                    .unwrap_or_else(|| vec![0; levels.len()]);
                (r.name.clone(), c)
            })
            .collect()
    };
    for g in &mut out {
        g.trend = super::trend::chart(&series(g.group.id, &counts), &levels);
    }
    // Each institution once, in the order of its first group (names need not be unique).
    let mut listed = std::collections::HashSet::new();
    let institutions: Vec<(i64, String)> = out
        .iter()
        .filter(|g| listed.insert(g.group.institution_id))
        .map(|g| (g.group.institution_id, g.group.institution_name.clone()))
        .collect();
    let trends: Vec<InstitutionTrend> = institutions
        .into_iter()
        .filter_map(|(id, name)| {
            super::trend::chart(&series(id, &institution_counts), &levels)
                .map(|chart| InstitutionTrend { id, name, chart })
        })
        .collect();
    drop(c);
    // The children whose own data the page shows (name, position, follow-up, movement); the
    // others are only counted in a group's figures, which shows nothing about any one child.
    let mut seen_children: Vec<i64> = out
        .iter()
        .flat_map(|g| {
            g.concerns
                .iter()
                .map(|cn| cn.child_id)
                .chain(g.movements.iter().map(|m| m.child_id))
                .chain(g.measures.iter().map(|m| m.1))
        })
        .collect();
    seen_children.sort_unstable();
    seen_children.dedup();
    audit::record_many(
        &mut state.db.writer().await?,
        &a.user,
        Action::Read,
        &seen_children,
        "overview",
        now,
    )
    .await?;
    Ok(render(OverviewPage {
        ctx: a.ctx,
        rounds,
        round,
        compare,
        levels,
        groups: out,
        trends,
    })?
    .into_response())
}

/// Per child, for the caller's own groups: the position in the round.
async fn export(
    State(state): State<AppState>,
    a: Auth,
    Query(q): Query<RoundQuery>,
) -> AppResult<Response> {
    let cat = state
        .catalogue
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no catalogue"))?;
    let mut c = state.db.conn().await?;
    let groups = my_groups(&mut c, &a).await?;
    let rounds = adb::rounds(&mut c).await?;
    let round = pick_round(&rounds, q.round).ok_or(AppError::NotFound)?;
    let ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
    let pos = super::positions(&mut c, round.id, &ids, state.now().date_naive()).await?;
    let format = Format::of(q.format.as_deref());
    let mut w = format.writer();
    let t = |key| crate::web::i18n::text(a.ctx.lang, key);
    w.write_record([
        format.pick(t("csv.institution"), "institution"),
        format.pick(t("csv.group"), "group"),
        format.pick(t("csv.child_id"), "child_id"),
        format.pick(t("csv.first_name"), "first_name"),
        format.pick(t("csv.last_name"), "last_name"),
        format.pick(t("csv.position"), "position"),
        format.pick(t("csv.assessed_on"), "assessed_on"),
        format.pick(t("csv.follow_up"), "follow_up"),
        format.pick(t("csv.review_on"), "review_on"),
    ])
    .map_err(anyhow::Error::from)?;
    let mut exported = Vec::new();
    let position_ids: Vec<i64> = pos.values().map(|p| p.assessment_id).collect();
    let follow_ups = crate::assessment::follow_up::current(&mut c, &position_ids).await?;
    let mut children_of = org::children_in_groups(&mut c, &ids).await?;
    for g in &groups {
        for ch in children_of.remove(&g.id).unwrap_or_default() {
            let (level, date) = match pos.get(&ch.id) {
                Some(p) => {
                    let level = cat.scale.level(p.decided_rank.max(0) as usize);
                    (
                        format
                            .pick(level.name.get(a.ctx.lang), &level.id)
                            .to_string(),
                        format.date(p.submitted_at.with_timezone(&a.ctx.tz).date_naive()),
                    )
                }
                None => (String::new(), String::new()),
            };
            // The kind of follow-up and its review date (not its text).
            let (follow_up, review_on) = pos
                .get(&ch.id)
                .and_then(|p| follow_ups.get(&p.assessment_id))
                .map(|(kind, review)| {
                    (
                        format
                            .pick(t(crate::assessment::follow_up::kind_key(kind)), kind)
                            .to_string(),
                        format.date(*review),
                    )
                })
                .unwrap_or_default();
            w.write_record([
                cell(&g.institution_name),
                cell(&g.name),
                ch.id.to_string(),
                cell(&ch.first_name),
                cell(&ch.last_name),
                level,
                date,
                follow_up,
                review_on,
            ])
            .map_err(anyhow::Error::from)?;
            exported.push(ch.id);
        }
    }
    drop(c);
    let body = format.finish(w)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    audit::record(
        &mut tx,
        &a.user,
        Action::Export,
        None,
        "overview.csv",
        &format!("round={}", round.id),
        now,
    )
    .await?;
    audit::record_many(
        &mut tx,
        &a.user,
        Action::Export,
        &exported,
        "overview.csv",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(csv::response("trivsel-oversigt.csv", body))
}

/// A suppressed aggregate table: rows of a dimension × levels, with totals.
pub struct AggTable {
    pub title: &'static str,
    pub rows: Vec<(String, Vec<String>, String)>,
    pub totals: Vec<String>,
    pub total: String,
}

/// Builds a suppressed table from (row label → counts per level).
/// A table of `data` (row label, counts per level), rows in the order given.
pub fn agg_table(title: &'static str, data: &[(String, Vec<i64>)], threshold: i64) -> AggTable {
    let table: Vec<Vec<i64>> = data.iter().map(|(_, v)| v.clone()).collect();
    let s = suppress(&table, threshold);
    let text = |c: Cell| match c {
        Cell::Shown(n) => n.to_string(),
        Cell::Small => format!("<{threshold}"),
        Cell::Hidden => "•".to_string(),
    };
    AggTable {
        title,
        rows: data
            .iter()
            .map(|(label, _)| label)
            .zip(&s.cells)
            .zip(&s.row_totals)
            .map(|((label, cells), total)| {
                (
                    label.clone(),
                    cells.iter().map(|c| text(*c)).collect(),
                    text(*total),
                )
            })
            .collect(),
        totals: s.col_totals.iter().map(|c| text(*c)).collect(),
        total: text(s.total),
    }
}

#[derive(Template)]
#[template(path = "overview_municipality.html")]
struct MunicipalityPage {
    ctx: PageCtx,
    rounds: Vec<Round>,
    round: Option<Round>,
    levels: Vec<LevelView>,
    tables: Vec<AggTable>,
    threshold: i64,
    /// When the figures were counted (they may be reused for `aggregate_cache_seconds`).
    counted_at: String,
}

async fn municipal_tables(
    state: &AppState,
    a: &Auth,
    round: &Round,
    lang: Lang,
) -> AppResult<(Vec<AggTable>, chrono::DateTime<chrono::Utc>)> {
    let cat = state
        .catalogue
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no catalogue"))?;
    let n = cat.scale.def.levels.len();
    let mut c = state.db.conn().await?;
    // The age bands of the questionnaires for each age (optional instruments overlap them).
    let bands: Vec<(String, u32)> = cat
        .questionnaires
        .iter()
        .filter(|q| !q.def.optional)
        .map(|q| {
            (
                format!("{}–{}", q.def.age_from, q.def.age_to),
                q.def.age_from,
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut bands = bands;
    let oldest = cat
        .questionnaires
        .iter()
        .filter(|q| !q.def.optional)
        .map(|q| q.def.age_to)
        .max()
        .unwrap_or(17);
    bands.push((format!("{}+", oldest + 1), oldest + 1));
    bands.sort_by_key(|(_, a)| *a);
    let now = state.now();
    let max_age = chrono::Duration::seconds(state.config.aggregate_cache_seconds as i64);
    let (counted_at, counted) = match state.aggregates.get(round.id, now, max_age) {
        Some(hit) => hit,
        None => {
            let rows =
                std::sync::Arc::new(super::aggregate_counts(&mut c, round.id, &bands).await?);
            state.aggregates.put(round.id, now, rows.clone());
            (now, rows)
        }
    };
    let mut rows: Vec<super::AggregateCount> = counted.as_ref().clone();
    // A district view: a social worker sees their own districts' aggregates.
    if a.user.role == Role::SocialWorker {
        let mine = crate::auth::users::assignments(&mut c, a.user.id)
            .await?
            .districts;
        rows.retain(|r| mine.contains(&r.district_id));
    }
    let threshold = state.config.suppression_threshold;
    let mut by_district = std::collections::BTreeMap::new();
    let mut by_kind = std::collections::BTreeMap::new();
    // Age bands in order of age ("3–5" before "10–13"), the others by name.
    let age_from = |band: &str| bands.iter().find(|(b, _)| b == band).map_or(0, |(_, f)| *f);
    let mut by_age = std::collections::BTreeMap::<(u32, String), Vec<i64>>::new();
    let mut by_gender = std::collections::BTreeMap::new();
    for r in &rows {
        let rank = (r.decided_rank.max(0) as usize).min(n - 1);
        let kind = crate::web::i18n::text(
            lang,
            crate::org::InstitutionKind::parse(&r.institution_kind)
                .map(|k| k.label_key())
                .unwrap_or("kind.unknown"),
        )
        .to_string();
        let gender = crate::web::i18n::text(
            lang,
            match r.gender.as_str() {
                "p" => "gender.p",
                "d" => "gender.d",
                _ => "gender.u",
            },
        )
        .to_string();
        for (map, key) in [
            (&mut by_district, r.district.clone()),
            (&mut by_kind, kind),
            (&mut by_gender, gender),
        ] {
            map.entry(key).or_insert_with(|| vec![0i64; n])[rank] += r.n;
        }
        by_age
            .entry((age_from(&r.band), r.band.clone()))
            .or_insert_with(|| vec![0i64; n])[rank] += r.n;
    }
    let rows = |m: std::collections::BTreeMap<String, Vec<i64>>| -> Vec<(String, Vec<i64>)> {
        m.into_iter().collect()
    };
    let by_age: Vec<(String, Vec<i64>)> =
        by_age.into_iter().map(|((_, band), v)| (band, v)).collect();
    Ok((
        vec![
            agg_table(
                crate::web::tkey("field.district"),
                &rows(by_district),
                threshold,
            ),
            agg_table(crate::web::tkey("field.kind"), &rows(by_kind), threshold),
            agg_table(crate::web::tkey("alert.age_band"), &by_age, threshold),
            agg_table(
                crate::web::tkey("field.gender"),
                &rows(by_gender),
                threshold,
            ),
        ],
        counted_at,
    ))
}

/// The municipal figures are for the admin and, for their districts, the social workers:
/// the catalogue, the rounds and the chosen one.
async fn municipal_round(
    state: &AppState,
    a: &Auth,
    round: Option<i64>,
) -> AppResult<(
    std::sync::Arc<crate::questionnaire::Catalogue>,
    Vec<Round>,
    Option<Round>,
)> {
    if !matches!(a.user.role, Role::Admin | Role::SocialWorker) {
        return Err(AppError::NotFound);
    }
    let cat = state
        .catalogue
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no catalogue"))?;
    let mut c = state.db.conn().await?;
    let rounds = adb::rounds(&mut c).await?;
    // Unless one is asked for: the newest round that has positions, not an empty open one.
    let chosen = match round {
        Some(_) => pick_round(&rounds, round),
        None => {
            let counted = adb::rounds_with_positions(&mut c).await?;
            rounds
                .iter()
                .find(|r| counted.contains(&r.id))
                .or(rounds.first())
                .cloned()
        }
    };
    Ok((cat, rounds, chosen))
}

async fn municipality(
    State(state): State<AppState>,
    a: Auth,
    Query(q): Query<RoundQuery>,
) -> AppResult<Response> {
    let (cat, rounds, round) = municipal_round(&state, &a, q.round).await?;
    let (tables, counted_at) = match &round {
        Some(r) => {
            let (t, at) = municipal_tables(&state, &a, r, a.ctx.lang).await?;
            (t, Some(at))
        }
        None => (Vec::new(), None),
    };
    let levels = (0..cat.scale.def.levels.len())
        .map(|r| LevelView::of(&cat.scale, r, a.ctx.lang))
        .collect();
    let threshold = state.config.suppression_threshold;
    Ok(render(MunicipalityPage {
        rounds,
        round,
        levels,
        tables,
        threshold,
        counted_at: counted_at.map(|t| a.ctx.datetime(&t)).unwrap_or_default(),
        ctx: a.ctx,
    })?
    .into_response())
}

async fn municipality_csv(
    State(state): State<AppState>,
    a: Auth,
    Query(q): Query<RoundQuery>,
) -> AppResult<Response> {
    let (cat, _, round) = municipal_round(&state, &a, q.round).await?;
    let round = round.ok_or(AppError::NotFound)?;
    let (tables, _) = municipal_tables(&state, &a, &round, a.ctx.lang).await?;
    let format = Format::of(q.format.as_deref());
    let mut w = format.writer();
    let text = |key| crate::web::i18n::text(a.ctx.lang, key);
    let mut header = vec![
        format.pick(text("csv.dimension"), "dimension").to_string(),
        format.pick(text("csv.value"), "value").to_string(),
    ];
    header.extend(
        cat.scale
            .def
            .levels
            .iter()
            .map(|l| format.pick(l.name.get(a.ctx.lang), &l.id).to_string()),
    );
    header.push(format.pick(text("csv.total"), "total").to_string());
    w.write_record(&header).map_err(anyhow::Error::from)?;
    for t in &tables {
        for (label, cells, total) in &t.rows {
            // Names of districts, institutions and groups are user data.
            let mut rec = vec![format.pick(text(t.title), t.title).to_string(), cell(label)];
            rec.extend(cells.iter().cloned());
            rec.push(total.clone());
            w.write_record(&rec).map_err(anyhow::Error::from)?;
        }
    }
    let body = format.finish(w)?;
    audit::record(
        &mut state.db.writer().await?,
        &a.user,
        Action::Export,
        None,
        "municipality.csv",
        &format!("round={}", round.id),
        state.now(),
    )
    .await?;
    Ok(csv::response("trivsel-kommune.csv", body))
}
