//! A group's screening round: one team position per child and round (a database
//! constraint, also under concurrent submissions), one alert per child and round that a
//! correction updates, the quick placement "Trives", "save and next child", and critical
//! signs that need an explicit answer.

use reqwest::StatusCode;

use crate::helpers::*;

/// A scored team assessment of `child` awaiting its decision, by a fresh session of the
/// educator; the session and the assessment's path.
async fn scored(app: &TestApp, child: i64, answers: &[(String, String)]) -> (Client, String) {
    let mut c = app.login(EDUCATOR).await;
    let key = uuid::Uuid::new_v4().to_string();
    let res = c
        .post(
            &format!("/children/{child}/assess"),
            &team_form(&key, "score", answers),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    (c, res.location.unwrap())
}

/// Two members of the team decide their own scored assessments of the same child at the
/// same moment: one becomes the round's position, the other is refused with a page that
/// links it, and one alert is raised. A correction of the position updates that alert
/// (a lower level is recorded on it) instead of raising a second.
#[tokio::test]
async fn one_position_and_one_alert_per_child_and_round() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let red = answers("0", None);
    let (mut a, url_a) = scored(&app, f.child_a1, &red).await;
    let (mut b, url_b) = scored(&app, f.child_a1, &red).await;
    let decide = [("level", "red"), ("justification", "")];
    let (pa, pb) = (format!("{url_a}/decide"), format!("{url_b}/decide"));
    let (ra, rb) = tokio::join!(a.post(&pa, &decide), b.post(&pb, &decide));
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::SEE_OTHER, StatusCode::CONFLICT],
        "{} / {}",
        ra.body,
        rb.body
    );
    let refused = if ra.status == StatusCode::CONFLICT {
        &ra
    } else {
        &rb
    };
    let position = app
        .count(&format!(
            "SELECT assessment_id FROM round_positions WHERE child_id = {}",
            f.child_a1
        ))
        .await;
    refused
        .assert_contains("Positionen findes allerede")
        .assert_contains(&format!("href=\"/assessments/{position}\""));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE kind = 'team' AND status = 'submitted'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM alerts").await, 1);
    app.assert_round_positions_match_recount().await;

    // The form now shows the position and offers its correction instead of a new form.
    let page = a.get(&format!("/children/{}/assess", f.child_a1)).await;
    page.assert_contains("Teamets position i denne runde")
        .assert_contains(&format!("action=\"/assessments/{position}/correct\""))
        .assert_lacks("name=\"submission_key\"");

    // A correction to orange: still one alert, now on the corrected position, with the
    // lower level in its history.
    let res = a
        .post(&format!("/assessments/{position}/correct"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = a.get(&format!("/children/{}/assess", f.child_a1)).await;
    let (key, supersedes) = (key_in(&page.body), hidden_in(&page.body, "supersedes"));
    assert_eq!(supersedes, position.to_string());
    let orange = answers("1", None);
    let mut fields = team_form(&key, "score", &orange);
    fields.push(("supersedes", &supersedes));
    let res = a
        .post(&format!("/children/{}/assess", f.child_a1), &fields)
        .await;
    let url = res.location.unwrap();
    let res = a
        .post(
            &format!("{url}/decide"),
            &[("level", "orange"), ("justification", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let corrected: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM alerts").await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM alerts WHERE assessment_id = {corrected} AND level_id = 'orange'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM alert_events WHERE event = 'lowered'")
            .await,
        1
    );
    app.assert_round_positions_match_recount().await;
    let mut worker = app.login(WORKER).await;
    let alert = app.count("SELECT id FROM alerts").await;
    worker
        .get(&format!("/alerts/{alert}"))
        .await
        .assert_contains("rettet til et lavere niveau");

    // A second correction of the version already corrected is refused: the chain has moved on.
    let res = b
        .post(&format!("/assessments/{position}/correct"), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("/children/{}/assess", f.child_a1)).await;
    let key = key_in(&page.body);
    let mut fields = team_form(&key, "score", &orange);
    let stale = position.to_string();
    fields.push(("supersedes", &stale));
    let url = b
        .post(&format!("/children/{}/assess", f.child_a1), &fields)
        .await
        .location
        .unwrap();
    let res = b
        .post(
            &format!("{url}/decide"),
            &[("level", "orange"), ("justification", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    app.assert_round_positions_match_recount().await;
}

/// Two confirmations of the live suggestion for the same child at the same moment (one
/// transaction each: save and decide): one position; the other's answers are kept as a
/// scored assessment and its page links the position.
#[tokio::test]
async fn concurrent_confirmations_record_one_position() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let green = thriving_answers();
    let (ka, kb) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let mut fa = team_form(&ka, "confirm", &green);
    fa.push(("confirm", "green"));
    let mut fb = team_form(&kb, "confirm", &green);
    fb.push(("confirm", "green"));
    let (mut a, mut b) = (app.login(EDUCATOR).await, app.login(EDUCATOR).await);
    let path = format!("/children/{}/assess", f.child_a1);
    let (ra, rb) = tokio::join!(a.post(&path, &fa), b.post(&path, &fb));
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::CONFLICT]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE kind = 'team' AND status = 'submitted'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE status = 'scored'")
            .await,
        1,
        "the refused confirmation keeps its answers"
    );
    app.assert_round_positions_match_recount().await;
}

fn quick_config() -> trivsel::config::Config {
    trivsel::config::Config {
        quick_placement: Some(true),
        ..Default::default()
    }
}

/// The key of the quick-placement form in `child`'s row of a group page, if offered.
fn quick_key(page: &str, child: i64) -> Option<String> {
    let row = &page[page.find(&format!("id=\"child-{child}\""))?..];
    let row = &row[..row.find("</tr>")?];
    row.contains("/quick\"")
        .then(|| hidden_in(row, "submission_key"))
}

/// "Trives" records the team's position at the lowest level as a judgement in one action:
/// no answers, the questionnaire recorded, the round's position, logged; a repeated click is
/// one placement. It is not offered (and refused) for a child whose last position was above
/// the lowest level, or with an alert that is not closed, or where the setting is off.
#[tokio::test]
async fn quick_placement_records_a_judgement_for_thriving_children_only() {
    let app = TestApp::spawn_with(quick_config()).await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let group = format!("/groups/{}", f.class_a1);
    let page = c.get(&group).await;
    page.assert_contains("Ikke påbegyndt")
        .assert_contains("«Trives» gemmer teamets faglige vurdering");
    let key = quick_key(&page.body, f.child_a1).expect("offered for a child without history");
    let quick = format!("/children/{}/quick", f.child_a1);
    for _ in 0..2 {
        let res = c.post(&quick, &[("submission_key", &key)]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(
            res.location.as_deref(),
            Some(format!("{group}#child-{}", f.child_a1).as_str())
        );
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE child_id = {} AND kind = 'team' AND status = 'submitted' \
             AND mode = 'judgement' AND answers = '{{}}' AND decided_rank = 0 AND decided_level = 'green' \
             AND questionnaire_id = 'trivsel-6-9' AND round_id IS NOT NULL",
            f.child_a1
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = {} AND detail = 'quick-placement'",
            f.child_a1
        ))
        .await,
        1
    );
    assert_eq!(app.assert_round_positions_match_recount().await, 1);
    let page = c.get(&group).await;
    assert_eq!(quick_key(&page.body, f.child_a1), None);
    page.assert_contains("1 af 2 børn vurderet");
    // Another key for the same child: refused, the position exists.
    let again = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        c.post(&quick, &[("submission_key", &again)]).await.status,
        StatusCode::NOT_FOUND
    );

    // A child whose last position was above the lowest level needs the questionnaire.
    let other = f.protected_child;
    app.exec(&format!(
        "INSERT INTO assessments (child_id, kind, status, author_id, questionnaire_id, questionnaire_version, \
         questionnaire_hash, scale_id, answers, decided_rank, decided_level, submission_key, created_at, updated_at, \
         submitted_at) SELECT {other}, 'team', 'submitted', id, 'trivsel-6-9', 1, 'x', 'boernelineal', '{{}}', 1, \
         'yellow', 'earlier', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z' \
         FROM users WHERE email = '{EDUCATOR}'"
    ))
    .await;
    let page = c.get(&group).await;
    assert_eq!(quick_key(&page.body, other), None);
    let forged = uuid::Uuid::new_v4().to_string();
    let path = format!("/children/{other}/quick");
    assert_eq!(
        c.post(&path, &[("submission_key", &forged)]).await.status,
        StatusCode::NOT_FOUND
    );
    // Out of scope: another class's educator cannot place this group's children.
    let mut b = app.login(EDUCATOR_B).await;
    let k = uuid::Uuid::new_v4().to_string();
    b.get("/").await;
    assert_eq!(
        b.post(
            &format!("/children/{}/quick", f.child_a1),
            &[("submission_key", &k)]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE mode = 'judgement'")
            .await,
        1
    );
}

/// With the setting off (the default) the group page offers no quick placement and the
/// route refuses it.
#[tokio::test]
async fn quick_placement_is_off_unless_enabled() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let page = c.get(&format!("/groups/{}", f.class_a1)).await;
    assert_eq!(quick_key(&page.body, f.child_a1), None);
    let key = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        c.post(
            &format!("/children/{}/quick", f.child_a1),
            &[("submission_key", &key)]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

/// "Gem og næste barn": a thriving child confirmed goes straight to the next child of the
/// group without a position; a worrying one goes through the suggestion page, whose "save
/// and next" continues the same way; after the last child the group says it is complete.
#[tokio::test]
async fn save_and_next_walks_the_group() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let first = format!("/children/{}/assess", f.child_a1);
    let page = c.get(&first).await;
    page.assert_contains("0 af 2 børn vurderet")
        .assert_contains(&format!("href=\"/groups/{}\"", f.class_a1))
        .assert_contains("name=\"action\" value=\"next\"");
    let key = key_in(&page.body);
    let green = thriving_answers();
    let mut fields = team_form(&key, "next", &green);
    fields.push(("confirm", "green"));
    let res = c.post(&first, &fields).await;
    let green_id = app
        .count("SELECT id FROM assessments WHERE status = 'submitted'")
        .await;
    let next = format!("/children/{}/assess?after={green_id}", f.protected_child);
    assert_eq!(res.location.as_deref(), Some(next.as_str()));
    let page = c.get(&next).await;
    // The next child's form says what the saved position sent: nothing.
    page.assert_contains("1 af 2 børn vurderet").assert_contains(
        "Det forrige barns position er gemt. Trivsel har ikke sendt noget til nogen uden for teamet.",
    );
    // Worrying answers: the suggestion page first, then on to what is left (nothing).
    let key = key_in(&page.body);
    let worrying = answers("1", None);
    let mut fields = team_form(&key, "next", &worrying);
    fields.push(("confirm", "orange"));
    let res = c
        .post(&format!("/children/{}/assess", f.protected_child), &fields)
        .await;
    let url = res.location.unwrap();
    assert!(url.starts_with("/assessments/"), "{url}");
    c.get(&url)
        .await
        .assert_contains("name=\"then\" value=\"next\"");
    let res = c
        .post(
            &format!("{url}/decide"),
            &[("level", "orange"), ("justification", ""), ("then", "next")],
        )
        .await;
    let orange_id: i64 = url.trim_start_matches("/assessments/").parse().unwrap();
    assert_eq!(
        res.location.as_deref(),
        Some(format!("/groups/{}?complete=1&after={orange_id}", f.class_a1).as_str())
    );
    // Orange without consent: an anonymous consultation to the district's workers, and no
    // procedure text (the level has no duty to notify).
    c.get(res.location.as_deref().unwrap())
        .await
        .assert_contains("Alle børn i gruppen har nu en position")
        .assert_contains(
            "Trivsel har sendt en anonym henvendelse uden barnets navn til de forebyggende \
             socialrådgivere i Distrikt A. De har fået en e-mail uden personoplysninger.",
        )
        .assert_lacks("ikke en underretning");
    // The notice is the author's: another educator's page ignores it.
    let mut other = app.login(EDUCATOR_B).await;
    other
        .get(&format!("/groups/{}?after={orange_id}", f.class_b1))
        .await
        .assert_lacks("Det forrige barns position");
}

/// After a red position the page says that Trivsel sent a named case with its deadline to the
/// district's workers, and — from the scale file — that this is not the formal notification,
/// which the professional must still make by the municipality's procedure.
#[tokio::test]
async fn the_saved_position_says_what_was_sent_and_what_is_left_to_do() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let (mut c, url) = scored(&app, f.child_a1, &answers("0", None)).await;
    let res = c
        .post(
            &format!("{url}/decide"),
            &[("level", "red"), ("justification", "")],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some(url.as_str()));
    let page = c.get(&url).await;
    page.assert_contains(
        "Trivsel har sendt en henvendelse med barnets navn (underretningspligten går forud for \
         samtykke) til de forebyggende socialrådgivere i Distrikt A, som skal tage den inden",
    )
    .assert_contains("Trivsels besked til socialrådgiveren er ikke en underretning. Underret kommunen efter kommunens procedure i dag")
    .assert_contains("Se henvendelsen");
    // The reasons lead with the one that decided the level; each domain is named once (at
    // the highest cut-off it reached), the rest folded away.
    let reasons = page.body.split("Hvorfor dette forslag").nth(1).unwrap();
    let reasons = reasons.split("<table").next().unwrap();
    assert!(reasons.contains("id=\"deciding-reason\""), "{reasons}");
    assert!(
        reasons.contains("<details id=\"more-reasons\">"),
        "{reasons}"
    );
    for domain in ["Udvikling og adfærd", "Tryghed og omsorg"] {
        assert!(reasons.matches(domain).count() <= 1, "{domain}: {reasons}");
    }
    assert!(reasons.matches('→').count() <= 7, "{reasons}");
    let notice = page.body.split("id=\"after-save\"").nth(1).unwrap();
    let notice = notice.split("</div>").next().unwrap();
    assert!(!notice.contains("Alma"), "{notice}");
}

