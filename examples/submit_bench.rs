//! Issue 3's speed check: assessments submitted end to end over HTTP (session, CSRF,
//! validation, scoring, the assessment write and the access-log writes) against the raw
//! database limit for the same writes done directly with sqlx, in the same run, at 16
//! concurrent clients. Loopback only; bounded in time. The answers are ones the engine
//! places at the first level and the professional confirms the suggestion, so no alert (with
//! its extra writes) is raised, and both sides use each child's own questionnaire and open
//! round, so they write the same rows. The submissions are individual views: a child has one
//! team position per round (a database constraint), while a bench submits for each child
//! many times.
//!
//! `--flow confirm` (the default) confirms the live suggestion as the form is submitted: one
//! request, the writes in one transaction. `--flow decide` submits and then decides on the
//! suggestion page, as without JavaScript: two requests, two transactions. The raw side
//! writes the same rows in the same transactions.
//!
//! The phases alternate after a short warm-up (`--repeats`, default 9, of `--seconds`,
//! default 2), so that a drifting machine or a growing table weighs on both alike; each pair
//! gives a ratio and the median is reported (on a shared two-core VM single pairs swing by
//! ±15 %, so many short pairs give a steadier median than a few long ones). One more phase
//! in each repeat explains the gap rather than counts towards it: "scoped raw" does the raw
//! writes with the statements the service sends (the scope, age band and round checks
//! inside the saving and deciding statements), so HTTP against it is the cost of the HTTP
//! stack alone. The order is counterbalanced (raw, HTTP, scoped raw; then the reverse), as
//! the phase after a pause in the writes can run faster on this machine. The "floor", bare
//! HTTP exchanges as many per submission as the flow sends (`GET /healthz`, no session, no
//! database) on the same connections, runs once before the warm-up: what the HTTP client
//! and server alone cost here. Each repeat also prints the CPU time and the context
//! switches per submission of this process and of PostgreSQL's processes.
//!
//! `bash bench/submit.sh` runs it on SQLite and on PostgreSQL, with PostgreSQL sharing both
//! cores and on a core of its own (docs/benchmarks.md says why both).
//!
//! cargo run --release --example submit_bench -- --database-url sqlite:///tmp/b.db
//! cargo run --release --example submit_bench -- --database-url postgres://postgres@127.0.0.1/bench
//! cargo run --release --example submit_bench -- --database-url sqlite:///tmp/b.db --flow decide

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use trivsel::app;
use trivsel::assessment::db as adb;
use trivsel::audit::{self, Action};
use trivsel::auth::{CurrentUser, Role, scope};
use trivsel::config::Config;
use trivsel::db::Db;
use trivsel::questionnaire::Catalogue;
use trivsel::state::AppState;

mod support;

use support::arg;

/// One filled-in form per questionnaire: every item answered (a spread of values, eased
/// until the suggestion is the first level), every critical sign "no"; the same on both
/// sides of the bench.
struct Filled {
    q: Arc<trivsel::questionnaire::Questionnaire>,
    fields: Vec<(String, String)>,
    json: String,
    outcome: trivsel::scoring::Outcome,
    level: String,
}

fn fill(q: &Arc<trivsel::questionnaire::Questionnaire>, cat: &Catalogue) -> Filled {
    let mut fields: Vec<(String, String)> = q
        .model
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            (
                item.id.clone(),
                item.values[(i * 7 + 1) % item.values.len()].clone(),
            )
        })
        .collect();
    fields.extend(
        q.model
            .critical
            .iter()
            .map(|c| (c.clone(), "no".to_string())),
    );
    let score = |fields: &[(String, String)]| {
        let map: std::collections::BTreeMap<_, _> = fields.iter().cloned().collect();
        let parsed = trivsel::questionnaire::answers_from_map(q, &map).expect("answers fit");
        (map, trivsel::scoring::score(&q.model, &parsed))
    };
    // As most children's: the spread is eased, item by item, until the engine suggests the
    // first level (no alert, the team confirms the suggestion).
    for (i, item) in q.model.items.iter().enumerate() {
        if score(&fields).1.level == 0 {
            break;
        }
        let best = item
            .values
            .iter()
            .min_by_key(|v| {
                let mut f = fields.clone();
                f[i].1 = (*v).clone();
                let o = score(&f).1;
                (o.level, o.total)
            })
            .expect("options");
        fields[i].1 = best.clone();
    }
    let (map, outcome) = score(&fields);
    Filled {
        q: q.clone(),
        json: serde_json::to_string(&map).expect("answers as JSON"),
        level: cat.scale.level(outcome.level).id.clone(),
        outcome,
        fields,
    }
}

