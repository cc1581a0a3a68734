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
    // Both children of 1.A were shown, so both got a read row.
    for child in [f.child_a1, f.protected_child] {
        let n = app
            .count(&format!("SELECT COUNT(*) FROM access_log WHERE user_id = {educator_id} AND child_id = {child} AND action = 'read' AND role = 'educator' AND object = 'group:{}'", f.class_a1))
            .await;
        assert_eq!(n, 1, "group read logged for child {child}");
    }
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
    page.assert_contains("change").assert_contains("group:");
    let rows = page.body.matches("<tr><td>").count() as i64;
    let expected = app
        .count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = {}",
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
    assert!(page.body.matches("<tr><td>").count() >= 3);
    page.assert_lacks("admin</td>");
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
    let entries = trivsel::audit::entries(&mut c, Some(f.child_a1), None, 10)
        .await
        .unwrap();
    let objects: Vec<&str> = entries.iter().map(|e| e.object.as_str()).collect();
    assert_eq!(objects, ["t2", "t5", "t0", "t4", "t3", "t1"]);
}
