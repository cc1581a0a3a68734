//! Alerts end to end: a team's position raises an alert routed to the district's preventive
//! social workers, as a notification, a named case or an anonymous consultation; consent turns
//! an anonymous one named; workers take and close cases; overdue cases escalate (with a
//! controllable clock, never by sleeping); email goes through the outbox over real SMTP and
//! carries no personal data, even when the SMTP server is down at first.

use reqwest::StatusCode;
use trivsel::config::{Config, SmtpTls};

use crate::helpers::*;
use crate::smtp::{SmtpServer, assert_no_personal_data, free_port};

pub fn mail_config(port: u16) -> Config {
    Config {
        smtp_host: Some("127.0.0.1".into()),
        smtp_port: port,
        smtp_tls: SmtpTls::None,
        mail_poll_seconds: 1,
        ..Config::default()
    }
}

/// The educator records a team position for `child` with `answers`, deciding `level`.
pub async fn position(
    c: &mut Client,
    child: i64,
    answers: &[(String, String)],
    level: &str,
) -> String {
    let page = c.get(&format!("/children/{child}/assess")).await.body;
    let (key, questionnaire) = (key_in(&page), hidden_in(&page, "questionnaire"));
    let mut f: Vec<(&str, &str)> = vec![
        ("submission_key", &key),
        ("questionnaire", &questionnaire),
        ("kind", "team"),
        ("action", "score"),
        ("observation", "Alma virker ked af det."),
    ];
    f.extend(answers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let res = c.post(&format!("/children/{child}/assess"), &f).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let url = res.location.unwrap();
    let res = c
        .post(
            &format!("{url}/decide"),
            &[
                ("level", level),
                ("justification", "Teamet er enige om positionen."),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    url
}

async fn one_alert(app: &TestApp) -> i64 {
    app.count("SELECT MAX(id) FROM alerts").await
}

/// The educator places child A1 at red with the critical sign `sign` (the duty to notify):
/// the educator's session and the alert it raised.
async fn red_alert(app: &TestApp, f: &Fixture, sign: &str) -> (Client, i64) {
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, &answers("1", Some(sign)), "red").await;
    (educator, one_alert(app).await)
}

#[tokio::test]
async fn a_red_position_without_consent_is_a_notification_to_both_district_workers() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(mail_config(smtp.port)).await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    let url = position(
        &mut educator,
        f.child_a1,
        &answers("1", Some("neglect")),
        "red",
    )
    .await;
    educator
        .get(&url)
        .await
        .assert_contains("Trivsel har sendt en henvendelse med barnets navn");
    let id = one_alert(&app).await;
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM alerts WHERE id = {id} AND kind = 'notification' AND district_id = {}", f.district_a)).await, 1);

    // 24 hours to assess it.
    let deadline_ok = app
        .count(&format!("SELECT COUNT(*) FROM alerts WHERE id = {id}"))
        .await
        == 1;
    assert!(deadline_ok);
    let mut w1 = app.login(WORKER).await;
    let inbox = w1.get("/alerts").await;
    inbox
        .assert_contains("Alma Andersen")
        .assert_contains("Underretning")
        .assert_contains("Alvorlig bekymring");
    let page = w1.get(&format!("/alerts/{id}")).await;
    page.assert_contains("Alma Andersen")
        .assert_contains("Askeskolen")
        .assert_contains("Alma virker ked af det.")
        .assert_contains("inden for 24 timer");
    let mut w2 = app.login(WORKER2).await;
    w2.get("/alerts").await.assert_contains("Alma Andersen");
    // The other district's worker sees nothing of it.
    let mut wb = app.login(WORKER_B).await;
    wb.get("/alerts")
        .await
        .assert_lacks("Alma")
        .assert_lacks("Underretning");
    assert_eq!(
        wb.get(&format!("/alerts/{id}")).await.status,
        StatusCode::NOT_FOUND
    );

    // Both workers of the district get an email saying only that something is waiting.
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2, "{mails:#?}");
    let to: Vec<bool> = [WORKER, WORKER2]
        .iter()
        .map(|w| mails.iter().any(|m| m.contains(&format!("To: {w}"))))
        .collect();
    assert_eq!(to, [true, true]);
    assert!(
        mails
            .iter()
            .all(|m| m.contains(&format!("/alerts/{id}")) && m.contains("ingen personoplysninger"))
    );
    assert!(!mails.iter().any(|m| m.contains(WORKER_B)));
    assert_no_personal_data(&app, &mails).await;

    // The educator tells whether the parents were told; the notifier sees it was received.
    let res = educator
        .post(
            &format!("/alerts/{id}/details"),
            &[("parents_informed", "no_suspected_abuse")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    educator
        .get(&format!("/alerts/{id}"))
        .await
        .assert_contains("Modtaget")
        .assert_contains("mistanke om overgreb");
}

#[tokio::test]
async fn yellow_twice_without_consent_is_anonymous_until_consent_names_it() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(mail_config(smtp.port)).await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    // Every item at 1: total 18 → orange is the suggestion; the team decides yellow (justified).
    position(&mut educator, f.child_a1, &answers("1", None), "yellow").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM alerts").await,
        0,
        "yellow once raises nothing"
    );
    position(&mut educator, f.child_a1, &answers("1", None), "yellow").await;
    let id = one_alert(&app).await;
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM alerts WHERE id = {id} AND kind = 'anonymous' AND rules = 'repeat'")).await, 1);

    let mut w = app.login(WORKER).await;
    for page in [
        w.get("/alerts").await,
        w.get(&format!("/alerts/{id}")).await,
    ] {
        page.assert_contains("Anonym")
            .assert_lacks("Alma")
            .assert_lacks("Andersen")
            .assert_lacks("01-05-2019")
            .assert_lacks("Askeskolen")
            .assert_lacks("1.A")
            .assert_lacks("ked af det");
    }
    w.get(&format!("/alerts/{id}"))
        .await
        .assert_contains("6–9")
        .assert_contains("Skole");
    // The educator is asked to talk with the parents about consent.
    educator
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("Opgave: tal med forældrene");
    let res = educator
        .post(
            &format!("/alerts/{id}/details"),
            &[(
                "consultation_text",
                "Barnet trækker sig fra legen i frikvartererne.",
            )],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    w.get(&format!("/alerts/{id}"))
        .await
        .assert_contains("trækker sig fra legen");

    // Consent is recorded: a custody holder, in writing.
    let guardian: i64 = app
        .count(&format!(
            "SELECT id FROM guardians WHERE child_id = {}",
            f.child_a1
        ))
        .await;
    let bad = educator
        .post(
            &format!("/children/{}/consent", f.child_a1),
            &[
                ("purpose", "share_with_social_worker"),
                ("event", "given"),
                ("guardian_id", ""),
                ("method", "written"),
            ],
        )
        .await;
    // The page comes back with the message at the field and the choices as they were made.
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    bad.assert_contains("Vælg den forælder med forældremyndighed")
        .assert_contains(
            "name=\"guardian_id\" aria-invalid=\"true\" aria-describedby=\"consent-error\"",
        )
        .assert_contains("value=\"share_with_social_worker\" selected")
        .assert_contains("value=\"given\" selected")
        .assert_contains("value=\"written\" selected");
    assert_eq!(app.count("SELECT COUNT(*) FROM consent_events").await, 0);
    let ok = educator
        .post(
            &format!("/children/{}/consent", f.child_a1),
            &[
                ("purpose", "share_with_social_worker"),
                ("event", "given"),
                ("guardian_id", &guardian.to_string()),
                ("method", "written"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    // The page it leads back to says the consent was recorded.
    educator
        .get(ok.location.as_deref().unwrap())
        .await
        .assert_contains("Samtykket er registreret.");
    educator
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("Givet");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM alerts WHERE id = {id} AND kind = 'named'"
        ))
        .await,
        1
    );
    w.get(&format!("/alerts/{id}"))
        .await
        .assert_contains("Alma Andersen")
        .assert_contains("Sag med navn");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM alert_events WHERE alert_id = {id} AND event = 'identity_shared'"
        ))
        .await,
        1
    );

    // Withdrawal takes effect at once.
    let res = educator
        .post(
            &format!("/children/{}/consent", f.child_a1),
            &[
                ("purpose", "share_with_social_worker"),
                ("event", "withdrawn"),
                ("guardian_id", &guardian.to_string()),
                ("method", "oral"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    w.get(&format!("/alerts/{id}")).await.assert_lacks("Alma");

    let mails = smtp.wait_for(4).await;
    assert!(mails.len() >= 4, "{mails:#?}");
    assert!(mails.iter().any(|m| m.contains("samtykke")));
    assert_no_personal_data(&app, &mails).await;
}

#[tokio::test]
async fn one_worker_takes_the_case_and_closes_it_with_an_outcome() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, &answers("2", None), "orange").await;
    let id = one_alert(&app).await;
    let mut w1 = app.login(WORKER).await;
    let mut w2 = app.login(WORKER2).await;
    assert_eq!(
        w1.post(&format!("/alerts/{id}/take"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    // The second worker sees who took it, and cannot take it too.
    w2.post(&format!("/alerts/{id}/take"), &[]).await;
    w2.get(&format!("/alerts/{id}"))
        .await
        .assert_contains("Taget · worker@test.dk")
        .assert_lacks("Jeg tager den");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM alert_events WHERE alert_id = {id} AND event = 'taken'"
        ))
        .await,
        1
    );
    // Only the taker moves it on.
    w2.post(&format!("/alerts/{id}/progress"), &[]).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM alerts WHERE id = {id} AND status = 'taken'"
        ))
        .await,
        1
    );
    w1.post(&format!("/alerts/{id}/progress"), &[]).await;
    let bad = w1
        .post(
            &format!("/alerts/{id}/close"),
            &[("outcome", ""), ("note", "Ringede til skolen.")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    bad.assert_contains("Vælg en af mulighederne.")
        .assert_contains(">Ringede til skolen.</textarea>");
    let res = w1
        .post(
            &format!("/alerts/{id}/close"),
            &[("outcome", "parent_meeting"), ("note", "Møde aftalt.")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    w1.get(&format!("/alerts/{id}"))
        .await
        .assert_contains("Lukket")
        .assert_contains("Møde med forældrene");
    w1.get("/alerts")
        .await
        .assert_lacks(&format!("/alerts/{id}\""));
    for e in ["created", "taken", "in_progress", "closed"] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM alert_events WHERE alert_id = {id} AND event = '{e}'"
            ))
            .await,
            1,
            "{e}"
        );
    }
    assert!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE object = 'alert:{id}'"
        ))
        .await
            >= 5
    );
}