/// A child to submit for: its open round and the form of its age band.
#[derive(Clone, Copy)]
struct Target {
    id: i64,
    round: Option<i64>,
    form: usize,
}

// The allocator of the `trivsel` binary, so that the server in this process runs as it does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    trivsel::telemetry::init(trivsel::config::LogFormat::Text);
    let url = arg("--database-url", "sqlite:///tmp/trivsel-submit-bench.db");
    let seconds: u64 = arg("--seconds", "2").parse()?;
    let clients: usize = arg("--clients", "16").parse()?;
    let repeats: usize = arg("--repeats", "9").parse()?;
    let flow = match arg("--flow", "confirm").as_str() {
        "confirm" => Flow::Confirm,
        "decide" => Flow::Decide,
        other => anyhow::bail!("--flow is confirm or decide, not {other}"),
    };
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
    // Each child's open round and questionnaire, so that the raw side writes the same rows
    // (the child's position in the round, its age band's questionnaire) as the service does.
    let today = chrono::Utc::now().date_naive();
    let forms: Vec<Filled> = catalogue
        .questionnaires
        .iter()
        .map(|q| fill(q, &catalogue))
        .collect();
    let mut targets = Vec::new();
    for id in children {
        let Some(found) = adb::form_context_where(&mut c, id, educator, "$2 = $2", today).await?
        else {
            continue;
        };
        let age = trivsel::org::age_on(found.child.birth_date, today);
        let Some(q) = catalogue.for_age(age) else {
            continue;
        };
        let form = forms
            .iter()
            .position(|f| f.q.def.id == q.def.id)
            .expect("a form");
        let round = found.round().map(|r| r.id);
        targets.push(Target { id, round, form });
    }
    let mut children = targets;
    drop(c);
    // Mixed across groups (the same order in every phase), as a round's work arrives.
    {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        children.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    }
    let state = AppState::new(db.clone(), config.clone(), String::new()).with_catalogue(catalogue);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(app::serve(state, listener, std::future::pending()));

    let user = CurrentUser {
        id: educator,
        name: String::new(),
        email: String::new(),
        role: Role::Educator,
        lang: Default::default(),
    };
    let bench = Arc::new(Bench {
        db: db.clone(),
        user,
        forms,
        children,
        base: base.clone(),
        clients,
        flow,
    });
    let mut sessions = Vec::new();
    for _ in 0..clients {
        sessions.push(log_in(&base).await?);
    }
    let sessions = Arc::new(sessions);

    let scored_before = scored(&db).await?;
    let phase = Duration::from_secs(seconds);
    // The floor once, before the warm-up: it writes nothing, and a phase right after a pause
    // in the writes can run faster.
    let floor = bench.clone().floor(&sessions, phase).await;
    // Warm-up (connections, statement caches), not counted.
    bench.clone().raw(Duration::from_secs(1), false).await;
    bench.clone().http(&sessions, Duration::from_secs(1)).await;
    let mut ratios = Vec::new();
    for n in 1..=repeats {
        // Counterbalanced: odd repeats run raw, HTTP, scoped raw; even ones the reverse, so
        // that raw and HTTP each follow either kind of phase alike.
        let mut order = [Phase::Raw, Phase::Http, Phase::ScopedRaw];
        if n % 2 == 0 {
            order.reverse();
        }
        let (mut raw, mut http, mut errors, mut scoped) = (0.0, 0.0, 0, 0.0);
        let (mut raw_cpu, mut http_cpu, mut scoped_cpu) = Default::default();
        for p in order {
            let cpu = Cpu::now();
            match p {
                Phase::Raw => {
                    raw = bench.clone().raw(phase, false).await;
                    raw_cpu = cpu.per(raw * phase.as_secs_f64());
                }
                Phase::Http => {
                    (http, errors) = bench.clone().http(&sessions, phase).await;
                    http_cpu = cpu.per(http * phase.as_secs_f64());
                }
                Phase::ScopedRaw => {
                    scoped = bench.clone().raw(phase, true).await;
                    scoped_cpu = cpu.per(scoped * phase.as_secs_f64());
                }
            }
        }
        println!(
            "repeat={n} backend={:?} flow={flow:?} clients={clients} raw_submissions_per_s={raw:.0} \
             http_submissions_per_s={http:.0} ratio={:.2} http_errors={errors} \
             scoped_raw_submissions_per_s={scoped:.0} http_to_scoped_raw={:.2} \
             cpu_us_per_submission: raw {raw_cpu} http {http_cpu} scoped_raw {scoped_cpu}",
            db.backend(),
            http / raw,
            http / scoped,
        );
        ratios.push((http / raw, http / scoped));
    }
    // Every HTTP submission was decided, as every raw one (a confirmation the service did
    // not take would have left it scored, with fewer writes).
    let undecided = scored(&db).await? - scored_before;
    anyhow::ensure!(undecided == 0, "{undecided} submissions were not decided");
    let median = |pick: fn(&(f64, f64)) -> f64| {
        let mut v: Vec<f64> = ratios.iter().map(pick).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "backend={:?} flow={flow:?} clients={clients} median_ratio={:.2} median_http_to_scoped_raw={:.2} \
         floor_bare_http_per_s={floor:.0} (of {repeats} pairs of {seconds} s)",
        db.backend(),
        median(|r| r.0),
        median(|r| r.1),
    );
    Ok(())
}

