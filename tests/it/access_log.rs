//! Every read and change of a child's data lands in the access log, with user, role, action
//! and child; the admin can filter it by child or by user.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn reads_and_changes_are_logged_per_child() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    let educator_id: i64 = app
        .count("SELECT id FROM users WHERE email = 'educator@test.dk'")
        .await;

    educator.get(&format!("/groups/{}", f.class_a1)).await;
    // Both children of 1.A were shown: one record names them both (the log's compact form),
    // and "who saw this child" finds it for each of them.
    let mut sorted = [f.child_a1, f.protected_child];
    sorted.sort();
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE user_id = {educator_id} AND child_id IS NULL \
             AND action = 'read' AND role = 'educator' AND object = 'group:{}' AND children = '{},{}'",
            f.class_a1, sorted[0], sorted[1]
        ))
        .await,
        1
    );
    for child in [f.child_a1, f.protected_child] {
        let mut c = app.db.conn().await.unwrap();
        let seen = trivsel::audit::entries(&mut c, Some(child), None, None, 10)
            .await
            .unwrap();
        assert!(
            seen.iter()
                .any(|e| e.object == format!("group:{}", f.class_a1) && e.child_count() == 2),
            "group read found for child {child}: {seen:?}"
        );
    }
    // Another child's accesses do not include it.
    let mut c = app.db.conn().await.unwrap();
    assert!(
        trivsel::audit::entries(&mut c, Some(f.child_b1), None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    drop(c);
    educator.get(&format!("/children/{}", f.child_a1)).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = {} AND object = 'child'",
            f.child_a1
        ))
        .await,
        1
    );
    // A refused read is not a read.
    educator.get(&format!("/children/{}", f.child_b1)).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = {}",
            f.child_b1
        ))
        .await,
        0
    );

    let mut admin = app.login(ADMIN).await;
    let res = admin
        .post(
            &format!("/admin/children/{}", f.child_a1),
            &[
                ("first_name", "Alma"),
                ("last_name", "Andersen-Berg"),
                ("birth_date", "2019-05-01"),
                ("gender", "p"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM access_log WHERE child_id = {} AND action = 'change' AND role = 'admin'", f.child_a1)).await, 1);

    admin
        .get("/admin/children?q=andersen")
        .await
        .assert_contains("Alma Andersen-Berg");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM access_log WHERE action = 'search' AND detail = 'q=andersen'"
        )
        .await,
        1
    );

    let page = admin
        .get(&format!("/admin/access-log?child={}", f.child_a1))
        .await;
    // Spoken in Danish: the action, the object and the child's name, never codes.
    page.assert_contains("<td>Ændret</td>")
        .assert_contains("Gruppe ")
        .assert_contains("Alma Andersen-Berg")
        .assert_lacks("group:");
    let rows = page.body.matches("<tr class=\"entry\">").count() as i64;
    let expected = app
        .count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = {0} OR ',' || children || ',' LIKE '%,{0},%'",
            f.child_a1
        ))
        .await;
    assert_eq!(
        rows, expected,
        "the filtered page lists exactly this child's entries"
    );
    let page = admin
        .get(&format!("/admin/access-log?user={educator_id}"))
        .await;
    // The group's page (one record for both children) and the child's page.
    assert!(page.body.matches("<tr class=\"entry\">").count() >= 2);
    page.assert_contains("Pædagog")
        .assert_lacks(">Kommunal administrator<");
}