#[tokio::test]
async fn an_alert_not_taken_in_time_escalates_once() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(mail_config(smtp.port)).await;
    let f = Fixture::create(&app).await;
    let (_, id) = red_alert(&app, &f, "violence").await;
    smtp.wait_for(2).await;

    // 23 hours later nothing happens; 25 hours later it escalates.
    app.state.clock.advance(chrono::Duration::hours(23));
    assert_eq!(
        trivsel::alerts::escalate_due(&app.state, app.state.now())
            .await
            .unwrap(),
        0
    );
    app.state.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        trivsel::alerts::escalate_due(&app.state, app.state.now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        trivsel::alerts::escalate_due(&app.state, app.state.now())
            .await
            .unwrap(),
        0,
        "only once"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM alert_events WHERE alert_id = {id} AND event = 'escalated'"
        ))
        .await,
        1
    );
    let mut w = app.login(WORKER).await;
    w.get("/alerts").await.assert_contains("Overskredet");
    w.get(&format!("/alerts/{id}"))
        .await
        .assert_contains("fristen er passeret");
    // The district's workers and the municipal queue (every worker) are told, without names.
    let mails = smtp.wait_for(5).await;
    assert!(
        mails.iter().filter(|m| m.contains("venter stadig")).count() >= 3,
        "{mails:#?}"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.contains("venter stadig") && m.contains(WORKER_B))
    );
    assert_no_personal_data(&app, &mails).await;
}

