//! Background jobs as a municipality runs them: two instances on one database, each job done
//! once; an instance killed mid-batch leaves nothing undelivered; an SMTP relay that hangs or
//! refuses holds up nothing and fails loudly, not silently.

use std::collections::HashSet;
use std::time::Duration;

use trivsel::config::Config;

use crate::alerts::{mail_config, position};
use crate::helpers::*;
use crate::smtp::SmtpServer;

/// Settings for an instance whose jobs run every second.
fn busy_config(smtp_port: u16) -> Config {
    Config {
        job_interval_seconds: 1,
        mail_timeout_seconds: 5,
        ..mail_config(smtp_port)
    }
}

/// The `Message-ID`s of received messages.
fn message_ids(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| {
            m.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                .map(|l| l["message-id:".len()..].trim().to_string())
        })
        .collect()
}

/// Waits (bounded, 30 s) until `sql` counts `n`.
async fn wait_count(app: &TestApp, sql: &str, n: i64) {
    for _ in 0..600 {
        if app.count(sql).await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{sql} never counted {n} (last: {})", app.count(sql).await);
}

/// Ten more children in class 1.A, each given a red position (a notification: both workers
/// of the district are emailed).
async fn ten_red_positions(app: &TestApp, f: &Fixture) {
    let now = chrono::Utc::now();
    let mut tx = app.db.begin().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..10 {
        let id = trivsel::org::db::insert_child(
            &mut tx,
            &child("Barn", &format!("Nummer{i}"), "2019-03-01"),
            now,
        )
        .await
        .unwrap();
        trivsel::org::db::enrol(&mut tx, id, f.class_a1, date("2026-08-01"))
            .await
            .unwrap();
        ids.push(id);
    }
    tx.commit().await.unwrap();
    let mut educator = app.login(EDUCATOR).await;
    for id in ids {
        position(&mut educator, id, &answers("1", Some("violence")), "red").await;
    }
}

#[tokio::test]
async fn two_instances_deliver_each_email_once_and_escalate_and_remind_once() {
    let smtp = SmtpServer::start().await;
    // The minute jobs are run by hand below, on both instances at once; the outbox is
    // polled every second by both.
    let config = Config {
        job_interval_seconds: 3600,
        ..busy_config(smtp.port)
    };
    let a = TestApp::spawn_with(config.clone()).await;
    let b = a.another_instance(config).await;
    let f = Fixture::create(&a).await;
    open_round(&a).await;

    // Ten red positions: twenty notification emails, each due once.
    ten_red_positions(&a, &f).await;
    assert_eq!(a.count("SELECT COUNT(*) FROM outbox").await, 20);
    wait_count(&a, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL", 0).await;

    // A day later none was taken: both instances run the escalation at the same moment,
    // twice over.
    a.state.clock.advance(chrono::Duration::hours(25));
    let mut escalated = 0;
    for _ in 0..2 {
        let (x, y) = tokio::join!(
            trivsel::alerts::escalate_due(&a.state, a.state.now()),
            trivsel::alerts::escalate_due(&b.state, b.state.now()),
        );
        escalated += x.unwrap() + y.unwrap();
    }
    assert_eq!(
        escalated, 10,
        "each overdue alert escalated by one instance"
    );
    // Two weeks on the round closes within the week: each educator and leader is reminded,
    // however many instances queue the reminders at once.
    a.state.clock.advance(chrono::Duration::days(13));
    let mut reminded = 0;
    for _ in 0..2 {
        let (x, y) = tokio::join!(
            trivsel::assessment::reminders::queue_due(&a.state, a.state.now()),
            trivsel::assessment::reminders::queue_due(&b.state, b.state.now()),
        );
        reminded += x.unwrap() + y.unwrap();
    }
    assert_eq!(reminded, 3);
    wait_count(&a, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL", 0).await;

    // Let both instances poll the outbox a few more times: nothing more is sent.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let rows = a.count("SELECT COUNT(*) FROM outbox").await;
    let received = smtp.messages();
    let ids: HashSet<String> = message_ids(&received).into_iter().collect();
    assert_eq!(
        received.len() as i64,
        rows,
        "every outbox row delivered exactly once"
    );
    assert_eq!(ids.len() as i64, rows, "one Message-ID per outbox row");
    assert_eq!(
        a.count(
            "SELECT COUNT(*) FROM (SELECT alert_id FROM alert_events WHERE event = 'escalated' \
             GROUP BY alert_id HAVING COUNT(*) > 1) twice"
        )
        .await,
        0,
        "each alert escalated once"
    );
    assert_eq!(
        a.count("SELECT COUNT(*) FROM alert_events WHERE event = 'escalated'")
            .await,
        10
    );
    let reminders = a
        .count("SELECT COUNT(*) FROM outbox WHERE subject = 'Trivsel: runden lukker snart'")
        .await;
    assert_eq!(
        reminders, 3,
        "one reminder each for the two educators and the leader"
    );
}

#[tokio::test]
async fn a_killed_instances_claims_are_delivered_by_the_other_once_the_lease_ends() {
    // Instance A's relay accepts and never answers: A claims the messages and hangs on them.
    let silent = SmtpServer::silent().await;
    let mut a = TestApp::spawn_with(Config {
        mail_timeout_seconds: 600,
        ..busy_config(silent.port)
    })
    .await;
    let f = Fixture::create(&a).await;
    let mut educator = a.login(EDUCATOR).await;
    position(
        &mut educator,
        f.child_a1,
        &answers("1", Some("violence")),
        "red",
    )
    .await;
    wait_count(
        &a,
        "SELECT COUNT(*) FROM outbox WHERE claimed_by IS NOT NULL",
        2,
    )
    .await;
    a.kill().await;

    let smtp = SmtpServer::start().await;
    let b = a.another_instance(busy_config(smtp.port)).await;
    // While A's lease holds, B leaves the messages alone.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        smtp.messages().is_empty(),
        "B must not take A's live claims"
    );
    // When the lease has run out (the clock is shared), B delivers them, once each.
    b.state.clock.advance(chrono::Duration::minutes(25));
    let received = smtp.wait_for(2).await;
    wait_count(&b, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL", 0).await;
    let ids: HashSet<String> = message_ids(&received).into_iter().collect();
    assert_eq!((received.len(), ids.len()), (2, 2));
}

#[tokio::test]
async fn a_relay_that_hangs_or_refuses_holds_up_nothing_and_is_recorded() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(Config {
        mail_timeout_seconds: 3,
        ..busy_config(smtp.port)
    })
    .await;
    Fixture::create(&app).await;
    let now = app.state.now();
    let mut tx = app.db.begin().await.unwrap();
    for to in [
        "hang@test.dk",
        "ok1@test.dk",
        "reject@test.dk",
        "busy@test.dk",
        "ok2@test.dk",
    ] {
        trivsel::notify::enqueue(&mut tx, to, "Trivsel: test", "Der venter noget.", now)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    // The good messages arrive while the hung one still waits for its time-out.
    let received = smtp.wait_for(2).await;
    assert_eq!(received.len(), 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE recipient = 'hang@test.dk' AND attempts = 0")
            .await,
        1,
        "the good messages did not wait for the hung one"
    );
    // The hung message times out as a temporary failure, recorded and retried later.
    let hung = "SELECT COUNT(*) FROM outbox WHERE recipient = 'hang@test.dk' AND attempts = 1 \
                AND sent_at IS NULL AND given_up_at IS NULL AND last_error LIKE '%no answer%'";
    wait_count(&app, hung, 1).await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE recipient = 'busy@test.dk' AND attempts = 1 \
             AND given_up_at IS NULL AND last_error LIKE '%451%'"
        )
        .await,
        1
    );

    // A permanent refusal is given up after three attempts; a temporary one keeps trying.
    for attempt in 2..=4 {
        app.state.clock.advance(chrono::Duration::hours(2));
        wait_count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM outbox WHERE recipient = 'busy@test.dk' AND attempts = {attempt}"
            ),
            1,
        )
        .await;
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE recipient = 'reject@test.dk' AND attempts = 3 \
             AND given_up_at IS NOT NULL AND last_error LIKE '%550%'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE recipient = 'busy@test.dk' AND given_up_at IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE recipient LIKE 'ok%' AND sent_at IS NOT NULL")
            .await,
        2
    );

    // The admin is told on every page, and sees the queue by status and role, not content.
    let mut admin = app.login(ADMIN).await;
    admin
        .get("/admin/org")
        .await
        .assert_contains("E-mails fra Trivsel er ikke nået frem: 3");
    let page = admin.get("/admin/outbox").await;
    page.assert_contains(r#"<dd id="outbox-failing">2</dd>"#)
        .assert_contains(r#"<dd id="outbox-given-up">1</dd>"#)
        .assert_contains(r#"<dd id="outbox-sent">2</dd>"#)
        .assert_contains("Opgivet")
        .assert_contains("Fejler – prøves igen")
        .assert_contains("Ikke en medarbejder")
        .assert_lacks("Der venter noget")
        .assert_lacks("hang@test.dk");
    let mut educator = app.login(EDUCATOR).await;
    educator
        .get("/")
        .await
        .assert_lacks("E-mails fra Trivsel er ikke nået frem");
    assert_eq!(
        educator.get("/admin/outbox").await.status,
        reqwest::StatusCode::NOT_FOUND
    );
}

/// A relay that accepts the connection and never greets: the attempt times out, is recorded
/// as a temporary failure with its reason, and is retried later; nothing hangs.
#[tokio::test]
async fn a_relay_that_never_greets_times_out_and_is_retried() {
    let silent = SmtpServer::silent().await;
    let app = TestApp::spawn_with(Config {
        mail_timeout_seconds: 1,
        ..busy_config(silent.port)
    })
    .await;
    let now = app.state.now();
    let mut tx = app.db.begin().await.unwrap();
    trivsel::notify::enqueue(
        &mut tx,
        "x@test.dk",
        "Trivsel: test",
        "Der venter noget.",
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    wait_count(
        &app,
        "SELECT COUNT(*) FROM outbox WHERE attempts = 1 AND sent_at IS NULL \
         AND given_up_at IS NULL AND last_error <> ''",
        1,
    )
    .await;
    // Retried after its back-off, from the attempt's own time.
    app.state.clock.advance(chrono::Duration::seconds(31));
    wait_count(
        &app,
        "SELECT COUNT(*) FROM outbox WHERE attempts = 2 AND sent_at IS NULL",
        1,
    )
    .await;
}

/// The service's own working rows are kept no longer than they serve: old login attempts,
/// old delivered emails and devices unused for a year go; recent ones and undelivered
/// email stay.
#[tokio::test]
async fn old_login_attempts_sent_emails_and_unused_devices_are_pruned() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let now = app.state.now();
    let old = now - chrono::Duration::days(400);
    let recent = now - chrono::Duration::days(1);
    let educator: i64 = app
        .count(&format!("SELECT id FROM users WHERE email = '{EDUCATOR}'"))
        .await;
    let mut w = app.db.writer().await.unwrap();
    for at in [old, recent] {
        trivsel::dispatch!(&mut w, c => {
            sqlx::query("INSERT INTO login_attempts (email, at, success, device) VALUES ('x@test.dk', $1, FALSE, '')")
                .bind(at)
                .execute(&mut *c)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO outbox (recipient, subject, body, created_at, attempts, next_attempt_at, sent_at) \
                 VALUES ('x@test.dk', 's', 'b', $1, 1, $1, $1)",
            )
            .bind(at)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
            .unwrap()
        });
    }
    trivsel::dispatch!(&mut w, c => {
        sqlx::query(
            "INSERT INTO outbox (recipient, subject, body, created_at, attempts, next_attempt_at) \
             VALUES ('waiting@test.dk', 's', 'b', $1, 0, $1)",
        )
        .bind(old)
        .execute(&mut *c)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO known_devices (token_hash, user_id, created_at, last_used_at) VALUES ('old-device', $1, $2, $2)",
        )
        .bind(educator)
        .bind(old)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
        .unwrap()
    });
    drop(w);
    // (The housekeeping job may have pruned some of them already: the rows left count.)
    trivsel::jobs::prune(&app.db, &app.state.retention, now)
        .await
        .unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM login_attempts").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE recipient = 'waiting@test.dk'")
            .await,
        1,
        "undelivered email is never pruned"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM known_devices").await, 0);
}