/// Assessments scored and awaiting the decision.
async fn scored(db: &Db) -> anyhow::Result<i64> {
    let mut c = db.conn().await?;
    Ok(trivsel::dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM assessments WHERE status = 'scored'",
    )
    .fetch_one(&mut *c)
    .await)?)
}

/// CPU time used so far by this process (HTTP client, server and, on SQLite, the database)
/// and by the PostgreSQL server processes on this machine, from `/proc` (Linux; clock ticks
/// of 10 ms).
struct Cpu {
    app: u64,
    postgres: u64,
    /// Context switches (voluntary + involuntary) of this process's threads and of
    /// PostgreSQL's processes.
    app_switches: u64,
    postgres_switches: u64,
}

impl Cpu {
    fn now() -> Cpu {
        let ticks = |stat: &str| -> u64 {
            // The fields after the command name (which ends with ')'): utime is the 12th, stime the 13th.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
        };
        let switches = |status: &str| -> u64 {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum()
        };
        let app = ticks(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default());
        let app_switches = std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .map(|t| {
                switches(&std::fs::read_to_string(t.path().join("status")).unwrap_or_default())
            })
            .sum();
        let (mut postgres, mut postgres_switches) = (0, 0);
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            if comm.trim() == "postgres" {
                postgres +=
                    ticks(&std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default());
                postgres_switches += switches(
                    &std::fs::read_to_string(entry.path().join("status")).unwrap_or_default(),
                );
            }
        }
        Cpu {
            app,
            postgres,
            app_switches,
            postgres_switches,
        }
    }

    /// Microseconds of CPU per submission since `self`, split into this process and
    /// PostgreSQL.
    fn per(&self, submissions: f64) -> String {
        let now = Cpu::now();
        let us = |ticks: u64| ticks as f64 * 10_000.0 / submissions.max(1.0);
        let per = |n: u64| n as f64 / submissions.max(1.0);
        format!(
            "(app {:.0} + postgres {:.0}; switches app {:.1} + postgres {:.1})",
            us(now.app - self.app),
            us(now.postgres - self.postgres),
            per(now.app_switches - self.app_switches),
            per(now.postgres_switches - self.postgres_switches),
        )
    }
}

/// The phases of one repeat.
#[derive(Clone, Copy)]
enum Phase {
    Raw,
    Http,
    ScopedRaw,
}

/// How the professional decides: confirming the live suggestion as the form is submitted
/// (one request, one transaction), or on the suggestion page after submitting (two of each).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flow {
    Confirm,
    Decide,
}

