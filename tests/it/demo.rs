//! The demo municipality: its accounts log in and each sees its own part of it.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn demo_accounts_see_their_own_scope() {
    let mut app = TestApp::spawn().await;
    let summary = trivsel::demo::seed(&app.db, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(summary.districts, 5);
    assert!((18..=30).contains(&summary.institutions));
    assert!((90..=130).contains(&summary.groups));
    assert!(
        (1800..=2300).contains(&summary.children),
        "{}",
        summary.children
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM children").await as usize,
        summary.children
    );
    // A second seed is refused: the demo never mixes with existing data.
    assert!(
        trivsel::demo::seed(&app.db, chrono::Utc::now())
            .await
            .is_err()
    );
    // As `serve --demo` does: seed first, then serve (the municipality's name is read at start).
    app.restart().await;

    let login = async |email: &str| {
        let mut c = app.client();
        let res = c.login(email, trivsel::demo::PASSWORD).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{email}");
        c
    };
    let mut admin = login("admin@demo.trivsel.dk").await;
    admin
        .get("/")
        .await
        .assert_contains("Demo Kommune")
        .assert_contains("Kommunens organisation");

    let mut leader = login("leder@demo.trivsel.dk").await;
    leader
        .get("/")
        .await
        .assert_contains("Centrumskolen")
        .assert_contains("9.A")
        .assert_lacks("Hedeskolen")
        .assert_lacks("Nordskolen");

    let mut paedagog = login("paedagog@demo.trivsel.dk").await;
    let home = paedagog.get("/").await;
    home.assert_contains("Mariehønen")
        .assert_contains("Sommerfuglen")
        .assert_lacks("Guldsmeden");
    assert_eq!(home.body.matches("/groups/").count(), 2);

    let mut laerer = login("laerer@demo.trivsel.dk").await;
    let home = laerer.get("/").await;
    home.assert_contains("3.A");
    assert_eq!(home.body.matches("/groups/").count(), 1);

    for email in ["raadgiver@demo.trivsel.dk", "raadgiver2@demo.trivsel.dk"] {
        let mut w = login(email).await;
        w.get("/")
            .await
            .assert_contains("Distrikt Centrum")
            .assert_lacks("Distrikt Nord");
    }
    let mut w3 = login("raadgiver3@demo.trivsel.dk").await;
    w3.get("/")
        .await
        .assert_contains("Distrikt Nord")
        .assert_lacks("Centrumskolen");

    // The two-factor educator: the password, then the code from the app set up with the
    // README's key.
    let mut tove = app.client();
    let res = tove
        .login(trivsel::demo::TWO_FACTOR_ACCOUNT, trivsel::demo::PASSWORD)
        .await;
    assert_eq!(res.location.as_deref(), Some("/login/code"));
    tove.get("/login/code")
        .await
        .assert_contains("Kode fra din app");
    let code = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(trivsel::demo::TWO_FACTOR_SECRET).unwrap())
        .with_account_name("demo")
        .build()
        .unwrap()
        .generate(app.state.now().timestamp() as u64)
        .to_string();
    let res = tove.post("/login/code", &[("code", &code)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    tove.get("/").await.assert_contains("3.A");
}

#[tokio::test]
async fn generated_history_matches_an_independent_recount_on_the_overviews() {
    let mut app = TestApp::spawn().await;
    let cat = shipped_catalogue("boernelineal");
    let s = trivsel::demo::seed_with(
        &app.db,
        app.state.now(),
        trivsel::demo::Size {
            copies: 1,
            rounds: 2,
            history_in_open_round: true,
        },
        Some(&cat),
    )
    .await
    .unwrap();
    assert_eq!(
        s.assessments as i64,
        app.count("SELECT COUNT(*) FROM assessments").await
    );
    assert!(s.assessments > 3000, "{}", s.assessments);
    // One position per child and round.
    assert_eq!(app.count("SELECT COUNT(*) FROM (SELECT child_id, round_id FROM assessments GROUP BY child_id, round_id HAVING COUNT(*) > 1) x").await, 0);
    assert_eq!(
        app.assert_round_positions_match_recount().await,
        s.assessments as i64
    );
    app.restart().await;
    let round: i64 = app.count("SELECT MAX(id) FROM rounds").await;
    // The newest round's positions raised the alerts the engine's rules give: every
    // position at orange or above (the "level" rule), notifications exactly at red, each on
    // the newest round and routed to a district.
    assert!(s.alerts > 0);
    assert_eq!(
        s.alerts as i64,
        app.count("SELECT COUNT(*) FROM alerts").await
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM alerts WHERE rules LIKE '%level%'")
            .await,
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE round_id = {round} AND decided_rank >= 2"
        ))
        .await
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM alerts al JOIN assessments a ON a.id = al.assessment_id \
             WHERE a.round_id <> {round} OR al.district_id IS NULL \
             OR (al.kind = 'notification') <> (al.level_rank = 3)"
        ))
        .await,
        0
    );
    let mut admin = {
        let mut c = app.client();
        c.login("admin@demo.trivsel.dk", trivsel::demo::PASSWORD)
            .await;
        c.get("/").await;
        c
    };
    let page = admin
        .get(&format!("/overview/municipality?round={round}"))
        .await;
    // The district table's grand total and its column totals, against a recount.
    let table = &page.body[page.body.find("class=\"aggregate table\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let total_row = &table[table.rfind("<tr><th scope=\"row\">I alt</th>").unwrap()..];
    let cells: Vec<String> = total_row
        .split("<td class=\"num\">")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().to_string())
        .collect();
    for (rank, shown) in cells.iter().enumerate().take(4) {
        let n = app.count(&format!("SELECT COUNT(*) FROM assessments WHERE round_id = {round} AND decided_rank = {rank}")).await;
        if n >= 5 {
            assert_eq!(shown, &n.to_string(), "level {rank}");
        } else {
            assert!(
                !shown.chars().all(|c| c.is_ascii_digit()) || n == 0,
                "level {rank}: {shown} for {n}"
            );
        }
    }
    assert_eq!(
        cells[4],
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE round_id = {round}"
        ))
        .await
        .to_string()
    );
}

#[tokio::test]
async fn serve_demo_has_earlier_rounds_of_positions_and_an_open_round_left_to_assess() {
    let app = TestApp::spawn().await;
    let cat = shipped_catalogue("boernelineal");
    let s = trivsel::demo::seed_with(
        &app.db,
        app.state.now(),
        trivsel::demo::Size::demo(),
        Some(&cat),
    )
    .await
    .unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM rounds").await, 4);
    let open = app.count("SELECT MAX(id) FROM rounds").await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE round_id = {open}"
        ))
        .await,
        0,
        "the open round is left for the demo's educators"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(DISTINCT round_id) FROM assessments WHERE round_id <> {open}"
        ))
        .await,
        3
    );
    assert_eq!(
        app.assert_round_positions_match_recount().await,
        s.assessments as i64
    );
}