#[tokio::test]
async fn email_waits_while_smtp_is_down_and_goes_out_once_when_it_returns() {
    let port = free_port().await;
    let mut app = TestApp::spawn_with(mail_config(port)).await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, &answers("2", None), "orange").await;
    // The sender tries and fails: nothing is lost.
    for _ in 0..100 {
        if app
            .count("SELECT COUNT(*) FROM outbox WHERE attempts > 0")
            .await
            >= 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND attempts > 0 AND last_error <> ''").await, 2);
    // A restart in between loses nothing.
    app.restart().await;
    // The SMTP server comes up; once the back-off has passed, each message goes out once.
    let smtp = SmtpServer::start_on(port).await;
    app.state.clock.advance(chrono::Duration::minutes(5));
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(smtp.messages().len(), 2, "nothing is sent twice");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
            .await,
        0
    );
    assert_no_personal_data(&app, &mails).await;
}

#[tokio::test]
async fn without_smtp_settings_email_waits_in_the_outbox() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, &answers("2", None), "orange").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND attempts = 0")
            .await,
        2
    );
}

#[tokio::test]
async fn a_district_without_a_worker_routes_to_the_municipal_queue() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    // Nobody works in district B any more.
    app.exec("UPDATE users SET active = FALSE WHERE email = 'worker-b@test.dk'")
        .await;
    let mut educator_b = app.login(EDUCATOR_B).await;
    position(&mut educator_b, f.child_b1, &answers("2", None), "orange").await;
    let id = one_alert(&app).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM alerts WHERE id = {id} AND district_id IS NULL"
        ))
        .await,
        1
    );
    // Every worker of the municipality sees the queue.
    let mut w = app.login(WORKER).await;
    assert_eq!(w.get(&format!("/alerts/{id}")).await.status, StatusCode::OK);
    // A measure on a queued case is due on every worker's front page.
    let yesterday = app.state.now().date_naive() - chrono::Duration::days(1);
    app.exec(&format!(
        "INSERT INTO measures (alert_id, child_id, kind, section30, started_on, planned_weeks, \
         responsible, review_weeks, next_review_on, status, created_by, created_at) \
         SELECT id, child_id, 'familieteam', TRUE, '{yesterday}', 12, 'Familieteamet', 12, \
         '{yesterday}', 'active', created_by, created_at FROM alerts WHERE id = {id}"
    ))
    .await;
    w.get("/")
        .await
        .assert_contains(&format!("href=\"/alerts/{id}#measure-"));
    let mut admin = app.login(ADMIN).await;
    admin
        .get("/")
        .await
        .assert_contains("Distrikt uden forebyggende socialrådgiver");
}