#[tokio::test]
async fn entries_are_listed_newest_first_on_both_backends() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let user = trivsel::auth::CurrentUser {
        id: f.admin,
        name: "A".into(),
        email: ADMIN.into(),
        role: trivsel::auth::Role::Admin,
        lang: Default::default(),
    };
    // Timestamps that differ only below the second, and across a second boundary, must sort
    // as time does (SQLite compares the stored text).
    let base = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let offsets_ms = [999, 0, 1500, 10, 100, 1000];
    let mut c = app.db.writer().await.unwrap();
    for (i, ms) in offsets_ms.iter().enumerate() {
        let at = base + chrono::Duration::milliseconds(*ms);
        trivsel::audit::record(
            &mut c,
            &user,
            trivsel::audit::Action::Read,
            Some(f.child_a1),
            &format!("t{i}"),
            "",
            at,
        )
        .await
        .unwrap();
    }
    let entries = trivsel::audit::entries(&mut c, Some(f.child_a1), None, None, 10)
        .await
        .unwrap();
    let objects: Vec<&str> = entries.iter().map(|e| e.object.as_str()).collect();
    assert_eq!(objects, ["t2", "t5", "t0", "t4", "t3", "t1"]);
}

/// The access log is sealed in a chain of hashes; `trivsel audit verify` finds an edited,
/// a deleted and an inserted record.
#[tokio::test]
async fn audit_verify_catches_an_edited_deleted_or_inserted_record() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    c.get(&format!("/groups/{}", f.class_a1)).await;
    c.get(&format!("/children/{}", f.child_a1)).await;
    let logged = app.count("SELECT COUNT(*) FROM access_log").await;
    assert!(logged >= 2);
    // A minute later the job seals what was logged.
    let later = app.state.now() + chrono::Duration::minutes(2);
    let sealed = trivsel::audit::seal(&app.db, later).await.unwrap();
    assert_eq!(sealed as i64, logged);
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_trivsel"))
            .args(["audit", "verify"])
            .env("DATABASE_URL", &app.url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = verify();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("access log intact: {logged} records in 1 seals")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Someone takes a child out of the group page's record, to hide that it was seen: caught,
    // and the chain holds again once the record is as it was.
    let group_read = app
        .count("SELECT id FROM access_log WHERE children IS NOT NULL")
        .await;
    let mut both = [f.child_a1, f.protected_child];
    both.sort();
    app.exec(&format!(
        "UPDATE access_log SET children = '{}' WHERE id = {group_read}",
        both[0]
    ))
    .await;
    let out = verify();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a record was changed"));
    app.exec(&format!(
        "UPDATE access_log SET children = '{},{}' WHERE id = {group_read}",
        both[0], both[1]
    ))
    .await;
    assert!(verify().status.success());

    // Someone rewrites who read the child.
    let first = app.count("SELECT MIN(id) FROM access_log").await;
    app.exec(&format!(
        "UPDATE access_log SET user_id = 1 WHERE id = {first} + 1"
    ))
    .await;
    let out = verify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("access log altered") && stderr.contains("a record was changed"),
        "{stderr}"
    );

    // Deleting a record, or slipping one in among the sealed, breaks the chain too.
    let mut db = app.db.conn().await.unwrap();
    app.exec(&format!("DELETE FROM access_log WHERE id = {first}"))
        .await;
    match trivsel::audit::verify(&mut db).await.unwrap() {
        trivsel::audit::Verified::Broken { reason, .. } => {
            assert!(reason.contains("inserted or deleted"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    app.exec(&format!(
        "INSERT INTO access_log (id, at, user_id, role, action, child_id, object, detail) \
         VALUES ({first}, '2026-01-01T00:00:00Z', 1, 'admin', 'read', NULL, 'x', '')"
    ))
    .await;
    assert!(matches!(
        trivsel::audit::verify(&mut db).await.unwrap(),
        trivsel::audit::Verified::Broken { .. }
    ));
}

/// "Who has seen this child": the leader and the admin see every access to the child, newest
/// first, a page at a time; an educator does not get the page.
#[tokio::test]
async fn the_leader_sees_who_has_seen_the_child_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    for _ in 0..60 {
        educator.get(&format!("/children/{}", f.child_a1)).await;
        app.state.clock.advance(chrono::Duration::seconds(1));
    }
    let path = format!("/children/{}/accesses", f.child_a1);
    assert_eq!(educator.get(&path).await.status, StatusCode::NOT_FOUND);

    let mut leader = app.login(LEADER).await;
    leader
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains(&path);
    let first = leader.get(&path).await;
    first
        .assert_contains("Hvem har set barnets oplysninger")
        .assert_contains("educator@test.dk")
        .assert_contains("Pædagog");
    let rows = |body: &str| body.matches("<tr class=\"entry\">").count();
    assert_eq!(rows(&first.body), 50);
    let marker = "rel=\"next\"";
    let at = first.body.find(marker).expect("a link to older entries");
    let href = first.body[..at].rsplit("href=\"").next().unwrap();
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    let second = leader.get(&href).await;
    // 60 reads by the educator and the leader's own read of the child's page.
    assert_eq!(rows(&second.body), 11);
    assert!(!second.body.contains(marker));
    // The admin sees it too.
    let mut admin = app.login(ADMIN).await;
    assert_eq!(admin.get(&path).await.status, StatusCode::OK);
}

/// The data-protection officer: an account the admin creates without assignments; reads the
/// access log and who has seen any child, and sees no assessments, groups or organisation.
#[tokio::test]
async fn the_data_protection_officer_reads_the_log_and_nothing_else() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    let assessment =
        crate::alerts::position(&mut educator, f.child_a1, &thriving_answers(), "green").await;
    let mut admin = app.login(ADMIN).await;
    let res = admin
        .post(
            "/admin/users/new",
            &[
                ("name", "Dorthe DPO"),
                ("email", "dpo@test.dk"),
                ("role", "dpo"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let mut dpo = app.accept_invitation("dpo@test.dk", PASSWORD).await;
    dpo.get("/")
        .await
        .assert_contains("Databeskyttelse")
        .assert_contains("/admin/access-log");
    dpo.get("/admin/access-log")
        .await
        .assert_contains("educator@test.dk");
    let child = dpo.get(&format!("/children/{}", f.child_a1)).await;
    assert_eq!(child.status, StatusCode::OK);
    child
        .assert_lacks("Barnet er ikke vurderet endnu.")
        .assert_lacks("/assess");
    dpo.get(&format!("/children/{}/accesses", f.child_a1))
        .await
        .assert_contains("Pædagog");
    for path in [
        assessment,
        format!("/groups/{}", f.class_a1),
        format!("/institutions/{}", f.school_a),
        "/admin/org".to_string(),
        "/admin/children".to_string(),
        "/overview".to_string(),
        "/alerts".to_string(),
    ] {
        assert_eq!(dpo.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// The parents' right of access: the data-protection officer (or the admin) produces the
/// child's whole record, printable and as JSON, and producing it is logged.
#[tokio::test]
async fn an_access_report_holds_the_whole_record_and_is_logged() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    crate::alerts::position(
        &mut educator,
        f.child_a1,
        &answers("1", Some("violence")),
        "red",
    )
    .await;
    let path = format!("/children/{}/access-report", f.child_a1);
    assert_eq!(educator.get(&path).await.status, StatusCode::NOT_FOUND);

    let mut admin = app.login(ADMIN).await;
    let page = admin.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_contains("Indsigt: Alma Andersen")
        .assert_contains("Alma virker ked af det.")
        .assert_contains("Mor Andersen")
        .assert_contains("Underretning: oplysninger om, hvem der underrettede");
    let json = admin.get(&format!("{path}?format=json")).await;
    assert_eq!(json.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(v["child"]["first_name"], "Alma");
    assert_eq!(v["guardians"][0]["name"], "Mor Andersen");
    assert_eq!(
        v["assessments"][0]["observation"],
        "Alma virker ked af det."
    );
    assert_eq!(v["assessments"][0]["decided_level"], "red");
    assert_eq!(v["alerts"][0]["kind"], "notification");
    assert!(v["accesses"].as_array().unwrap().len() >= 2);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = {} AND action = 'export' \
             AND object = 'access-report'",
            f.child_a1
        ))
        .await,
        2
    );
}

/// The log is kept for its retention period: whole sealed batches past it go from the start
/// of the chain, unsealed records never, and the chain still verifies from where it now
/// begins.
#[tokio::test]
async fn records_past_retention_go_a_seal_at_a_time_and_the_chain_still_verifies() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    c.get(&format!("/groups/{}", f.class_a1)).await;
    let first = app.count("SELECT COUNT(*) FROM access_log").await;
    let t0 = app.state.now();
    retry(async || trivsel::audit::seal(&app.db, t0 + chrono::Duration::minutes(2)).await).await;
    // A day later more is read and sealed.
    app.state.clock.advance(chrono::Duration::days(1));
    c.get(&format!("/children/{}", f.child_a1)).await;
    let t1 = app.state.now();
    retry(async || trivsel::audit::seal(&app.db, t1 + chrono::Duration::minutes(2)).await).await;
    // And something not sealed yet.
    c.get(&format!("/children/{}", f.child_a1)).await;
    let total = app.count("SELECT COUNT(*) FROM access_log").await;

    // Keeping everything from half a day after the first reads removes the first batch only.
    let purged =
        retry(async || trivsel::audit::purge(&app.db, t0 + chrono::Duration::hours(12), t1).await)
            .await;
    assert_eq!(purged as i64, first);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM access_log").await,
        total - first
    );
    let mut db = app.db.conn().await.unwrap();
    let v = trivsel::audit::verify(&mut db).await.unwrap();
    assert!(
        matches!(
            v,
            trivsel::audit::Verified::Intact {
                seals: 1,
                unsealed: 1..,
                ..
            }
        ),
        "{v:?}"
    );
    // The next seal chains on, and the chain still verifies.
    retry(async || trivsel::audit::seal(&app.db, t1 + chrono::Duration::minutes(5)).await).await;
    assert!(matches!(
        trivsel::audit::verify(&mut db).await.unwrap(),
        trivsel::audit::Verified::Intact {
            seals: 2,
            unsealed: 0,
            ..
        }
    ));
    // The group page's record is gone from the index of accesses to many, too.
    if app.url.starts_with("sqlite:") {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM access_log_children WHERE access_log_children MATCH '\"{}\"'",
                f.protected_child
            ))
            .await,
            0
        );
    }
    // Purging everything sealed leaves nothing unverifiable behind.
    retry(async || trivsel::audit::purge(&app.db, t1 + chrono::Duration::days(1), t1).await).await;
    assert!(matches!(
        trivsel::audit::verify(&mut db).await.unwrap(),
        trivsel::audit::Verified::Intact { seals: 0, .. }
    ));
}

