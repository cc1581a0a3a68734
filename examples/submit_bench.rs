//! Issue 3's speed check: assessments submitted end to end over HTTP (session, CSRF,
//! validation, scoring, the assessment write and the access-log writes) against the raw
//! database limit for the same writes done directly with sqlx, in the same run, at 16
//! concurrent clients. Loopback only; bounded in time. The team decides green, so no alert
//! (with its extra writes) is raised and both sides write the same rows.
//!
//! cargo run --release --example submit_bench -- --database-url sqlite:///tmp/b.db --seconds 10
//! cargo run --release --example submit_bench -- --database-url postgres://postgres@127.0.0.1/bench --seconds 10

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use trivsel::app::{self, AppState};
use trivsel::assessment::db as adb;
use trivsel::audit::{self, Action};
use trivsel::auth::{CurrentUser, Role};
use trivsel::config::Config;
use trivsel::db::Db;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn answers() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for d in [
        "development",
        "social",
        "participation",
        "security",
        "self_esteem",
        "health",
    ] {
        for i in 1..=3 {
            v.push((format!("{d}_{i}"), ((i + d.len()) % 3).to_string()));
        }
    }
    for c in ["violence", "sexual_abuse", "neglect"] {
        v.push((c.into(), "no".into()));
    }
    v
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    trivsel::telemetry::init(trivsel::config::LogFormat::Text);
    let url = arg("--database-url", "sqlite:///tmp/trivsel-submit-bench.db");
    let seconds: u64 = arg("--seconds", "10").parse()?;
    let clients: usize = arg("--clients", "16").parse()?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("questionnaires");
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        max_connections: 16,
        ..Config::default()
    };
    let db = Db::connect(&url, config.max_connections).await?;
    db.migrate().await?;
    let catalogue = trivsel::questionnaire::Catalogue::load(&dir, &config.scale)
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    trivsel::assessment::register_versions(&db, &catalogue, chrono::Utc::now()).await?;
    let mut c = db.conn().await?;
    let empty = trivsel::auth::users::count(&mut c).await? == 0;
    drop(c);
    if empty {
        trivsel::demo::seed(&db, chrono::Utc::now()).await?;
    }
    // The demo educator, given every group of the municipality for the bench, so that the
    // submissions spread over about 2,000 children as a real round's do (a handful of
    // positions per child, not thousands on the same few).
    let mut c = db.writer().await?;
    let educator = trivsel::auth::users::credentials(&mut c, "paedagog@demo.trivsel.dk")
        .await?
        .expect("demo educator")
        .0;
    trivsel::dispatch!(&mut c, c => sqlx::query(
        "INSERT INTO user_groups (user_id, group_id) SELECT $1, g.id FROM groups g \
         WHERE NOT EXISTS (SELECT 1 FROM user_groups ug WHERE ug.user_id = $1 AND ug.group_id = g.id)",
    )
    .bind(educator)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    drop(c);
    let mut c = db.conn().await?;
    let mut children = Vec::new();
    for g in trivsel::org::db::groups_of_user(&mut c, educator).await? {
        for ch in trivsel::org::db::children_in_group(&mut c, g.id).await? {
            children.push(ch.id);
        }
    }
    drop(c);
    // Mixed across groups (the same order in both phases), as a round's work arrives.
    {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        children.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    }
    let q = catalogue.for_age(4).expect("3–5 questionnaire").clone();
    let state = AppState::new(db.clone(), config.clone(), String::new()).with_catalogue(catalogue);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(app::serve(state, listener, std::future::pending()));

    // Phase 1: the raw limit — the same writes, straight to the database.
    let user = CurrentUser {
        id: educator,
        name: String::new(),
        email: String::new(),
        role: Role::Educator,
        lang: Default::default(),
    };
    let answers_json = serde_json::to_string(
        &answers()
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    )?;
    let parsed = trivsel::questionnaire::answers_from_map(&q, &answers().into_iter().collect())
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let outcome = trivsel::scoring::score(&q.model, &parsed);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..clients {
        let (db, user, q, outcome, answers_json, children, done) = (
            db.clone(),
            user.clone(),
            q.clone(),
            outcome.clone(),
            answers_json.clone(),
            children.clone(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = n;
            while Instant::now() < deadline {
                let child = children[i % children.len()];
                i += clients;
                let key = uuid::Uuid::new_v4().to_string();
                let now = chrono::Utc::now();
                let d = adb::Draft {
                    key: &key,
                    child_id: child,
                    round_id: None,
                    kind: "team",
                    author_id: user.id,
                    questionnaire_id: &q.def.id,
                    questionnaire_version: q.def.version as i32,
                    questionnaire_hash: &q.hash,
                    scale_id: "boernelineal",
                    answers: answers_json.clone(),
                    observation: "",
                    supersedes_id: None,
                };
                let mut tx = db.begin().await.unwrap();
                let id = adb::save(&mut tx, &d, Some((&outcome, "yellow")), now)
                    .await
                    .unwrap()
                    .unwrap();
                audit::record(
                    &mut tx,
                    &user,
                    Action::Change,
                    Some(child),
                    &format!("assessment:{id}"),
                    "scored",
                    now,
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                let mut tx = db.begin().await.unwrap();
                adb::decide(&mut tx, id, 0, "green", "", now).await.unwrap();
                audit::record(
                    &mut tx,
                    &user,
                    Action::Change,
                    Some(child),
                    &format!("assessment:{id}"),
                    "submitted",
                    now,
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let raw = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();

    // Phase 2: the same submissions through the HTTP stack, one logged-in session per client.
    let mut sessions = Vec::new();
    for _ in 0..clients {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let page = http
            .get(format!("{base}/login"))
            .send()
            .await?
            .text()
            .await?;
        let token = page
            .split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string();
        let res = http
            .post(format!("{base}/login"))
            .form(&[
                ("email", "paedagog@demo.trivsel.dk"),
                ("password", "demo"),
                ("csrf_token", &token),
            ])
            .send()
            .await?;
        assert_eq!(res.status().as_u16(), 303);
        let home = http.get(format!("{base}/")).send().await?.text().await?;
        let token = home
            .split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string();
        sessions.push((http, token));
    }
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, (http, token)) in sessions.into_iter().enumerate() {
        let (base, children, done, errors) =
            (base.clone(), children.clone(), done.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = n;
            while Instant::now() < deadline {
                let child = children[i % children.len()];
                i += clients;
                let key = uuid::Uuid::new_v4().to_string();
                let mut form = vec![
                    ("submission_key".to_string(), key),
                    ("kind".into(), "team".into()),
                    ("action".into(), "score".into()),
                    ("csrf_token".into(), token.clone()),
                ];
                form.extend(answers());
                let res = http
                    .post(format!("{base}/children/{child}/assess"))
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                let Some(loc) = res
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
                    .filter(|_| res.status().as_u16() == 303)
                else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let res = http
                    .post(format!("{base}{loc}/decide"))
                    .form(&[
                        ("level", "green"),
                        (
                            "justification",
                            "Benchmark: vi vælger grøn — ingen henvendelse.",
                        ),
                        ("csrf_token", &token),
                    ])
                    .send()
                    .await
                    .unwrap();
                if res.status().as_u16() == 303 {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let http = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "backend={:?} clients={clients} raw_submissions_per_s={raw:.0} http_submissions_per_s={http:.0} ratio={:.2} http_errors={}",
        db.backend(),
        http / raw,
        errors.load(Ordering::Relaxed)
    );
    Ok(())
}
