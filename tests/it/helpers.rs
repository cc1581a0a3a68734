//! Starting the real server and driving it over HTTP.

use std::sync::LazyLock;

use chrono::NaiveDate;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use trivsel::app;
use trivsel::auth::{Role, password, users};
use trivsel::config::Config;
use trivsel::db::Db;
use trivsel::org::db::{self as org, ChildInput};
use trivsel::org::{GroupKind, InstitutionKind};
use trivsel::state::AppState;

pub const PASSWORD: &str = "korrekt-hest-batteri";

static PASSWORD_HASH: LazyLock<String> =
    LazyLock::new(|| password::hash_blocking(PASSWORD).expect("hash test password"));

/// Where a test database lives; dropped with the test.
enum Store {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres,
    /// Another instance's database: the first instance owns it.
    Shared,
}

pub struct TestApp {
    pub base: String,
    pub db: Db,
    /// The running server's state (its clock can be moved in tests).
    pub state: AppState,
    config: Config,
    pub url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    _store: Store,
}

/// A new, empty, migrated database for one test: (URL, store guard).
async fn fresh_database() -> (String, Store) {
    match std::env::var("TRIVSEL_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("trivsel_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Db::connect(&admin_url, 1)
                .await
                .expect("TRIVSEL_TEST_DATABASE_URL is set but PostgreSQL cannot be reached");
            let Db::Postgres(pool) = &admin else {
                panic!("TRIVSEL_TEST_DATABASE_URL must be a postgres:// URL")
            };
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(pool)
                .await
                .expect("create test database");
            admin.close().await;
            let (prefix, _) = admin_url
                .rsplit_once('/')
                .expect("URL with a database name");
            (format!("{prefix}/{name}"), Store::Postgres)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            (url, Store::Sqlite(dir))
        }
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let (url, store) = fresh_database().await;
        Self::spawn_on(url, store, Config::default()).await
    }

    /// A server on an existing database (a restored backup); the caller owns the file.
    pub async fn spawn_at(url: String) -> TestApp {
        Self::spawn_on(url, Store::Shared, Config::default()).await
    }

    pub async fn spawn_with(config: Config) -> TestApp {
        let (url, store) = fresh_database().await;
        Self::spawn_on(url, store, config).await
    }

    async fn spawn_on(url: String, store: Store, mut config: Config) -> TestApp {
        config.listen = "127.0.0.1:0".parse().unwrap();
        // Logins here give the password alone unless a test asks for the production default
        // (two factors for admins and social workers): `auth::two_factor_*` do.
        config.two_factor_roles.get_or_insert_with(Vec::new);
        config.max_connections = 5;
        let db = Db::connect(&url, config.max_connections)
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        let (base, state, shutdown, handle) = start(db.clone(), config.clone()).await;
        TestApp {
            base,
            db,
            state,
            config,
            url,
            shutdown: Some(shutdown),
            handle: Some(handle),
            _store: store,
        }
    }

    /// Stops the server and starts a new one on the same database, as a restart would.
    pub async fn restart(&mut self) {
        self.stop().await;
        let db = Db::connect(&self.url, 5).await.expect("reconnect");
        let clock = self.state.clock.clone();
        let (base, state, shutdown, handle) =
            start_with_clock(db.clone(), self.config.clone(), clock).await;
        self.base = base;
        self.db = db;
        self.state = state;
        self.shutdown = Some(shutdown);
        self.handle = Some(handle);
    }

    /// A second instance on the same database, as behind a load balancer: its own settings,
    /// pools, caches and background jobs, and the same clock.
    pub async fn another_instance(&self, mut config: Config) -> TestApp {
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.two_factor_roles.get_or_insert_with(Vec::new);
        config.max_connections = 5;
        let db = Db::connect(&self.url, 5).await.expect("connect");
        let clock = self.state.clock.clone();
        let (base, state, shutdown, handle) =
            start_with_clock(db.clone(), config.clone(), clock).await;
        TestApp {
            base,
            db,
            state,
            config,
            url: self.url.clone(),
            shutdown: Some(shutdown),
            handle: Some(handle),
            _store: Store::Shared,
        }
    }

    /// Ends the instance at once, as `kill -9` would: requests and jobs in flight are dropped
    /// where they stand (the database keeps whatever they had committed), and its
    /// connections close, as a dead process's do.
    pub async fn kill(&mut self) {
        self.shutdown.take();
        if let Some(h) = self.handle.take() {
            h.abort();
            let _ = h.await;
        }
        self.db.close().await;
    }

    /// Stops the server and closes its connections, as a process that ends does (a job's
    /// transaction cut off by the stop holds SQLite's write lock until its connection closes).
    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        self.db.close().await;
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// A client logged in as `email` (with the test password).
    pub async fn login(&self, email: &str) -> Client {
        let mut c = self.client();
        let res = c.login(email, PASSWORD).await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "login as {email} failed: {}",
            res.body
        );
        c
    }

    pub async fn count(&self, sql: &str) -> i64 {
        match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_scalar(sql).fetch_one(read).await.unwrap(),
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// Every email queued in the outbox so far, once the SMTP server has received them all.
    /// Counting before an action with this (not with what happens to have arrived) keeps
    /// mail still on its way from being taken for the action's own.
    pub async fn delivered(&self, smtp: &crate::smtp::SmtpServer) -> Vec<String> {
        let queued = self.count("SELECT COUNT(*) FROM outbox").await;
        let mails = smtp.wait_for(queued as usize).await;
        assert_eq!(mails.len() as i64, queued, "queued mail never arrived");
        mails
    }

    /// One text value read with `sql`.
    pub async fn text(&self, sql: &str) -> String {
        match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_scalar(sql).fetch_one(read).await.unwrap(),
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// The path of the newest single-use link (invitation or reset) emailed to `email`, read
    /// from the outbox as the user would read the email.
    pub async fn emailed_link(&self, email: &str) -> String {
        let body = self
            .text(&format!(
                "SELECT body FROM outbox WHERE recipient = '{email}' ORDER BY id DESC LIMIT 1"
            ))
            .await;
        let at = body.find("/account/").expect("a link in the email");
        body[at..].split_whitespace().next().unwrap().to_string()
    }

    /// Follows the invitation emailed to `email` and chooses `password`: the new user,
    /// logged in.
    pub async fn accept_invitation(&self, email: &str, password: &str) -> Client {
        let link = self.emailed_link(email).await;
        let mut c = self.client();
        let page = c.get(&link).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let res = c
            .post(&link, &[("password", password), ("password2", password)])
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        c
    }
}

/// The shipped questionnaires with the scale `scale`.
pub fn shipped_catalogue(scale: &str) -> trivsel::questionnaire::Catalogue {
    trivsel::questionnaire::Catalogue::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("questionnaires"),
        scale,
    )
    .expect("shipped questionnaires")
}