/// Runs a sealing or purging step until it does something: while the server's own minute job
/// holds the log's job lock (PostgreSQL), a step skips its turn and returns 0.
async fn retry(step: impl AsyncFn() -> anyhow::Result<u64>) -> u64 {
    for _ in 0..200 {
        let n = step().await.unwrap();
        if n > 0 {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the step never ran")
}

/// The admin narrows the log by action and by local dates; the filters hold across pages.
#[tokio::test]
async fn the_admin_filters_the_log_by_action_and_date() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    educator.get(&format!("/children/{}", f.child_a1)).await;
    let mut admin = app.login(ADMIN).await;
    let res = admin
        .post(
            &format!("/admin/children/{}", f.child_a1),
            &[
                ("first_name", "Alma"),
                ("last_name", "Andersen"),
                ("birth_date", "2019-05-01"),
                ("gender", "p"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // The filter's dates are the municipality's local days.
    let today = app
        .state
        .now()
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .date_naive();
    let rows = |body: &str| body.matches("<tr class=\"entry\">").count();

    let changes = admin.get("/admin/access-log?action=change").await;
    assert_eq!(rows(&changes.body), 1, "{}", changes.body);
    changes.assert_contains("<td>Ændret</td>");
    let reads = admin.get("/admin/access-log?action=read").await;
    assert!(rows(&reads.body) >= 1);
    assert!(!reads.body.contains("<td>Ændret</td>"));
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let all_today = admin
        .get(&format!("/admin/access-log?from={0}&to={0}", day(today)))
        .await;
    assert!(rows(&all_today.body) >= 2);
    let yesterday = admin
        .get(&format!(
            "/admin/access-log?from={0}&to={0}",
            day(today - chrono::Duration::days(1))
        ))
        .await;
    assert_eq!(rows(&yesterday.body), 0);
    yesterday.assert_contains("Ingen registreringer.");
}

/// Retention starts from events: the admin records that a child left (the enrolment ends,
/// the educator no longer sees the child), and the data-protection officer places a legal
/// hold with a reason — logged, refused without a reason at the field, and lifted again.
#[tokio::test]
async fn a_child_leaving_is_recorded_and_a_legal_hold_is_placed_and_lifted() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;
    let left = format!("/admin/children/{}/left", f.child_a1);
    let bad = admin.post(&left, &[("left_on", "2020-01-01")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    bad.assert_contains("Angiv en gyldig dato")
        .assert_contains(r#"value="2020-01-01""#);
    let today = app.state.now().date_naive().to_string();
    let res = admin.post(&left, &[("left_on", &today)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    admin
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("Forlod kommunens institutioner");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM enrolments WHERE child_id = {} AND to_date IS NULL",
            f.child_a1
        ))
        .await,
        0
    );
    let mut educator = app.login(EDUCATOR).await;
    assert_eq!(
        educator
            .get(&format!("/children/{}", f.child_a1))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Only once.
    assert_eq!(
        admin.post(&left, &[("left_on", &today)]).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The data-protection officer places a hold; a reason is required.
    let mut dpo = app.login(&app.add_dpo().await).await;
    let holds = format!("/children/{}/holds", f.child_a1);
    let res = dpo.post(&holds, &[("reason", "  ")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains(r#"id="reason-error""#);
    let res = dpo
        .post(&holds, &[("reason", "Klagesag i Ankestyrelsen")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    dpo.get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("Klagesag i Ankestyrelsen")
        .assert_contains("Dorthe DPO");
    assert_eq!(
        educator.post(&holds, &[("reason", "x")]).await.status,
        StatusCode::NOT_FOUND
    );
    let hold = app.count("SELECT MAX(id) FROM legal_holds").await;
    let res = admin.post(&format!("{holds}/{hold}/lift"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    admin
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("Intet sletningsstop.");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = {} AND object = 'legal-hold:{hold}'",
            f.child_a1
        ))
        .await,
        2
    );
}

/// The admin finds a child or a user in the log by name as well as by id: one match filters,
/// several are offered to choose from, none is said at the field.
#[tokio::test]
async fn the_log_is_filtered_by_a_childs_or_a_users_name() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    educator.get(&format!("/children/{}", f.child_a1)).await;
    let mut educator_b = app.login(EDUCATOR_B).await;
    educator_b.get(&format!("/children/{}", f.child_b1)).await;
    let mut admin = app.login(ADMIN).await;
    let rows = |body: &str| body.matches("<tr class=\"entry\">").count();

    let alma = admin.get("/admin/access-log?child=alma").await;
    alma.assert_contains("Alma Andersen")
        .assert_lacks("Dan Dahl");
    assert_eq!(rows(&alma.body), 1, "{}", alma.body);

    let several = admin.get("/admin/access-log?user=educator").await;
    several
        .assert_contains("id=\"user-choices\"")
        .assert_contains("educator-b@test.dk")
        .assert_lacks("id=\"access-log\"");
    let pick = format!(
        "user={}",
        app.text("SELECT CAST(id AS TEXT) FROM users WHERE email = 'educator-b@test.dk'")
            .await
    );
    several.assert_contains(&pick);
    let one = admin.get("/admin/access-log?user=educator-b").await;
    one.assert_contains("Dan Dahl")
        .assert_lacks("Alma Andersen");

    let none = admin.get("/admin/access-log?user=nobody&child=alma").await;
    assert_eq!(none.status, StatusCode::OK);
    none.assert_contains("id=\"user-error\"")
        .assert_contains("Ingen bruger passer på søgningen.")
        .assert_contains("value=\"nobody\"")
        .assert_contains("value=\"alma\"");
}