/// A long inbox comes a page at a time, in the order the worker needs: the notification
/// first, then the rest; every page says where it is and links the next.
#[tokio::test]
async fn a_long_inbox_is_paged_with_the_most_serious_first() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let (_, id) = red_alert(&app, &f, "neglect").await;
    for _ in 0..59 {
        app.exec(&format!(
            "INSERT INTO alerts (child_id, assessment_id, district_id, kind, status, level_rank, level_id, \
             rules, deadline, created_by, created_at, updated_at) SELECT child_id, assessment_id, district_id, \
             'anonymous', 'new', 1, 'yellow', rules, deadline, created_by, created_at, updated_at \
             FROM alerts WHERE id = {id}"
        ))
        .await;
    }
    let mut w = app.login(WORKER).await;
    let first = w.get("/alerts").await;
    first
        .assert_contains("Side 1 af 2 (60)")
        .assert_contains("href=\"/alerts?page=2\"");
    assert_eq!(
        first.body.matches("<tr>").count() - 1,
        50,
        "a header row and 50 alerts"
    );
    let rows: Vec<&str> = first.body.split("<tr>").skip(2).collect();
    assert!(rows[0].contains(&format!("/alerts/{id}\"")), "{}", rows[0]);
    assert!(rows[0].contains("Underretning"));
    let second = w.get("/alerts?page=2").await;
    second.assert_contains("Side 2 af 2 (60)");
    assert_eq!(second.body.matches("<tr>").count() - 1, 10);
    // The other district's worker has none of them.
    let mut wb = app.login(WORKER_B).await;
    wb.get("/alerts").await.assert_lacks("/alerts/");
}

