//! The authorisation matrix: every role against every route that shows or changes a child or
//! an organisation object, including objects of another group, institution and district.
//! Out of scope is answered exactly like missing (404).

use reqwest::StatusCode;

use crate::helpers::*;

const OK: u16 = 200;
const NF: u16 = 404;

/// Each role reads each path; the answers that differ from the expected ones
/// (`[educator, educator_b, leader, worker, admin]`).
async fn unexpected(app: &TestApp, reads: &[(String, [u16; 5])]) -> Vec<String> {
    let roles = [EDUCATOR, EDUCATOR_B, LEADER, WORKER, ADMIN];
    let mut failures = Vec::new();
    for (i, email) in roles.iter().enumerate() {
        let mut c = app.login(email).await;
        for (path, expected) in reads {
            let got = c.get(path).await.status.as_u16();
            if got != expected[i] {
                failures.push(format!(
                    "{email} GET {path}: expected {}, got {got}",
                    expected[i]
                ));
            }
        }
    }
    failures
}

#[tokio::test]
async fn every_role_sees_exactly_its_scope() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let missing = 999_999;

    // (path, [educator, educator_b, leader, worker, admin])
    let reads: Vec<(String, [u16; 5])> = vec![
        (format!("/groups/{}", f.class_a1), [OK, NF, OK, NF, OK]),
        (format!("/groups/{}", f.class_a2), [NF, NF, OK, NF, OK]),
        (format!("/groups/{}", f.room_a), [NF, NF, NF, NF, OK]),
        (format!("/groups/{}", f.class_b1), [NF, OK, NF, NF, OK]),
        (format!("/groups/{missing}"), [NF, NF, NF, NF, NF]),
        (format!("/children/{}", f.child_a1), [OK, NF, OK, NF, OK]),
        (format!("/children/{}", f.child_a2), [NF, NF, OK, NF, OK]),
        (format!("/children/{}", f.child_room), [NF, NF, NF, NF, OK]),
        (format!("/children/{}", f.child_b1), [NF, OK, NF, NF, OK]),
        (format!("/children/{missing}"), [NF, NF, NF, NF, NF]),
        (
            format!("/institutions/{}", f.school_a),
            [NF, NF, OK, OK, OK],
        ),
        (
            format!("/institutions/{}", f.daycare_a),
            [NF, NF, NF, OK, OK],
        ),
        (
            format!("/institutions/{}", f.school_b),
            [NF, NF, NF, NF, OK],
        ),
        ("/admin/org".into(), [NF, NF, NF, NF, OK]),
        // Anyone may ask for a reset link; a link that was never sent finds nothing.
        ("/password/forgot".into(), [OK, OK, OK, OK, OK]),
        ("/account/security".into(), [OK, OK, OK, OK, OK]),
        ("/account/0123abcd".into(), [NF, NF, NF, NF, NF]),
        ("/admin/users".into(), [NF, NF, NF, NF, OK]),
        ("/admin/users/new".into(), [NF, NF, NF, NF, OK]),
        (format!("/admin/users/{}", f.admin), [NF, NF, NF, NF, OK]),
        ("/admin/children".into(), [NF, NF, NF, NF, OK]),
        ("/admin/children/new".into(), [NF, NF, NF, NF, OK]),
        (
            format!("/admin/children/{}", f.child_a1),
            [NF, NF, NF, NF, OK],
        ),
        (
            format!("/admin/districts/{}", f.district_a),
            [NF, NF, NF, NF, OK],
        ),
        (
            format!("/admin/districts/{}", f.district_b),
            [NF, NF, NF, NF, OK],
        ),
        ("/admin/districts/new".into(), [NF, NF, NF, NF, OK]),
        (
            format!("/admin/institutions/{}", f.school_a),
            [NF, NF, NF, NF, OK],
        ),
        ("/admin/institutions/new".into(), [NF, NF, NF, NF, OK]),
        (
            format!("/admin/groups/{}", f.class_a1),
            [NF, NF, NF, NF, OK],
        ),
        ("/admin/groups/new".into(), [NF, NF, NF, NF, OK]),
        ("/admin/import".into(), [NF, NF, NF, NF, OK]),
        ("/admin/access-log".into(), [NF, NF, NF, NF, OK]),
        (
            format!("/children/{}/print", f.child_a1),
            [OK, NF, OK, NF, NF],
        ),
        (
            format!("/children/{}/print", f.child_b1),
            [NF, OK, NF, NF, NF],
        ),
        // The team's alerts (an empty list for a team without any) and the worker's queue.
        ("/alerts".into(), [OK, OK, OK, OK, NF]),
    ];
    let failures = unexpected(&app, &reads).await;
    assert!(
        failures.is_empty(),
        "authorisation matrix:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn changes_are_refused_outside_scope_and_write_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let child = f.child_a1.to_string();
    let group = f.class_a2.to_string();
    let district = f.district_a.to_string();
    let institution = f.school_a.to_string();
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/admin/districts/new".into(),
            vec![("name", "Nyt distrikt")],
        ),
        (
            format!("/admin/districts/{}", f.district_a),
            vec![("name", "Omdøbt")],
        ),
        (
            "/admin/institutions/new".into(),
            vec![
                ("name", "Ny skole"),
                ("district_id", &district),
                ("kind", "skole"),
            ],
        ),
        (
            format!("/admin/institutions/{}", f.school_a),
            vec![
                ("name", "Omdøbt skole"),
                ("district_id", &district),
                ("kind", "skole"),
            ],
        ),
        (
            "/admin/groups/new".into(),
            vec![
                ("name", "9.Z"),
                ("institution_id", &institution),
                ("school_year", "2026/27"),
            ],
        ),
        (
            format!("/admin/groups/{}", f.class_a1),
            vec![
                ("name", "1.Z"),
                ("institution_id", &institution),
                ("school_year", "2026/27"),
            ],
        ),
        (
            "/admin/children/new".into(),
            vec![
                ("first_name", "Ny"),
                ("last_name", "Elev"),
                ("birth_date", "2019-01-01"),
                ("gender", "u"),
                ("group_id", &group),
                ("from_date", "2026-08-01"),
            ],
        ),
        (
            format!("/admin/children/{child}"),
            vec![
                ("first_name", "Ændret"),
                ("last_name", "Navn"),
                ("birth_date", "2019-05-01"),
                ("gender", "u"),
            ],
        ),
        (
            format!("/admin/children/{child}/enrol"),
            vec![("group_id", &group), ("from_date", "2026-09-01")],
        ),
        (
            format!("/admin/children/{child}/guardians"),
            vec![("name", "Far Andersen")],
        ),
        (
            "/admin/users/new".into(),
            vec![("name", "Ny"), ("email", "ny@test.dk"), ("role", "admin")],
        ),
        (format!("/admin/users/{}/invite", f.admin), vec![]),
        (format!("/admin/users/{}/two-factor/reset", f.admin), vec![]),
        (
            format!("/admin/users/{}/sso", f.admin),
            vec![("provider", "test"), ("identity", "x@test.dk")],
        ),
    ];
    let tables = "SELECT (SELECT COUNT(*) FROM districts) + (SELECT COUNT(*) FROM institutions) + (SELECT COUNT(*) FROM groups) \
                  + (SELECT COUNT(*) FROM children) + (SELECT COUNT(*) FROM enrolments) + (SELECT COUNT(*) FROM guardians) + (SELECT COUNT(*) FROM users) \
                  + (SELECT COUNT(*) FROM account_tokens) + (SELECT COUNT(*) FROM outbox)";
    let before = app.count(tables).await;
    let mut failures = Vec::new();
    for email in [EDUCATOR, LEADER, WORKER] {
        let mut c = app.login(email).await;
        for (path, fields) in &posts {
            let got = c.post(path, fields).await.status;
            if got != StatusCode::NOT_FOUND {
                failures.push(format!("{email} POST {path}: expected 404, got {got}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(app.count(tables).await, before, "nothing was written");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM districts WHERE name = 'Omdøbt'")
            .await,
        0
    );
}

#[tokio::test]
async fn home_pages_list_only_what_the_role_may_see() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;

    let mut educator = app.login(EDUCATOR).await;
    educator
        .get("/")
        .await
        .assert_contains("1.A")
        .assert_lacks("2.A")
        .assert_lacks("1.B")
        .assert_lacks("Rød stue");

    let mut leader = app.login(LEADER).await;
    leader
        .get("/")
        .await
        .assert_contains("Askeskolen")
        .assert_contains("1.A")
        .assert_contains("2.A")
        .assert_lacks("Bøgeskolen")
        .assert_lacks("Rød stue");

    let mut worker = app.login(WORKER).await;
    worker
        .get("/")
        .await
        .assert_contains("Distrikt A")
        .assert_contains("Askeskolen")
        .assert_contains("Børnehaven Asken")
        .assert_lacks("Distrikt B")
        .assert_lacks("Bøgeskolen")
        .assert_lacks("Alma");

    let mut admin = app.login(ADMIN).await;
    admin
        .get("/")
        .await
        .assert_contains("Kommunens organisation")
        .assert_lacks("Alma");
}

/// Earlier records stay with the institution that made them: after a move to Bøgeskolen, the
/// daycare-to-school rule in the matrix (no handover consent recorded).
#[tokio::test]
async fn a_moved_childs_records_are_seen_by_the_institution_that_made_them() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    let before =
        crate::alerts::position(&mut educator, f.child_a1, &thriving_answers(), "green").await;
    move_from_tomorrow(&app, f.child_a1, f.class_b1).await;
    app.state.clock.advance(chrono::Duration::days(2));
    let mut teacher = app.login(EDUCATOR_B).await;
    let after =
        crate::alerts::position(&mut teacher, f.child_a1, &thriving_answers(), "green").await;

    // (path, [educator, educator_b, leader, worker, admin])
    let reads: Vec<(String, [u16; 5])> = vec![
        (before, [NF, NF, NF, NF, NF]),
        (after, [NF, OK, NF, NF, NF]),
        (format!("/children/{}", f.child_a1), [NF, OK, NF, NF, OK]),
    ];
    let failures = unexpected(&app, &reads).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The admin area answers a logged-in non-admin 404 before reading the body: a request that
/// announces a large form and never sends it is refused at once (were the body read, the
/// answer would wait for bytes that never come), and the same for the DPO outside the access
/// log and retention pages. The admin with the same request is kept waiting for the body.
#[tokio::test]
async fn the_admin_area_refuses_others_before_reading_the_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let _f = Fixture::create(&app).await;
    let dpo = app.add_dpo().await;
    let addr = app.base.trim_start_matches("http://").to_string();

    // Sends the headers of a form post that announces 100,000 bytes and sends none; returns
    // the status line if one came within two seconds.
    let announce = |cookie: String, path: &'static str| {
        let addr = addr.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 100000\r\n\r\n"
            );
            s.write_all(head.as_bytes()).await.unwrap();
            let mut buf = vec![0u8; 64];
            match tokio::time::timeout(std::time::Duration::from_secs(2), s.read(&mut buf)).await {
                Ok(Ok(n)) => Some(
                    String::from_utf8_lossy(&buf[..n])
                        .lines()
                        .next()
                        .map(str::to_string),
                ),
                _ => None,
            }
            .flatten()
        }
    };

    for (email, path) in [
        (LEADER, "/admin/children/new"),
        (EDUCATOR, "/admin/import"),
        (WORKER, "/admin/users/new"),
        (dpo.as_str(), "/admin/org"),
    ] {
        let c = app.login(email).await;
        let line = announce(c.cookie_header(), path).await;
        assert_eq!(
            line.as_deref(),
            Some("HTTP/1.1 404 Not Found"),
            "{email} POST {path}"
        );
    }
    let admin = app.login(ADMIN).await;
    assert_eq!(
        announce(admin.cookie_header(), "/admin/children/new").await,
        None,
        "the admin's request waits for its body"
    );
    // The DPO still reads the access log and the retention page.
    let mut d = app.login(&dpo).await;
    assert_eq!(d.get("/admin/access-log").await.status, StatusCode::OK);
    assert_eq!(d.get("/admin/retention").await.status, StatusCode::OK);
    assert_eq!(d.get("/admin/users").await.status, StatusCode::NOT_FOUND);
}

