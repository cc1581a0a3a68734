//! CSV import of children, their groups and guardians. Every row is checked first; a dry run
//! only reports, and a real import writes all rows in one transaction or none at all.
//!
//! A file can also be the **full roster** of the institutions it names (the admin says so):
//! a child already in Trivsel (by `external_id`) is then recognised rather than refused, and a
//! child enrolled in one of those institutions who is not in the file has left — recorded as
//! leaving the municipality's institutions on the day of the import, which starts the
//! retention clocks (`crate::retention`). A recognised child whom the file places in another
//! group (the August roster moves a class up a year, or a child from daycare to school) is
//! moved there from the row's `from_date`, as the admin's move on the child's page does it:
//! the child's open alerts follow the new district, and without the parents' handover
//! consent the leaving institution's leaders get the task of talking with them
//! (`crate::assessment::handover::on_move`).
//!
//! Format (documented in `docs/import.md`): a header row naming the columns, comma or
//! semicolon separated (Danish spreadsheets save with semicolons), UTF-8.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;

use super::db::{self as org, ChildInput, GuardianInput};
use super::{
    InstitutionKind, name_key, parse_date, parse_gender, school_year_of, valid_school_year,
};
use crate::audit::{self, Action};
use crate::auth::{Auth, scope};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{PageCtx, render, tkey};

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/import", get(import_page).post(import))
}

pub const REQUIRED: [&str; 5] = [
    "first_name",
    "last_name",
    "birth_date",
    "institution",
    "group",
];
pub const OPTIONAL: [&str; 11] = [
    "gender",
    "external_id",
    "protected_address",
    "school_year",
    "from_date",
    "guardian1_name",
    "guardian1_phone",
    "guardian1_email",
    "guardian2_name",
    "guardian2_phone",
    "guardian2_email",
];

/// One problem in the file: the line (1 = header), the column, and a catalogue key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub column: String,
    pub message: &'static str,
}

/// A row that passed every check, ready to write.
#[derive(Debug, Clone)]
pub struct ValidRow {
    pub child: ChildInput,
    pub institution_id: i64,
    pub institution_kind: InstitutionKind,
    pub group: String,
    pub school_year: String,
    pub from: NaiveDate,
    pub guardians: Vec<GuardianInput>,
    /// In a full roster: the child already in Trivsel with this `external_id` (its details
    /// are not written).
    pub existing: Option<i64>,
    /// A recognised child the file places in another group than its current one: it moves.
    pub moves: bool,
}

#[derive(Debug, Default)]
pub struct Checked {
    pub rows: Vec<ValidRow>,
    pub errors: Vec<RowError>,
    /// In a full roster: children enrolled in the file's institutions who are not in it.
    pub leaving: Vec<i64>,
}