/// What every phase shares.
struct Bench {
    db: Db,
    user: CurrentUser,
    forms: Vec<Filled>,
    children: Vec<Target>,
    base: String,
    clients: usize,
    flow: Flow,
}

/// A logged-in client of the HTTP phases. It is a bare hyper client sending the session's
/// cookie as a fixed header (the session id does not change after login): the load
/// generator shares the two cores with the server, so it should take as little of them as
/// a load generator can (reqwest's cookie jar and URL parsing took ~3 % of the CPU).
struct Session {
    http: Hyper,
    cookie: axum::http::HeaderValue,
    token: String,
}

type Hyper = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    axum::body::Body,
>;

impl Session {
    /// Status and `Location` of one request, its body read to the end.
    async fn send(
        &self,
        method: axum::http::Method,
        uri: &str,
        form: Option<String>,
    ) -> (u16, Option<String>) {
        use axum::http::header;
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &self.cookie);
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let req = req
            .body(form.map(axum::body::Body::from).unwrap_or_default())
            .expect("a valid request");
        let res = self.http.request(req).await.expect("the server answers");
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        axum::body::to_bytes(axum::body::Body::new(res.into_body()), usize::MAX)
            .await
            .expect("the body");
        (status, location)
    }
}

/// A form body, url-encoded.
fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A client logged in as the demo educator, with its CSRF token.
async fn log_in(base: &str) -> anyhow::Result<Session> {
    let token_in = |page: &str| {
        page.split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("no CSRF token on the page"))
    };
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = http
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let res = http
        .post(format!("{base}/login"))
        .header("origin", base)
        .form(&[
            ("email", "paedagog@demo.trivsel.dk"),
            ("password", "demo"),
            ("csrf_token", &token_in(&page)?),
        ])
        .send()
        .await?;
    anyhow::ensure!(res.status().as_u16() == 303, "login failed");
    let home = http.get(format!("{base}/")).send().await?.text().await?;
    let token = token_in(&home)?;
    let cookie = reqwest::cookie::CookieStore::cookies(&*jar, &base.parse()?)
        .ok_or_else(|| anyhow::anyhow!("no session cookie"))?;
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    Ok(Session {
        http,
        cookie: cookie.to_str()?.parse()?,
        token,
    })
}

