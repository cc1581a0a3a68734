//! Overviews: the leader's and educator's per-group figures against counts taken directly
//! from the database, movement between rounds, the suppressed municipal aggregates and the
//! CSV exports.

use reqwest::StatusCode;

use crate::helpers::*;

/// The rows of a CSV export read back as a spreadsheet would: the Danish Excel format
/// (byte-order mark, semicolons), or `raw` (commas, no mark).
fn sheet(body: &str, raw: bool) -> Vec<Vec<String>> {
    let text = if raw {
        assert!(
            !body.starts_with('\u{feff}'),
            "no byte-order mark for machines"
        );
        body
    } else {
        body.strip_prefix('\u{feff}')
            .expect("a byte-order mark for Excel")
    };
    csv::ReaderBuilder::new()
        .delimiter(if raw { b',' } else { b';' })
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// No cell would run as a formula in a spreadsheet.
fn assert_no_formula(rows: &[Vec<String>]) {
    for cell in rows.iter().flatten() {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a cell a spreadsheet would run: {cell:?}"
        );
    }
}

async fn position(c: &mut Client, child: i64, value: &str, level: &str) {
    let mut page = c.get(&format!("/children/{child}/assess")).await.body;
    // A child with a position in the round gets a correction of it, never a second one.
    let mut supersedes = None;
    if let Some(at) = page.find("/correct\"") {
        let id = page[..at].rsplit('/').next().unwrap().to_string();
        let res = c.post(&format!("/assessments/{id}/correct"), &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        page = c.get(&format!("/children/{child}/assess")).await.body;
        supersedes = Some(hidden_in(&page, "supersedes"));
    }
    let (key, questionnaire) = (key_in(&page), hidden_in(&page, "questionnaire"));
    let a = answers(value, None);
    let mut f: Vec<(&str, &str)> = vec![
        ("submission_key", &key),
        ("questionnaire", &questionnaire),
        ("kind", "team"),
        ("action", "score"),
    ];
    if let Some(s) = &supersedes {
        f.push(("supersedes", s));
    }
    f.extend(a.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let url = c
        .post(&format!("/children/{child}/assess"), &f)
        .await
        .location
        .unwrap();
    let res = c
        .post(
            &format!("{url}/decide"),
            &[
                ("level", level),
                ("justification", "Teamet har drøftet barnet."),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

/// The fixture with a round open five days and two team positions in it: one child at orange
/// in 1.A, the protected child at green; the round's id.
async fn orange_and_green_in_a_round(app: &TestApp) -> (Fixture, i64) {
    let f = Fixture::create(app).await;
    let r = round(app, "Efterår 2026", 5).await;
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, "2", "orange").await;
    position(&mut educator, f.protected_child, "0", "green").await;
    (f, r)
}

async fn round(app: &TestApp, name: &str, opens_days_ago: i64) -> i64 {
    let mut admin = app.login(ADMIN).await;
    let today = app.state.now().date_naive();
    let res = admin
        .post(
            "/admin/rounds",
            &[
                ("name", name),
                (
                    "opens_on",
                    &(today - chrono::Duration::days(opens_days_ago)).to_string(),
                ),
                (
                    "closes_on",
                    &(today + chrono::Duration::days(20)).to_string(),
                ),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    app.count(&format!("SELECT id FROM rounds WHERE name = '{name}'"))
        .await
}

#[tokio::test]
async fn the_leader_sees_each_group_with_counts_follow_up_and_movement() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let r1 = round(&app, "Forår 2026", 60).await;
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, "2", "orange").await;
    position(&mut educator, f.protected_child, "0", "green").await;
    let r2 = round(&app, "Efterår 2026", 5).await;
    position(&mut educator, f.child_a1, "1", "yellow").await;

    let mut leader = app.login(LEADER).await;
    let page = leader.get(&format!("/overview?round={r1}")).await;
    assert_eq!(page.status, StatusCode::OK);
    // Counts per level for 1.A in round 1, checked against the database.
    let expected: Vec<i64> = {
        let mut v = Vec::new();
        for rank in 0..4 {
            v.push(app.count(&format!("SELECT COUNT(*) FROM assessments WHERE round_id = {r1} AND kind = 'team' AND status = 'submitted' AND decided_rank = {rank}")).await);
        }
        v
    };
    assert_eq!(expected, [1, 0, 1, 0]);
    let section = &page.body[page
        .body
        .find(&format!("id=\"group-{}\"", f.class_a1))
        .unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    let row: String = expected
        .iter()
        .map(|n| format!("<td class=\"num\">{n}</td>"))
        .collect();
    assert!(section.contains(&row), "counts {row} in:\n{section}");
    assert!(section.contains("<strong>2/2</strong>"));
    assert!(
        section.contains("Alma Andersen") && section.contains("Bekymring"),
        "follow-up list"
    );
    page.assert_contains("<svg class=\"bar\"")
        .assert_lacks("Bøgeskolen");
    // The access log has the children the page shows one by one, not those only counted.
    let logged = |child: i64| {
        format!(
            "SELECT COUNT(*) FROM access_log WHERE object = 'overview' AND action = 'read' AND child_id = {child}"
        )
    };
    assert_eq!(app.count(&logged(f.child_a1)).await, 1);
    assert_eq!(app.count(&logged(f.protected_child)).await, 0);

    let moved = leader
        .get(&format!("/overview?round={r2}&compare={r1}"))
        .await;
    moved
        .assert_contains("Bevægelse mellem runderne")
        .assert_contains("<td class=\"num\">-1</td>");
    moved.assert_contains("id=\"trend\"");
    // The trend: a line per level (each with its own dash pattern) and its table, for the
    // school and, folded, for each class: 1.A had one orange in the first round.
    let trend = &moved.body[moved.body.find("id=\"trend\"").unwrap()..];
    assert_eq!(trend.matches("<polyline").count(), 4, "{trend}");
    assert!(trend.contains("<tr><th scope=\"row\">Forår 2026</th><td class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">2</td></tr>"), "{trend}");
    moved.assert_contains("<details class=\"group-trend\">");
    // Two positions for 1.A's child in round 2 would count once; the summary agrees.
    assert_eq!(app.assert_round_positions_match_recount().await, 3);

    // The educator sees only their own groups; others get nothing.
    let mut e = app.login(EDUCATOR).await;
    e.get(&format!("/overview?round={r1}"))
        .await
        .assert_contains(&format!("id=\"group-{}\"", f.class_a1))
        .assert_lacks(&format!("id=\"group-{}\"", f.class_a2));
    for who in [ADMIN, WORKER] {
        assert_eq!(
            app.login(who).await.get("/overview").await.status,
            StatusCode::NOT_FOUND,
            "{who}"
        );
    }

    // CSV export per child, logged with its criteria.
    let csv = leader
        .get(&format!("/overview/export.csv?round={r1}"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let rows = sheet(&csv.body, false);
    assert_eq!(
        rows[0][..7],
        [
            "Institution",
            "Gruppe",
            "Barn-id",
            "Fornavn",
            "Efternavn",
            "Position",
            "Vurderet den"
        ]
    );
    let alma = rows.iter().find(|r| r[3] == "Alma").expect("Alma's row");
    assert_eq!(
        (alma[4].as_str(), alma[5].as_str()),
        ("Andersen", "Bekymring")
    );
    assert_no_formula(&rows);
    // For machines: commas, English keys, level ids.
    let raw = leader
        .get(&format!("/overview/export.csv?round={r1}&format=raw"))
        .await;
    let rows = sheet(&raw.body, true);
    assert_eq!(
        rows[0][..7],
        [
            "institution",
            "group",
            "child_id",
            "first_name",
            "last_name",
            "position",
            "assessed_on"
        ]
    );
    let alma = rows.iter().find(|r| r[3] == "Alma").expect("Alma's row");
    let orange = shipped_catalogue("boernelineal")
        .scale
        .def
        .levels
        .iter()
        .find(|l| l.name.da == "Bekymring")
        .unwrap()
        .id
        .clone();
    assert_eq!(alma[5], orange);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE action = 'export' AND detail = 'round={r1}'"
        ))
        .await,
        2,
        "each export is logged"
    );

    // A correction of the team position in the same round replaces the first in the figures.
    position(&mut educator, f.child_a1, "0", "green").await;
    assert_eq!(app.assert_round_positions_match_recount().await, 3);
    let page = leader.get(&format!("/overview?round={r2}")).await;
    let section = &page.body[page
        .body
        .find(&format!("id=\"group-{}\"", f.class_a1))
        .unwrap()..];
    assert!(
        section.contains("<td class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">0</td><td class=\"num\">0</td>"),
        "only the newest position counts: {}",
        &section[..section.find("</section>").unwrap()]
    );
}

#[tokio::test]
async fn municipal_figures_are_aggregates_with_small_counts_suppressed() {
    // Counted afresh on every request (the reuse is tested below): a renamed district shows.
    let app = TestApp::spawn_with(trivsel::config::Config {
        aggregate_cache_seconds: 0,
        ..Default::default()
    })
    .await;
    let (f, r) = orange_and_green_in_a_round(&app).await;

    let mut admin = app.login(ADMIN).await;
    // The admin corrects a birth date; the figures' copy follows.
    let res = admin
        .post(
            &format!("/admin/children/{}", f.child_a1),
            &[
                ("first_name", "Alma"),
                ("last_name", "Andersen"),
                ("birth_date", "2018-03-02"),
                ("gender", "f"),
                ("external_id", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(app.assert_round_positions_match_recount().await, 2);
    let page = admin
        .get(&format!("/overview/municipality?round={r}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_contains("Distrikt A")
        .assert_contains("&#60;5")
        .assert_lacks("Alma")
        .assert_lacks("Eriksen");
    // With two children every non-zero count is small: none of them is shown as a number.
    assert!(
        !page.body.contains("<td class=\"num\">1</td>")
            && !page.body.contains("<td class=\"num\">2</td>"),
        "{}",
        page.body
    );
    // A district whose name would run as a formula is defused in the export.
    app.exec(&format!(
        "UPDATE districts SET name = '=HYPERLINK(\"http://x.example\")' WHERE id = {}",
        f.district_a
    ))
    .await;
    let csv = admin
        .get(&format!("/overview/municipality.csv?round={r}"))
        .await;
    assert!(csv.body.contains("<5") && !csv.body.contains("Alma"));
    let rows = sheet(&csv.body, false);
    assert_eq!(rows[0][0], "Opdeling");
    assert!(
        rows.iter()
            .flatten()
            .any(|c| c == "'=HYPERLINK(\"http://x.example\")")
    );
    assert_no_formula(&rows);
    assert_no_formula(&sheet(
        &admin
            .get(&format!("/overview/municipality.csv?round={r}&format=raw"))
            .await
            .body,
        true,
    ));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM access_log WHERE object = 'municipality.csv'")
            .await,
        2,
        "each export is logged"
    );
    // The district view of another district's worker holds nothing of district A.
    let mut wb = app.login(WORKER_B).await;
    wb.get(&format!("/overview/municipality?round={r}"))
        .await
        .assert_lacks("Distrikt A");
    assert_eq!(
        app.login(LEADER)
            .await
            .get("/overview/municipality")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn reminders_go_out_once_before_a_round_closes_without_names() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;
    let today = app.state.now().date_naive();
    admin
        .post(
            "/admin/rounds",
            &[
                ("name", "Efterår 2026"),
                (
                    "opens_on",
                    &(today - chrono::Duration::days(20)).to_string(),
                ),
                (
                    "closes_on",
                    &(today + chrono::Duration::days(10)).to_string(),
                ),
            ],
        )
        .await;
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, "0", "green").await;
    // Ten days before closing: too early.
    assert_eq!(
        trivsel::assessment::reminders::queue_due(&app.state, app.state.now())
            .await
            .unwrap(),
        0
    );
    app.state.clock.advance(chrono::Duration::days(4));
    let n = trivsel::assessment::reminders::queue_due(&app.state, app.state.now())
        .await
        .unwrap();
    // The educator of 1.A (1 missing), educator B (1.B: 1 missing) and the leader of Askeskolen.
    assert_eq!(n, 3);
    assert_eq!(
        trivsel::assessment::reminders::queue_due(&app.state, app.state.now())
            .await
            .unwrap(),
        0,
        "once per round"
    );
    let bodies: Vec<String> = match &app.db {
        trivsel::db::Db::Sqlite { read, .. } => {
            sqlx::query_scalar("SELECT recipient || ' ' || body FROM outbox")
                .fetch_all(read)
                .await
                .unwrap()
        }
        trivsel::db::Db::Postgres(p) => {
            sqlx::query_scalar("SELECT recipient || ' ' || body FROM outbox")
                .fetch_all(p)
                .await
                .unwrap()
        }
    };
    assert!(
        bodies
            .iter()
            .any(|b| b.starts_with(EDUCATOR) && b.contains("mangler 1 børn")),
        "{bodies:#?}"
    );
    // Askeskolen: 1.A has one child left (Ea), 2.A one (Bo).
    assert!(
        bodies
            .iter()
            .any(|b| b.starts_with(LEADER) && b.contains("mangler 2 børn")),
        "{bodies:#?}"
    );
    for b in &bodies {
        for name in ["Alma", "Bo ", "Ea ", "Eriksen", "Askeskolen", "1.A"] {
            assert!(!b.contains(name), "{b}");
        }
    }
}

#[tokio::test]
async fn focus_points_and_action_plans_are_recorded_and_shown_as_follow_up_state() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let r = round(&app, "Efterår 2026", 5).await;
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, "1", "yellow").await;
    position(&mut educator, f.protected_child, "0", "green").await;
    let id = app
        .count(&format!(
            "SELECT assessment_id FROM round_positions WHERE child_id = {}",
            f.child_a1
        ))
        .await;

    // Before anything is recorded, the leader sees the follow-up missing.
    let mut leader = app.login(LEADER).await;
    let page = leader.get(&format!("/overview?round={r}")).await;
    page.assert_contains("Mangler");
    let page = educator.get(&format!("/assessments/{id}")).await;
    page.assert_contains("Der er endnu ikke registreret fokuspunkter");

    // An invalid follow-up comes back with the input and a message at each field.
    let res = educator
        .post(
            &format!("/assessments/{id}/follow-up"),
            &[
                ("kind", "action_plan"),
                ("body", "Kort"),
                ("review_on", "2001-01-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("id=\"fu_body-error\"")
        .assert_contains("id=\"fu_review-error\"")
        .assert_contains(">Kort</textarea>")
        .assert_contains("value=\"action_plan\" checked");
    assert_eq!(app.count("SELECT COUNT(*) FROM follow_ups").await, 0);

    let review = (app.state.now().date_naive() + chrono::Duration::days(30)).to_string();
    let res = educator
        .post(
            &format!("/assessments/{id}/follow-up"),
            &[
                ("kind", "action_plan"),
                (
                    "body",
                    "Daglig tjek-ind med Alma; møde med forældrene i uge 50.",
                ),
                ("review_on", &review),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    educator
        .get(&format!("/assessments/{id}"))
        .await
        .assert_contains("Handleplan")
        .assert_contains("Daglig tjek-ind med Alma");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE action = 'change' AND object LIKE 'follow_up:%' AND child_id = {}",
            f.child_a1
        ))
        .await,
        1
    );

    // The leader's overview shows the plan and its review date instead of "missing".
    let page = leader.get(&format!("/overview?round={r}")).await;
    let review_dk = chrono::NaiveDate::parse_from_str(&review, "%Y-%m-%d")
        .unwrap()
        .format("%d-%m-%Y")
        .to_string();
    page.assert_contains(&format!("/assessments/{id}#follow-up\">Handleplan</a>"))
        .assert_contains(&review_dk)
        .assert_lacks("Mangler");
    // The per-child export names the kind and the review date, never the plan's text.
    let csv = leader.get(&format!("/overview/export.csv?round={r}")).await;
    assert!(
        csv.body.contains("Let bekymring;")
            && csv.body.contains(&format!(";Handleplan;{review_dk}")),
        "{}",
        csv.body
    );
    assert!(!csv.body.contains("tjek-ind"));

    // A green position takes no follow-up; nor can anyone outside the child's scope add one.
    let green = app
        .count(&format!(
            "SELECT assessment_id FROM round_positions WHERE child_id = {}",
            f.protected_child
        ))
        .await;
    let fields = [
        ("kind", "focus_points"),
        ("body", "Dette skal ikke gemmes."),
        ("review_on", review.as_str()),
    ];
    assert_eq!(
        educator
            .post(&format!("/assessments/{green}/follow-up"), &fields)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    for who in [EDUCATOR_B, WORKER, ADMIN] {
        let mut c = app.login(who).await;
        assert_eq!(
            c.post(&format!("/assessments/{id}/follow-up"), &fields)
                .await
                .status,
            StatusCode::NOT_FOUND,
            "{who}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM follow_ups").await, 1);
}

#[tokio::test]
async fn municipal_figures_are_reused_for_a_minute_then_counted_again() {
    let config = trivsel::config::Config {
        suppression_threshold: 2,
        ..Default::default()
    };
    let app = TestApp::spawn_with(config).await;
    let (f, r) = orange_and_green_in_a_round(&app).await;
    let mut admin = app.login(ADMIN).await;
    let url = format!("/overview/municipality?round={r}");
    let total_row = |n: i64| format!("<td class=\"num\">{n}</td></tr>\n</tbody>");
    let first = admin.get(&url).await;
    first.assert_contains(&total_row(2));
    let counted = |body: &str| {
        let i = body.find("id=\"counted-at\"").expect("counted-at");
        body[i..i + 120].to_string()
    };

    // A new position is in the figures once they are counted again, not before.
    let mut leader = app.login(LEADER).await;
    position(&mut leader, f.child_a2, "0", "green").await;
    let again = admin.get(&url).await;
    again.assert_contains(&total_row(2));
    assert_eq!(counted(&again.body), counted(&first.body));
    app.state.clock.advance(chrono::Duration::seconds(61));
    let later = admin.get(&url).await;
    later.assert_contains(&total_row(3));
    assert_ne!(counted(&later.body), counted(&first.body));
}

/// The municipal figures open on the newest round that has positions, not on a newer round
/// that nobody has assessed in yet.
#[tokio::test]
async fn the_municipal_figures_open_on_the_newest_round_with_positions() {
    let app = TestApp::spawn().await;
    let (_, r) = orange_and_green_in_a_round(&app).await;
    // A newer round, opened today, still empty.
    let empty = round(&app, "Forår 2027", 0).await;
    assert_ne!(empty, r);
    let mut admin = app.login(ADMIN).await;
    let page = admin.get("/overview/municipality").await;
    page.assert_contains(&format!("<option value=\"{r}\" selected>"))
        .assert_contains(&format!("municipality.csv?round={r}"));
    // Asked for, the empty round is shown.
    admin
        .get(&format!("/overview/municipality?round={empty}"))
        .await
        .assert_contains(&format!("<option value=\"{empty}\" selected>"));
}

/// "Udskriv": the child's record for the parent meeting — the position, the answers by
/// domain, the handleguide, the action plan with its review date and the consent state, on a
/// page without navigation — is an access-log event, scoped like the child's page.
#[tokio::test]
async fn a_childs_record_prints_for_the_parent_meeting_and_is_logged() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    round(&app, "Efterår 2026", 5).await;
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, "1", "yellow").await;
    let id = app
        .count(&format!(
            "SELECT assessment_id FROM round_positions WHERE child_id = {}",
            f.child_a1
        ))
        .await;
    let review = (app.state.now().date_naive() + chrono::Duration::days(30)).to_string();
    let res = educator
        .post(
            &format!("/assessments/{id}/follow-up"),
            &[
                ("kind", "action_plan"),
                ("body", "Daglig tjek-ind; møde med forældrene i uge 50."),
                ("review_on", &review),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    educator
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains(&format!("href=\"/children/{}/print\"", f.child_a1));

    let printed = |c: i64| {
        format!(
            "SELECT COUNT(*) FROM access_log WHERE action = 'export' AND object = 'print' AND child_id = {c}"
        )
    };
    let page = educator
        .get(&format!("/children/{}/print", f.child_a1))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let review_shown = chrono::NaiveDate::parse_from_str(&review, "%Y-%m-%d")
        .unwrap()
        .format("%d-%m-%Y")
        .to_string();
    page.assert_contains("Alma Andersen")
        .assert_contains("id=\"print-answers\"")
        .assert_contains("Handleguide")
        .assert_contains("Handleplan")
        .assert_contains(&review_shown)
        .assert_contains("id=\"print-consent\"")
        .assert_contains("Let bekymring")
        .assert_contains("class=\"x-label\"")
        // No navigation chrome on paper.
        .assert_lacks("<nav")
        .assert_lacks("Log ud");
    // Every domain's table lists questions with their answers.
    assert!(page.body.matches("<caption>").count() >= 2, "{}", page.body);
    assert_eq!(app.count(&printed(f.child_a1)).await, 1);

    let one = educator.get(&format!("/assessments/{id}/print")).await;
    assert_eq!(one.status, StatusCode::OK);
    one.assert_contains("Daglig tjek-ind");
    assert_eq!(app.count(&printed(f.child_a1)).await, 2);

    // Out of scope is missing, and printing nothing is not logged.
    let mut other = app.login(EDUCATOR_B).await;
    for path in [
        format!("/children/{}/print", f.child_a1),
        format!("/assessments/{id}/print"),
    ] {
        assert_eq!(
            other.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let mut admin = app.login(ADMIN).await;
    assert_eq!(
        admin
            .get(&format!("/children/{}/print", f.child_a1))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.count(&printed(f.child_a1)).await, 2);
}