/// Parses and checks the whole file against the database; writes nothing. With `roster`, the
/// file is the full list of the institutions it names (see the module's documentation).
pub async fn check(
    c: &mut impl Conn,
    data: &[u8],
    today: NaiveDate,
    roster: bool,
) -> anyhow::Result<Checked> {
    let mut out = Checked::default();
    let err = |line: usize, column: &str, message: &'static str| RowError {
        line,
        column: column.to_string(),
        message,
    };
    let Ok(text) = std::str::from_utf8(data) else {
        out.errors.push(err(1, "", tkey("import.err.utf8")));
        return Ok(out);
    };
    let text = text.trim_start_matches('\u{feff}');
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.contains(';') && !first_line.contains(',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.to_lowercase()).collect(),
        Err(_) => {
            out.errors.push(err(1, "", tkey("import.err.header")));
            return Ok(out);
        }
    };
    for h in &headers {
        if !REQUIRED.contains(&h.as_str()) && !OPTIONAL.contains(&h.as_str()) {
            out.errors
                .push(err(1, h, tkey("import.err.unknown_column")));
        }
    }
    for r in REQUIRED {
        if !headers.iter().any(|h| h == r) {
            out.errors
                .push(err(1, r, tkey("import.err.missing_column")));
        }
    }
    if !out.errors.is_empty() {
        return Ok(out);
    }
    let col: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();

    let institutions: HashMap<String, (i64, InstitutionKind)> = org::institutions(c)
        .await?
        .into_iter()
        .filter_map(|i| Some((name_key(&i.name), (i.id, InstitutionKind::parse(&i.kind)?))))
        .collect();
    let mut seen_external = HashSet::new();

    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = match record {
            Ok(r) => r,
            Err(_) => {
                out.errors.push(err(line, "", tkey("import.err.malformed")));
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != headers.len() {
            out.errors
                .push(err(line, "", tkey("import.err.field_count")));
            continue;
        }
        let get = |name: &str| {
            col.get(name)
                .map(|&i| record.get(i).unwrap_or(""))
                .unwrap_or("")
        };
        let before = out.errors.len();
        for r in ["first_name", "last_name", "institution", "group"] {
            if get(r).is_empty() {
                out.errors.push(err(line, r, tkey("err.required")));
            }
        }
        for r in ["first_name", "last_name", "group"] {
            if get(r).chars().count() > 100 {
                out.errors.push(err(line, r, tkey("err.too_long")));
            }
        }
        let birth = parse_date(get("birth_date"));
        match birth {
            None => out.errors.push(err(line, "birth_date", tkey("err.date"))),
            Some(b) if b > today || super::age_on(b, today) > 25 => {
                out.errors
                    .push(err(line, "birth_date", tkey("err.birth_date_range")))
            }
            Some(_) => {}
        }
        let gender = parse_gender(get("gender"));
        if gender.is_none() {
            out.errors
                .push(err(line, "gender", tkey("import.err.gender")));
        }
        let protected = match get("protected_address").to_lowercase().as_str() {
            "" | "nej" | "no" | "0" | "false" => Some(false),
            "ja" | "yes" | "1" | "true" | "x" => Some(true),
            _ => None,
        };
        if protected.is_none() {
            out.errors
                .push(err(line, "protected_address", tkey("import.err.yes_no")));
        }
        let external_id = Some(get("external_id").to_string()).filter(|s| !s.is_empty());
        let mut existing = None;
        if let Some(ext) = &external_id {
            if !seen_external.insert(ext.clone()) {
                out.errors.push(err(
                    line,
                    "external_id",
                    tkey("import.err.duplicate_in_file"),
                ));
            } else if roster {
                existing = child_by_external_id(c, ext).await?;
            } else if org::external_id_taken(c, ext, None).await? {
                out.errors
                    .push(err(line, "external_id", tkey("err.external_id_taken")));
            }
        } else if roster {
            // A child is recognised in a roster by its id in the admin system.
            out.errors
                .push(err(line, "external_id", tkey("import.err.roster_id")));
        }
        let institution = institutions.get(&name_key(get("institution"))).copied();
        if institution.is_none() && !get("institution").is_empty() {
            out.errors.push(err(
                line,
                "institution",
                tkey("import.err.unknown_institution"),
            ));
        }
        let school_year = match get("school_year") {
            "" => school_year_of(today),
            s => s.to_string(),
        };
        if !valid_school_year(&school_year) {
            out.errors
                .push(err(line, "school_year", tkey("err.school_year")));
        }
        let from = match get("from_date") {
            "" => Some(today),
            s => parse_date(s),
        };
        if from.is_none() {
            out.errors.push(err(line, "from_date", tkey("err.date")));
        }
        let mut guardians = Vec::new();
        for n in ["guardian1", "guardian2"] {
            let name = get(&format!("{n}_name"));
            let phone = get(&format!("{n}_phone"));
            let email = get(&format!("{n}_email"));
            if name.is_empty() {
                if !phone.is_empty() || !email.is_empty() {
                    out.errors
                        .push(err(line, &format!("{n}_name"), tkey("err.required")));
                }
                continue;
            }
            if !email.is_empty() && !validator::ValidateEmail::validate_email(&email) {
                out.errors
                    .push(err(line, &format!("{n}_email"), tkey("err.email")));
            }
            guardians.push(GuardianInput {
                name: name.to_string(),
                relation: String::new(),
                phone: phone.to_string(),
                email: email.to_string(),
                address: String::new(),
                has_custody: true,
            });
        }
        // A recognised child placed in another group moves there, after its current start.
        let mut moves = false;
        if let (Some(child), Some((institution_id, _)), Some(from)) = (existing, institution, from)
        {
            let current: Option<(NaiveDate, i64, String, String)> = crate::dispatch!(c, c => sqlx::query_as(
                "SELECT e.from_date, g.institution_id, g.name, g.school_year FROM enrolments e \
                 JOIN groups g ON g.id = e.group_id WHERE e.child_id = $1 AND e.to_date IS NULL",
            )
            .bind(child)
            .fetch_optional(&mut *c)
            .await)?;
            moves = current.as_ref().is_none_or(|(_, inst, group, year)| {
                *inst != institution_id
                    || name_key(group) != name_key(get("group"))
                    || *year != school_year
            });
            if moves && current.is_some_and(|(start, ..)| from <= start) {
                out.errors
                    .push(err(line, "from_date", tkey("err.enrol_date")));
            }
        }
        if out.errors.len() > before {
            continue;
        }
        let (
            Some(birth_date),
            Some(gender),
            Some(protected),
            Some((institution_id, kind)),
            Some(from),
        ) = (birth, gender, protected, institution, from)
        else {
            continue;
        };
        out.rows.push(ValidRow {
            child: ChildInput {
                first_name: get("first_name").to_string(),
                last_name: get("last_name").to_string(),
                birth_date,
                gender,
                external_id,
                protected_address: protected,
            },
            institution_id,
            institution_kind: kind,
            group: get("group").to_string(),
            school_year,
            from,
            guardians,
            existing,
            moves,
        });
    }
    if out.rows.is_empty() && out.errors.is_empty() {
        out.errors.push(err(1, "", tkey("import.err.empty")));
    }
    if roster && out.errors.is_empty() {
        let institutions: Vec<i64> = out
            .rows
            .iter()
            .map(|r| r.institution_id)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let present: HashSet<i64> = out.rows.iter().filter_map(|r| r.existing).collect();
        out.leaving = enrolled_in(c, &institutions)
            .await?
            .into_iter()
            .filter(|id| !present.contains(id))
            .collect();
    }
    Ok(out)
}

