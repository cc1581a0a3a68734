//! Health checks, security headers, migrations kept in step, and request limits.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let mut c = app.client();
    let h = c.get("/healthz").await;
    assert_eq!((h.status, h.body.as_str()), (StatusCode::OK, "ok"));
    let r = c.get("/readyz").await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ready"));
    app.db.close().await;
    assert_eq!(
        c.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn security_headers_and_cookie_flags() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let res = reqwest::get(format!("{}/login", app.base)).await.unwrap();
    let h = res.headers();
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
    );
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("referrer-policy").unwrap(), "same-origin");
    assert!(
        h.get("set-cookie").is_none(),
        "looking at the login page stores no session"
    );
    let res = log_in_directly(&app, &app.base).await;
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: no Secure flag"
    );
    // Static assets are cacheable and versioned.
    let css = reqwest::get(format!("{}/assets/app.css", app.base))
        .await
        .unwrap();
    assert!(
        css.headers()
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("immutable")
    );
}

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let config = trivsel::config::Config {
        public_url: Some("https://trivsel.example.dk".into()),
        ..Default::default()
    };
    let app = TestApp::spawn_with(config).await;
    Fixture::create(&app).await;
    let res = log_in_directly(&app, "https://trivsel.example.dk").await;
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

/// Posts the login form as a browser on `origin` would, and returns the raw response.
async fn log_in_directly(app: &TestApp, origin: &str) -> reqwest::Response {
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/login", app.base))
        .header("origin", origin)
        .form(&[("email", ADMIN), ("password", PASSWORD), ("csrf_token", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    res
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let config = trivsel::config::Config {
        body_limit_bytes: 10_000,
        ..Default::default()
    };
    let app = TestApp::spawn_with(config).await;
    Fixture::create(&app).await;
    let mut c = app.login(ADMIN).await;
    let big = "x".repeat(20_000);
    let res = c.post("/admin/districts/new", &[("name", &big)]).await;
    assert!(res.status.is_client_error(), "{}", res.status);
    assert_eq!(app.count("SELECT COUNT(*) FROM districts").await, 2);
}

#[test]
fn migration_folders_match() {
    let (sqlite, postgres) = trivsel::db::migration_names();
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must have the same versions and names"
    );
}

#[tokio::test]
async fn unknown_pages_are_404_in_danish() {
    let app = TestApp::spawn().await;
    let res = app.client().get("/ingen/side").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    res.assert_contains("Siden findes ikke");
}

/// A transaction dropped before its commit (an error, a request cut off mid-write) leaves
/// nothing behind and does not hold up the writes after it; once the database is closed,
/// writes are refused.
#[tokio::test]
async fn unfinished_transactions_roll_back_and_free_the_writer() {
    let app = TestApp::spawn().await;
    let insert = async |tx: &mut trivsel::db::Tx, key: &str| {
        trivsel::dispatch!(tx, c => sqlx::query(
            "INSERT INTO districts (name, name_key, created_at) VALUES ('Test', $1, $2)",
        )
        .bind(key)
        .bind(chrono::Utc::now())
        .execute(&mut *c)
        .await
        .map(|_| ()))
    };
    let mut tx = app.db.begin().await.unwrap();
    insert(&mut tx, "dropped").await.unwrap();
    drop(tx);
    let mut tx = app.db.begin().await.unwrap();
    // Polled once, then abandoned, most often with the statement in flight.
    tokio::select! {
        biased;
        _ = insert(&mut tx, "cut") => {}
        _ = std::future::ready(()) => {}
    }
    drop(tx);
    let mut tx = app.db.begin().await.unwrap();
    insert(&mut tx, "kept").await.unwrap();
    tx.commit().await.unwrap();
    let sql = "SELECT COUNT(*) FROM districts WHERE name_key IN ('dropped', 'cut', 'kept')";
    assert_eq!(app.count(sql).await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM districts WHERE name_key = 'kept'")
            .await,
        1
    );
    app.db.close().await;
    assert!(app.db.begin().await.is_err());
}

/// Holds the database's write lock from outside the service (another process's long write),
/// as far as the readiness check is concerned: SQLite's write lock, or on PostgreSQL a lock on
/// the table the check writes.
enum WriteLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl WriteLock {
    async fn take(app: &TestApp) -> WriteLock {
        use sqlx::Connection;
        if app.url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&app.url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut c)
                .await
                .unwrap();
            WriteLock::Sqlite(c)
        } else {
            let mut c = sqlx::PgConnection::connect(&app.url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut c).await.unwrap();
            sqlx::query("LOCK TABLE readiness IN EXCLUSIVE MODE")
                .execute(&mut c)
                .await
                .unwrap();
            WriteLock::Postgres(c)
        }
    }

    async fn release(self) {
        match self {
            WriteLock::Sqlite(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
            }
            WriteLock::Postgres(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
            }
        }
    }
}

/// Ready means the database answers and takes a write, and the answer comes within a second;
/// while the database is gone, pages say "try again in a moment" (503) instead of failing.
#[tokio::test]
async fn readiness_needs_a_write_and_pages_ask_to_try_again_while_the_database_is_gone() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    assert_eq!(c.get("/readyz").await.status, StatusCode::OK);

    let lock = WriteLock::take(&app).await;
    let r = c.get("/readyz").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
        "a database that cannot be written is not ready"
    );
    lock.release().await;
    assert_eq!(c.get("/readyz").await.status, StatusCode::OK);
    assert_eq!(c.get("/").await.status, StatusCode::OK);

    app.db.close().await;
    assert_eq!(
        c.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Within a few seconds of checks every page answers "try again" at once.
    let mut page = c.get("/").await;
    for _ in 0..100 {
        if page.status == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        page = c.get("/").await;
    }
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    page.assert_contains("Trivsel er ikke tilgængelig lige nu")
        .assert_contains("Prøv igen om lidt");
    let h = c.get("/healthz").await;
    assert_eq!(h.status, StatusCode::OK, "the process itself is alive");
}