/// An anonymous consultation becomes a conversation: the team asks, the worker answers, each
/// side is told by email (no personal data) and sees an unread count in the menu; the worker
/// never learns from the conversation who wrote or where the child is; the closing note
/// stands on the closed alert; the inbox's filters find open, own, untaken and closed alerts.
#[tokio::test]
async fn an_anonymous_consultation_becomes_a_conversation_that_gives_nothing_away() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(mail_config(smtp.port)).await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, &answers("1", None), "yellow").await;
    position(&mut educator, f.child_a1, &answers("1", None), "yellow").await;
    let id = one_alert(&app).await;
    let mails_before = app.delivered(&smtp).await.len();
    assert_eq!(mails_before, 2);

    // The team's list of alerts names the child; the worker's does not.
    educator
        .get("/alerts")
        .await
        .assert_contains("Alma Andersen")
        .assert_contains(&format!("/alerts/{id}"));

    // An empty message comes back at the field and writes nothing.
    let res = educator
        .post(&format!("/alerts/{id}/messages"), &[("body", "   ")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("id=\"message-error\"");
    assert_eq!(app.count("SELECT COUNT(*) FROM alert_messages").await, 0);

    let res = educator
        .post(
            &format!("/alerts/{id}/messages"),
            &[("body", "Hvordan kan vi støtte barnet i frikvartererne?")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    // Both workers of the district are told and see the unread count in the menu.
    let mut w = app.login(WORKER).await;
    let inbox = w.get("/alerts").await;
    inbox
        .assert_contains("id=\"unread-count\">1<")
        .assert_contains("Ny besked")
        .assert_contains("id=\"inbox-filters\"");
    let page = w.get(&format!("/alerts/{id}")).await;
    page.assert_contains("Hvordan kan vi støtte barnet")
        .assert_contains("Teamet")
        .assert_contains("id=\"anonymous-conversation\"")
        .assert_lacks(EDUCATOR)
        .assert_lacks("Alma")
        .assert_lacks("Askeskolen")
        .assert_lacks("1.A");
    // Read: the count is gone for this worker, not for the other.
    w.get("/").await.assert_lacks("id=\"unread-count\"");
    app.login(WORKER2)
        .await
        .get("/")
        .await
        .assert_contains("id=\"unread-count\">1<");

    // The worker answers; the educator and the school's leader are told.
    let res = w
        .post(
            &format!("/alerts/{id}/messages"),
            &[(
                "body",
                "Lav faste legeaftaler i frikvarteret, og tal med forældrene om samtykke.",
            )],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    educator
        .get("/")
        .await
        .assert_contains("id=\"unread-count\">1<");
    let page = educator.get(&format!("/alerts/{id}")).await;
    page.assert_contains("Lav faste legeaftaler")
        .assert_contains(&format!("{WORKER} (Forebyggende socialrådgiver)"));
    app.login(LEADER)
        .await
        .get("/")
        .await
        .assert_contains("id=\"unread-count\">1<");
    // Another school's educator may neither read nor write.
    let mut other = app.login(EDUCATOR_B).await;
    assert_eq!(
        other
            .post(&format!("/alerts/{id}/messages"), &[("body", "Hej")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM alert_messages").await, 2);

    // Every message is in the history and the access log.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM alert_events WHERE alert_id = {id} AND event = 'message'"
        ))
        .await,
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE object = 'alert:{id}' AND detail = 'message'"
        ))
        .await,
        2
    );

    // Filters: untaken, then mine once taken, closed once closed (and no longer open).
    w.get("/alerts?filter=new")
        .await
        .assert_contains(&format!("/alerts/{id}\""));
    w.post(&format!("/alerts/{id}/take"), &[]).await;
    w.get("/alerts?filter=mine")
        .await
        .assert_contains(&format!("/alerts/{id}\""));
    app.login(WORKER2)
        .await
        .get("/alerts?filter=mine")
        .await
        .assert_lacks(&format!("/alerts/{id}\""));
    let res = w
        .post(
            &format!("/alerts/{id}/close"),
            &[
                ("outcome", "consultation_given"),
                (
                    "note",
                    "Aftalt: teamet holder møde med forældrene om samtykke.",
                ),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    w.get("/alerts?filter=closed")
        .await
        .assert_contains(&format!("/alerts/{id}\""));
    w.get("/alerts")
        .await
        .assert_lacks(&format!("/alerts/{id}\""));
    educator
        .get(&format!("/alerts/{id}"))
        .await
        .assert_contains("id=\"closing-note\"")
        .assert_contains("Aftalt: teamet holder møde");
    // A closed alert takes no more messages.
    assert_eq!(
        educator
            .post(&format!("/alerts/{id}/messages"), &[("body", "Tak!")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Two workers told of the team's message, the educator and the leader of the worker's.
    let mails = app.delivered(&smtp).await;
    assert_eq!(mails.len(), mails_before + 4, "{mails:#?}");
    let about_messages: Vec<&String> = mails.iter().filter(|m| m.contains("ny besked")).collect();
    assert_eq!(about_messages.len(), 4, "{mails:#?}");
    for to in [WORKER, WORKER2, EDUCATOR, LEADER] {
        assert!(
            about_messages.iter().any(|m| m.contains(to)),
            "{to} was told: {about_messages:#?}"
        );
    }
    assert_no_personal_data(&app, &mails).await;
    for m in &mails {
        assert!(
            !m.contains("frikvarter"),
            "a message's text in an email: {m}"
        );
    }
}

/// A named case gets a preventive measure with its review rhythm: the form refuses what is
/// missing at the field and keeps the input; the § 30 measure that has run past its planned
/// length is flagged; the overdue review is on the worker's front page and reminded by email
/// once (a second run sends nothing); a review moves the next date on or ends the measure.
/// Only the case's worker records measures, never on an anonymous consultation.
#[tokio::test]
async fn a_measure_on_a_named_case_is_reviewed_on_its_rhythm() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(mail_config(smtp.port)).await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let (mut educator, id) = red_alert(&app, &f, "neglect").await;
    let mut w = app.login(WORKER).await;
    w.post(&format!("/alerts/{id}/take"), &[]).await;
    let page = w.get(&format!("/alerts/{id}")).await;
    page.assert_contains("id=\"measure-form\"")
        .assert_contains("Forløb i Familieteamet");

    // Missing kind and responsible: both said at their fields, the input kept.
    let res = w
        .post(
            &format!("/alerts/{id}/measures"),
            &[
                ("kind", ""),
                ("started_on", "2026-01-05"),
                ("planned_weeks", ""),
                ("responsible", ""),
                ("review_weeks", "300"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("id=\"m_kind-error\"")
        .assert_contains("id=\"m_responsible-error\"")
        .assert_contains("id=\"m_review_weeks-error\"")
        .assert_contains("value=\"300\"");
    assert_eq!(app.count("SELECT COUNT(*) FROM measures").await, 0);

    // A Familieteam course started 100 days ago: 12 weeks planned, reviewed every 13 weeks.
    let today = app
        .state
        .now()
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .date_naive();
    let started = (today - chrono::Duration::days(100)).to_string();
    let res = w
        .post(
            &format!("/alerts/{id}/measures"),
            &[
                ("kind", "familieteam"),
                ("started_on", &started),
                ("planned_weeks", ""),
                ("responsible", "Familieteamet, Dorte"),
                ("review_weeks", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let mid = app.count("SELECT MAX(id) FROM measures").await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM measures WHERE id = {mid} AND planned_weeks = 12 AND review_weeks = 13 AND section30"
        ))
        .await,
        1
    );
    let page = w.get(&format!("/alerts/{id}")).await;
    page.assert_contains(&format!("id=\"measure-{mid}\""))
        .assert_contains("Indsatsen efter § 30 er løbet ud over den planlagte længde")
        .assert_contains("Overskredet");
    // 100 days after the start, the review (91 days) is overdue: on the front page.
    w.get("/")
        .await
        .assert_contains(&format!("/alerts/{id}#measure-{mid}"))
        .assert_contains("Overskredet");
    let mut w2 = app.login(WORKER2).await;
    w2.get("/")
        .await
        .assert_contains(&format!("#measure-{mid}"));
    // The school's leader sees that the child has a measure and when it is reviewed: not
    // its kind, who is responsible or how it goes.
    let overview = app.login(LEADER).await.get("/overview").await;
    let section = &overview.body[overview
        .body
        .find("Børn med en forebyggende indsats")
        .expect("the leader's overview lists the measures")..];
    assert!(section.contains("Alma Andersen"), "{section}");
    overview
        .assert_lacks("Forløb i Familieteamet")
        .assert_lacks("Familieteamet, Dorte");
    app.login(EDUCATOR)
        .await
        .get("/overview")
        .await
        .assert_lacks("Børn med en forebyggende indsats");

    // The reminder goes once, to the worker who has the case.
    let before = app.delivered(&smtp).await.len();
    let now = app.state.now();
    assert_eq!(
        trivsel::alerts::measures::remind_due(&app.state, now)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        trivsel::alerts::measures::remind_due(&app.state, now)
            .await
            .unwrap(),
        0
    );
    let mails = app.delivered(&smtp).await;
    assert_eq!(mails.len(), before + 1, "{mails:#?}");
    let reminders: Vec<&String> = mails
        .iter()
        .filter(|m| m.contains("er forfalden"))
        .collect();
    assert_eq!(reminders.len(), 1, "{mails:#?}");
    assert!(reminders[0].contains(WORKER));
    assert_no_personal_data(&app, &mails).await;

    // A review: it continues, the next review 13 weeks from today.
    let res = w
        .post(
            &format!("/measures/{mid}/reviews"),
            &[("changed", ""), ("decision", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains(&format!("id=\"r{mid}_changed-error\""));
    // What was typed comes back with the message.
    let res = w
        .post(
            &format!("/measures/{mid}/reviews"),
            &[("changed", "Mor er kommet i arbejde."), ("decision", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains(&format!("id=\"r{mid}_decision-error\""))
        .assert_contains(">Mor er kommet i arbejde.</textarea>");
    assert_eq!(app.count("SELECT COUNT(*) FROM measure_reviews").await, 0);
    let res = w
        .post(
            &format!("/measures/{mid}/reviews"),
            &[
                (
                    "changed",
                    "Familien møder op; morgenrutinerne fungerer bedre.",
                ),
                ("decision", "continue"),
                ("review_weeks", "13"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let next = (today + chrono::Duration::weeks(13)).to_string();
    assert_eq!(
        app.text(&format!(
            "SELECT CAST(next_review_on AS TEXT) FROM measures WHERE id = {mid}"
        ))
        .await,
        next
    );
    w.get("/").await.assert_lacks(&format!("#measure-{mid}"));
    let res = w
        .post(
            &format!("/measures/{mid}/reviews"),
            &[("changed", "Forløbet er gennemført."), ("decision", "end")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = w.get(&format!("/alerts/{id}")).await;
    page.assert_contains("Afsluttet")
        .assert_contains("morgenrutinerne fungerer bedre");
    assert_eq!(app.count("SELECT COUNT(*) FROM measure_reviews").await, 2);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE object = 'measure:{mid}'"
        ))
        .await,
        3
    );

    // Nobody but the case's worker records measures.
    let mut wb = app.login(WORKER_B).await;
    let res = wb
        .post(
            &format!("/alerts/{id}/measures"),
            &[
                ("kind", "ppr"),
                ("started_on", &started),
                ("responsible", "PPR"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = educator
        .post(
            &format!("/alerts/{id}/measures"),
            &[
                ("kind", "ppr"),
                ("started_on", &started),
                ("responsible", "PPR"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    educator
        .get(&format!("/alerts/{id}"))
        .await
        .assert_lacks("id=\"measures\"");
    assert_eq!(app.count("SELECT COUNT(*) FROM measures").await, 1);
}

/// An anonymous consultation takes no measure: the family is not known to the worker.
#[tokio::test]
async fn an_anonymous_consultation_takes_no_measure() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    position(&mut educator, f.child_a1, &answers("1", None), "yellow").await;
    position(&mut educator, f.child_a1, &answers("1", None), "yellow").await;
    let id = one_alert(&app).await;
    let mut w = app.login(WORKER).await;
    w.get(&format!("/alerts/{id}"))
        .await
        .assert_lacks("id=\"measure-form\"");
    let res = w
        .post(
            &format!("/alerts/{id}/measures"),
            &[
                ("kind", "ppr"),
                ("started_on", "2026-11-01"),
                ("responsible", "PPR"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM measures").await, 0);
}

/// A dialogue meeting on a named case: participants by role and agreements; the team sees
/// the agreements the worker shares with it, and nothing of the meetings kept on the
/// worker's side; an invalid form keeps its input.
#[tokio::test]
async fn dialogue_meeting_agreements_reach_the_team_when_shared() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let (_, id) = red_alert(&app, &f, "neglect").await;
    let mut w = app.login(WORKER).await;
    let res = w
        .post(
            &format!("/alerts/{id}/meetings"),
            &[
                ("kind", "dialogue"),
                ("held_on", "2026-11-20"),
                ("participants", "mor, far, klasselærer"),
                ("agreements", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("id=\"mt_agreements-error\"")
        .assert_contains("value=\"mor, far, klasselærer\"");
    for (agreements, shared) in [
        ("Skolen giver Alma en fast voksen i frikvarteret.", true),
        ("Familien tilbydes forløb i Familieteamet.", false),
    ] {
        let mut fields = vec![
            ("kind", "dialogue"),
            ("held_on", "2026-11-20"),
            ("participants", "mor, far, klasselærer, socialrådgiver"),
            ("agreements", agreements),
        ];
        if shared {
            fields.push(("shared", "1"));
        }
        let res = w.post(&format!("/alerts/{id}/meetings"), &fields).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    }
    w.get(&format!("/alerts/{id}"))
        .await
        .assert_contains("fast voksen i frikvarteret")
        .assert_contains("Familieteamet.")
        .assert_contains("Delt med teamet");
    for who in [EDUCATOR, LEADER] {
        app.login(who)
            .await
            .get(&format!("/alerts/{id}"))
            .await
            .assert_contains("fast voksen i frikvarteret")
            .assert_lacks("Familien tilbydes forløb")
            .assert_lacks("id=\"meeting-form\"");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE object LIKE 'meeting:%' AND child_id = {}",
            f.child_a1
        ))
        .await,
        2
    );
}

/// A child moves to a school in another district. Without the parents' handover consent the
/// leaving school's leader is asked by email to talk with the parents, and the new teacher
/// sees only that the handover was not consented; the case — conversation and measure — goes
/// to the new district's worker, who takes it over, and the old district's worker no longer
/// sees it. With the consent, the new teacher sees the last position, the action plan and the
/// measure, never the answers or the observation.
#[tokio::test]
async fn a_move_hands_over_only_with_consent_and_the_case_follows_the_district() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(mail_config(smtp.port)).await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    let url = position(
        &mut educator,
        f.child_a1,
        &answers("1", Some("neglect")),
        "red",
    )
    .await;
    let review = (app.state.now().date_naive() + chrono::Duration::days(30)).to_string();
    let res = educator
        .post(
            &format!("{url}/follow-up"),
            &[
                ("kind", "action_plan"),
                ("body", "Fast voksen ved aflevering hver morgen."),
                ("review_on", &review),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let id = one_alert(&app).await;
    let mut w = app.login(WORKER).await;
    w.post(&format!("/alerts/{id}/take"), &[]).await;
    w.post(
        &format!("/alerts/{id}/messages"),
        &[("body", "Vi tager en snak med familien.")],
    )
    .await;
    let res = w
        .post(
            &format!("/alerts/{id}/measures"),
            &[
                ("kind", "familieteam"),
                ("started_on", &app.state.now().date_naive().to_string()),
                ("responsible", "Familieteamet"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let before = app.delivered(&smtp).await.len();

    // The move, without handover consent.
    move_from_tomorrow(&app, f.child_a1, f.class_b1).await;
    let mails = app.delivered(&smtp).await;
    assert!(mails.len() > before, "the move sends mail: {mails:#?}");
    let task: Vec<&String> = mails[before..]
        .iter()
        .filter(|m| m.contains("overlevering"))
        .collect();
    assert!(
        task.iter().any(|m| m.contains(&format!("To: {LEADER}"))),
        "the leaving school's leader gets the task: {mails:#?}"
    );
    assert_no_personal_data(&app, &mails).await;
    app.state.clock.advance(chrono::Duration::days(2));

    let mut teacher = app.login(EDUCATOR_B).await;
    teacher
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("id=\"handover-not-consented\"")
        .assert_lacks("Fast voksen ved aflevering")
        .assert_lacks("Forløb i Familieteamet");

    // The case follows the child to district B: its worker takes it over, with the history.
    assert_eq!(
        w.get(&format!("/alerts/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let mut wb = app.login(WORKER_B).await;
    wb.get("/alerts")
        .await
        .assert_contains(&format!("/alerts/{id}\""));
    let res = wb.post(&format!("/alerts/{id}/take"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    wb.get(&format!("/alerts/{id}"))
        .await
        .assert_contains("Vi tager en snak med familien.")
        .assert_contains("Forløb i Familieteamet")
        .assert_contains(WORKER_B);
    // The old district's other worker cannot act on it either.
    let mut w2 = app.login(WORKER2).await;
    assert_eq!(
        w2.post(&format!("/alerts/{id}/take"), &[]).await.status,
        StatusCode::NOT_FOUND
    );

    // The parents consent to the handover: the summary, never the answers or observation.
    give_consent(&app, &mut teacher, f.child_a1, "handover_next_institution").await;
    let page = teacher.get(&format!("/children/{}", f.child_a1)).await;
    page.assert_contains("Overlevering fra tidligere institution")
        .assert_contains("Alvorlig bekymring")
        .assert_contains("Fast voksen ved aflevering")
        .assert_contains("Forløb i Familieteamet")
        .assert_lacks("Alma virker ked af det.");
    assert_eq!(teacher.get(&url).await.status, StatusCode::NOT_FOUND);
}

/// The August roster places a recognised child in another school: it moves there from the
/// row's start date as the admin's move does it — its alert follows the new district, the
/// leaving school's leader gets the handover task (no consent) — while a recognised child
/// whose group is unchanged is left as it is. A move dated before the current enrolment began
/// is refused at the field, and nothing is written.
#[tokio::test]
async fn a_full_roster_moves_a_recognised_child_and_the_case_follows() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(mail_config(smtp.port)).await;
    let f = Fixture::create(&app).await;
    for (child, ext) in [(f.child_a1, "R-1"), (f.child_b1, "R-4")] {
        app.exec(&format!(
            "UPDATE children SET external_id = '{ext}' WHERE id = {child}"
        ))
        .await;
    }
    let (_, id) = red_alert(&app, &f, "neglect").await;
    let before = app.delivered(&smtp).await.len();
    let enrolments = "SELECT COUNT(*) FROM enrolments";
    let enrolled = app.count(enrolments).await;

    let mut admin = app.login(ADMIN).await;
    admin.get("/admin/import").await;
    let roster = |alma_from: &str| {
        format!(
            "first_name;last_name;birth_date;external_id;institution;group;from_date\n\
             Alma;Andersen;2019-05-01;R-1;Bøgeskolen;1.B;{alma_from}\n\
             Dan;Dahl;2019-07-04;R-4;Bøgeskolen;1.B;\n"
        )
        .into_bytes()
    };
    let res = admin
        .post_multipart(
            "/admin/import",
            &[("mode", "import"), ("roster", "1")],
            ("file", roster("2026-07-01")),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    res.assert_contains("Startdatoen skal ligge efter starten på den nuværende indskrivning");
    assert_eq!(app.count(enrolments).await, enrolled, "nothing is written");

    let tomorrow = (app.state.now().date_naive() + chrono::Duration::days(1)).to_string();
    let res = admin
        .post_multipart(
            "/admin/import",
            &[("mode", "dry_run"), ("roster", "1")],
            ("file", roster(&tomorrow)),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.assert_contains(r#"<span id="import-known">2</span>"#)
        .assert_contains(r#"<span id="import-moved">1</span>"#)
        .assert_contains(r#"<span id="import-left">0</span>"#);
    assert_eq!(
        app.count(enrolments).await,
        enrolled,
        "a dry run writes nothing"
    );

    let res = admin
        .post_multipart(
            "/admin/import",
            &[("mode", "import"), ("roster", "1")],
            ("file", roster(&tomorrow)),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.assert_contains(r#"<span id="import-moved">1</span>"#);
    assert_eq!(
        app.count(enrolments).await,
        enrolled + 1,
        "one move, Dan stays"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM children WHERE id = {} AND current_group_id = {}",
            f.child_a1, f.class_b1
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!("SELECT district_id FROM alerts WHERE id = {id}"))
            .await,
        f.district_b,
        "the case follows the child's district"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = {} AND object = 'enrolment' AND detail = 'group:{}'",
            f.child_a1, f.class_b1
        ))
        .await,
        1
    );
    let mails = app.delivered(&smtp).await;
    assert!(
        mails[before..]
            .iter()
            .any(|m| m.contains("overlevering") && m.contains(&format!("To: {LEADER}"))),
        "the leaving school's leader gets the handover task: {mails:#?}"
    );
    assert_no_personal_data(&app, &mails).await;
}