async fn child_by_external_id(c: &mut impl Conn, ext: &str) -> anyhow::Result<Option<i64>> {
    Ok(crate::dispatch!(c, c => sqlx::query_scalar(
        "SELECT id FROM children WHERE external_id = $1",
    )
    .bind(ext)
    .fetch_optional(&mut *c)
    .await)?)
}

/// The children with an `external_id` currently enrolled in one of `institutions`.
async fn enrolled_in(c: &mut impl Conn, institutions: &[i64]) -> anyhow::Result<Vec<i64>> {
    if institutions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT c.id FROM groups g JOIN enrolments e ON e.group_id = g.id AND e.to_date IS NULL \
         JOIN children c ON c.id = e.child_id \
         WHERE g.institution_id IN ({}) AND c.external_id IS NOT NULL ORDER BY c.id",
        crate::db::placeholders(1, institutions.len())
    );
    Ok(crate::dispatch!(c, c => {
        let mut q = sqlx::query_scalar(&sql);
        for id in institutions {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *c).await
    })?)
}

/// Counts of what an import wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct Imported {
    pub children: usize,
    pub groups: usize,
    pub guardians: usize,
    /// In a full roster: children recognised (moved or not), those of them moved to another
    /// group, and children recorded as having left.
    pub known: usize,
    pub moved: usize,
    pub left: usize,
}