/// The conversation on an alert: the child's team (its group's educators, its institution's
/// leader) and the workers of the alert's district read and write; another group's educator,
/// another district's worker and the admin get 404 and write nothing.
#[tokio::test]
async fn alert_conversations_are_scoped_to_the_team_and_the_district() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    crate::alerts::position(&mut educator, f.child_a1, &answers("1", None), "yellow").await;
    crate::alerts::position(&mut educator, f.child_a1, &answers("1", None), "yellow").await;
    let id = app.count("SELECT MAX(id) FROM alerts").await;
    let path = format!("/alerts/{id}");
    let failures = unexpected(&app, &[(path.clone(), [OK, NF, OK, OK, NF])]).await;
    assert!(failures.is_empty(), "{failures:?}");
    let post = format!("{path}/messages");
    for (email, expected) in [
        (EDUCATOR_B, StatusCode::NOT_FOUND),
        (WORKER_B, StatusCode::NOT_FOUND),
        (ADMIN, StatusCode::NOT_FOUND),
        (EDUCATOR, StatusCode::SEE_OTHER),
        (LEADER, StatusCode::SEE_OTHER),
        (WORKER, StatusCode::SEE_OTHER),
    ] {
        let mut c = app.login(email).await;
        let got = c.post(&post, &[("body", "Et spørgsmål")]).await.status;
        assert_eq!(got, expected, "{email} POST {post}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM alert_messages").await, 3);
}