/// The metrics page needs its token, names routes by pattern (never a child's id), and
/// reports the jobs, the outbox and the pools.
#[tokio::test]
async fn metrics_need_their_token_and_name_routes_by_pattern() {
    let plain = TestApp::spawn().await;
    let res = reqwest::get(format!("{}/metrics", plain.base))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "no token set: no metrics page"
    );

    let app = TestApp::spawn_with(trivsel::config::Config {
        metrics_token: Some("skraber-token-1".to_string().into()),
        ..Default::default()
    })
    .await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    assert_eq!(
        c.get(&format!("/groups/{}", f.class_a1)).await.status,
        StatusCode::OK
    );
    let mut tx = app.db.begin().await.unwrap();
    trivsel::notify::enqueue(&mut tx, "a@test.dk", "Trivsel: test", "x", app.state.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let http = reqwest::Client::new();
    let url = format!("{}/metrics", app.base);
    for auth in [None, Some("Bearer forkert")] {
        let mut req = http.get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        assert_eq!(req.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let res = http
        .get(&url)
        .header("authorization", "Bearer skraber-token-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    for needle in [
        r#"trivsel_http_request_duration_seconds_count{route="/groups/{id}",method="GET",status="200"} 1"#,
        "trivsel_outbox_undelivered 1",
        "trivsel_outbox_given_up 0",
        "trivsel_database_ready 1",
        r#"trivsel_job_runs_total{job="readiness"}"#,
        r#"trivsel_db_connections{pool="#,
    ] {
        assert!(body.contains(needle), "{needle} in:\n{body}");
    }
    assert!(
        !body.contains(&format!("/groups/{}\"", f.class_a1)),
        "no concrete path"
    );
}

/// A malformed id, query or form gets the bilingual error page (404 for a path that names
/// nothing, 400 otherwise), never the framework's plain-text English message.
#[tokio::test]
async fn malformed_requests_get_the_error_page() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(LEADER).await;
    for (path, status) in [
        ("/groups/abc", StatusCode::NOT_FOUND),
        ("/children/1x/assess", StatusCode::NOT_FOUND),
        ("/overview?round=abc", StatusCode::BAD_REQUEST),
    ] {
        let res = c.get(path).await;
        assert_eq!(res.status, status, "{path}");
        res.assert_contains("<!doctype html>")
            .assert_contains("<section lang=\"en\">")
            .assert_lacks("Invalid URL")
            .assert_lacks("Failed to deserialize");
    }
    // A form without its fields.
    let res = c.post("/lang", &[]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    res.assert_contains("<!doctype html>")
        .assert_lacks("Failed to deserialize");
}

/// The design system is served from the binary under its version, cached for ever, with every
/// file its stylesheet refers to, and under the same CSP as the pages; the configured logo is
/// in the header and served from memory; without one the header names the municipality.
#[tokio::test]
async fn the_design_system_and_the_municipal_logo_come_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("kommune.svg");
    std::fs::write(
        &logo,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#036"/></svg>"##,
    )
    .unwrap();
    let config = trivsel::config::Config {
        logo: Some(logo),
        ..Default::default()
    };
    let app = TestApp::spawn_with(config).await;
    let _f = Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let page = c.get("/").await;
    let version = trivsel::web::dkfds::VERSION;
    page.assert_contains(&format!(
        "href=\"/assets/dkfds/{version}/css/dkfds.min.css\""
    ))
    .assert_contains("class=\"header\"")
    .assert_contains("<img class=\"brand-logo\" src=\"/branding/logo?v=");

    let http = reqwest::Client::new();
    let css = http
        .get(format!(
            "{}/assets/dkfds/{version}/css/dkfds.min.css",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(css.headers().contains_key("content-security-policy"));
    let css = css.text().await.unwrap();
    // Every font and image the stylesheet names is there (no CDN, nothing missing).
    let mut named = 0;
    for part in css.split("url(").skip(1) {
        let target = part.split(')').next().unwrap().trim_matches(['"', '\'']);
        let Some(rel) = target.strip_prefix("../") else {
            continue;
        };
        named += 1;
        let res = http
            .get(format!("{}/assets/dkfds/{version}/{rel}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{rel}");
    }
    assert!(named > 20, "{named} files named by the stylesheet");
    assert!(!css.contains("//fonts.") && !css.contains("https://"));
    let stale = http
        .get(format!("{}/assets/dkfds/0.0.1/css/dkfds.min.css", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 404);

    let res = http
        .get(format!("{}/branding/logo?v=1", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert!(res.text().await.unwrap().contains("<rect"));

    // Without a logo: the name in the header, and no logo to fetch.
    let plain = TestApp::spawn().await;
    let _f = Fixture::create(&plain).await;
    let mut c = plain.login(EDUCATOR).await;
    c.get("/")
        .await
        .assert_lacks("brand-logo")
        .assert_contains("class=\"brand-name\"");
    let res = http
        .get(format!("{}/branding/logo", plain.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