/// Writes checked rows (and, for a full roster, moves the recognised children it places
/// elsewhere and records who left); the caller owns the transaction, so all or nothing is
/// written.
pub async fn write(
    c: &mut impl Conn,
    state: &AppState,
    user: &crate::auth::CurrentUser,
    checked: &Checked,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Imported> {
    let mut done = Imported::default();
    let today = now.date_naive();
    for &id in &checked.leaving {
        if org::mark_left(c, id, today).await? {
            audit::record(c, user, Action::Change, Some(id), "left", "import", now).await?;
            done.left += 1;
        }
    }
    let mut groups: HashMap<(i64, String, String), i64> = HashMap::new();
    for row in &checked.rows {
        if row.existing.is_some() {
            done.known += 1;
            if !row.moves {
                continue;
            }
        }
        let key = (
            row.institution_id,
            name_key(&row.group),
            row.school_year.clone(),
        );
        let group_id = match groups.get(&key) {
            Some(id) => *id,
            None => {
                let id =
                    match org::group_by_name(c, row.institution_id, &row.group, &row.school_year)
                        .await?
                    {
                        Some(id) => id,
                        None => {
                            done.groups += 1;
                            org::save_group(
                                c,
                                None,
                                row.institution_id,
                                &row.group,
                                row.institution_kind.group_kind(),
                                &row.school_year,
                                now,
                            )
                            .await?
                            .ok_or_else(|| anyhow::anyhow!("group name taken during import"))?
                        }
                    };
                groups.insert(key, id);
                id
            }
        };
        if let Some(child_id) = row.existing {
            anyhow::ensure!(
                org::enrol(c, child_id, group_id, row.from).await?,
                "the move's date was checked in the same transaction"
            );
            crate::alerts::reroute_child(c, state, user, child_id, now).await?;
            crate::assessment::handover::on_move(c, state, child_id, row.from, now).await?;
            let detail = format!("group:{group_id}");
            audit::record(
                c,
                user,
                Action::Change,
                Some(child_id),
                "enrolment",
                &detail,
                now,
            )
            .await?;
            done.moved += 1;
            continue;
        }
        let child_id = org::insert_child(c, &row.child, now).await?;
        org::enrol(c, child_id, group_id, row.from).await?;
        for g in &row.guardians {
            org::insert_guardian(c, child_id, g, now).await?;
            done.guardians += 1;
        }
        audit::record(
            c,
            user,
            Action::Create,
            Some(child_id),
            "child",
            "import",
            now,
        )
        .await?;
        done.children += 1;
    }
    Ok(done)
}

#[derive(Template)]
#[template(path = "admin/import.html")]
struct ImportPage {
    ctx: PageCtx,
    dry_run: bool,
    roster: bool,
    /// In a full roster's dry run: children recognised, and children who would be recorded
    /// as having left.
    known: usize,
    moving: usize,
    leaving: usize,
    checked_rows: Option<usize>,
    errors: Vec<RowError>,
    imported: Option<Imported>,
    required: &'static [&'static str],
    optional: &'static [&'static str],
}

impl ImportPage {
    fn new(ctx: PageCtx) -> Self {
        ImportPage {
            ctx,
            dry_run: true,
            roster: false,
            known: 0,
            moving: 0,
            leaving: 0,
            checked_rows: None,
            errors: Vec::new(),
            imported: None,
            required: &REQUIRED,
            optional: &OPTIONAL,
        }
    }
}

async fn import_page(a: Auth) -> AppResult<Response> {
    scope::admin(&a.user)?;
    Ok(render(ImportPage::new(a.ctx))?.into_response())
}

async fn import(
    State(state): State<AppState>,
    a: Auth,
    mut form: Multipart,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut data = Vec::new();
    let mut dry_run = false;
    let mut roster = false;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| AppError::BadRequest("malformed upload"))?
    {
        match field.name() {
            Some("file") => {
                data = field
                    .bytes()
                    .await
                    .map_err(|_| AppError::BadRequest("malformed upload"))?
                    .to_vec()
            }
            Some("roster") => roster = true,
            Some("mode") => {
                dry_run = field
                    .text()
                    .await
                    .map_err(|_| AppError::BadRequest("malformed upload"))?
                    != "import"
            }
            _ => {}
        }
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let checked = check(&mut tx, &data, now.date_naive(), roster).await?;
    let mut page = ImportPage::new(a.ctx.clone());
    page.dry_run = dry_run;
    page.roster = roster;
    page.checked_rows = Some(checked.rows.len());
    page.known = checked.rows.iter().filter(|r| r.existing.is_some()).count();
    page.moving = checked.rows.iter().filter(|r| r.moves).count();
    page.leaving = checked.leaving.len();
    if !checked.errors.is_empty() {
        page.errors = checked.errors;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
    }
    if !dry_run {
        let done = write(&mut tx, &state, &a.user, &checked, now).await?;
        tx.commit().await?;
        tracing::info!(
            user_id = a.user.id,
            children = done.children,
            left = done.left,
            "CSV import"
        );
        // A large import changes the tables' sizes: the planner's statistics follow.
        if done.children >= 1000 {
            state.db.refresh_statistics(true).await?;
        }
        page.imported = Some(done);
    }
    Ok(render(page)?.into_response())
}
