//! Nothing lost to an expired session: a form submitted after the session ran out comes back
//! after the login with every answer, a link followed before logging in survives the login,
//! the open form saves itself as a draft, and an active user's session is kept alive.

use reqwest::StatusCode;

use crate::helpers::*;

/// [`team_form`] with an observation.
fn form<'a>(
    key: &'a str,
    action: &'a str,
    observation: &'a str,
    answers: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = team_form(key, action, answers);
    f.push(("observation", observation));
    f
}

/// The educator's session runs out while the form is open; the submission is not stored and
/// not lost: after the login the form is back with the answers, the observation and the same
/// submission key, and submitting it stores one assessment.
#[tokio::test]
async fn a_form_submitted_after_the_session_expired_comes_back_after_the_login() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let path = format!("/children/{}/assess", f.child_a1);
    let key = key_in(&c.get(&path).await.body);
    expire_sessions(&app).await;

    let mut given = answers("1", None);
    given[4].1 = "2".into(); // social_2
    let note = "Græder ved aflevering & vil ikke lege";
    let res = c.post(&path, &form(&key, "score", note, &given)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/login"));
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments").await, 0);

    c.get("/login")
        .await
        .assert_contains("Din session var udløbet");
    let res = c
        .post("/login", &[("email", EDUCATOR), ("password", PASSWORD)])
        .await;
    assert_eq!(res.location.as_deref(), Some(path.as_str()));
    let back = c.get(&path).await;
    back.assert_contains("Dine svar er hentet tilbage")
        .assert_contains("Græder ved aflevering &#38; vil ikke lege")
        .assert_contains("name=\"social_2\" value=\"2\" checked")
        .assert_contains("name=\"social_1\" value=\"1\" checked")
        .assert_contains("name=\"violence\" value=\"no\" checked");
    assert_eq!(key_in(&back.body), key);
    // The kept answers are used once: the next visit shows a fresh form.
    c.get(&path)
        .await
        .assert_lacks("Dine svar er hentet tilbage");

    let res = c.post(&path, &form(&key, "score", note, &given)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE submission_key = '{key}' AND status = 'scored'"
        ))
        .await,
        1
    );
    // The kept fields lived in the session only while they waited.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions WHERE data LIKE '%Græder%'")
            .await,
        0
    );
}

/// A stale token (the form was open in a tab whose session was replaced) while logged in:
/// the form is drawn again with the answers instead of an error page.
#[tokio::test]
async fn a_stale_token_while_logged_in_redraws_the_form_with_its_answers() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let path = format!("/children/{}/assess", f.child_a1);
    let key = key_in(&c.get(&path).await.body);
    c.csrf = Some("stale".into());
    let given = answers("2", None);
    let res = c.post(&path, &form(&key, "score", "", &given)).await;
    assert_eq!(res.location.as_deref(), Some(path.as_str()), "{}", res.body);
    let back = c.get(&path).await;
    back.assert_contains("Dine svar er hentet tilbage")
        .assert_contains("name=\"health_3\" value=\"2\" checked");
    assert_eq!(key_in(&back.body), key);
    // Anything else posted with a wrong token is still refused outright.
    c.csrf = Some("stale".into());
    let res = c.post("/logout", &[]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

/// A link followed before logging in (from a notification email) is where the login leads.
#[tokio::test]
async fn the_login_leads_to_the_page_asked_for() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.client();
    let asked = format!("/children/{}?from=mail", f.child_a1);
    assert_eq!(c.get(&asked).await.location.as_deref(), Some("/login"));
    c.get("/login").await;
    let res = c
        .post("/login", &[("email", EDUCATOR), ("password", PASSWORD)])
        .await;
    assert_eq!(res.location.as_deref(), Some(asked.as_str()));
    // Once: the next login starts at the front page.
    c.get(&asked).await.assert_contains("Alma");
    assert_eq!(c.post("/logout", &[]).await.status, StatusCode::SEE_OTHER);
    let res = c.login(EDUCATOR, PASSWORD).await;
    assert_eq!(res.location.as_deref(), Some("/"));
}

/// The open form saves itself: a background save stores a draft under the form's key (and
/// answers nothing), updates it as the form changes, and never touches the assessment once
/// the user has scored it.
#[tokio::test]
async fn the_open_form_saves_itself_as_a_draft_and_never_overwrites_a_scored_one() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let path = format!("/children/{}/assess", f.child_a1);
    let key = key_in(&c.get(&path).await.body);
    let some = answers("1", None)[..3].to_vec();
    let res = c.post(&path, &form(&key, "autosave", "", &some)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(res.body, "");
    let drafts = format!(
        "SELECT COUNT(*) FROM assessments WHERE submission_key = '{key}' AND status = 'draft'"
    );
    assert_eq!(app.count(&drafts).await, 1);
    // The form opened again holds the draft.
    c.get(&path)
        .await
        .assert_contains("name=\"development_2\" value=\"1\" checked");

    let all = answers("2", None);
    let res = c.post(&path, &form(&key, "score", "", &all)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // A background save that arrives late changes nothing.
    let res = c.post(&path, &form(&key, "autosave", "", &some)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(app.count(&drafts).await, 0);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE submission_key = '{key}' \
             AND status = 'scored' AND answers LIKE '%\"development_1\":\"2\"%'"
        ))
        .await,
        1
    );
    // An autosave the form would refuse (an observation too long) says so without a page,
    // and stores nothing.
    let other = uuid::Uuid::new_v4().to_string();
    let long = "x".repeat(4001);
    let res = c.post(&path, &form(&other, "autosave", &long, &some)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.body, "");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE submission_key = '{other}'"
        ))
        .await,
        0
    );
}

/// The page's keep-alive call answers for a logged-in user and moves the session's expiry
/// forward while the user works; without a session it is refused.
#[tokio::test]
async fn an_active_users_session_is_kept_alive() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    // A minute from expiring, and seen more than a minute ago.
    let soon = chrono::Utc::now().timestamp() + 60;
    app.exec(&format!("UPDATE sessions SET expires_at = {soon}"))
        .await;
    app.state.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(
        c.post("/session/alive", &[]).await.status,
        StatusCode::NO_CONTENT
    );
    let idle = app.state.config.session_idle_minutes;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM sessions WHERE expires_at > {}",
            soon + (idle - 2) * 60
        ))
        .await,
        1
    );
    expire_sessions(&app).await;
    assert_ne!(
        c.post("/session/alive", &[]).await.status,
        StatusCode::NO_CONTENT
    );
}

/// Every session runs out now (their expiry is wall-clock time), and this instance's copies
/// of them are too old to be used.
async fn expire_sessions(app: &TestApp) {
    app.exec("UPDATE sessions SET expires_at = 0").await;
    let cached = app.state.config.session_cache_seconds as i64;
    app.state
        .clock
        .advance(chrono::Duration::seconds(cached + 1));
}