async fn start(
    db: Db,
    config: Config,
) -> (
    String,
    AppState,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    // A fixed clock, moved only by the tests.
    start_with_clock(db, config, trivsel::clock::Clock::fixed(chrono::Utc::now())).await
}

async fn start_with_clock(
    db: Db,
    config: Config,
    clock: trivsel::clock::Clock,
) -> (
    String,
    AppState,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let catalogue = match &config.questionnaire_dir {
        Some(_) => config.catalogue().expect("questionnaire_dir"),
        None => shipped_catalogue(&config.scale),
    };
    trivsel::assessment::register_versions(&db, &catalogue, chrono::Utc::now())
        .await
        .expect("register versions");
    let logo = config.logo().expect("logo");
    let state = AppState::new(db, config, String::new())
        .with_catalogue(catalogue)
        .with_clock(clock)
        .with_logo(logo);
    state.load_municipality_name().await.expect("municipality");
    let running = state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        app::serve(state, listener, async {
            let _ = rx.await;
        })
        .await
        .expect("server");
    });
    (format!("http://{addr}"), running, tx, handle)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Res {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Res {
    pub fn assert_contains(&self, needle: &str) -> &Self {
        assert!(
            self.body.contains(needle),
            "expected {needle:?} in page (status {}):\n{}",
            self.status,
            self.body
        );
        self
    }

    pub fn assert_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.body.contains(needle),
            "did not expect {needle:?} in page:\n{}",
            self.body
        );
        self
    }
}