impl Bench {
    /// The raw limit: the same writes as a submission, straight to the database through the
    /// service's own SQL functions; submissions per second.
    ///
    /// `scoped`: with the statements the service sends, which check the user's scope, the
    /// questionnaire's age band and the child's open round as they write.
    async fn raw(self: Arc<Self>, phase: Duration, scoped: bool) -> f64 {
        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + phase;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for n in 0..self.clients {
            let (b, done) = (self.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = n;
                while Instant::now() < deadline {
                    let child = b.children[i % b.children.len()];
                    i += b.clients;
                    b.raw_one(child, scoped).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    }

    async fn raw_one(&self, target: Target, scoped: bool) {
        let (child, form) = (target.id, &self.forms[target.form]);
        let key = uuid::Uuid::new_v4().to_string();
        let now = chrono::Utc::now();
        let d = adb::Draft {
            key: &key,
            child_id: child,
            round_id: target.round,
            kind: "individual",
            author_id: self.user.id,
            questionnaire_id: &form.q.def.id,
            questionnaire_version: form.q.def.version as i32,
            questionnaire_hash: &form.q.hash,
            scale_id: "boernelineal",
            answers: form.json.clone(),
            free_text: String::new(),
            observation: "",
            supersedes_id: None,
            background: false,
        };
        let log = async |tx: &mut trivsel::db::Tx, object: &str, detail: &str| {
            audit::record(
                tx,
                &self.user,
                Action::Change,
                Some(child),
                object,
                detail,
                now,
            )
            .await
            .unwrap();
        };
        // Scoped, what the service adds to the same writes, computed per submission as the
        // service does (see `assessment::routes::submit`); unscoped, nothing.
        let child_visible = scoped.then(|| {
            scope::assessable_enrolled_where(&self.user, "e.group_id", "g.institution_id").unwrap()
        });
        let within = child_visible.as_deref().map(|condition| {
            let today = now.date_naive();
            let (born_after, born_until) =
                trivsel::org::born_between_ages(form.q.def.age_from, form.q.def.age_to, today);
            adb::Within {
                condition,
                day: today,
                born_after,
                born_until,
            }
        });
        let mut tx = self.db.begin().await.unwrap();
        let scored = Some((&form.outcome, form.level.as_str()));
        let id = adb::save(&mut tx, &d, scored, within.as_ref(), now)
            .await
            .unwrap()
            .unwrap();
        let object = format!("assessment:{id}");
        log(&mut tx, &object, "scored").await;
        // Confirmed as submitted, the decision shares the saving transaction and its scope
        // check; decided on the suggestion page, it is a transaction of its own that checks
        // the scope again.
        let assessment_visible = (scoped && self.flow == Flow::Decide)
            .then(|| scope::assessable_where(&self.user, "assessments.child_id").unwrap());
        if self.flow == Flow::Decide {
            tx.commit().await.unwrap();
            tx = self.db.begin().await.unwrap();
        }
        // The suggestion, confirmed.
        let decision = adb::Decision {
            rank: form.outcome.level as i32,
            level: &form.level,
            justification: "",
            justified: false,
        };
        let condition = assessment_visible.as_deref().unwrap_or("$2 = $2");
        let decided = adb::decide(&mut tx, id, self.user.id, condition, &decision, now)
            .await
            .unwrap();
        assert!(matches!(decided, adb::Decide::Recorded(_)), "{decided:?}");
        log(&mut tx, &object, "submitted").await;
        tx.commit().await.unwrap();
    }

    /// The same submissions through the HTTP stack, one logged-in session per client;
    /// submissions per second and the requests that failed.
    async fn http(self: Arc<Self>, sessions: &Arc<Vec<Session>>, phase: Duration) -> (f64, u64) {
        let done = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + phase;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for n in 0..self.clients {
            let (b, sessions, done, errors) =
                (self.clone(), sessions.clone(), done.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                let session = &sessions[n];
                let mut i = n;
                while Instant::now() < deadline {
                    let child = b.children[i % b.children.len()];
                    i += b.clients;
                    if b.http_one(session, child).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        (
            done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
            errors.load(Ordering::Relaxed),
        )
    }

    async fn http_one(&self, session: &Session, target: Target) -> bool {
        let (child, filled) = (target.id, &self.forms[target.form]);
        let base = &self.base;
        let key = uuid::Uuid::new_v4().to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("submission_key", &key),
            ("kind", "individual"),
            (
                "action",
                match self.flow {
                    Flow::Confirm => "confirm",
                    Flow::Decide => "score",
                },
            ),
            ("confirm", &filled.level),
            ("questionnaire", &filled.q.def.id),
            ("csrf_token", &session.token),
        ];
        form.extend(filled.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = encode(form);
        let uri = format!("{base}/children/{child}/assess");
        let (status, loc) = session
            .send(axum::http::Method::POST, &uri, Some(body))
            .await;
        let Some(loc) = loc.filter(|_| status == 303) else {
            return false;
        };
        if self.flow == Flow::Confirm {
            return true;
        }
        let body = encode([
            ("level", filled.level.as_str()),
            ("csrf_token", &session.token),
        ]);
        let uri = format!("{base}{loc}/decide");
        let (status, _) = session
            .send(axum::http::Method::POST, &uri, Some(body))
            .await;
        status == 303
    }

    /// Bare HTTP exchanges, as many per "submission" as the flow sends (no session, no
    /// database), on the same clients: the floor the HTTP client and server alone put under
    /// the HTTP phase.
    async fn floor(self: Arc<Self>, sessions: &Arc<Vec<Session>>, phase: Duration) -> f64 {
        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + phase;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for n in 0..self.clients {
            let (base, sessions, done) = (self.base.clone(), sessions.clone(), done.clone());
            let requests = match self.flow {
                Flow::Confirm => 1,
                Flow::Decide => 2,
            };
            tasks.push(tokio::spawn(async move {
                let session = &sessions[n];
                let uri = format!("{base}/healthz");
                while Instant::now() < deadline {
                    for _ in 0..requests {
                        let (status, _) = session.send(axum::http::Method::GET, &uri, None).await;
                        assert_eq!(status, 200);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    }
}
