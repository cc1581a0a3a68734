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
}
