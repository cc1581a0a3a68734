//! Plan guards: the queries behind the pages people use all day must not read a large table
//! from end to end, whatever the statistics say. On SQLite the plan is asked for on a fresh
//! database without statistics (the case that once sent the group page through every
//! assessment of the municipality); on PostgreSQL with sequential scans priced out
//! (`enable_seqscan = off`), so a sequential scan in the plan means no index can serve the
//! query. Timing would not catch this on a fast machine; the plan does.

use chrono::{DateTime, NaiveDate, Utc};
use trivsel::db::Db;

use crate::helpers::*;

/// A bound value of the right type for each engine.
#[derive(Clone)]
enum P {
    I(i64),
    T(DateTime<Utc>),
    D(NaiveDate),
    S(&'static str),
}

/// The tables that grow with the municipality (children, their assessments and alerts).
const LARGE: &[&str] = &[
    "assessments",
    "alerts",
    "children",
    "enrolments",
    "round_positions",
    "consent_events",
    "access_log",
    "guardians",
    "measures",
    "alert_messages",
];

/// Partial indexes: reading one from end to end reads only the rows it was made for.
const PARTIAL: &[&str] = &["children_unenrolled"];

async fn plan(app: &TestApp, sql: &str, params: &[P]) -> Vec<String> {
    macro_rules! bind_all {
        ($q:expr) => {{
            let mut q = $q;
            for p in params {
                q = match p.clone() {
                    P::I(v) => q.bind(v),
                    P::T(v) => q.bind(v),
                    P::D(v) => q.bind(v),
                    P::S(v) => q.bind(v),
                };
            }
            q
        }};
    }
    match &app.db {
        Db::Sqlite { read, .. } => {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let rows: Vec<(i64, i64, i64, String)> = bind_all!(sqlx::query_as(&explain))
                .fetch_all(read)
                .await
                .unwrap();
            rows.into_iter().map(|r| r.3).collect()
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await
                .unwrap();
            let explain = format!("EXPLAIN {sql}");
            let rows: Vec<String> = bind_all!(sqlx::query_scalar(&explain))
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            rows
        }
    }
}

/// The large tables the plan of `sql` reads from end to end, and the plan.
async fn full_scans(app: &TestApp, sql: &str, params: &[P]) -> (Vec<String>, String) {
    let lines = plan(app, sql, params).await;
    let mut scanned = Vec::new();
    for line in &lines {
        let target = match app.db {
            // SQLite names the alias; small tables (rounds, districts) may be scanned.
            Db::Sqlite { .. } => line
                .trim_start_matches(['|', '-', '`', ' '])
                .strip_prefix("SCAN "),
            Db::Postgres(_) => {
                let l = line.trim();
                l.strip_prefix("->")
                    .unwrap_or(l)
                    .trim()
                    .strip_prefix("Seq Scan on ")
            }
        };
        if let Some(rest) = target
            && !PARTIAL
                .iter()
                .any(|i| rest.ends_with(&format!("INDEX {i}")))
        {
            let table = alias_table(sql, rest.split_whitespace().next().unwrap_or(""));
            if LARGE.contains(&table.as_str()) {
                scanned.push(table);
            }
        }
    }
    (scanned, lines.join("\n"))
}

/// The table an alias (or name) stands for in `sql` (`FROM assessments a` → `assessments`).
fn alias_table(sql: &str, alias: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().collect();
    for w in words.windows(2) {
        if w[1].trim_end_matches(',') == alias && LARGE.contains(&w[0]) {
            return w[0].to_string();
        }
    }
    alias.to_string()
}

#[tokio::test]
async fn the_pages_queries_do_not_read_large_tables_end_to_end() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    use trivsel::assessment::db as adb;
    let now = Utc::now();
    let cases: Vec<(&str, String, Vec<P>)> = vec![
        (
            "latest positions of a group",
            adb::LATEST_POSITIONS.into(),
            vec![P::I(1)],
        ),
        (
            "round states of a group",
            adb::ROUND_STATES.into(),
            vec![P::I(1), P::I(1)],
        ),
        (
            "open alerts in a group",
            adb::OPEN_ALERTS_IN_GROUP.into(),
            vec![P::I(1)],
        ),
        (
            "a group's round sheet",
            adb::GROUP_ROUND.into(),
            vec![P::I(1), P::I(1)],
        ),
        (
            "round progress of three groups",
            adb::round_progress_sql(3),
            vec![P::I(1), P::I(1), P::I(2), P::I(3)],
        ),
        (
            "the social worker's inbox",
            trivsel::alerts::routes::inbox_sql(trivsel::alerts::routes::InboxFilter::Open),
            vec![P::I(1), P::T(now), P::I(50), P::I(0)],
        ),
        (
            "the social worker's closed alerts",
            trivsel::alerts::routes::inbox_sql(trivsel::alerts::routes::InboxFilter::Closed),
            vec![P::I(1), P::T(now), P::I(50), P::I(0)],
        ),
        (
            "the social worker's own cases",
            trivsel::alerts::routes::inbox_sql(trivsel::alerts::routes::InboxFilter::Mine),
            vec![P::I(1), P::T(now), P::I(50), P::I(0)],
        ),
        (
            "a worker's reviews due",
            trivsel::alerts::measures::DUE_FOR_WORKER.into(),
            vec![
                P::I(1),
                P::D(chrono::NaiveDate::from_ymd_opt(2026, 12, 12).unwrap()),
            ],
        ),
        (
            "an educator's alerts",
            trivsel::alerts::routes::team_alerts_sql(trivsel::auth::Role::Educator),
            vec![P::I(1), P::I(51), P::I(0)],
        ),
        (
            "a leader's alerts",
            trivsel::alerts::routes::team_alerts_sql(trivsel::auth::Role::Leader),
            vec![P::I(1), P::I(51), P::I(0)],
        ),
        (
            "the admin's child search",
            trivsel::org::db::child_search_sql(),
            vec![
                P::S("ander"),
                P::S("ander\u{10ffff}"),
                P::S("ander"),
                P::I(50),
                P::I(0),
            ],
        ),
        (
            "who has seen a child, an older page",
            trivsel::audit::entries_sql(
                app.db.backend(),
                &trivsel::audit::LogFilter {
                    child: Some(1),
                    ..Default::default()
                },
                true,
            ),
            vec![P::I(51), P::I(1), P::T(now), P::I(1000)],
        ),
        (
            // (The first page walks the time index from its end, stopped by the limit.)
            "the access log, an older page",
            trivsel::audit::entries_sql(app.db.backend(), &Default::default(), true),
            vec![P::I(51), P::T(now), P::I(1000)],
        ),
        (
            "a day of the log",
            trivsel::audit::entries_sql(
                app.db.backend(),
                &trivsel::audit::LogFilter {
                    since: Some(now),
                    until: Some(now),
                    ..Default::default()
                },
                false,
            ),
            vec![P::I(51), P::T(now), P::T(now)],
        ),
        (
            "the log's exports (a rare action)",
            trivsel::audit::entries_sql(
                app.db.backend(),
                &trivsel::audit::LogFilter {
                    action: Some(trivsel::audit::Action::Export),
                    ..Default::default()
                },
                true,
            ),
            vec![P::I(51), P::T(now), P::I(1000)],
        ),
        (
            "one user's accesses",
            trivsel::audit::entries_sql(
                app.db.backend(),
                &trivsel::audit::LogFilter {
                    user: Some(1),
                    ..Default::default()
                },
                false,
            ),
            vec![P::I(51), P::I(1)],
        ),
        (
            "children without a current enrolment",
            trivsel::org::db::unenrolled_sql(),
            vec![P::I(50), P::I(0)],
        ),
    ];
    for (name, sql, params) in cases {
        let (scanned, plan) = full_scans(&app, &sql, &params).await;
        assert!(
            scanned.is_empty(),
            "{name}: the plan reads {scanned:?} from end to end:\n{plan}"
        );
    }
    // The guard can fail: a query that must read every assessment is caught.
    let (scanned, plan) = full_scans(
        &app,
        "SELECT COUNT(*) FROM assessments a WHERE a.observation LIKE $1",
        &[P::S("%x%")],
    )
    .await;
    assert_eq!(scanned, ["assessments"], "{plan}");
}
