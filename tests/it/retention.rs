//! Retention by rule, tried as the admin and the data-protection officer would: the policy's
//! dry run, a run that deletes what the rules have reached and never a held child, its report,
//! deletion that leaves no readable text in an SQLite file, and the roster import that records
//! a child who is no longer on it as having left.

use reqwest::StatusCode;

use crate::helpers::*;

/// Scores a position for `child` (aged 6–9, in the educator's class) with `observation`; the
/// assessment's id.
async fn position_with_observation(app: &TestApp, child: i64, observation: &str) -> i64 {
    let mut c = app.login(EDUCATOR).await;
    let path = format!("/children/{child}/assess");
    let page = c.get(&path).await;
    let key = key_in(&page.body);
    let answers = answers("1", None);
    let mut fields = team_form(&key, "score", &answers);
    fields.push(("observation", observation));
    let res = c.post(&path, &fields).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    app.count(&format!(
        "SELECT MAX(id) FROM assessments WHERE child_id = {child}"
    ))
    .await
}

async fn mark_left_today(app: &TestApp, admin: &mut Client, child: i64) {
    let today = app.state.now().date_naive().to_string();
    let res = admin
        .post(
            &format!("/admin/children/{child}/left"),
            &[("left_on", &today)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

/// The admin's "delete by the rules now", waited for (it runs in the background): the run's
/// id.
async fn run_now(app: &TestApp, admin: &mut Client) -> i64 {
    let res = admin.post("/admin/retention/run", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let run = app.count("SELECT MAX(id) FROM retention_runs").await;
    for _ in 0..400 {
        let done = app
            .count(&format!(
                "SELECT COUNT(*) FROM retention_runs WHERE id = {run} AND finished_at IS NOT NULL"
            ))
            .await;
        if done == 1 {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("run {run} did not finish")
}

async fn rows_of(app: &TestApp, child: i64) -> [i64; 5] {
    let n = |table: &str, column: &str| {
        format!("SELECT COUNT(*) FROM {table} WHERE {column} = {child}")
    };
    [
        app.count(&n("children", "id")).await,
        app.count(&n("guardians", "child_id")).await,
        app.count(&n("enrolments", "child_id")).await,
        app.count(&n("assessments", "child_id")).await,
        app.count(&n("legal_holds", "child_id")).await,
    ]
}

/// Two children leave; one is under a legal hold. A year on, the dry run counts the first
/// child's position and free text and changes nothing; the run deletes them and records its
/// counts; three years on the first child is gone whole — the held child keeps everything
/// until the hold is lifted. Only the admin starts a run; the DPO reads the reports.
#[tokio::test]
async fn deletion_by_rule_takes_what_is_due_and_never_a_held_child() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let (gone, held) = (f.child_a1, f.protected_child);
    position_with_observation(&app, gone, "Leger mest alene i frikvarteret.").await;
    position_with_observation(&app, held, "Savner sin storebror.").await;
    let mut admin = app.login(ADMIN).await;
    mark_left_today(&app, &mut admin, gone).await;
    mark_left_today(&app, &mut admin, held).await;
    let res = admin
        .post(
            &format!("/children/{held}/holds"),
            &[("reason", "Klagesag i Ankestyrelsen")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let before_gone = rows_of(&app, gone).await;
    let before_held = rows_of(&app, held).await;
    assert_eq!(before_gone, [1, 1, 1, 1, 0]);
    assert_eq!(before_held, [1, 1, 1, 1, 1]);

    // Nothing is due yet.
    let page = admin.get("/admin/retention?preview=1").await;
    page.assert_contains("Prøvekørsel – intet er ændret")
        .assert_contains("Klagesag i Ankestyrelsen");
    assert!(
        !page.body.contains(r#"<td class="num">1</td>"#),
        "{}",
        page.body
    );

    // A year and a day on: the first child's position (1 year after leaving) and its free
    // text (6 months) are due; the held child's are not.
    app.state.clock.advance(chrono::Duration::days(366));
    let page = admin.get("/admin/retention?preview=1").await;
    let preview = page
        .body
        .split(r#"id="retention-preview""#)
        .nth(1)
        .expect("a dry run table")
        .split("</table>")
        .next()
        .unwrap()
        .to_string();
    assert!(
        preview.contains(r#"Vurderinger med svar og scorer</td><td>1 år efter at barnet forlod kommunens institutioner</td><td class="num">1</td>"#),
        "{preview}"
    );
    assert!(
        preview.contains(r#"Fritekst: observationer, begrundelser og noter</td><td>6 måneder efter at barnet forlod kommunens institutioner</td><td class="num">1</td>"#),
        "{preview}"
    );
    assert!(!preview.contains("Alma"), "a dry run names no child");
    assert_eq!(
        rows_of(&app, gone).await,
        before_gone,
        "a dry run changes nothing"
    );

    // The DPO reads the page but cannot start a run; an educator does not see it.
    let mut dpo = app.login(&app.add_dpo().await).await;
    dpo.get("/admin/retention")
        .await
        .assert_contains("Sletningsstop i kraft")
        .assert_lacks("Slet efter reglerne nu");
    assert_eq!(
        dpo.post("/admin/retention/run", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let mut educator = app.login(EDUCATOR).await;
    assert_eq!(
        educator.get("/admin/retention").await.status,
        StatusCode::NOT_FOUND
    );

    let run = run_now(&app, &mut admin).await;
    assert_eq!(rows_of(&app, gone).await, [1, 1, 1, 0, 0]);
    assert_eq!(rows_of(&app, held).await, before_held);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE child_id = {held} AND observation = 'Savner sin storebror.'"
        ))
        .await,
        1
    );
    let page = dpo.get("/admin/retention").await;
    let report = page
        .body
        .split(&format!(r#"id="run-{run}""#))
        .nth(1)
        .expect("the run's report")
        .split("</section>")
        .next()
        .unwrap()
        .to_string();
    for part in [
        "Startet af administrator",
        "Børn med sletningsstop, som ikke blev rørt: 1",
        r#"Vurderinger med svar og scorer</td><td>1 år efter at barnet forlod kommunens institutioner</td><td class="num">1</td>"#,
        r#"Barnet, forældre og alt andet om barnet</td><td>3 år efter at barnet forlod kommunens institutioner</td><td class="num">0</td>"#,
    ] {
        assert!(report.contains(part), "{part} in {report}");
    }

    // Three years on, the first child is gone whole; the held child still is not.
    app.state.clock.advance(chrono::Duration::days(2 * 365));
    run_now(&app, &mut admin).await;
    assert_eq!(rows_of(&app, gone).await, [0, 0, 0, 0, 0]);
    assert_eq!(rows_of(&app, held).await, before_held);

    // The hold is lifted: the next run takes the child whole.
    let hold = app.count("SELECT MAX(id) FROM legal_holds").await;
    let res = admin
        .post(&format!("/children/{held}/holds/{hold}/lift"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    run_now(&app, &mut admin).await;
    assert_eq!(rows_of(&app, held).await, [0, 0, 0, 0, 0]);
    // Everyone else is untouched, and the runs are all recorded as finished.
    assert_eq!(app.count("SELECT COUNT(*) FROM children").await, 3);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM retention_runs WHERE finished_at IS NOT NULL AND error = ''"
        )
        .await,
        3
    );
}

/// Deletion is real: once the free text of a child who left is due, the run blanks it and it
/// is not left readable anywhere in the SQLite database's files (secure delete, and the
/// write-ahead log emptied after the run).
#[tokio::test]
async fn deleted_free_text_is_not_left_readable_in_the_database_file() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    const MARKER: &str = "Zebrastribe4711 fortalte om hjemmet";
    position_with_observation(&app, f.child_a1, MARKER).await;
    // An answer to a free-text item is free text too.
    app.exec(r#"UPDATE assessments SET free_text = '{"strengths":"Tegner flot."}'"#)
        .await;
    let mut admin = app.login(ADMIN).await;
    mark_left_today(&app, &mut admin, f.child_a1).await;
    let files = || -> Vec<u8> {
        let Some(path) = app.url.strip_prefix("sqlite://") else {
            return Vec::new();
        };
        let mut bytes = std::fs::read(path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(wal);
        }
        bytes
    };
    let sqlite = app.url.starts_with("sqlite:");
    let readable = |bytes: &[u8]| bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes());
    if sqlite {
        assert!(readable(&files()), "the text is in the file before the run");
    }
    app.state.clock.advance(chrono::Duration::days(200));
    run_now(&app, &mut admin).await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM assessments WHERE observation <> '' OR justification <> '' OR free_text <> ''"
        )
        .await,
        0
    );
    // The position itself is kept its own, longer time.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE child_id = {}",
            f.child_a1
        ))
        .await,
        1
    );
    if sqlite {
        assert!(
            !readable(&files()),
            "the deleted text is gone from the file"
        );
    }
}

/// A full roster: a child already in Trivsel is recognised, a new one is created, and a child
/// of the same school who is not on the list is recorded as having left (its retention clock
/// starts); a child of another institution is untouched. The dry run says so first.
#[tokio::test]
async fn a_child_missing_from_a_full_roster_is_recorded_as_having_left() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    for (child, ext) in [
        (f.child_a1, "R-1"),
        (f.child_a2, "R-2"),
        (f.protected_child, "R-3"),
        (f.child_b1, "R-4"),
    ] {
        app.exec(&format!(
            "UPDATE children SET external_id = '{ext}' WHERE id = {child}"
        ))
        .await;
    }
    let csv = "first_name;last_name;birth_date;external_id;institution;group\n\
               Alma;Andersen;2019-05-01;R-1;Askeskolen;1.A\n\
               Eva;Enevoldsen;2019-06-06;R-9;Askeskolen;1.A\n\
               Bo;Bertelsen;2018-03-02;R-2;Askeskolen;2.A\n";
    let mut admin = app.login(ADMIN).await;
    admin.get("/admin/import").await;
    // Without the roster box, the known children are refused as before.
    let res = admin
        .post_multipart(
            "/admin/import",
            &[("mode", "dry_run")],
            ("file", csv.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = admin
        .post_multipart(
            "/admin/import",
            &[("mode", "dry_run"), ("roster", "1")],
            ("file", csv.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.assert_contains(r#"<span id="import-known">2</span>"#)
        .assert_contains(r#"<span id="import-left">1</span>"#);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM children WHERE left_on IS NOT NULL")
            .await,
        0
    );
    let res = admin
        .post_multipart(
            "/admin/import",
            &[("mode", "import"), ("roster", "1")],
            ("file", csv.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.assert_contains(r#"<span id="import-left">1</span>"#);
    let today = app.state.now().date_naive().to_string();
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM children WHERE left_on IS NOT NULL AND id = {} AND current_group_id IS NULL",
            f.protected_child
        ))
        .await,
        1
    );
    admin
        .get(&format!("/children/{}", f.protected_child))
        .await
        .assert_contains("Forlod kommunens institutioner")
        .assert_contains(&today[..4]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM children WHERE left_on IS NOT NULL")
            .await,
        1,
        "the other school's child and the listed children stay"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM children WHERE external_id = 'R-9'")
            .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = {} AND object = 'left' AND detail = 'import'",
            f.protected_child
        ))
        .await,
        1
    );
    // A roster row without an external id cannot be matched: refused at the field.
    let res = admin
        .post_multipart(
            "/admin/import",
            &[("mode", "dry_run"), ("roster", "1")],
            (
                "file",
                b"first_name;last_name;birth_date;institution;group\nOle;Olsen;2019-01-01;Askeskolen;1.A\n"
                    .to_vec(),
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("udfyld det");
}