/// The case's own routes on a named case (a notification): only the alert's district's
/// workers record measures, reviews and meetings; the child's team, another district's
/// worker and the admin get 404 and write nothing.
#[tokio::test]
async fn case_work_on_a_named_case_is_the_districts_workers_alone() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    crate::alerts::position(
        &mut educator,
        f.child_a1,
        &answers("1", Some("neglect")),
        "red",
    )
    .await;
    let id = app.count("SELECT MAX(id) FROM alerts").await;
    let today = app.state.now().date_naive().to_string();
    let measure = [
        ("kind", "ppr"),
        ("started_on", today.as_str()),
        ("responsible", "PPR"),
    ];
    let meeting = [
        ("kind", "dialogue"),
        ("held_on", today.as_str()),
        ("participants", "mor, lærer"),
        ("agreements", "Møde igen om en måned."),
    ];
    for email in [EDUCATOR, EDUCATOR_B, LEADER, WORKER_B, ADMIN] {
        let mut c = app.login(email).await;
        for (path, fields) in [
            (format!("/alerts/{id}/measures"), &measure[..]),
            (format!("/alerts/{id}/meetings"), &meeting[..]),
        ] {
            assert_eq!(
                c.post(&path, fields).await.status,
                StatusCode::NOT_FOUND,
                "{email} POST {path}"
            );
        }
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM measures").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM case_meetings").await, 0);
    let mut w = app.login(WORKER).await;
    assert_eq!(
        w.post(&format!("/alerts/{id}/measures"), &measure)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        w.post(&format!("/alerts/{id}/meetings"), &meeting)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let mid = app.count("SELECT MAX(id) FROM measures").await;
    let review = [("changed", "Godt i gang."), ("decision", "continue")];
    for email in [EDUCATOR, LEADER, WORKER_B, ADMIN] {
        let mut c = app.login(email).await;
        assert_eq!(
            c.post(&format!("/measures/{mid}/reviews"), &review)
                .await
                .status,
            StatusCode::NOT_FOUND,
            "{email} POST a review"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM measure_reviews").await, 0);
    assert_eq!(
        w.post(&format!("/measures/{mid}/reviews"), &review)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}
