//! The assessment form, the suggestion and decision page, and the admin's rounds.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::Deserialize;

use super::after_save::{self, AfterSave};
use super::db::{self as adb, Assessment, Round};
use super::follow_up;
use super::individual;
use super::{AnswerMap, INDIVIDUAL, TEAM, versions};
use crate::audit::{self, Action};
use crate::auth::{Auth, scope};
use crate::error::{AppError, AppResult};
use crate::org::db::Child;
use crate::org::{InstitutionKind, parse_date};
use crate::questionnaire::format::Level;
use crate::questionnaire::{Catalogue, Questionnaire, Scale};
use crate::scoring::{self, Reason};
use crate::state::AppState;
use crate::web::{FieldErrors, Lang, PageCtx, render, tkey};

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(super::print::router())
        .route("/children/{id}/assess", get(form_page).post(submit))
        .route("/questionnaires/{id}/suggestion", post(suggestion))
        .route("/assessments/{id}", get(assessment_page))
        .route("/assessments/{id}/decide", post(decide))
        .route("/assessments/{id}/correct", post(correct))
        .route("/assessments/{id}/follow-up", post(record_follow_up))
        .route(
            "/children/{id}/quick",
            post(super::screening::quick_placement),
        )
        .route("/admin/rounds", get(rounds_page).post(create_round))
}

pub(super) fn catalogue(state: &AppState) -> AppResult<Arc<Catalogue>> {
    state
        .catalogue
        .clone()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no questionnaire catalogue loaded")))
}

/// The child `id` if `user` may assess it, the round open now for the child's institution
/// type, and the questionnaire for the child's age: one scoped read.
async fn context(
    c: &mut impl crate::db::Conn,
    cat: &Catalogue,
    user: &crate::auth::CurrentUser,
    id: i64,
    today: NaiveDate,
    wanted: Option<&str>,
) -> AppResult<(Child, Option<Round>, Arc<Questionnaire>, Place)> {
    let visible = scope::assessable_where(user, "c.id")?;
    let found = adb::form_context_where(c, id, user.id, &visible, today)
        .await?
        .ok_or(AppError::NotFound)?;
    let round = found.round();
    let place = Place {
        group: found.group_id,
        position: found.position_id,
    };
    let child = found.child;
    // The questionnaire for the child's age, or one of the optional instruments the open
    // round names whose ages cover the child.
    let named = round.as_ref().map(Round::instruments).unwrap_or_default();
    let q = cat
        .instruments(crate::org::age_on(child.birth_date, today), &named)
        .into_iter()
        .find(|q| wanted.is_none_or(|w| q.def.id == w) && (wanted.is_some() || !q.def.optional))
        .ok_or(AppError::NotFound)?;
    Ok((child, round, q, place))
}

/// Where the child stands: its current group, and its team position in the open round.
struct Place {
    group: Option<i64>,
    position: Option<i64>,
}

/// The group's progress in the round, as the form shows it ("7 af 22 vurderet").
pub struct Progress {
    pub group: i64,
    pub done: usize,
    pub total: usize,
}

async fn progress(
    c: &mut impl crate::db::Conn,
    place: &Place,
    round: Option<&Round>,
) -> AppResult<Option<Progress>> {
    let (Some(group), Some(round)) = (place.group, round) else {
        return Ok(None);
    };
    let sheet = adb::group_round(c, group, round.id).await?;
    Ok(Some(Progress {
        group,
        done: sheet.iter().filter(|(_, done)| *done).count(),
        total: sheet.len(),
    }))
}

// ---- the form ----