/// A browser-like client: keeps cookies, does not follow redirects (tests assert them), and
/// remembers the CSRF token of the last page that had a form.
pub struct Client {
    pub base: String,
    http: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    pub csrf: Option<String>,
}

pub fn csrf_in(body: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker)? + marker.len();
    Some(body[start..].split('"').next()?.to_string())
}

impl Client {
    pub fn new(base: &str) -> Client {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .unwrap();
        Client {
            base: base.to_string(),
            http,
            jar,
            csrf: None,
        }
    }

    /// The `Cookie` header this client sends now (to replay it after the client let go).
    pub fn cookie_header(&self) -> String {
        use reqwest::cookie::CookieStore;
        self.jar
            .cookies(&self.base.parse().unwrap())
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    async fn read(&mut self, res: reqwest::Response) -> Res {
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = res.text().await.unwrap();
        if let Some(t) = csrf_in(&body) {
            self.csrf = Some(t);
        }
        Res {
            status,
            location,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Res {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        self.read(res).await
    }

    /// Posts a form with the session's CSRF token added (fetched from `/login` or `/` if needed).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Res {
        if self.csrf.is_none() {
            self.get("/login").await;
        }
        let mut all: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.push(("csrf_token".into(), self.csrf.clone().unwrap_or_default()));
        // As a browser does: it says which site the form came from.
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(&all)
            .send()
            .await
            .unwrap();
        self.read(res).await
    }

    /// Posts without any CSRF token, as a forged cross-site form would.
    pub async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Res {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(fields);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let res = req.send().await.unwrap();
        self.read(res).await
    }

    pub async fn post_multipart(
        &mut self,
        path: &str,
        text: &[(&str, &str)],
        file: (&str, Vec<u8>),
    ) -> Res {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf_token", self.csrf.clone().unwrap_or_default());
        for (k, v) in text {
            form = form.text(k.to_string(), v.to_string());
        }
        form = form.part(
            file.0.to_string(),
            reqwest::multipart::Part::bytes(file.1).file_name("import.csv"),
        );
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .multipart(form)
            .send()
            .await
            .unwrap();
        self.read(res).await
    }

    pub async fn login(&mut self, email: &str, password: &str) -> Res {
        self.get("/login").await;
        let res = self
            .post("/login", &[("email", email), ("password", password)])
            .await;
        if res.status == StatusCode::SEE_OTHER {
            // A new session came with a new token: pick it up.
            self.get("/").await;
        }
        res
    }
}

/// `c` records on the child's page that a custody holder of `child` gave consent for
/// `purpose`, in writing.
pub async fn give_consent(app: &TestApp, c: &mut Client, child: i64, purpose: &str) {
    let guardian = app
        .count(&format!(
            "SELECT MIN(id) FROM guardians WHERE child_id = {child} AND has_custody"
        ))
        .await
        .to_string();
    let res = c
        .post(
            &format!("/children/{child}/consent"),
            &[
                ("purpose", purpose),
                ("event", "given"),
                ("guardian_id", &guardian),
                ("method", "written"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

/// The admin moves `child` to `group` from tomorrow (through the admin's form).
pub async fn move_from_tomorrow(app: &TestApp, child: i64, group: i64) {
    let mut admin = app.login(ADMIN).await;
    let tomorrow = (app.state.now().date_naive() + chrono::Duration::days(1)).to_string();
    let res = admin
        .post(
            &format!("/admin/children/{child}/enrol"),
            &[("group_id", &group.to_string()), ("from_date", &tomorrow)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

/// A small organisation with one account per role, each scoped to part of it.
pub struct Fixture {
    pub district_a: i64,
    pub district_b: i64,
    pub school_a: i64,
    pub daycare_a: i64,
    pub school_b: i64,
    pub class_a1: i64,
    pub class_a2: i64,
    pub room_a: i64,
    pub class_b1: i64,
    /// Children in class_a1, class_a2, room_a, class_b1.
    pub child_a1: i64,
    pub child_a2: i64,
    pub child_room: i64,
    pub child_b1: i64,
    pub protected_child: i64,
    pub admin: i64,
}

pub const ADMIN: &str = "admin@test.dk";
pub const EDUCATOR: &str = "educator@test.dk";
pub const LEADER: &str = "leader@test.dk";
pub const WORKER: &str = "worker@test.dk";
pub const EDUCATOR_B: &str = "educator-b@test.dk";
pub const WORKER2: &str = "worker2@test.dk";
pub const WORKER_B: &str = "worker-b@test.dk";

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn child(first: &str, last: &str, birth: &str) -> ChildInput {
    ChildInput {
        first_name: first.into(),
        last_name: last.into(),
        birth_date: date(birth),
        gender: "u",
        external_id: None,
        protected_address: false,
    }
}

impl Fixture {
    pub async fn create(app: &TestApp) -> Fixture {
        let now = chrono::Utc::now();
        let mut tx = app.db.begin().await.unwrap();
        let c = &mut tx;
        let district_a = org::save_district(c, None, "Distrikt A", now)
            .await
            .unwrap()
            .unwrap();
        let district_b = org::save_district(c, None, "Distrikt B", now)
            .await
            .unwrap()
            .unwrap();
        let school_a = org::save_institution(
            c,
            None,
            district_a,
            "Askeskolen",
            InstitutionKind::Skole,
            now,
        )
        .await
        .unwrap()
        .unwrap();
        let daycare_a = org::save_institution(
            c,
            None,
            district_a,
            "Børnehaven Asken",
            InstitutionKind::Boernehave,
            now,
        )
        .await
        .unwrap()
        .unwrap();
        let school_b = org::save_institution(
            c,
            None,
            district_b,
            "Bøgeskolen",
            InstitutionKind::Skole,
            now,
        )
        .await
        .unwrap()
        .unwrap();
        let class_a1 = org::save_group(c, None, school_a, "1.A", GroupKind::Klasse, "2026/27", now)
            .await
            .unwrap()
            .unwrap();
        let class_a2 = org::save_group(c, None, school_a, "2.A", GroupKind::Klasse, "2026/27", now)
            .await
            .unwrap()
            .unwrap();
        let room_a = org::save_group(
            c,
            None,
            daycare_a,
            "Rød stue",
            GroupKind::Stue,
            "2026/27",
            now,
        )
        .await
        .unwrap()
        .unwrap();
        let class_b1 = org::save_group(c, None, school_b, "1.B", GroupKind::Klasse, "2026/27", now)
            .await
            .unwrap()
            .unwrap();
        let mut enrol = async |input: ChildInput, group: i64| {
            let id = org::insert_child(c, &input, now).await.unwrap();
            org::enrol(c, id, group, date("2026-08-01")).await.unwrap();
            id
        };
        let child_a1 = enrol(child("Alma", "Andersen", "2019-05-01"), class_a1).await;
        let child_a2 = enrol(child("Bo", "Bertelsen", "2018-03-02"), class_a2).await;
        let child_room = enrol(child("Cille", "Carlsen", "2022-01-03"), room_a).await;
        let child_b1 = enrol(child("Dan", "Dahl", "2019-07-04"), class_b1).await;
        let mut p = child("Ea", "Eriksen", "2019-09-05");
        p.protected_address = true;
        let protected_child = enrol(p, class_a1).await;
        let hash = PASSWORD_HASH.as_str();
        let mut user = async |email: &str, role: Role, assign: &[i64]| {
            let id = users::insert(c, email, email, role, Some(hash), now)
                .await
                .unwrap();
            users::set_assignments(c, id, role, assign).await.unwrap();
            id
        };
        let admin = user(ADMIN, Role::Admin, &[]).await;
        user(EDUCATOR, Role::Educator, &[class_a1]).await;
        user(EDUCATOR_B, Role::Educator, &[class_b1]).await;
        user(LEADER, Role::Leader, &[school_a]).await;
        user(WORKER, Role::SocialWorker, &[district_a]).await;
        user(WORKER2, Role::SocialWorker, &[district_a]).await;
        user(WORKER_B, Role::SocialWorker, &[district_b]).await;
        for (child, name) in [(child_a1, "Mor Andersen"), (protected_child, "Mor Eriksen")] {
            let g = org::GuardianInput {
                name: name.into(),
                relation: "Mor".into(),
                phone: "12345678".into(),
                email: String::new(),
                address: format!("Hemmelig Vej {child}"),
                has_custody: true,
            };
            org::insert_guardian(c, child, &g, now).await.unwrap();
        }
        tx.commit().await.unwrap();
        Fixture {
            district_a,
            district_b,
            school_a,
            daycare_a,
            school_b,
            class_a1,
            class_a2,
            room_a,
            class_b1,
            child_a1,
            child_a2,
            child_room,
            child_b1,
            protected_child,
            admin,
        }
    }
}

/// Opens a round for schools covering today ("Efterår 2026").
pub async fn open_round(app: &TestApp) {
    let mut admin = app.login(ADMIN).await;
    let today = chrono::Utc::now().date_naive();
    let opens = (today - chrono::Duration::days(10)).to_string();
    let closes = (today + chrono::Duration::days(20)).to_string();
    let res = admin
        .post(
            "/admin/rounds",
            &[
                ("name", "Efterår 2026"),
                ("opens_on", &opens),
                ("closes_on", &closes),
                ("kinds", "skole"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

/// Answers the engine places at the scale's lowest level (green) in every shipped
/// questionnaire: the positive items at "2", the negative ones at "0", critical signs "no".
pub fn thriving_answers() -> Vec<(String, String)> {
    let mut v = answers("0", None);
    for (k, val) in v.iter_mut() {
        if k.ends_with("_1") || k.ends_with("_3") {
            *val = "2".into();
        }
    }
    v
}

/// Every item of the shipped 6–9 questionnaire (same item ids in every age band) at `value`,
/// critical items "no" except `critical_yes`.
pub fn answers(value: &str, critical_yes: Option<&str>) -> Vec<(String, String)> {
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
            v.push((format!("{d}_{i}"), value.to_string()));
        }
    }
    for c in ["violence", "sexual_abuse", "neglect"] {
        v.push((
            c.to_string(),
            if Some(c) == critical_yes { "yes" } else { "no" }.to_string(),
        ));
    }
    v
}

/// The fields of a team assessment of a child aged 6–9 submitted with `action`.
pub fn team_form<'a>(
    key: &'a str,
    action: &'a str,
    answers: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("submission_key", key),
        ("kind", "team"),
        ("action", action),
        ("questionnaire", "trivsel-6-9"),
    ];
    f.extend(answers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    f
}

/// The submission key of an assessment form.
pub fn key_in(body: &str) -> String {
    hidden_in(body, "submission_key")
}

/// The value of the hidden field `name` of an assessment form.
pub fn hidden_in(body: &str, name: &str) -> String {
    let m = format!("name=\"{name}\" value=\"");
    let i = body.find(&m).expect("an assessment form") + m.len();
    body[i..].split('"').next().unwrap().to_string()
}

impl TestApp {
    /// Adds the data-protection officer "Dorthe DPO" (with the test password); the email.
    pub async fn add_dpo(&self) -> String {
        self.exec(&format!(
            "INSERT INTO users (email, name, role, active, password_hash, lang, created_at) \
             SELECT 'dpo@test.dk', 'Dorthe DPO', 'dpo', TRUE, password_hash, 'da', created_at \
             FROM users WHERE email = '{ADMIN}'"
        ))
        .await;
        "dpo@test.dk".into()
    }

    /// Runs a statement directly on the database (to set up what no page does).
    pub async fn exec(&self, sql: &str) {
        let mut c = self.db.writer().await.unwrap();
        trivsel::dispatch!(&mut c, c => sqlx::query(sql).execute(&mut *c).await.map(|_| ()))
            .unwrap();
    }
}

impl TestApp {
    /// The summary table `round_positions` holds exactly what a recount from the assessments
    /// gives: per child and round, the newest submitted team position that no submitted
    /// correction supersedes. Returns how many positions there are.
    pub async fn assert_round_positions_match_recount(&self) -> i64 {
        const RECOUNT: &str = "SELECT a.child_id, a.round_id, a.id, a.decided_rank FROM assessments a \
            WHERE a.kind = 'team' AND a.status = 'submitted' AND a.round_id IS NOT NULL \
            AND NOT EXISTS (SELECT 1 FROM assessments n WHERE n.supersedes_id = a.id AND n.status = 'submitted') \
            AND NOT EXISTS (SELECT 1 FROM assessments b WHERE b.child_id = a.child_id AND b.round_id = a.round_id \
              AND b.kind = 'team' AND b.status = 'submitted' AND b.id > a.id \
              AND NOT EXISTS (SELECT 1 FROM assessments m WHERE m.supersedes_id = b.id AND m.status = 'submitted'))";
        const TABLE: &str =
            "SELECT child_id, round_id, assessment_id, decided_rank FROM round_positions";
        let missing = self
            .count(&format!(
                "SELECT COUNT(*) FROM ({RECOUNT} EXCEPT {TABLE}) x"
            ))
            .await;
        let extra = self
            .count(&format!(
                "SELECT COUNT(*) FROM ({TABLE} EXCEPT {RECOUNT}) x"
            ))
            .await;
        assert_eq!(
            (missing, extra),
            (0, 0),
            "round_positions differs from a recount"
        );
        let stale = self
            .count(
                "SELECT COUNT(*) FROM round_positions p JOIN children c ON c.id = p.child_id \
                 WHERE p.gender <> c.gender OR p.birth_date <> c.birth_date",
            )
            .await;
        assert_eq!(
            stale, 0,
            "round_positions' copy of gender or birth date is stale"
        );
        self.assert_round_counts_match_recount().await;
        self.count(&format!("SELECT COUNT(*) FROM ({RECOUNT}) x"))
            .await
    }

    /// The municipal counts (`round_counts`) hold exactly a recount of `round_positions`,
    /// with each child's age on the round's closing day reckoned here.
    pub async fn assert_round_counts_match_recount(&self) {
        type Key = (i64, i64, String, String, i32, i32);
        let mut recount: std::collections::BTreeMap<Key, i64> = Default::default();
        let mut c = self.db.conn().await.unwrap();
        let rows: Vec<(i64, i64, String, String, NaiveDate, NaiveDate, i32)> = trivsel::dispatch!(&mut c, c => sqlx::query_as(
            "SELECT p.round_id, p.district_id, p.institution_kind, p.gender, p.birth_date, r.closes_on, p.decided_rank \
             FROM round_positions p JOIN rounds r ON r.id = p.round_id \
             WHERE p.district_id IS NOT NULL AND p.institution_kind IS NOT NULL",
        )
        .fetch_all(&mut *c)
        .await)
        .unwrap();
        for (round, district, kind, gender, birth, closes, rank) in rows {
            let age = trivsel::org::age_on(birth, closes);
            *recount
                .entry((round, district, kind, gender, age, rank))
                .or_default() += 1;
        }
        let kept: Vec<(i64, i64, String, String, i32, i32, i64)> =
            trivsel::dispatch!(&mut c, c => sqlx::query_as(
            "SELECT round_id, district_id, institution_kind, gender, age, decided_rank, n \
             FROM round_counts WHERE n <> 0",
        )
        .fetch_all(&mut *c)
        .await)
            .unwrap();
        let kept: std::collections::BTreeMap<Key, i64> = kept
            .into_iter()
            .map(|(r, d, k, g, a, rank, n)| ((r, d, k, g, a, rank), n))
            .collect();
        assert_eq!(kept, recount, "round_counts differs from a recount");
    }
}

/// A copy of the shipped questionnaire folder (questionnaires, scales, alert rules and
/// retention policy; not `examples/`) with `file` (a path inside it, "" for none) edited.
pub fn questionnaires_with(file: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    questionnaires_edited(|name, body| if name == file { edit(body) } else { body })
}

/// [`questionnaires_with`], every file passed through `edit` with its path in the folder.
pub fn questionnaires_edited(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("questionnaires");
    for sub in ["", "scales"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(shipped.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                let name = std::path::Path::new(sub).join(p.file_name().unwrap());
                let body = std::fs::read_to_string(&p).unwrap();
                let body = edit(name.to_str().unwrap(), body);
                std::fs::write(dir.path().join(name), body).unwrap();
            }
        }
    }
    dir
}

/// A server using the questionnaire folder `dir`, with the fixture's organisation.
pub async fn spawn_with_questionnaires(dir: &tempfile::TempDir) -> (TestApp, Fixture) {
    let app = TestApp::spawn_with(Config {
        questionnaire_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    let f = Fixture::create(&app).await;
    (app, f)
}
