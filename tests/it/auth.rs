//! Login, sessions, throttling, CSRF, first-admin setup and the language switch.

use reqwest::StatusCode;
use trivsel::config::Config;

use crate::helpers::*;

#[tokio::test]
async fn login_page_is_danish_and_login_works() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.client();
    let page = c.get("/login").await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_contains("<html lang=\"da\">")
        .assert_contains("Log ind");

    let bad = c.login(EDUCATOR, "forkert-kodeord").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    bad.assert_contains("E-mail eller adgangskode er forkert.")
        .assert_contains(EDUCATOR);

    let ok = c.login(EDUCATOR, PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location.as_deref(), Some("/"));
    c.get("/")
        .await
        .assert_contains("Mine grupper")
        .assert_contains("1.A");

    // Emails are case-insensitive.
    let mut c2 = app.client();
    assert_eq!(
        c2.login("EDUCATOR@Test.dk", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn anonymous_requests_go_to_login() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.client();
    for path in [
        "/".to_string(),
        format!("/groups/{}", f.class_a1),
        format!("/children/{}", f.child_a1),
        "/admin/org".into(),
    ] {
        let res = c.get(&path).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.location.as_deref(), Some("/login"), "{path}");
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    assert_eq!(c.post("/logout", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/").await.location.as_deref(), Some("/login"));
}

#[tokio::test]
async fn a_session_ended_here_is_refused_at_once_even_when_its_cookie_is_replayed() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let cookie = c.cookie_header();
    assert!(cookie.contains("trivsel_session="), "{cookie}");
    let replay = |cookie: String| {
        let url = format!("{}/", app.base);
        async move {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
        }
    };
    // Read once, so that this instance holds a copy of the session.
    assert_eq!(replay(cookie.clone()).await.status(), StatusCode::OK);
    assert_eq!(c.post("/logout", &[]).await.status, StatusCode::SEE_OTHER);
    let res = replay(cookie).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login");
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let mut app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(LEADER).await;
    app.restart().await;
    // Cookies are per host, not per port: the same cookie goes to the restarted server.
    c.base = app.base.clone();
    let res = c.get("/").await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "still logged in after the restart"
    );
    res.assert_contains("Mine institutioner");
}

#[tokio::test]
async fn repeated_failures_throttle_the_account() {
    let config = Config {
        login_max_failures: 3,
        ..Config::default()
    };
    let app = TestApp::spawn_with(config).await;
    Fixture::create(&app).await;
    let mut c = app.client();
    for _ in 0..3 {
        assert_eq!(
            c.login(LEADER, "gaet-forkert-1").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Now even the right password is refused for this account…
    let res = c.login(LEADER, PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    res.assert_contains("For mange mislykkede forsøg");
    // …but other accounts are not affected.
    assert_eq!(
        app.client().login(EDUCATOR, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn state_changes_need_the_csrf_token_and_our_origin() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(ADMIN).await;
    let before = app.count("SELECT COUNT(*) FROM districts").await;

    let forged = c
        .post_raw("/admin/districts/new", &[("name", "Forfalsket")], None)
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    let wrong = c
        .post_raw(
            "/admin/districts/new",
            &[("name", "Forkert"), ("csrf_token", "abc")],
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let token = c.csrf.clone().unwrap();
    let cross = c
        .post_raw(
            "/admin/districts/new",
            &[("name", "Fremmed"), ("csrf_token", &token)],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(cross.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM districts").await,
        before,
        "nothing written"
    );

    let ok = c.post("/admin/districts/new", &[("name", "Ægte")]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM districts").await,
        before + 1
    );

    // A login form posted without the token is refused too (login CSRF).
    let mut fresh = app.client();
    let res = fresh
        .post_raw("/login", &[("email", ADMIN), ("password", PASSWORD)], None)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn first_admin_is_created_through_a_one_time_link() {
    let app = TestApp::spawn().await;
    let token = trivsel::auth::routes::issue_setup_token(&app.db, chrono::Utc::now())
        .await
        .unwrap()
        .expect("token on empty db");
    let mut c = app.client();
    assert_eq!(
        c.get("/setup/wrong-token").await.status,
        StatusCode::NOT_FOUND
    );
    let page = c.get(&format!("/setup/{token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_contains("Kom i gang");

    let bad = c
        .post(
            &format!("/setup/{token}"),
            &[
                ("name", "Ada Admin"),
                ("email", "ikke-en-mail"),
                ("password", "kort"),
                ("password2", "andet"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    bad.assert_contains("value=\"Ada Admin\"")
        .assert_contains("Skriv en gyldig e-mailadresse.")
        .assert_contains("Adgangskoden skal have mindst 10 tegn.")
        .assert_contains("De to adgangskoder er ikke ens.");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);

    let ok = c
        .post(
            &format!("/setup/{token}"),
            &[
                ("name", "Ada Admin"),
                ("email", "ada@kommune.dk"),
                ("password", "en-lang-kode-1"),
                ("password2", "en-lang-kode-1"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    c.get("/").await.assert_contains("Kommunens organisation");
    // The link works once.
    assert_eq!(
        app.client().get(&format!("/setup/{token}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        trivsel::auth::routes::issue_setup_token(&app.db, chrono::Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    let mut again = app.client();
    assert_eq!(
        again.login("ada@kommune.dk", "en-lang-kode-1").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn language_switch_persists_on_the_account() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let res = c.post("/lang", &[("lang", "en"), ("back", "/")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    c.get("/")
        .await
        .assert_contains("<html lang=\"en\">")
        .assert_contains("My groups");
    // A new login elsewhere keeps the choice.
    let mut other = app.login(EDUCATOR).await;
    other.get("/").await.assert_contains("My groups");
    // The back link only goes to local paths.
    let res = c
        .post(
            "/lang",
            &[("lang", "da"), ("back", "https://evil.example/")],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/"));
    let res = c
        .post("/lang", &[("lang", "da"), ("back", "/\\evil.example/")])
        .await;
    assert_eq!(res.location.as_deref(), Some("/"));
    // The switch on any page brings the user back to that page.
    let page = c.get("/overview?round=1").await;
    page.assert_contains("name=\"back\" value=\"/overview?round=1\"");
    let res = c
        .post("/lang", &[("lang", "en"), ("back", "/overview?round=1")])
        .await;
    assert_eq!(res.location.as_deref(), Some("/overview?round=1"));
}

#[tokio::test]
async fn deactivated_accounts_lose_their_session() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    // Deactivated outside this instance (by hand, or on another instance): the instance's
    // copy of the session is used up to session_cache_seconds, and not a moment longer.
    app.exec("UPDATE users SET active = FALSE WHERE email = 'educator@test.dk'")
        .await;
    let cached = app.state.config.session_cache_seconds as i64;
    assert!(cached > 0, "the suite runs with the session cache on");
    app.state.clock.advance(chrono::Duration::seconds(cached));
    assert_eq!(c.get("/").await.location.as_deref(), Some("/login"));
    assert_eq!(
        app.client().login(EDUCATOR, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_changed_account_bites_on_the_next_request_and_is_never_stored_in_the_session() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    c.get("/").await.assert_contains("educator@test.dk");
    // The session row names its account; the account itself is read with it, not kept.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE u.email = 'educator@test.dk'"
        )
        .await,
        1
    );
    app.exec("UPDATE users SET name = 'Omdøbt Pædagog', role = 'leader' WHERE email = 'educator@test.dk'")
        .await;
    // A minute on, the request marks the session seen, so that it is written back.
    app.state.clock.advance(chrono::Duration::minutes(2));
    let home = c.get("/").await;
    home.assert_contains("Omdøbt Pædagog");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM sessions WHERE data LIKE '%Omdøbt%' OR data LIKE '%account%'"
        )
        .await,
        0
    );
    // The role changed with it: a leader's overview is now open to the former educator.
    assert_eq!(c.get("/overview").await.status, StatusCode::OK);
}

/// A logout while another request of the same session is in flight: that request's save
/// must not bring the deleted session back.
#[tokio::test]
async fn a_session_deleted_while_a_request_is_in_flight_stays_deleted() {
    use tower_sessions::SessionStore;
    use tower_sessions::session::{Id, Record};
    use trivsel::auth::session_store::{DbSessionStore, SessionCache};
    let app = TestApp::spawn().await;
    let store = DbSessionStore::new(
        app.db.clone(),
        SessionCache::new(0),
        app.state.clock.clone(),
    );
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    record.data.insert("user_id".into(), serde_json::json!(1));
    store.create(&mut record).await.unwrap();
    let loaded = store.load(&record.id).await.unwrap().expect("stored");
    store.delete(&record.id).await.unwrap(); // the logout
    store.save(&loaded).await.unwrap(); // the request that was in flight ends
    assert!(store.load(&record.id).await.unwrap().is_none());
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
}

/// Looking at the login page stores nothing; the login form is accepted from our own pages
/// (as a browser declares them) and refused from anywhere else or from nowhere.
#[tokio::test]
async fn the_login_page_stores_no_session_and_the_login_checks_its_origin() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.client();
    for _ in 0..3 {
        assert_eq!(c.get("/login").await.status, StatusCode::OK);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    assert!(c.cookie_header().is_empty(), "no session cookie yet");

    let fields = [("email", ADMIN), ("password", PASSWORD)];
    let forged = c
        .post_raw("/login", &fields, Some("http://evil.example"))
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    let silent = c.post_raw("/login", &fields, None).await;
    assert_eq!(silent.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    let base = c.base.clone();
    let ours = c.post_raw("/login", &fields, Some(&base)).await;
    assert_eq!(ours.status, StatusCode::SEE_OTHER, "{}", ours.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
}

/// The language switch goes back only to a local path: a tab or a control character in it
/// (which browsers drop, or which cannot be a header) sends the user to the start page.
#[tokio::test]
async fn the_language_switch_never_leaves_the_site_and_never_fails() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    for back in [
        "/\t/evil.example",
        "/\u{1}x",
        "/\n/evil.example",
        "/ok path",
    ] {
        let res = c.post("/lang", &[("lang", "en"), ("back", back)]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{back:?}: {}", res.body);
        assert_eq!(res.location.as_deref(), Some("/"), "{back:?}");
    }
    let res = c
        .post("/lang", &[("lang", "da"), ("back", "/alerts?page=2")])
        .await;
    assert_eq!(res.location.as_deref(), Some("/alerts?page=2"));
}

/// Wrong passwords from elsewhere cannot lock a user out of her own computer: the account
/// locks for unknown devices only, and a burst of parallel guesses gets no more than the
/// limit between them.
#[tokio::test]
async fn a_locked_account_still_opens_on_its_own_device_and_parallel_guesses_get_the_limit() {
    let app = TestApp::spawn_with(Config {
        login_max_failures: 3,
        ..Config::default()
    })
    .await;
    Fixture::create(&app).await;
    // The social worker has logged in on her own computer before.
    let mut own = app.login(WORKER).await;
    assert_eq!(own.post("/logout", &[]).await.status, StatusCode::SEE_OTHER);

    // Someone sends ten wrong passwords for her account at once.
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..10 {
        let mut c = app.client();
        guesses.spawn(async move { c.login(WORKER, &format!("gaet-forkert-{i}")).await.status });
    }
    let mut statuses = Vec::new();
    while let Some(s) = guesses.join_next().await {
        statuses.push(s.unwrap());
    }
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(checked, 3, "only the limit is checked: {statuses:?}");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        7
    );
    // From an unknown device even the right password is refused now…
    assert_eq!(
        app.client().login(WORKER, PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …but her own computer gets in.
    let res = own.login(WORKER, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(own.get("/").await.status, StatusCode::OK);
}

/// Wrong passwords must not hold up anyone's writes: the password is checked with no
/// database connection held. While four clients keep sending wrong passwords, a write waits
/// for a short statement at most, not for a password check (which is what it waited for
/// when the check held SQLite's one writer: about a hundred times longer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_do_not_hold_up_writes() {
    let app = TestApp::spawn_with(Config {
        login_max_failures: 1_000_000,
        ..Config::default()
    })
    .await;
    Fixture::create(&app).await;
    // What one password check takes on this machine now.
    let hash = trivsel::auth::password::hash(PASSWORD.to_string())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..5 {
        trivsel::auth::password::verify("forkert".into(), hash.clone())
            .await
            .unwrap();
    }
    let check = started.elapsed() / 5;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut guessers = tokio::task::JoinSet::new();
    for i in 0..4 {
        let mut c = app.client();
        let stop = stop.clone();
        guessers.spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                c.login(LEADER, &format!("gaet-forkert-{i}-{n}")).await;
                n += 1;
            }
            n
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut waits = Vec::new();
    for _ in 0..40 {
        let t = std::time::Instant::now();
        let mut w = app.db.writer().await.unwrap();
        trivsel::dispatch!(&mut w, c => sqlx::query("UPDATE readiness SET checked_at = $1 WHERE id = 1")
            .bind(chrono::Utc::now())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
            .unwrap());
        drop(w);
        waits.push(t.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut guesses = 0;
    while let Some(n) = guessers.join_next().await {
        guesses += n.unwrap();
    }
    waits.sort();
    let median = waits[waits.len() / 2];
    assert!(guesses >= 4, "the guessers were running");
    assert!(
        median < check,
        "a write waited {median:?} (median) while a password check takes {check:?}"
    );
}

/// The admin invites a new user by email; the user chooses their own password from a
/// single-use link that expires; the admin never types or sees it and can send a new link.
#[tokio::test]
async fn an_invited_user_chooses_their_own_password() {
    let smtp = crate::smtp::SmtpServer::start().await;
    let app = TestApp::spawn_with(crate::alerts::mail_config(smtp.port)).await;
    let f = Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;
    let form = admin.get("/admin/users/new").await;
    form.assert_contains("selv vælger sin adgangskode")
        .assert_lacks("type=\"password\"");
    let group = f.room_a.to_string();
    let res = admin
        .post(
            "/admin/users/new",
            &[
                ("name", "Ida Ny"),
                ("email", "ida@test.dk"),
                ("role", "educator"),
                ("active", "on"),
                ("password", "ignoreret-kode-1"),
                ("assign_group", &group),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = admin.get(res.location.as_deref().unwrap()).await;
    page.assert_contains("Invitationen er sendt.");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = 'ida@test.dk' AND password_hash IS NULL"
        )
        .await,
        1,
        "no password until she chooses one; a posted one is ignored"
    );
    assert_eq!(
        app.client()
            .login("ida@test.dk", "ignoreret-kode-1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // The email arrives by SMTP with a link and nothing about any child.
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains("Trivsel: du er inviteret"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("/account/"), "{}", mails[0]);
    crate::smtp::assert_no_personal_data(&app, &mails).await;

    let link = app.emailed_link("ida@test.dk").await;
    let mut ida = app.client();
    ida.get(&link)
        .await
        .assert_contains("Velkommen til Trivsel");
    for (password, again, message) in [
        ("kort", "kort", "Adgangskoden skal have mindst 10 tegn."),
        (
            "min-egen-kode-1",
            "min-egen-kode-2",
            "De to adgangskoder er ikke ens.",
        ),
    ] {
        let res = ida
            .post(&link, &[("password", password), ("password2", again)])
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        res.assert_contains(message);
    }
    let res = ida
        .post(
            &link,
            &[
                ("password", "min-egen-kode-1"),
                ("password2", "min-egen-kode-1"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    ida.get("/").await.assert_contains("Rød stue");
    // Used once.
    assert_eq!(app.client().get(&link).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.client()
            .login("ida@test.dk", "min-egen-kode-1")
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // A new invitation replaces the unused one; a link expires after seven days.
    let id = app
        .count("SELECT id FROM users WHERE email = 'ida@test.dk'")
        .await;
    admin.post(&format!("/admin/users/{id}/invite"), &[]).await;
    let first = app.emailed_link("ida@test.dk").await;
    admin.post(&format!("/admin/users/{id}/invite"), &[]).await;
    let second = app.emailed_link("ida@test.dk").await;
    assert_ne!(first, second);
    assert_eq!(app.client().get(&first).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.client().get(&second).await.status, StatusCode::OK);
    app.state.clock.advance(chrono::Duration::days(8));
    assert_eq!(
        app.client().get(&second).await.status,
        StatusCode::NOT_FOUND
    );
}

/// "Glemt adgangskode": the same answer whether or not the address has an account, a link that
/// works once and for an hour, at most three an hour, and every other session of the account
/// ended when the new password is chosen.
#[tokio::test]
async fn a_forgotten_password_is_reset_by_a_link_that_ends_other_sessions() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut elsewhere = app.login(EDUCATOR).await;
    assert_eq!(elsewhere.get("/").await.status, StatusCode::OK);

    let mut c = app.client();
    c.get("/login").await.assert_contains("/password/forgot");
    // A form posted from another site is refused, as the login is.
    let forged = c
        .post_raw(
            "/password/forgot",
            &[("email", EDUCATOR)],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    let unknown = c
        .post("/password/forgot", &[("email", "ingen@test.dk")])
        .await;
    let known = c.post("/password/forgot", &[("email", EDUCATOR)]).await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(known.status, StatusCode::OK);
    let sent = |body: &str| {
        body.split("id=\"forgot-sent\"")
            .nth(1)
            .map(|s| s.split("</p>").next().unwrap().to_string())
    };
    assert!(sent(&known.body).is_some());
    assert_eq!(sent(&unknown.body), sent(&known.body), "the same answer");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE recipient = 'ingen@test.dk'")
            .await,
        0
    );
    let bad = c
        .post("/password/forgot", &[("email", "ikke en adresse")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    bad.assert_contains("id=\"email-error\"");

    let link = app.emailed_link(EDUCATOR).await;
    c.get(&link).await.assert_contains("Vælg ny adgangskode");
    let res = c
        .post(
            &link,
            &[
                ("password", "helt-ny-kode-1"),
                ("password2", "helt-ny-kode-1"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    assert_eq!(
        elsewhere.get("/").await.location.as_deref(),
        Some("/login"),
        "the other session ended"
    );
    assert_eq!(
        app.client().login(EDUCATOR, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.client().login(EDUCATOR, "helt-ny-kode-1").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.client().get(&link).await.status, StatusCode::NOT_FOUND);

    // At most three links an hour; a link works for an hour.
    for _ in 0..3 {
        c.post("/password/forgot", &[("email", EDUCATOR)]).await;
    }
    let educator = format!("recipient = '{EDUCATOR}' AND subject = 'Trivsel: ny adgangskode'");
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM outbox WHERE {educator}"))
            .await,
        3
    );
    let last = app.emailed_link(EDUCATOR).await;
    app.state.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(app.client().get(&last).await.status, StatusCode::NOT_FOUND);
}

/// The code an authenticator app shows for `secret` (base32, as the setup page prints it) at
/// `at`.
fn app_code(secret: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let secret: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(&secret).unwrap())
        .with_account_name("test")
        .build()
        .unwrap()
        .generate(at.timestamp() as u64)
        .to_string()
}

/// The secret printed on the setup page.
fn printed_secret(page: &str) -> String {
    page.split("<code id=\"totp-secret\">")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("the secret on the setup page")
        .to_string()
}

fn two_factor_config() -> Config {
    Config {
        two_factor_roles: Some(vec!["admin".into(), "social_worker".into()]),
        ..Config::default()
    }
}

/// By default admins and social workers need a second factor: the password opens only the
/// second step; an account without one enrols (QR code drawn by the server, a code to confirm,
/// ten recovery codes shown once); a code is accepted once; a recovery code works once; wrong
/// codes are throttled like wrong passwords. A password chosen from an invitation does not
/// skip the step.
#[tokio::test]
async fn admins_and_social_workers_log_in_with_two_factors() {
    assert!(Config::default().two_factor_required(trivsel::auth::Role::Admin));
    assert!(Config::default().two_factor_required(trivsel::auth::Role::SocialWorker));
    assert!(!Config::default().two_factor_required(trivsel::auth::Role::Educator));
    let app = TestApp::spawn_with(two_factor_config()).await;
    Fixture::create(&app).await;
    let mut c = app.client();
    let res = c.login(ADMIN, PASSWORD).await;
    assert_eq!(res.location.as_deref(), Some("/login/code"));
    assert_eq!(
        c.get("/").await.location.as_deref(),
        Some("/login"),
        "not in yet"
    );
    assert_eq!(
        c.get("/login/code").await.location.as_deref(),
        Some("/two-factor/setup")
    );
    let setup = c.get("/two-factor/setup").await;
    setup
        .assert_contains("<svg")
        .assert_contains("Opsæt to faktorer");
    let secret = printed_secret(&setup.body);
    let wrong = c.post("/two-factor/setup", &[("code", "000000")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        printed_secret(&wrong.body),
        secret,
        "the same secret until confirmed"
    );
    let now = app.state.now();
    let done = c
        .post("/two-factor/setup", &[("code", &app_code(&secret, now))])
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let codes: Vec<String> = done
        .body
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split("</code>").next().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(c.get("/").await.status, StatusCode::OK, "logged in");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL")
            .await,
        10
    );

    // Next time: password, then a code — each code once.
    let same_step = app_code(&secret, now);
    let mut c = app.client();
    c.login(ADMIN, PASSWORD).await;
    let used = c.post("/login/code", &[("code", &same_step)]).await;
    assert_eq!(used.status, StatusCode::UNAUTHORIZED);
    used.assert_contains("Koden er forkert eller er allerede brugt.");
    app.state.clock.advance(chrono::Duration::seconds(30));
    let res = c
        .post(
            "/login/code",
            &[("code", &app_code(&secret, app.state.now()))],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/").await.status, StatusCode::OK);

    // A recovery code, typed with a space and in small letters, works once.
    let typed = codes[0].replace('-', " ").to_lowercase();
    let mut c = app.client();
    c.login(ADMIN, PASSWORD).await;
    assert_eq!(
        c.post("/login/code", &[("code", &typed)]).await.status,
        StatusCode::SEE_OTHER
    );
    let mut c = app.client();
    c.login(ADMIN, PASSWORD).await;
    assert_eq!(
        c.post("/login/code", &[("code", &typed)]).await.status,
        StatusCode::UNAUTHORIZED
    );

    // An invited social worker chooses a password, then must set up the second factor.
    let mut admin = app.client();
    admin.login(ADMIN, PASSWORD).await;
    app.state.clock.advance(chrono::Duration::seconds(30));
    admin
        .post(
            "/login/code",
            &[("code", &app_code(&secret, app.state.now()))],
        )
        .await;
    admin.get("/").await;
    let district = app.count("SELECT MIN(id) FROM districts").await.to_string();
    let res = admin
        .post(
            "/admin/users/new",
            &[
                ("name", "Sara Social"),
                ("email", "sara@test.dk"),
                ("role", "social_worker"),
                ("active", "on"),
                ("assign_district", &district),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let link = app.emailed_link("sara@test.dk").await;
    let mut sara = app.client();
    sara.get(&link).await;
    let res = sara
        .post(
            &link,
            &[
                ("password", "saras-egen-kode"),
                ("password2", "saras-egen-kode"),
            ],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/login/code"));
    assert_eq!(sara.get("/").await.location.as_deref(), Some("/login"));

    // Wrong codes are throttled.
    let mut limited = false;
    for _ in 0..8 {
        let res = c.post("/login/code", &[("code", "123456")]).await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "wrong codes are throttled");
}

/// An educator may turn two factors on; the admin resets them (logged, the user told by an
/// email that names no child), and the educator then logs in with the password again.
#[tokio::test]
async fn an_educator_turns_two_factors_on_and_the_admin_resets_them() {
    let app = TestApp::spawn_with(two_factor_config()).await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    c.get("/account/security")
        .await
        .assert_contains("To faktorer er ikke slået til.");
    let secret = printed_secret(&c.get("/two-factor/setup").await.body);
    let done = c
        .post(
            "/two-factor/setup",
            &[("code", &app_code(&secret, app.state.now()))],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    c.get("/account/security")
        .await
        .assert_contains("To faktorer er slået til.");

    let mut c = app.client();
    assert_eq!(
        c.login(EDUCATOR, PASSWORD).await.location.as_deref(),
        Some("/login/code")
    );
    app.state.clock.advance(chrono::Duration::seconds(30));
    let res = c
        .post(
            "/login/code",
            &[("code", &app_code(&secret, app.state.now()))],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    c.get("/").await.assert_contains("1.A");

    // The admin resets it: logged, the user told, and the password alone opens again.
    let educator = app
        .count(&format!("SELECT id FROM users WHERE email = '{EDUCATOR}'"))
        .await;
    let mut admin = app.client();
    admin.login(ADMIN, PASSWORD).await;
    let admin_secret = printed_secret(&admin.get("/two-factor/setup").await.body);
    admin
        .post(
            "/two-factor/setup",
            &[("code", &app_code(&admin_secret, app.state.now()))],
        )
        .await;
    admin.get("/").await;
    let res = admin
        .post(&format!("/admin/users/{educator}/two-factor/reset"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    admin
        .get(res.location.as_deref().unwrap())
        .await
        .assert_contains("Den anden faktor er nulstillet");
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM access_log WHERE object = 'user:{educator}' AND detail = 'two-factor-reset' AND user_id = {}", f.admin)).await,
        1
    );
    let mail = app
        .text(&format!(
            "SELECT body FROM outbox WHERE recipient = '{EDUCATOR}' AND subject = 'Trivsel: din anden faktor er nulstillet'"
        ))
        .await;
    crate::smtp::assert_no_personal_data(&app, &[mail]).await;
    assert_eq!(
        app.client()
            .login(EDUCATOR, PASSWORD)
            .await
            .location
            .as_deref(),
        Some("/")
    );
    // Educators cannot reset anyone's second factor.
    let mut e = app.login(EDUCATOR).await;
    assert_eq!(
        e.post(&format!("/admin/users/{}/two-factor/reset", f.admin), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