/// One answer option as the form shows it.
pub struct OptionView {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

pub struct ItemView {
    pub id: String,
    pub text: String,
    /// The file's help text for the item, shown under it.
    pub help: Option<String>,
    /// In a correction: the corrected assessment's version did not have this item.
    pub new: bool,
    /// Asked only on an earlier answer: that item's id, the option values (space-separated,
    /// for the script that hides the item until then) and the condition in words.
    pub show_if: Option<(String, String, String)>,
    pub options: Vec<OptionView>,
    /// The individual views answered this item differently: each author's answer.
    pub split: Vec<String>,
}

/// A free-text item as the form shows it.
pub struct FreeTextView {
    pub id: String,
    pub text: String,
    pub help: Option<String>,
    pub value: String,
    pub max: usize,
    pub error: Option<&'static str>,
}

fn free_text_views(
    q: &Questionnaire,
    answers: &AnswerMap,
    errors: &FieldErrors,
    lang: Lang,
) -> Vec<FreeTextView> {
    q.def
        .free_text
        .iter()
        .map(|f| FreeTextView {
            id: f.id.clone(),
            text: f.text.get(lang).to_string(),
            help: f.help.as_ref().map(|h| h.get(lang).to_string()),
            value: answers.get(&f.id).cloned().unwrap_or_default(),
            max: f.max(),
            error: errors.get(&format!("ft-{}", f.id)),
        })
        .collect()
}

pub struct DomainView {
    pub id: String,
    pub label: String,
    pub items: Vec<ItemView>,
    pub error: Option<&'static str>,
}

pub struct CriticalView {
    /// In a correction: the corrected assessment's version did not have this item.
    pub new: bool,
    pub id: String,
    pub text: String,
    pub answer: String,
    /// Submitted without an answer: "not answered" is never read as "no".
    pub missing: bool,
    /// The individual views answered this sign differently: each author's answer.
    pub split: Vec<String>,
}

#[derive(Template)]
#[template(path = "assessment_form.html")]
struct FormPage {
    ctx: PageCtx,
    child: Child,
    title: String,
    questionnaire_id: String,
    round: Option<Round>,
    key: String,
    kind: String,
    supersedes: Option<i64>,
    /// In a correction: how many items the corrected assessment's version did not have.
    new_items: usize,
    /// The questionnaires the child is assessed with in the round (more than one when the
    /// round uses optional instruments).
    instruments: Vec<InstrumentView>,
    /// This form is an optional instrument: a view, not the team's position.
    optional: bool,
    free_texts: Vec<FreeTextView>,
    domains: Vec<DomainView>,
    critical: Vec<CriticalView>,
    observation: String,
    errors: FieldErrors,
    individual: Vec<SummaryView>,
    saved_draft: bool,
    progress: Option<Progress>,
    /// The answers came back from a submission that met an expired session.
    resumed: bool,
    /// What the position saved just before sent ("Gem og næste barn").
    after: Option<AfterSave>,
    /// The answers the individual views agree on are filled in.
    prefilled: bool,
    /// How many items the individual views answered differently.
    split: usize,
}

/// A short view of a submitted assessment (side by side, history).
pub struct SummaryView {
    pub id: i64,
    /// An optional instrument's title and informant ("" for the questionnaire for the age).
    pub instrument: String,
    pub team: bool,
    pub superseded: bool,
    pub round: String,
    pub justification: String,
    pub suggested: LevelView,
    pub author: String,
    pub date: String,
    pub level: LevelView,
    pub domains: Vec<(String, String)>,
}

/// A level as shown: name, colour and a CSS class; the colour never stands alone.
#[derive(Clone)]
pub struct LevelView {
    pub rank: usize,
    pub id: String,
    pub name: String,
    pub colour: String,
}

impl LevelView {
    pub fn of(scale: &Scale, rank: usize, lang: Lang) -> LevelView {
        let l: &Level = scale.level(rank);
        LevelView {
            rank,
            id: l.id.clone(),
            name: l.name.get(lang).to_string(),
            colour: l.colour.clone(),
        }
    }
}

pub(super) fn score_text(centi: Option<i64>) -> String {
    match centi {
        Some(v) if v % 100 == 0 => format!("{}", v / 100),
        Some(v) => format!("{:.1}", v as f64 / 100.0).replace('.', ","),
        None => "–".to_string(),
    }
}

pub(super) fn summary(
    a: &Assessment,
    scale: &Scale,
    q: Option<&Questionnaire>,
    ctx: &PageCtx,
) -> SummaryView {
    let lang = ctx.lang;
    let domains = a
        .domains()
        .into_iter()
        .map(|d| {
            let label = q
                .and_then(|q| q.def.domains.iter().find(|x| x.id == d.id))
                .map(|x| x.label.get(lang).to_string())
                .unwrap_or(d.id.clone());
            (label, score_text(d.score))
        })
        .collect();
    SummaryView {
        instrument: q
            .filter(|q| q.def.optional)
            .map(|q| {
                format!(
                    "{} ({})",
                    q.def.title.get(lang),
                    ctx.t(q.def.informant.label_key())
                )
            })
            .unwrap_or_default(),
        id: a.id,
        team: a.is_team(),
        superseded: a.superseded,
        round: a.round_name.clone().unwrap_or_default(),
        justification: a.justification.clone(),
        suggested: LevelView::of(scale, a.suggested_rank.unwrap_or(0).max(0) as usize, lang),
        author: a.author_name.clone(),
        date: ctx.date(&a.submitted_at.unwrap_or(a.created_at)),
        level: LevelView::of(scale, a.decided_rank.unwrap_or(0).max(0) as usize, lang),
        domains,
    }
}

/// In a correction of assessment `old`: the items of `q` that the version `old` was made with
/// did not have.
async fn new_since(
    c: &mut impl crate::db::Conn,
    cat: &Catalogue,
    q: &Questionnaire,
    old: Option<i64>,
) -> AppResult<std::collections::HashSet<String>> {
    let Some(old) = old else {
        return Ok(Default::default());
    };
    let Some(old) = adb::get(c, old).await? else {
        return Ok(Default::default());
    };
    let made_with =
        versions::questionnaire(c, cat, &old.questionnaire_id, &old.questionnaire_hash).await?;
    Ok(made_with
        .map(|m| versions::carry_over(&m, q, &AnswerMap::new()).1)
        .unwrap_or_default())
}

/// The form's questions with `answers` checked; `split` marks the items the individual views
/// answered differently ([`individual::start`]).
fn build_form(
    q: &Questionnaire,
    answers: &AnswerMap,
    split: &BTreeMap<String, Vec<(String, String)>>,
    new_items: &std::collections::HashSet<String>,
    ctx: &PageCtx,
) -> (Vec<DomainView>, Vec<CriticalView>) {
    let lang = ctx.lang;
    let sets = &q.def.response_sets;
    let side_by_side = |id: &str, label: &dyn Fn(&str) -> String| -> Vec<String> {
        split
            .get(id)
            .map(|given| {
                given
                    .iter()
                    .map(|(who, v)| format!("{who}: {}", label(v)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let domains = q
        .def
        .domains
        .iter()
        .map(|d| DomainView {
            id: d.id.clone(),
            label: d.label.get(lang).to_string(),
            error: None,
            items: q
                .def
                .items
                .iter()
                .filter(|i| i.domain == d.id)
                .map(|i| ItemView {
                    show_if: i.show_if.as_ref().map(|cond| {
                        let earlier = q.def.items.iter().find(|e| e.id == cond.item);
                        let labels: Vec<String> = cond
                            .values
                            .iter()
                            .map(|v| {
                                earlier
                                    .and_then(|e| sets.get(&e.responses))
                                    .and_then(|s| s.options.iter().find(|o| o.value == *v))
                                    .map_or(v.clone(), |o| o.label.get(lang).to_string())
                            })
                            .collect();
                        (
                            cond.item.clone(),
                            cond.values.join(" "),
                            format!(
                                "{} «{}» {} {}.",
                                ctx.t("assess.show_if"),
                                earlier.map_or(cond.item.as_str(), |e| e.text.get(lang)),
                                ctx.t("assess.show_if_is"),
                                labels.join(&format!(" {} ", ctx.t("or")))
                            ),
                        )
                    }),
                    new: new_items.contains(&i.id),
                    id: i.id.clone(),
                    text: i.text.get(lang).to_string(),
                    help: i.help.as_ref().map(|h| h.get(lang).to_string()),
                    split: side_by_side(&i.id, &|v| {
                        sets.get(&i.responses)
                            .and_then(|s| s.options.iter().find(|o| o.value == v))
                            .map(|o| o.label.get(lang).to_string())
                            .unwrap_or_else(|| v.to_string())
                    }),
                    options: sets
                        .get(&i.responses)
                        .map(|s| {
                            s.options
                                .iter()
                                .map(|o| OptionView {
                                    value: o.value.clone(),
                                    label: o.label.get(lang).to_string(),
                                    checked: answers.get(&i.id) == Some(&o.value),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    let critical = q
        .def
        .critical
        .iter()
        .map(|c| CriticalView {
            new: new_items.contains(&c.id),
            id: c.id.clone(),
            text: c.text.get(lang).to_string(),
            answer: answers.get(&c.id).cloned().unwrap_or_default(),
            missing: false,
            split: side_by_side(&c.id, &|v| {
                ctx.t(if v == "yes" { "yes" } else { "no" }).to_string()
            }),
        })
        .collect();
    (domains, critical)
}

#[derive(Deserialize, Default)]
struct FormQuery {
    #[serde(default)]
    saved: Option<String>,
    /// Back from the suggestion to change the answers.
    #[serde(default)]
    edit: Option<String>,
    /// The position saved just before ("Gem og næste barn").
    #[serde(default)]
    after: Option<i64>,
    /// `individual`: a new form for the user's own view rather than the team's position.
    #[serde(default)]
    kind: Option<String>,
    /// One of the optional instruments the round uses (a view, never the team's position).
    #[serde(default)]
    q: Option<String>,
}

async fn form_page(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Query(fq): Query<FormQuery>,
) -> AppResult<Response> {
    let cat = catalogue(&state)?;
    let now = state.now();
    let mut c = state.db.conn().await?;
    let (child, round, q, place) =
        context(&mut c, &cat, &a.user, id, now.date_naive(), fq.q.as_deref()).await?;
    // Resume the author's unfinished assessment of this child, if any.
    let draft = adb::open_draft(&mut c, id, a.user.id, &q.def.id).await?;
    // One position per child and round: with one recorded, the form is not for a new
    // assessment but shows the position (and offers its correction), unless this is the
    // correction being filled in.
    if let Some(position) = place.position
        && draft.as_ref().is_none_or(|d| d.supersedes_id.is_none())
    {
        let progress = progress(&mut c, &place, round.as_ref()).await?;
        let next = match (&progress, &round) {
            (Some(p), Some(r)) => {
                adb::next_child(&adb::group_round(&mut c, p.group, r.id).await?, id)
            }
            _ => None,
        };
        let assessment = adb::get(&mut c, position)
            .await?
            .ok_or_else(|| anyhow::anyhow!("round position without its assessment"))?;
        let made_with = versions::questionnaire(
            &mut c,
            &cat,
            &assessment.questionnaire_id,
            &assessment.questionnaire_hash,
        )
        .await?;
        drop(c);
        audit::record(
            &mut state.db.writer().await?,
            &a.user,
            Action::Read,
            Some(id),
            &format!("assessment:{position}"),
            "round-position",
            now,
        )
        .await?;
        let page = HasPositionPage {
            summary: summary(&assessment, &cat.scale, made_with.as_deref(), &a.ctx),
            judgement: assessment.mode == "judgement",
            child,
            round,
            progress,
            next,
            ctx: a.ctx,
        };
        return Ok(render(page)?.into_response());
    }
    let progress = progress(&mut c, &place, round.as_ref()).await?;
    // A form submitted with an expired session comes back as it was sent (see
    // `auth::resume`), under the same submission key.
    let kept_form =
        crate::auth::resume::take_form(&a.session, &format!("/children/{id}/assess")).await?;
    // A kept form of another of the round's questionnaires is drawn by that questionnaire.
    if let Some(k) = &kept_form
        && let Some(other) = Submission::parse(k.fields.clone())
            .ok()
            .and_then(|s| s.questionnaire)
            .filter(|other| *other != q.def.id && fq.q.is_none() && cat.by_id(other).is_some())
    {
        // A questionnaire's id is letters, digits, '-' and '_': safe in a URL as it is.
        crate::auth::resume::keep_form(&a.session, k).await?;
        let to = format!("/children/{id}/assess?q={other}");
        return Ok(Redirect::to(&to).into_response());
    }
    let kept = kept_form.and_then(|k| Submission::parse(k.fields).ok());
    if kept.is_none()
        && let Some(d) = &draft
        && d.status == "scored"
        && fq.edit.is_none()
    {
        drop(c);
        return Ok(Redirect::to(&format!("/assessments/{}", d.id)).into_response());
    }
    let individual = match &round {
        Some(r) => adb::individual_in_round(&mut c, id, r.id).await?,
        None => Vec::new(),
    };
    let after = match fq.after {
        Some(prev) => after_save::previous(&mut c, &cat.scale, a.user.id, prev, &a.ctx).await?,
        None => None,
    };
    let new_items = new_since(
        &mut c,
        &cat,
        &q,
        draft.as_ref().and_then(|d| d.supersedes_id),
    )
    .await?;
    drop(c);
    audit::record(
        &mut state.db.writer().await?,
        &a.user,
        Action::Read,
        Some(id),
        "assessment-form",
        "",
        now,
    )
    .await?;
    let resumed = kept.is_some();
    let mut form = match kept {
        Some(k) => k,
        None => match &draft {
            Some(d) => Submission {
                key: d.submission_key.clone(),
                kind: d.kind.clone(),
                observation: d.observation.clone(),
                supersedes: d.supersedes_id,
                answers: d
                    .answer_map()
                    .into_iter()
                    .chain(d.free_text_map())
                    .collect(),
                ..Default::default()
            },
            None => Submission {
                key: uuid::Uuid::new_v4().to_string(),
                kind: match fq.kind.as_deref() {
                    Some(INDIVIDUAL) => INDIVIDUAL.to_string(),
                    _ => TEAM.to_string(),
                },
                ..Default::default()
            },
        },
    };
    // An optional instrument records a view; the team's position is given in the
    // questionnaire for the age.
    if q.def.optional {
        form.kind = INDIVIDUAL.to_string();
    }
    let instruments = instrument_views(&cat, &child, now.date_naive(), round.as_ref(), a.ctx.lang);
    // The team's position starts from the round's individual views.
    let mut start = if form.kind == TEAM {
        individual::start(&individual, &q.def.id)
    } else {
        individual::Start::default()
    };
    let prefilled = !resumed && draft.is_none() && !start.agreed.is_empty();
    if prefilled {
        form.answers = std::mem::take(&mut start.agreed);
    }
    let (domains, critical) = build_form(&q, &form.answers, &start.split, &new_items, &a.ctx);
    let mut views = Vec::new();
    {
        let mut c = state.db.conn().await?;
        for x in &individual {
            let made_with =
                versions::questionnaire(&mut c, &cat, &x.questionnaire_id, &x.questionnaire_hash)
                    .await?;
            views.push(summary(x, &cat.scale, made_with.as_deref(), &a.ctx));
        }
    }
    let page = FormPage {
        free_texts: free_text_views(&q, &form.answers, &FieldErrors::default(), a.ctx.lang),
        instruments,
        optional: q.def.optional,
        new_items: new_items.len(),
        title: q.def.title.get(a.ctx.lang).to_string(),
        questionnaire_id: q.def.id.clone(),
        key: form.key,
        kind: form.kind,
        supersedes: form.supersedes,
        observation: form.observation,
        resumed,
        after,
        prefilled,
        split: start.split.len(),
        individual: views,
        saved_draft: fq.saved.is_some(),
        errors: FieldErrors::default(),
        domains,
        critical,
        round,
        progress,
        child,
        ctx: a.ctx,
    };
    Ok(render(page)?.into_response())
}

#[derive(Template)]
#[template(path = "assessment_has_position.html")]
struct HasPositionPage {
    ctx: PageCtx,
    child: Child,
    round: Option<Round>,
    summary: SummaryView,
    /// Placed by the team's judgement (quick placement), without a questionnaire.
    judgement: bool,
    progress: Option<Progress>,
    next: Option<i64>,
}

/// The assessment form as submitted.
#[derive(Default)]
struct Submission {
    key: String,
    kind: String,
    action: String,
    observation: String,
    supersedes: Option<i64>,
    /// The questionnaire the form was drawn from.
    questionnaire: Option<String>,
    /// With `action=confirm`: the level of the live suggestion the professional confirmed.
    confirm: Option<String>,
    answers: AnswerMap,
}

impl Submission {
    fn parse(fields: Vec<(String, String)>) -> AppResult<Submission> {
        let mut form = Submission::default();
        for (k, v) in fields {
            match k.as_str() {
                "submission_key" => form.key = v,
                "kind" => form.kind = v,
                "action" => form.action = v,
                "observation" => form.observation = v,
                "supersedes" => form.supersedes = v.parse::<i64>().ok(),
                "questionnaire" => form.questionnaire = Some(v),
                "confirm" => form.confirm = Some(v),
                crate::auth::csrf::FIELD => {}
                _ => {
                    if !v.is_empty() {
                        form.answers.insert(k, v);
                    }
                }
            }
        }
        if uuid::Uuid::parse_str(&form.key).is_err()
            || !matches!(form.kind.as_str(), TEAM | INDIVIDUAL)
            || !matches!(
                form.action.as_str(),
                "draft" | "autosave" | "score" | "confirm" | "next"
            )
        {
            return Err(AppError::BadRequest("malformed assessment form"));
        }
        Ok(form)
    }

    fn scored(&self) -> bool {
        matches!(self.action.as_str(), "score" | "confirm" | "next")
    }

    /// Whether the professional confirmed `level`, the engine's suggestion for these answers,
    /// as they submitted (the live suggestion they saw on the form): "confirm", or "save and
    /// next child" with the live suggestion shown.
    fn confirms(&self, level: &str) -> bool {
        matches!(self.action.as_str(), "confirm" | "next") && self.confirm.as_deref() == Some(level)
    }
}

/// A submission scored with questionnaire `q`, and what is wrong with it.
struct Checked {
    outcome: scoring::Outcome,
    /// The answers to store: those of the items asked (an answer to an item whose condition
    /// does not hold is not kept).
    answers: AnswerMap,
    /// The answers to the free-text items.
    free_text: AnswerMap,
    errors: FieldErrors,
    domain_errors: Vec<(usize, &'static str)>,
}

fn check(q: &Questionnaire, form: &Submission) -> AppResult<Checked> {
    let mut errors = FieldErrors::default();
    if form.observation.chars().count() > 4000 {
        errors.add("observation", tkey("err.too_long"));
    }
    // Free text apart from the scored answers.
    let (free_text, scored): (AnswerMap, AnswerMap) = form
        .answers
        .clone()
        .into_iter()
        .partition(|(id, _)| q.def.free_text.iter().any(|f| f.id == *id));
    for f in &q.def.free_text {
        if free_text
            .get(&f.id)
            .is_some_and(|t| t.chars().count() > f.max())
        {
            errors.add(&format!("ft-{}", f.id), tkey("err.too_long"));
        }
    }
    let parsed = crate::questionnaire::answers_from_map(q, &scored)
        .map_err(|_| AppError::BadRequest("answer not in the questionnaire"))?;
    let outcome = scoring::score(&q.model, &parsed);
    let asked = scoring::asked(&q.model, &parsed);
    let answers = scored
        .iter()
        .filter(|(id, _)| {
            q.model
                .items
                .iter()
                .position(|it| it.id == **id)
                .is_none_or(|i| asked[i])
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut domain_errors = Vec::new();
    if form.scored() {
        for (i, d) in outcome.domains.iter().enumerate() {
            if d.score.is_none() {
                domain_errors.push((i, tkey("assess.err.domain_answers")));
                errors.add("domains", tkey("assess.err.answers"));
            }
        }
        // A critical sign needs an explicit yes or no before a level is suggested.
        if parsed.critical.iter().any(Option::is_none) {
            errors.add("critical", tkey("assess.err.critical"));
        }
    }
    Ok(Checked {
        outcome,
        answers,
        free_text,
        errors,
        domain_errors,
    })
}

async fn submit(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let cat = catalogue(&state)?;
    let now = state.now();
    let today = now.date_naive();
    let form = Submission::parse(fields)?;

    // The common case without reading the child first: the form names the questionnaire it
    // was drawn from, and the statement that saves the assessment admits the child only
    // within the user's scope and the questionnaire's age band, and finds its round. When it
    // admits nothing, or the form needs to be shown again, the child is read below.
    if form.supersedes.is_none()
        && let Some(q) = form.questionnaire.as_deref().and_then(|q| cat.by_id(q))
        && !q.def.optional
    {
        let checked = check(q, &form)?;
        if checked.errors.is_empty() {
            let visible =
                scope::assessable_enrolled_where(&a.user, "e.group_id", "g.institution_id")?;
            let within = adb::Within::band(&visible, q, today);
            let saved = store(
                &state,
                &a,
                id,
                (&cat, q),
                &form,
                &checked,
                None,
                Some(&within),
            );
            if let Some(response) = saved.await? {
                return Ok(response);
            }
        }
    }

    let mut c = state.db.conn().await?;
    // A form of another age band's questionnaire (drawn before a birthday) is saved with the
    // child's own; an optional instrument only where the round names it.
    let wanted = form
        .questionnaire
        .as_deref()
        .filter(|w| cat.by_id(w).is_some_and(|q| q.def.optional));
    let (child, round, q, place) = context(&mut c, &cat, &a.user, id, today, wanted).await?;
    if q.def.optional && form.kind != INDIVIDUAL {
        return Err(AppError::BadRequest(
            "the team's position is given in the questionnaire for the age",
        ));
    }
    let progress = progress(&mut c, &place, round.as_ref()).await?;
    drop(c);
    let checked = check(&q, &form)?;
    let mut new_items = std::collections::HashSet::new();
    if let Some(s) = form.supersedes {
        // A correction must correct this child's submitted assessment.
        let mut c = state.db.conn().await?;
        let old = adb::get(&mut c, s).await?;
        if !old.is_some_and(|o| o.child_id == id && o.status == "submitted") {
            return Err(AppError::BadRequest("correction of an unknown assessment"));
        }
        if !checked.errors.is_empty() {
            new_items = new_since(&mut c, &cat, &q, Some(s)).await?;
        }
    }
    if !checked.errors.is_empty() {
        if form.action == "autosave" {
            // The script that saves in the background shows nothing; the user's own submit
            // shows the form with its messages.
            return Ok(StatusCode::UNPROCESSABLE_ENTITY.into_response());
        }
        let (mut domains, mut critical) =
            build_form(&q, &form.answers, &BTreeMap::new(), &new_items, &a.ctx);
        for (i, e) in checked.domain_errors {
            domains[i].error = Some(e);
        }
        if checked.errors.get("critical").is_some() {
            for cr in critical.iter_mut() {
                cr.missing = cr.answer.is_empty();
            }
        }
        let instruments = instrument_views(&cat, &child, today, round.as_ref(), a.ctx.lang);
        let page = FormPage {
            free_texts: free_text_views(&q, &form.answers, &checked.errors, a.ctx.lang),
            instruments,
            optional: q.def.optional,
            new_items: new_items.len(),
            title: q.def.title.get(a.ctx.lang).to_string(),
            questionnaire_id: q.def.id.clone(),
            key: form.key,
            kind: form.kind,
            supersedes: form.supersedes,
            observation: form.observation,
            individual: Vec::new(),
            saved_draft: false,
            resumed: false,
            after: None,
            prefilled: false,
            split: 0,
            errors: checked.errors,
            domains,
            critical,
            round,
            progress,
            child,
            ctx: a.ctx,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
    }
    let round_id = round.as_ref().map(|r| r.id);
    store(&state, &a, id, (&cat, &q), &form, &checked, round_id, None)
        .await?
        .ok_or(AppError::BadRequest("submission key in use"))
}

/// Saves a checked submission with its access-log entry: in round `round_id` when the child
/// was read already, or `within` the bounds the saving statement checks. `None` when nothing
/// was stored and the key holds no earlier submission of this child by this author.
#[allow(clippy::too_many_arguments)]
async fn store(
    state: &AppState,
    a: &Auth,
    id: i64,
    (cat, q): (&Catalogue, &Questionnaire),
    form: &Submission,
    checked: &Checked,
    round_id: Option<i64>,
    within: Option<&adb::Within<'_>>,
) -> AppResult<Option<Response>> {
    let now = state.now();
    let draft = adb::Draft {
        key: &form.key,
        child_id: id,
        round_id,
        kind: &form.kind,
        author_id: a.user.id,
        questionnaire_id: &q.def.id,
        questionnaire_version: q.def.version as i32,
        questionnaire_hash: &q.hash,
        scale_id: &cat.scale.def.id,
        answers: serde_json::to_string(&checked.answers).map_err(anyhow::Error::from)?,
        free_text: if checked.free_text.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&checked.free_text).map_err(anyhow::Error::from)?
        },
        observation: form.observation.trim(),
        supersedes_id: form.supersedes,
        background: form.action == "autosave",
    };
    let level_id = cat.scale.level(checked.outcome.level).id.clone();
    let scored = form
        .scored()
        .then_some((&checked.outcome, level_id.as_str()));
    // The suggestion confirmed as the form is submitted (TOPI's common case), only where the
    // level's handleguide keeps the matter within the team; see [`within_team`].
    let mut confirm =
        form.confirms(&level_id) && within_team(&cat.scale, &checked.outcome) && scored.is_some();
    let mut taken = None;
    let (assessment_id, decided) = loop {
        let mut tx = state.db.begin().await?;
        let saved = adb::save(&mut tx, &draft, scored, within, now).await?;
        let Some(aid) = saved else {
            // Already submitted under this key (a repeated click): show what was stored.
            match adb::by_key(&mut tx, &form.key)
                .await?
                .filter(|x| x.child_id == id && x.author_id == a.user.id)
            {
                Some(x) => break (x.id, x.status == "submitted"),
                None => return Ok(None),
            }
        };
        let verb = if form.scored() { "scored" } else { "draft" };
        audit::record(
            &mut tx,
            &a.user,
            Action::Change,
            Some(id),
            &format!("assessment:{aid}"),
            verb,
            now,
        )
        .await?;
        if confirm {
            // The save admitted the child within the user's scope in this transaction.
            let decision = adb::Decision {
                rank: checked.outcome.level as i32,
                level: &level_id,
                justification: "",
                justified: false,
            };
            match record_decision(&mut tx, state, a, aid, "$2 = $2", &decision, now).await? {
                adb::Decide::PositionTaken(position) => {
                    // Another submission made the round's position first: the answers are
                    // kept as a scored assessment, and the page links that position.
                    drop(tx);
                    taken = Some(position);
                    confirm = false;
                    continue;
                }
                adb::Decide::Recorded(_) => {
                    tx.commit().await?;
                    break (aid, true);
                }
                adb::Decide::NotRecorded => {}
            }
        }
        tx.commit().await?;
        break (aid, false);
    };
    if let Some(position) = taken {
        return position_taken(a.ctx.clone(), position).map(Some);
    }
    if form.action == "autosave" {
        return Ok(Some(StatusCode::NO_CONTENT.into_response()));
    }
    if !form.scored() {
        return Ok(Some(
            Redirect::to(&format!("/children/{id}/assess?saved=1")).into_response(),
        ));
    }
    if decided && form.action == "next" {
        return after_decision(state, assessment_id, id, Some("next"))
            .await
            .map(Some);
    }
    Ok(Some(
        Redirect::to(&format!("/assessments/{assessment_id}")).into_response(),
    ))
}

/// Whether the engine's `outcome` may be confirmed as the form is submitted: its level's
/// handleguide involves no one outside the team (no leader, parents, PPR, social worker or
/// duty to notify) and no critical sign was answered yes. Everything else goes through the
/// suggestion page, where the team reads the handleguide (and the § 133 text) before saving.
pub fn within_team(scale: &Scale, outcome: &scoring::Outcome) -> bool {
    use crate::questionnaire::format::Involve;
    let guide = &scale.level(outcome.level).handleguide;
    guide.involve.iter().all(|i| *i == Involve::Team)
        && !guide.notify
        && !outcome
            .reasons
            .iter()
            .any(|r| matches!(r, Reason::Critical { .. }))
}

/// Where a recorded decision leads: with `then=next`, to the form of the next child of the
/// child's group without a position in the round (or back to the group when there is none);
/// otherwise to the assessment.
async fn after_decision(
    state: &AppState,
    assessment: i64,
    child: i64,
    then: Option<&str>,
) -> AppResult<Response> {
    if then == Some("next") {
        let mut c = state.db.conn().await?;
        if let Some((group, round)) =
            adb::group_and_round(&mut c, child, state.now().date_naive()).await?
        {
            let sheet = adb::group_round(&mut c, group, round).await?;
            // The next page says what this position sent ([`after_save::previous`]).
            let to = match adb::next_child(&sheet, child) {
                Some(next) => format!("/children/{next}/assess?after={assessment}"),
                None => format!("/groups/{group}?complete=1&after={assessment}"),
            };
            return Ok(Redirect::to(&to).into_response());
        }
    }
    Ok(Redirect::to(&format!("/assessments/{assessment}")).into_response())
}

// ---- the live suggestion while the form is filled in ----

#[derive(Template)]
#[template(path = "_suggestion.html")]
struct SuggestionFragment {
    ctx: PageCtx,
    /// None until every domain can be scored, unless a critical sign already decides.
    level: Option<LevelView>,
    reasons: Vec<ReasonView>,
    complete: bool,
    /// The level may be confirmed as the form is submitted ([`within_team`]).
    confirmable: bool,
}

/// The engine's suggestion for the answers given so far, as a fragment for the form's status
/// region (`assets/live.js`). Only the questionnaire and the answers come with the request:
/// nothing about a child is read, stored or logged, and the answers go nowhere but the engine.
async fn suggestion(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    if !scope::sees_assessments(&a.user) {
        return Err(AppError::NotFound);
    }
    let cat = catalogue(&state)?;
    let q = cat.by_id(&id).cloned().ok_or(AppError::NotFound)?;
    let answers: AnswerMap = fields
        .into_iter()
        .filter(|(k, v)| k != crate::auth::csrf::FIELD && !v.is_empty())
        .collect();
    let parsed = crate::questionnaire::answers_from_map(&q, &answers)
        .map_err(|_| AppError::BadRequest("answer not in the questionnaire"))?;
    let outcome = scoring::score(&q.model, &parsed);
    let scored = outcome.domains.iter().all(|d| d.score.is_some());
    // Confirmable only once every critical sign has an explicit answer.
    let complete = scored && parsed.critical.iter().all(Option::is_some);
    let confirmable = within_team(&cat.scale, &outcome);
    let critical = outcome
        .reasons
        .iter()
        .any(|r| matches!(r, Reason::Critical { .. }));
    let fragment = SuggestionFragment {
        level: (scored || critical).then(|| LevelView::of(&cat.scale, outcome.level, a.ctx.lang)),
        // What is still unanswered is said once, not per domain.
        reasons: if scored || critical {
            let decisive = outcome
                .reasons
                .into_iter()
                .filter(|r| !matches!(r, Reason::NotEnoughAnswers { .. }))
                .collect();
            describe_reasons(decisive, &cat, Some(&q), &a.ctx)
        } else {
            Vec::new()
        },
        complete,
        confirmable,
        ctx: a.ctx,
    };
    Ok(render(fragment)?.into_response())
}

// ---- suggestion, decision, result ----

pub struct ReasonView {
    pub text: String,
    pub level: LevelView,
}

/// The stored assessment's reasons, in words.
pub fn reason_views(
    a: &Assessment,
    cat: &Catalogue,
    q: Option<&Questionnaire>,
    ctx: &PageCtx,
) -> Vec<ReasonView> {
    let reasons: Vec<Reason> = serde_json::from_str::<Vec<serde_json::Value>>(&a.reasons)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| reason_from_json(&v))
        .collect();
    describe_reasons(reasons, cat, q, ctx)
}

/// The engine's reasons in words, each with the level it points to.
fn describe_reasons(
    reasons: Vec<Reason>,
    cat: &Catalogue,
    q: Option<&Questionnaire>,
    ctx: &PageCtx,
) -> Vec<ReasonView> {
    let domain_label = |id: &str| {
        q.and_then(|q| q.def.domains.iter().find(|d| d.id == id))
            .map(|d| d.label.get(ctx.lang).to_string())
            .unwrap_or(id.to_string())
    };
    let target_label = |t: &str| {
        if let Some(d) = t.strip_prefix("domain:") {
            domain_label(d)
        } else if let Some(id) = t.strip_prefix("composite:") {
            q.and_then(|q| q.def.composites.iter().find(|c| c.id == id))
                .map(|c| c.label.get(ctx.lang).to_string())
                .unwrap_or(id.to_string())
        } else {
            ctx.t("assess.total").to_string()
        }
    };
    scoring::condense(reasons)
        .into_iter()
        .map(|r| match r {
            Reason::Critical { item, level } => {
                let text = q
                    .and_then(|q| q.def.critical.iter().find(|c| c.id == item))
                    .map(|c| c.text.get(ctx.lang).to_string())
                    .unwrap_or(item);
                ReasonView {
                    text: format!("{}: {text}", ctx.t("assess.reason.critical")),
                    level: LevelView::of(&cat.scale, level, ctx.lang),
                }
            }
            Reason::Band {
                target,
                score,
                from,
                level,
                low,
            } => ReasonView {
                text: format!(
                    "{} {} ({} {})",
                    target_label(&target),
                    score_text(Some(score)),
                    ctx.t(if low {
                        "assess.reason.to"
                    } else {
                        "assess.reason.from"
                    }),
                    score_text(Some(from))
                ),
                level: LevelView::of(&cat.scale, level, ctx.lang),
            },
            Reason::AnyDomain {
                domain,
                score,
                from,
                level,
            } => ReasonView {
                text: format!(
                    "{} {} ({} {})",
                    domain_label(&domain),
                    score_text(Some(score)),
                    ctx.t("assess.reason.any_domain"),
                    score_text(Some(from))
                ),
                level: LevelView::of(&cat.scale, level, ctx.lang),
            },
            Reason::NotEnoughAnswers { target } => ReasonView {
                text: format!(
                    "{}: {}",
                    ctx.t("assess.reason.not_enough"),
                    target_label(&target)
                ),
                level: LevelView::of(&cat.scale, 0, ctx.lang),
            },
        })
        .collect()
}

fn reason_from_json(v: &serde_json::Value) -> Option<Reason> {
    let centi = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_f64())
            .map(|f| (f * 100.0).round() as i64)
    };
    let level = v.get("level").and_then(|x| x.as_u64()).map(|l| l as usize);
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    match v.get("kind")?.as_str()? {
        "critical" => Some(Reason::Critical {
            item: s("item")?,
            level: level?,
        }),
        "band" => Some(Reason::Band {
            target: s("target")?,
            score: centi("score")?,
            from: centi("from")?,
            level: level?,
            low: v.get("low").and_then(|x| x.as_bool()).unwrap_or(false),
        }),
        "any_domain" => Some(Reason::AnyDomain {
            domain: s("domain")?,
            score: centi("score")?,
            from: centi("from")?,
            level: level?,
        }),
        "not_enough_answers" => Some(Reason::NotEnoughAnswers {
            target: s("target")?,
        }),
        _ => None,
    }
}

pub struct GuideView {
    pub now: String,
    pub involve: Vec<&'static str>,
    pub review_weeks: Option<u32>,
    pub notify: bool,
    pub description: String,
}

pub(super) fn guide(scale: &Scale, rank: usize, lang: Lang) -> GuideView {
    use crate::questionnaire::format::Involve;
    let l = scale.level(rank);
    GuideView {
        now: l.handleguide.now.get(lang).to_string(),
        involve: l
            .handleguide
            .involve
            .iter()
            .map(|i| match i {
                Involve::Team => tkey("involve.team"),
                Involve::Leader => tkey("involve.leader"),
                Involve::Parents => tkey("involve.parents"),
                Involve::Ppr => tkey("involve.ppr"),
                Involve::SocialWorker => tkey("involve.social_worker"),
                Involve::Municipality => tkey("involve.municipality"),
            })
            .collect(),
        review_weeks: l.handleguide.review_weeks,
        notify: l.handleguide.notify,
        description: l.description.get(lang).to_string(),
    }
}

#[derive(Template)]
#[template(path = "assessment.html")]
struct AssessmentPage {
    ctx: PageCtx,
    alert: Option<i64>,
    /// The free-text items and their answers, in the version's order.
    free_texts: Vec<(String, String)>,
    /// What the team position sent, once saved ([`after_save`]).
    after: Option<AfterSave>,
    a: Assessment,
    child: Child,
    suggested: LevelView,
    decided: Option<LevelView>,
    levels: Vec<LevelView>,
    reasons: Vec<ReasonView>,
    guide: GuideView,
    summary: SummaryView,
    chosen: usize,
    justification: String,
    errors: FieldErrors,
    is_author: bool,
    /// A submitted, current team position at yellow or above takes a follow-up.
    may_follow_up: bool,
    follow_ups: Vec<FollowUpView>,
    follow_up: FollowUpForm,
    follow_up_errors: FieldErrors,
}

pub struct FollowUpView {
    pub kind: &'static str,
    pub body: String,
    pub review_on: String,
    pub author: String,
    pub date: String,
}

pub(super) fn follow_up_views(
    list: Vec<follow_up::FollowUp>,
    tz: chrono_tz::Tz,
) -> Vec<FollowUpView> {
    list.into_iter()
        .map(|f| FollowUpView {
            kind: follow_up::kind_key(&f.kind),
            body: f.body,
            review_on: f.review_on.format("%d-%m-%Y").to_string(),
            author: f.author_name,
            date: crate::web::time::date(tz, f.created_at),
        })
        .collect()
}

fn may_follow_up(a: &Assessment) -> bool {
    a.status == "submitted" && a.is_team() && !a.superseded && a.decided_rank.unwrap_or(0) >= 1
}

pub(super) async fn load_assessment(
    state: &AppState,
    a: &Auth,
    id: i64,
) -> AppResult<(Assessment, Child)> {
    let mut c = state.db.conn().await?;
    let assessment = adb::get(&mut c, id).await?.ok_or(AppError::NotFound)?;
    let child = scope::assessable_child(&mut c, &a.user, assessment.child_id).await?;
    let today = state.now().date_naive();
    let window = scope::record_window(&mut c, &a.user, assessment.child_id, today).await?;
    if !window.admits(assessment.submitted_at.unwrap_or(assessment.created_at)) {
        return Err(AppError::NotFound);
    }
    // Others' drafts are private until submitted.
    if assessment.status != "submitted" && assessment.author_id != a.user.id {
        return Err(AppError::NotFound);
    }
    Ok((assessment, child))
}

#[allow(clippy::too_many_arguments)]
async fn assessment_page_for(
    state: &AppState,
    cat: &Catalogue,
    a: &Auth,
    assessment: Assessment,
    child: Child,
    chosen: Option<usize>,
    justification: String,
    errors: FieldErrors,
) -> AppResult<AssessmentPage> {
    // Shown and explained with the version it was made with.
    let q = versions::questionnaire(
        &mut state.db.conn().await?,
        cat,
        &assessment.questionnaire_id,
        &assessment.questionnaire_hash,
    )
    .await?;
    let suggested_rank = assessment.suggested_rank.unwrap_or(0).max(0) as usize;
    let decided = assessment
        .decided_rank
        .map(|r| LevelView::of(&cat.scale, r.max(0) as usize, a.ctx.lang));
    let shown_rank = decided.as_ref().map_or(suggested_rank, |d| d.rank);
    let given = assessment.free_text_map();
    let free_texts = q
        .iter()
        .flat_map(|q| q.def.free_text.iter())
        .filter_map(|f| {
            given
                .get(&f.id)
                .filter(|t| !t.trim().is_empty())
                .map(|t| (f.text.get(a.ctx.lang).to_string(), t.clone()))
        })
        .collect();
    Ok(AssessmentPage {
        free_texts,
        alert: None,
        after: None,
        suggested: LevelView::of(&cat.scale, suggested_rank, a.ctx.lang),
        levels: (0..cat.scale.def.levels.len())
            .map(|r| LevelView::of(&cat.scale, r, a.ctx.lang))
            .collect(),
        reasons: reason_views(&assessment, cat, q.as_deref(), &a.ctx),
        guide: guide(&cat.scale, shown_rank, a.ctx.lang),
        summary: summary(&assessment, &cat.scale, q.as_deref(), &a.ctx),
        chosen: chosen.unwrap_or(suggested_rank),
        is_author: assessment.author_id == a.user.id,
        may_follow_up: may_follow_up(&assessment),
        follow_ups: Vec::new(),
        follow_up: FollowUpForm {
            kind: follow_up::FOCUS_POINTS.into(),
            body: String::new(),
            // By default, review when the level's handleguide says to.
            review_on: assessment
                .submitted_at
                .map(|at| {
                    let weeks = cat
                        .scale
                        .level(shown_rank)
                        .handleguide
                        .review_weeks
                        .unwrap_or(12);
                    (at + chrono::Duration::weeks(i64::from(weeks)))
                        .date_naive()
                        .to_string()
                })
                .unwrap_or_default(),
        },
        follow_up_errors: FieldErrors::default(),
        decided,
        justification,
        errors,
        a: assessment,
        child,
        ctx: a.ctx.clone(),
    })
}

async fn assessment_page(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let cat = catalogue(&state)?;
    let (assessment, child) = load_assessment(&state, &a, id).await?;
    let (sent, follow_ups) = {
        let mut c = state.db.conn().await?;
        (
            crate::alerts::sent_for(&mut c, id).await?,
            follow_up::for_assessment(&mut c, id).await?,
        )
    };
    let position =
        assessment.status == "submitted" && assessment.is_team() && !assessment.superseded;
    let after = position.then(|| {
        let rank = assessment.decided_rank.unwrap_or(0).max(0) as usize;
        after_save::describe(sent.as_ref(), &cat.scale, rank, &a.ctx)
    });
    audit::record(
        &mut state.db.writer().await?,
        &a.user,
        Action::Read,
        Some(child.id),
        &format!("assessment:{id}"),
        "",
        state.now(),
    )
    .await?;
    let mut p = assessment_page_for(
        &state,
        &cat,
        &a,
        assessment,
        child,
        None,
        String::new(),
        FieldErrors::default(),
    )
    .await?;
    p.alert = sent.map(|s| s.id);
    p.after = after;
    p.follow_ups = follow_up_views(follow_ups, a.ctx.tz);
    Ok(render(p)?.into_response())
}

#[derive(Deserialize)]
pub struct FollowUpForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    review_on: String,
}

/// Records focus points or an action plan for a team position at yellow or above.
async fn record_follow_up(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<FollowUpForm>,
) -> AppResult<Response> {
    let cat = catalogue(&state)?;
    let (assessment, child) = load_assessment(&state, &a, id).await?;
    if !may_follow_up(&assessment) {
        return Err(AppError::NotFound);
    }
    let now = state.now();
    let mut errors = FieldErrors::default();
    if ![follow_up::FOCUS_POINTS, follow_up::ACTION_PLAN].contains(&form.kind.as_str()) {
        errors.add("fu_kind", tkey("err.choose"));
    }
    let body = form.body.trim();
    match body.chars().count() {
        0..10 => errors.add("fu_body", tkey("follow_up.err.body")),
        4001.. => errors.add("fu_body", tkey("err.too_long")),
        _ => {}
    }
    let review_on = parse_date(&form.review_on);
    match review_on {
        None => errors.add("fu_review", tkey("err.date")),
        Some(d) if d < now.date_naive() => errors.add("fu_review", tkey("follow_up.err.past")),
        Some(_) => {}
    }
    let Some(review_on) = review_on.filter(|_| errors.is_empty()) else {
        let follow_ups = {
            let mut c = state.db.conn().await?;
            follow_up::for_assessment(&mut c, id).await?
        };
        let mut page = assessment_page_for(
            &state,
            &cat,
            &a,
            assessment,
            child,
            None,
            String::new(),
            FieldErrors::default(),
        )
        .await?;
        page.follow_ups = follow_up_views(follow_ups, a.ctx.tz);
        page.follow_up = form;
        page.follow_up_errors = errors;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
    };
    let mut tx = state.db.begin().await?;
    let fid = follow_up::insert(
        &mut tx,
        &follow_up::NewFollowUp {
            assessment_id: id,
            child_id: child.id,
            kind: &form.kind,
            body,
            review_on,
            created_by: a.user.id,
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        &a.user,
        Action::Change,
        Some(child.id),
        &format!("follow_up:{fid}"),
        &form.kind,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/assessments/{id}#follow-up")).into_response())
}

/// A level other than the suggestion needs a justification of at least this many
/// characters; no justification may be longer than the maximum.
const JUSTIFICATION_MIN: usize = 10;
const JUSTIFICATION_MAX: usize = 2000;

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    level: String,
    #[serde(default)]
    justification: String,
    /// `next`: on to the group's next child without a position ("Gem og næste barn").
    #[serde(default)]
    then: Option<String>,
}

async fn decide(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<DecideForm>,
) -> AppResult<Response> {
    let cat = catalogue(&state)?;
    let rank = cat.scale.index_of(&form.level);
    let justification = form.justification.trim().to_string();
    let length = justification.chars().count();
    if let Some(rank) = rank.filter(|_| length <= JUSTIFICATION_MAX) {
        // The common case in one statement: the decision is recorded only if the assessment
        // awaits this user's decision within their scope, and a level other than the
        // suggestion comes with a justification. Otherwise nothing is written, and the
        // assessment is read below to answer why.
        let visible = scope::assessable_where(&a.user, "assessments.child_id")?;
        let now = state.now();
        let decision = adb::Decision {
            rank: rank as i32,
            level: &cat.scale.level(rank).id,
            justification: &justification,
            justified: length >= JUSTIFICATION_MIN,
        };
        let mut tx = state.db.begin().await?;
        match record_decision(&mut tx, &state, &a, id, &visible, &decision, now).await? {
            adb::Decide::Recorded(d) => {
                tx.commit().await?;
                return after_decision(&state, id, d.child_id, form.then.as_deref()).await;
            }
            adb::Decide::PositionTaken(position) => {
                drop(tx); // rolls back
                return position_taken(a.ctx, position);
            }
            adb::Decide::NotRecorded => {}
        }
    }
    // The assessment and the scope check in one read; the child is read only to show the
    // form again.
    let assessment = {
        let mut c = state.db.conn().await?;
        scope::assessable_assessment(&mut c, &a.user, id).await?
    };
    if assessment.status == "submitted" {
        // A repeated click: the decision is already stored.
        return Ok(Redirect::to(&format!("/assessments/{id}")).into_response());
    }
    if assessment.author_id != a.user.id || assessment.status != "scored" {
        return Err(AppError::NotFound);
    }
    let mut errors = FieldErrors::default();
    match rank {
        None => errors.add("level", tkey("err.choose")),
        Some(r) if Some(r as i32) != assessment.suggested_rank && length < JUSTIFICATION_MIN => {
            errors.add("justification", tkey("assess.err.justification"))
        }
        Some(_) => {}
    }
    if length > JUSTIFICATION_MAX {
        errors.add("justification", tkey("err.too_long"));
    }
    if errors.is_empty() {
        // Decided meanwhile (a second tab): show what is stored now.
        return Ok(Redirect::to(&format!("/assessments/{id}")).into_response());
    }
    let child = {
        let mut c = state.db.conn().await?;
        scope::assessable_child(&mut c, &a.user, assessment.child_id).await?
    };
    let page = assessment_page_for(
        &state,
        &cat,
        &a,
        assessment,
        child,
        rank,
        form.justification,
        errors,
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response())
}

/// Records the decision on assessment `id` under `condition` ([`adb::decide`]) with its
/// access-log entry and, for a team position, the alert it may raise, in transaction `tx`.
/// On [`adb::Decide::PositionTaken`] the caller must roll `tx` back.
async fn record_decision(
    tx: &mut crate::db::Tx,
    state: &AppState,
    a: &Auth,
    id: i64,
    condition: &str,
    decision: &adb::Decision<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<adb::Decide> {
    let decided = match adb::decide(tx, id, a.user.id, condition, decision, now).await? {
        adb::Decide::Recorded(d) => d,
        other => return Ok(other),
    };
    audit::record(
        tx,
        &a.user,
        Action::Change,
        Some(decided.child_id),
        &format!("assessment:{id}"),
        "submitted",
        now,
    )
    .await?;
    // The team's position may raise an alert: in the same transaction, with its email.
    if decided.kind == TEAM {
        crate::alerts::on_team_position(tx, state, &a.user, &decided, now).await?;
    }
    Ok(adb::Decide::Recorded(decided))
}

#[derive(Template)]
#[template(path = "position_taken.html")]
struct PositionTakenPage {
    ctx: PageCtx,
    /// The assessment that is the child's team position in the round.
    position: i64,
}

/// A second team position for a child and round is refused: this page links the one there is
/// (whose page offers the correction).
pub(super) fn position_taken(ctx: PageCtx, position: i64) -> AppResult<Response> {
    Ok((
        StatusCode::CONFLICT,
        render(PositionTakenPage { ctx, position })?,
    )
        .into_response())
}

/// Starts a correction: a new draft with the old answers that will supersede the old one.
async fn correct(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let cat = catalogue(&state)?;
    let (old, child) = load_assessment(&state, &a, id).await?;
    if old.status != "submitted" {
        return Err(AppError::NotFound);
    }
    let q = cat
        .by_id(&old.questionnaire_id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    // The correction starts from the old answers carried into the current version by item
    // id: an item or option the current version no longer has is left out.
    let made_with = versions::questionnaire(
        &mut state.db.conn().await?,
        &cat,
        &old.questionnaire_id,
        &old.questionnaire_hash,
    )
    .await?
    .unwrap_or_else(|| q.clone());
    let answers = serde_json::to_string(&versions::carry_over(&made_with, &q, &old.answer_map()).0)
        .map_err(anyhow::Error::from)?;
    let free_text: AnswerMap = old
        .free_text_map()
        .into_iter()
        .filter(|(id, _)| q.def.free_text.iter().any(|f| f.id == *id))
        .collect();
    let now = state.now();
    let key = uuid::Uuid::new_v4().to_string();
    let draft = adb::Draft {
        key: &key,
        child_id: child.id,
        round_id: old.round_id,
        kind: &old.kind,
        author_id: a.user.id,
        questionnaire_id: &q.def.id,
        questionnaire_version: q.def.version as i32,
        questionnaire_hash: &q.hash,
        scale_id: &cat.scale.def.id,
        answers,
        free_text: if free_text.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&free_text).map_err(anyhow::Error::from)?
        },
        observation: &old.observation,
        supersedes_id: Some(old.id),
        background: false,
    };
    let mut tx = state.db.begin().await?;
    if let Some(aid) = adb::save(&mut tx, &draft, None, None, now).await? {
        audit::record(
            &mut tx,
            &a.user,
            Action::Create,
            Some(child.id),
            &format!("assessment:{aid}"),
            &format!("corrects:{id}"),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/children/{}/assess", child.id)).into_response())
}

// ---- rounds (admin) ----

#[derive(Deserialize, Default, Clone)]
struct RoundForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    opens_on: String,
    #[serde(default)]
    closes_on: String,
    #[serde(default)]
    kinds: Vec<String>,
    /// Optional instruments used beside the questionnaire for each age.
    #[serde(default)]
    instruments: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/rounds.html")]
struct RoundsPage {
    ctx: PageCtx,
    rounds: Vec<Round>,
    form: RoundForm,
    errors: FieldErrors,
    kinds: Vec<(&'static str, &'static str)>,
    /// The optional instruments a round may use: id, title, informant label key, ages.
    instruments: Vec<InstrumentView>,
}

pub struct InstrumentView {
    pub id: String,
    pub title: String,
    pub informant: &'static str,
    pub ages: String,
}

impl InstrumentView {
    pub fn of(q: &Questionnaire, lang: Lang) -> InstrumentView {
        InstrumentView {
            id: q.def.id.clone(),
            title: q.def.title.get(lang).to_string(),
            informant: q.def.informant.label_key(),
            ages: format!("{}–{}", q.def.age_from, q.def.age_to),
        }
    }
}

/// The questionnaires `child` is assessed with in `round` (the one for its age first).
fn instrument_views(
    cat: &Catalogue,
    child: &Child,
    day: NaiveDate,
    round: Option<&Round>,
    lang: Lang,
) -> Vec<InstrumentView> {
    cat.instruments(
        crate::org::age_on(child.birth_date, day),
        &round.map(Round::instruments).unwrap_or_default(),
    )
    .iter()
    .map(|i| InstrumentView::of(i, lang))
    .collect()
}

impl RoundsPage {
    fn kind_checked(&self, code: &str) -> bool {
        self.form.kinds.iter().any(|k| k == code)
    }

    fn instrument_checked(&self, id: &str) -> bool {
        self.form.instruments.iter().any(|k| k == id)
    }

    /// A round's optional instruments by title.
    fn instrument_titles(&self, r: &Round) -> String {
        r.instruments()
            .iter()
            .map(|id| {
                self.instruments
                    .iter()
                    .find(|i| i.id == *id)
                    .map_or(id.to_string(), |i| i.title.clone())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

async fn rounds_page(State(state): State<AppState>, a: Auth) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let cat = catalogue(&state)?;
    let mut c = state.db.conn().await?;
    let page = RoundsPage {
        rounds: adb::rounds(&mut c).await?,
        form: RoundForm::default(),
        errors: FieldErrors::default(),
        kinds: InstitutionKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label_key()))
            .collect(),
        instruments: cat
            .optional()
            .map(|q| InstrumentView::of(q, a.ctx.lang))
            .collect(),
        ctx: a.ctx,
    };
    Ok(render(page)?.into_response())
}

async fn create_round(
    State(state): State<AppState>,
    a: Auth,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let cat = catalogue(&state)?;
    let mut form = RoundForm::default();
    for (k, v) in fields {
        match k.as_str() {
            "name" => form.name = v,
            "opens_on" => form.opens_on = v,
            "closes_on" => form.closes_on = v,
            "kinds" if InstitutionKind::parse(&v).is_some() => form.kinds.push(v),
            "instruments" if cat.optional().any(|q| q.def.id == v) => form.instruments.push(v),
            _ => {}
        }
    }
    let mut errors = FieldErrors::default();
    if form.name.trim().is_empty() {
        errors.add("name", tkey("err.required"));
    }
    let opens = parse_date(&form.opens_on);
    let closes = parse_date(&form.closes_on);
    if opens.is_none() {
        errors.add("opens_on", tkey("err.date"));
    }
    match (opens, closes) {
        (_, None) => errors.add("closes_on", tkey("err.date")),
        (Some(o), Some(c)) if c < o => errors.add("closes_on", tkey("round.err.order")),
        _ => {}
    }
    if let (true, Some(o), Some(c)) = (errors.is_empty(), opens, closes) {
        let mut w = state.db.writer().await?;
        adb::insert_round(
            &mut w,
            &form.name,
            o,
            c,
            &form.kinds.join(","),
            &form.instruments.join(","),
            state.now(),
        )
        .await?;
        return Ok(Redirect::to("/admin/rounds").into_response());
    }
    let mut c = state.db.conn().await?;
    let page = RoundsPage {
        rounds: adb::rounds(&mut c).await?,
        form,
        errors,
        kinds: InstitutionKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label_key()))
            .collect(),
        instruments: cat
            .optional()
            .map(|q| InstrumentView::of(q, a.ctx.lang))
            .collect(),
        ctx: a.ctx,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response())
}

/// The child's history as the child page shows it (team positions and individual views).
pub async fn child_history(
    c: &mut impl crate::db::Conn,
    state: &AppState,
    child_id: i64,
    window: &scope::RecordWindow,
    ctx: &PageCtx,
) -> AppResult<Vec<SummaryView>> {
    let cat = catalogue(state)?;
    let rows = adb::history(c, child_id).await?;
    let mut out = Vec::new();
    for a in rows
        .iter()
        .filter(|a| window.admits(a.submitted_at.unwrap_or(a.created_at)))
    {
        let q =
            versions::questionnaire(c, &cat, &a.questionnaire_id, &a.questionnaire_hash).await?;
        out.push(summary(a, &cat.scale, q.as_deref(), ctx));
    }
    Ok(out)
}

/// A small server-rendered chart of a child's team positions over time; the page shows the
/// same data as a table beside it, and every point carries the level's name, not only colour.
/// The y-axis names the levels; the x-axis dates each position (one date per point, 90 px
/// apart, so the labels never overlap).
pub struct Chart {
    pub width: u32,
    pub height: u32,
    pub line: String,
    pub points: Vec<ChartPoint>,
    pub rows: Vec<(u32, String)>,
    /// Where the x-axis runs (its y).
    pub axis: u32,
}

pub struct ChartPoint {
    pub x: u32,
    pub y: u32,
    pub colour: String,
    pub label: String,
    pub date: String,
}

pub fn chart(history: &[SummaryView], state: &AppState, lang: Lang) -> AppResult<Option<Chart>> {
    let cat = catalogue(state)?;
    let levels = cat.scale.def.levels.len() as u32;
    let shown: Vec<&SummaryView> = history.iter().filter(|s| s.team && !s.superseded).collect();
    if shown.is_empty() {
        return Ok(None);
    }
    let y = |rank: usize| 20 + (levels - 1 - rank as u32) * 36;
    let points: Vec<ChartPoint> = shown
        .iter()
        .enumerate()
        .map(|(i, s)| ChartPoint {
            x: 180 + i as u32 * 90,
            y: y(s.level.rank),
            colour: s.level.colour.clone(),
            label: format!("{}: {}", s.date, s.level.name),
            date: s.date.clone(),
        })
        .collect();
    let axis = 40 + (levels - 1) * 36;
    Ok(Some(Chart {
        width: 230 + (shown.len() as u32).saturating_sub(1) * 90,
        height: axis + 28,
        axis,
        line: points
            .iter()
            .map(|p| format!("{},{}", p.x, p.y))
            .collect::<Vec<_>>()
            .join(" "),
        rows: (0..levels as usize)
            .map(|r| (y(r), LevelView::of(&cat.scale, r, lang).name))
            .collect(),
        points,
    }))
}