/// A critical sign left unanswered is never read as "no": the form comes back with the
/// answers and a message at the critical signs, and nothing is stored.
#[tokio::test]
async fn critical_signs_need_an_explicit_answer() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let path = format!("/children/{}/assess", f.child_a1);
    let key = key_in(&c.get(&path).await.body);
    let mut green = thriving_answers();
    green.retain(|(k, _)| k != "neglect");
    let res = c.post(&path, &team_form(&key, "score", &green)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Svar ja eller nej til hvert kritisk forhold")
        .assert_contains("(ikke besvaret)")
        .assert_contains("name=\"violence\" value=\"no\" checked");
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments").await, 0);
}

/// Times are stored in UTC and shown in Danish local time: a notification raised at 14:00
/// the day before summer time ends (12:00 UTC) has its 24-hour deadline at 13:00 local time
/// the next day, and the pages say so.
#[tokio::test]
async fn deadlines_are_shown_in_local_time_across_the_change_over() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let at: chrono::DateTime<chrono::Utc> = "2026-10-24T12:00:00Z".parse().unwrap();
    app.state.clock.advance(at - app.state.now());
    let (mut c, url) = scored(&app, f.child_a1, &answers("0", None)).await;
    let res = c
        .post(
            &format!("{url}/decide"),
            &[("level", "red"), ("justification", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let alert = app.count("SELECT id FROM alerts").await;
    let mut worker = app.login(WORKER).await;
    worker
        .get(&format!("/alerts/{alert}"))
        .await
        .assert_contains("24-10-2026 14:00")
        .assert_contains("25-10-2026 13:00")
        .assert_lacks("25-10-2026 12:00");
    worker
        .get("/alerts")
        .await
        .assert_contains("25-10-2026 13:00");
}

/// The team's form starts from the round's individual views: answers they agree on are
/// filled in, answers they differ on are left open and marked with each view's answer side
/// by side. The individual form speaks of "Din vurdering", the team form of the team.
#[tokio::test]
async fn the_team_form_starts_from_the_individual_views() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let path = format!("/children/{}/assess", f.child_a1);
    let view = |set: &[(&str, &str)]| {
        let mut v = answers("1", None);
        for (k, val) in v.iter_mut() {
            if let Some((_, x)) = set.iter().find(|(s, _)| s == k) {
                *val = x.to_string();
            }
        }
        v
    };
    for (who, differ) in [
        (LEADER, view(&[("social_1", "2")])),
        (EDUCATOR, view(&[("social_1", "0"), ("neglect", "yes")])),
    ] {
        let mut c = app.login(who).await;
        let page = c.get(&format!("{path}?kind=individual")).await;
        page.assert_contains("Din vurdering")
            .assert_contains("id=\"kind-individual\" name=\"kind\" value=\"individual\" checked");
        let key = key_in(&page.body);
        let mut fields = vec![
            ("submission_key", key.as_str()),
            ("kind", "individual"),
            ("action", "score"),
            ("questionnaire", "trivsel-6-9"),
        ];
        fields.extend(differ.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let url = c.post(&path, &fields).await.location.unwrap();
        let level = if who == EDUCATOR { "red" } else { "orange" };
        let res = c
            .post(
                &format!("{url}/decide"),
                &[("level", level), ("justification", "")],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    }
    let mut c = app.login(EDUCATOR).await;
    let team = c.get(&path).await;
    team.assert_contains("Teamets vurdering")
        .assert_contains("id=\"from-views\"")
        .assert_contains("2 udsagn har forskellige svar")
        .assert_contains("name=\"development_1\" value=\"1\" checked")
        .assert_contains("name=\"violence\" value=\"no\" checked")
        .assert_contains(
            "Forskellige svar: leader@test.dk: Passer helt · educator@test.dk: Passer ikke",
        )
        .assert_contains("Forskellige svar: leader@test.dk: Nej · educator@test.dk: Ja")
        .assert_lacks("name=\"social_1\" value=\"0\" checked")
        .assert_lacks("name=\"social_1\" value=\"2\" checked")
        .assert_lacks("name=\"neglect\" value=\"yes\" checked");
    // Nothing is stored by opening the form: the team answers and submits as ever.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE kind = 'team'")
            .await,
        0
    );
}
