//! Assessing a child: the form from the questionnaire file, the engine's suggestion, the
//! professional's decision, rounds and progress, drafts, corrections, and who may see what.

use reqwest::StatusCode;

use crate::helpers::*;

fn form<'a>(
    key: &'a str,
    kind: &'a str,
    action: &'a str,
    answers: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("submission_key", key),
        ("kind", kind),
        ("action", action),
        ("observation", "Glad i dag."),
    ];
    f.extend(answers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    f
}

/// Answers the engine places at orange for the 6–9 questionnaire: every item at "1", two
/// negative items at "2".
fn worrying_answers() -> Vec<(String, String)> {
    let mut worrying = answers("1", None);
    for (k, v) in worrying.iter_mut() {
        if k == "security_2" || k == "social_2" {
            *v = "2".into();
        }
    }
    worrying
}

/// Borrowed pairs of owned form fields.
fn fields(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Posts `fields` to `path` twice, as a double click does: both land on the same stored
/// assessment; its page and id.
async fn submit_twice(c: &mut Client, path: &str, fields: &[(&str, &str)]) -> (String, i64) {
    let res = c.post(path, fields).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let url = res.location.unwrap();
    let again = c.post(path, fields).await;
    assert_eq!(again.location.as_deref(), Some(url.as_str()));
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    (url, id)
}

/// The form names the questionnaire it was drawn from, so the submission is saved in one
/// statement that checks the scope, the child's age band and the round itself; the decision
/// likewise checks the author and the scope as it is recorded.
#[tokio::test]
async fn the_saving_statements_check_scope_age_band_and_author() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let page = c.get(&format!("/children/{}/assess", f.child_a1)).await;
    let questionnaire = hidden_in(&page.body, "questionnaire");
    assert_eq!(questionnaire, "trivsel-6-9");
    let answers = answers("1", None);
    let post = |key, q| {
        let mut fields = form(key, "team", "score", &answers);
        fields.push(("questionnaire", q));
        fields
    };
    let assess = format!("/children/{}/assess", f.child_a1);

    // Out of scope: another class's educator names the right questionnaire; nothing is stored.
    let mut b = app.login(EDUCATOR_B).await;
    let other_key = uuid::Uuid::new_v4().to_string();
    let res = b.post(&assess, &post(&other_key, "trivsel-6-9")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments").await, 0);

    // The questionnaire of another age band is not used for this child: the child's own is.
    let other_key = uuid::Uuid::new_v4().to_string();
    let res = c.post(&assess, &post(&other_key, "trivsel-3-5")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE questionnaire_id = 'trivsel-3-5'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE questionnaire_id = 'trivsel-6-9'")
            .await,
        1
    );

    // The form as drawn: stored in the open round, logged, and stored once on a repeat.
    let key = key_in(&page.body);
    let (url, id) = submit_twice(&mut c, &assess, &post(&key, "trivsel-6-9")).await;
    let round: i64 = app.count("SELECT id FROM rounds").await;
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM assessments WHERE id = {id} AND round_id = {round} AND submission_key = '{key}' AND status = 'scored'")).await, 1);
    // Each write of the row is logged: the first and the repeat that updated it.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE object = 'assessment:{id}' AND detail = 'scored'"
        ))
        .await,
        2
    );

    // Only the author decides: another educator and the leader get nothing, nothing changes.
    let decide = format!("{url}/decide");
    let level = [("level", "orange"), ("justification", "")];
    assert_eq!(b.post(&decide, &level).await.status, StatusCode::NOT_FOUND);
    let mut leader = app.login(LEADER).await;
    assert_eq!(
        leader.post(&decide, &level).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE status = 'submitted'")
            .await,
        0
    );
    // Another level than the suggestion (orange) needs a justification, kept with the form.
    let res = c
        .post(&decide, &[("level", "green"), ("justification", "kort")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("kort");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE status = 'submitted'")
            .await,
        0
    );
    assert_eq!(c.post(&decide, &level).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM round_positions WHERE assessment_id = {id}"
        ))
        .await,
        1
    );
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM access_log WHERE object = 'assessment:{id}' AND detail = 'submitted'")).await, 1);

    // The leader's scope in the same statement: a child of their school, not of another.
    let before = app.count("SELECT COUNT(*) FROM assessments").await;
    let mine = uuid::Uuid::new_v4().to_string();
    let res = leader.post(&assess, &post(&mine, "trivsel-6-9")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let theirs = uuid::Uuid::new_v4().to_string();
    let other_school = format!("/children/{}/assess", f.child_b1);
    let res = leader
        .post(&other_school, &post(&theirs, "trivsel-6-9"))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments").await,
        before + 1
    );
}

#[tokio::test]
async fn an_educator_records_the_teams_position_in_a_round() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;

    let group = c.get(&format!("/groups/{}", f.class_a1)).await;
    group
        .assert_contains("Efterår 2026:</strong> 0 af 2 børn vurderet")
        .assert_contains("Ikke påbegyndt");

    let page = c.get(&format!("/children/{}/assess", f.child_a1)).await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_contains("Trivselsvurdering 6–9 år")
        .assert_contains("Runde: Efterår 2026")
        .assert_contains("Barnet har venner i klassen.")
        .assert_contains("Tryghed og omsorg fra voksne");
    let key = key_in(&page.body);

    // Worrying answers on the negative items, so the suggestion is not green.
    let answers = worrying_answers();
    let res = c
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key, "team", "score", &answers),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let url = res.location.unwrap();
    let suggestion = c.get(&url).await;
    // Every item at 1 scores 1 (reverse of 1 is 1): 18; two items at 2 add 2 → total 20 → orange.
    suggestion
        .assert_contains("Forslag til position")
        .assert_contains("Bekymring")
        .assert_contains("Samlet score 20 (grænse 14)")
        .assert_contains("Handleguide")
        .assert_contains("PPR");

    // Back to the answers from the suggestion: the same assessment, answers kept.
    let back = c
        .get(&format!("/children/{}/assess?edit=1", f.child_a1))
        .await;
    assert_eq!(back.status, StatusCode::OK);
    back.assert_contains("name=\"security_2\" value=\"2\" checked");
    assert_eq!(key_in(&back.body), key);
    // Without asking to edit, the form leads to the pending decision.
    let pending = c.get(&format!("/children/{}/assess", f.child_a1)).await;
    assert_eq!(pending.location.as_deref(), Some(url.as_str()));

    // The same submission again (a double click) stores one assessment.
    let again = c
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key, "team", "score", &answers),
        )
        .await;
    assert_eq!(again.location.as_deref(), Some(url.as_str()));
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments").await, 1);

    let res = c
        .post(
            &format!("{url}/decide"),
            &[("level", "orange"), ("justification", "")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let done = c.get(&url).await;
    done.assert_contains("Teamets position")
        .assert_contains("Bekymring")
        .assert_lacks("Jeres beslutning");
    // Deciding twice changes nothing.
    let twice = c
        .post(
            &format!("{url}/decide"),
            &[("level", "green"), ("justification", "Dobbeltklik her")],
        )
        .await;
    assert_eq!(twice.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments WHERE decided_level = 'orange' AND status = 'submitted'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments WHERE questionnaire_id = 'trivsel-6-9' AND questionnaire_version = 1 AND LENGTH(questionnaire_hash) = 64").await, 1);

    let group = c.get(&format!("/groups/{}", f.class_a1)).await;
    group
        .assert_contains("1 af 2 børn vurderet")
        .assert_contains("Teamets position");
    let child = c.get(&format!("/children/{}", f.child_a1)).await;
    child
        .assert_contains("<svg class=\"chart\"")
        .assert_contains("Efterår 2026")
        .assert_contains("Tryghed og omsorg fra voksne 4");

    c.get("/").await.assert_contains("Efterår 2026: 1/2");
    // The leader of the school sees the position and the round's progress per class.
    let mut leader = app.login(LEADER).await;
    leader
        .get("/")
        .await
        .assert_contains("Efterår 2026: 1/2")
        .assert_contains("Efterår 2026: 0/1");
    leader
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("Bekymring");
    assert!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = {} AND object LIKE 'assessment:%'",
            f.child_a1
        ))
        .await
            >= 3
    );
}

#[tokio::test]
async fn choosing_another_level_needs_a_justification() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let page = c.get(&format!("/children/{}/assess", f.child_a1)).await;
    page.assert_contains("Ad hoc");
    let key = key_in(&page.body);
    let answers = answers("0", None);
    let res = c
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key, "team", "score", &answers),
        )
        .await;
    let url = res.location.unwrap();
    // All "0": positive items reversed to 2 → the suggestion is the worst… check what it says.
    let page = c.get(&url).await;
    assert_eq!(page.status, StatusCode::OK);
    let suggested: String = {
        let sql = "SELECT suggested_level FROM assessments";
        match &app.db {
            trivsel::db::Db::Sqlite { read, .. } => {
                sqlx::query_scalar(sql).fetch_one(read).await.unwrap()
            }
            trivsel::db::Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    };
    let other = if suggested == "green" {
        "yellow"
    } else {
        "green"
    };
    let res = c
        .post(
            &format!("{url}/decide"),
            &[("level", other), ("justification", "kort")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Skriv en kort begrundelse")
        .assert_contains(">kort</textarea>")
        .assert_contains(&format!(
            "id=\"level-{other}\" name=\"level\" value=\"{other}\" checked"
        ));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE status = 'submitted'")
            .await,
        0
    );
    let res = c
        .post(
            &format!("{url}/decide"),
            &[
                ("level", other),
                (
                    "justification",
                    "Vi kender barnet godt og ser det anderledes.",
                ),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM assessments WHERE decided_level = '{other}' AND suggested_level = '{suggested}'")).await, 1);
    c.get(&url)
        .await
        .assert_contains("Forslaget var")
        .assert_contains("Vi kender barnet godt");
}

#[tokio::test]
async fn a_critical_sign_suggests_the_top_level_with_the_duty_to_notify() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let key = key_in(
        &c.get(&format!("/children/{}/assess", f.child_a1))
            .await
            .body,
    );
    // A critical sign alone is not enough to ask for a suggestion: the form asks for the
    // areas too, and keeps what was entered.
    let only_critical = vec![("neglect".to_string(), "yes".to_string())];
    let res = c
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key, "team", "score", &only_critical),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Nogle områder mangler svar")
        .assert_contains("name=\"neglect\" value=\"yes\" checked");
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments").await, 0);

    let answers = answers("2", Some("neglect"));
    let res = c
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key, "team", "score", &answers),
        )
        .await;
    let page = c.get(&res.location.unwrap()).await;
    page.assert_contains("Alvorlig bekymring")
        .assert_contains("Kritisk forhold besvaret ja: Der er tegn på alvorligt omsorgssvigt.")
        .assert_contains("Underretningspligten gælder");
}

#[tokio::test]
async fn drafts_are_saved_and_resumed() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let key = key_in(
        &c.get(&format!("/children/{}/assess", f.child_a1))
            .await
            .body,
    );
    let answers = vec![
        ("social_1".to_string(), "2".to_string()),
        ("health_3".to_string(), "1".to_string()),
    ];
    let res = c
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key, "individual", "draft", &answers),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = c.get(res.location.as_deref().unwrap()).await;
    page.assert_contains("Kladden er gemt")
        .assert_contains("name=\"social_1\" value=\"2\" checked")
        .assert_contains("name=\"health_3\" value=\"1\" checked")
        .assert_contains("id=\"kind-individual\" name=\"kind\" value=\"individual\" checked")
        .assert_contains("Glad i dag.");
    assert_eq!(key_in(&page.body), key, "the draft keeps its key");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE status = 'draft'")
            .await,
        1
    );
    // Another educator's view of the child does not show this draft (nor can they open it).
    let mut leader = app.login(LEADER).await;
    leader
        .get(&format!("/children/{}/assess", f.child_a1))
        .await
        .assert_lacks("name=\"social_1\" value=\"2\" checked");
    let id: i64 = app.count("SELECT id FROM assessments").await;
    assert_eq!(
        leader.get(&format!("/assessments/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn individual_views_meet_in_the_team_position_and_corrections_keep_history() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    // The leader records an individual view.
    let mut leader = app.login(LEADER).await;
    let key = key_in(
        &leader
            .get(&format!("/children/{}/assess", f.child_a1))
            .await
            .body,
    );
    let answers = answers("1", None);
    let url = leader
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key, "individual", "score", &answers),
        )
        .await
        .location
        .unwrap();
    leader
        .post(&format!("{url}/decide"), &[("level", "orange")])
        .await;

    // The educator sees it beside the form for the team position.
    let mut c = app.login(EDUCATOR).await;
    let page = c.get(&format!("/children/{}/assess", f.child_a1)).await;
    page.assert_contains("Individuelle vurderinger i denne runde")
        .assert_contains(LEADER);
    let key = key_in(&page.body);
    let team_url = c
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key, "team", "score", &answers),
        )
        .await
        .location
        .unwrap();
    c.post(&format!("{team_url}/decide"), &[("level", "orange")])
        .await;

    // A correction is a new assessment; the old one stays, marked.
    let res = c.post(&format!("{team_url}/correct"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let form_page = c.get(&format!("/children/{}/assess", f.child_a1)).await;
    form_page
        .assert_contains("Du retter en tidligere vurdering")
        .assert_contains("name=\"social_1\" value=\"1\" checked");
    let key = key_in(&form_page.body);
    let old_id = team_url.rsplit('/').next().unwrap().to_string();
    let mut fields = form(&key, "team", "score", &answers);
    fields.push(("supersedes", &old_id));
    let new_url = c
        .post(&format!("/children/{}/assess", f.child_a1), &fields)
        .await
        .location
        .unwrap();
    c.post(
        &format!("{new_url}/decide"),
        &[
            ("level", "yellow"),
            ("justification", "Rettet efter samtale med forældrene."),
        ],
    )
    .await;
    c.get(&team_url)
        .await
        .assert_contains("Denne vurdering er rettet");
    let child = c.get(&format!("/children/{}", f.child_a1)).await;
    child
        .assert_contains("(rettet)")
        .assert_contains("Let bekymring");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE status = 'submitted'")
            .await,
        3
    );
    let group = c.get(&format!("/groups/{}", f.class_a1)).await;
    group
        .assert_contains("Let bekymring")
        .assert_contains("1 af 2 børn vurderet");
    // The round's summary follows the correction, not the corrected position.
    assert_eq!(app.assert_round_positions_match_recount().await, 1);
    assert_eq!(
        app.count("SELECT CAST(decided_rank AS BIGINT) FROM round_positions")
            .await,
        1,
        "yellow, as corrected"
    );
}

#[tokio::test]
async fn only_the_childs_educators_and_leaders_see_assessments() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let key = key_in(
        &c.get(&format!("/children/{}/assess", f.child_a1))
            .await
            .body,
    );
    let url = c
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key, "team", "score", &answers("1", None)),
        )
        .await
        .location
        .unwrap();
    c.post(&format!("{url}/decide"), &[("level", "orange")])
        .await;

    for email in [ADMIN, WORKER, EDUCATOR_B] {
        let mut other = app.login(email).await;
        assert_eq!(
            other.get(&url).await.status,
            StatusCode::NOT_FOUND,
            "{email}"
        );
        assert_eq!(
            other
                .get(&format!("/children/{}/assess", f.child_a1))
                .await
                .status,
            StatusCode::NOT_FOUND,
            "{email}"
        );
        let res = other
            .post(
                &format!("/children/{}/assess", f.child_a1),
                &form(
                    "8f2b0c1e-6a0e-4b7e-9a57-1d1b2f0a9c11",
                    "team",
                    "score",
                    &answers("2", None),
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{email}");
    }
    // The admin sees the child's details, never the assessments.
    let mut admin = app.login(ADMIN).await;
    admin
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_lacks("Bekymring")
        .assert_lacks("Positioner og vurderinger");
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments").await, 1);
}

#[tokio::test]
async fn rounds_are_validated() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;
    let res = admin
        .post(
            "/admin/rounds",
            &[
                ("name", "Forår 2027"),
                ("opens_on", "2027-03-01"),
                ("closes_on", "2027-02-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Slutdatoen skal ligge efter startdatoen.")
        .assert_contains("value=\"Forår 2027\"");
    assert_eq!(app.count("SELECT COUNT(*) FROM rounds").await, 0);
}

#[tokio::test]
async fn a_changed_questionnaire_needs_a_new_version() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("questionnaires");
    std::fs::create_dir(dir.path().join("scales")).unwrap();
    std::fs::copy(
        shipped.join("scales/boernelineal.toml"),
        dir.path().join("scales/boernelineal.toml"),
    )
    .unwrap();
    std::fs::copy(
        shipped.join("alerts.toml"),
        dir.path().to_path_buf().join("alerts.toml"),
    )
    .unwrap();
    let body = std::fs::read_to_string(shipped.join("6-9.toml")).unwrap();
    std::fs::write(
        dir.path().join("6-9.toml"),
        body.replace(
            "Barnet har venner i klassen.",
            "Barnet har gode venner i klassen.",
        ),
    )
    .unwrap();
    let changed = trivsel::questionnaire::Catalogue::load(dir.path(), "boernelineal").unwrap();
    let err = trivsel::assessment::register_versions(&app.db, &changed, chrono::Utc::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("6-9.toml: version: the file changed but its version is still 1"),
        "{err}"
    );
    std::fs::write(
        dir.path().join("6-9.toml"),
        body.replace(
            "Barnet har venner i klassen.",
            "Barnet har gode venner i klassen.",
        )
        .replace("version = 1", "version = 2"),
    )
    .unwrap();
    let bumped = trivsel::questionnaire::Catalogue::load(dir.path(), "boernelineal").unwrap();
    trivsel::assessment::register_versions(&app.db, &bumped, chrono::Utc::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_round_found_in_sql_is_the_round_the_rule_covers() {
    use trivsel::assessment::db as adb;
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now();
    let mut w = app.db.writer().await.unwrap();
    // Overlapping rounds for different institution types, and one for every type.
    for (name, opens, closes, kinds) in [
        ("alle", "2026-08-01", "2026-12-31", ""),
        ("skole", "2026-09-01", "2026-10-31", "skole"),
        ("skole og sfo", "2026-10-01", "2026-11-30", "skole,sfo"),
        (
            "dagtilbud",
            "2026-09-15",
            "2026-09-30",
            "vuggestue,boernehave",
        ),
        ("samme dag", "2026-09-15", "2026-09-20", "boernehave"),
        ("klub", "2027-01-10", "2027-01-20", "klub"),
    ] {
        adb::insert_round(&mut w, name, date(opens), date(closes), kinds, "", now)
            .await
            .unwrap();
    }
    drop(w);
    let mut c = app.db.conn().await.unwrap();
    let rounds = adb::rounds(&mut c).await.unwrap();
    let sql = format!("SELECT {} AS id", adb::open_round_sql("$1", "$2"));
    let mut found = 0;
    for kind in trivsel::org::InstitutionKind::ALL {
        let kind = kind.as_str();
        let mut day = date("2026-07-25");
        while day < date("2027-01-25") {
            let by_rule = rounds
                .iter()
                .find(|r| trivsel::assessment::round_covers(r, kind, day))
                .map(|r| r.id);
            let by_sql: Option<i64> = trivsel::dispatch!(&mut c, c => sqlx::query_scalar(&sql)
                .bind(kind)
                .bind(day)
                .fetch_one(&mut *c)
                .await)
            .unwrap();
            assert_eq!(by_sql, by_rule, "{kind} on {day}");
            found += usize::from(by_rule.is_some());
            day += chrono::Duration::days(3);
        }
    }
    assert!(found > 100, "the rounds cover days: {found}");
}

/// The common case in one step: the team agrees with the live suggestion of a level whose
/// handleguide stays within the team (green) and confirms it as it submits; the suggestion
/// and the decision are both stored, in one transaction with the access log and the round
/// position. Any level that involves someone outside the team, a critical sign answered yes,
/// or a level the engine does not suggest for these answers decides nothing: the suggestion
/// page with the handleguide asks as usual.
#[tokio::test]
async fn confirming_the_live_suggestion_submits_in_one_step() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let assess = format!("/children/{}/assess", f.child_a1);
    let page = c.get(&assess).await;
    let key = key_in(&page.body);
    let confirm = |key, answers: &[(String, String)], level| {
        let mut fields: Vec<(String, String)> = form(key, "team", "confirm", answers)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        fields.push(("questionnaire".into(), "trivsel-6-9".into()));
        fields.push(("confirm".into(), level));
        fields
    };

    // Worrying answers (orange) confirmed: stored and scored, not decided, since orange
    // involves the leader, PPR and the social worker.
    let worrying = confirm(&key, &worrying_answers(), "orange".to_string());
    let res = c.post(&assess, &fields(&worrying)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let url = res.location.unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE submission_key = '{key}' AND status = 'scored' \
             AND suggested_level = 'orange' AND decided_level IS NULL"
        ))
        .await,
        1
    );
    c.get(&url)
        .await
        .assert_contains("name=\"justification\"")
        .assert_contains("Involvér PPR");
    // A critical sign answered yes is never confirmed in passing either.
    let red = uuid::Uuid::new_v4().to_string();
    let critical = confirm(&red, &answers("1", Some("neglect")), "red".to_string());
    c.post(&assess, &fields(&critical)).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE submission_key = '{red}' AND status = 'scored'"
        ))
        .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM alerts").await, 0);

    // Thriving answers confirmed as shown: submitted with the suggestion as the decision, once
    // on a repeat.
    let green = uuid::Uuid::new_v4().to_string();
    let thriving = confirm(&green, &thriving_answers(), "green".to_string());
    let (url, id) = submit_twice(&mut c, &assess, &fields(&thriving)).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE id = {id} AND status = 'submitted' \
             AND suggested_level = 'green' AND decided_level = 'green' AND justification = ''"
        ))
        .await,
        1
    );
    for detail in ["scored", "submitted"] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM access_log WHERE object = 'assessment:{id}' AND detail = '{detail}'"
            ))
            .await,
            1,
            "{detail}"
        );
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM round_positions WHERE assessment_id = {id}"
        ))
        .await,
        1
    );
    c.get(&url)
        .await
        .assert_lacks("name=\"justification\"")
        .assert_contains("Trivsel");

    // The answers changed after the suggestion was shown: stored and scored, not decided.
    let mut d = app.login(EDUCATOR).await;
    let other = uuid::Uuid::new_v4().to_string();
    let mismatch = confirm(&other, &thriving_answers(), "yellow".to_string());
    let protected = format!("/children/{}/assess", f.protected_child);
    let res = d.post(&protected, &fields(&mismatch)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM assessments WHERE submission_key = '{other}' AND status = 'scored'"
        ))
        .await,
        1
    );

    // Out of scope, a confirmation stores and decides nothing.
    let mut b = app.login(EDUCATOR_B).await;
    let third = uuid::Uuid::new_v4().to_string();
    let before = app.count("SELECT COUNT(*) FROM assessments").await;
    let outside = confirm(&third, &thriving_answers(), "green".to_string());
    assert_eq!(
        b.post(&assess, &fields(&outside)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments").await, before);
}

#[tokio::test]
async fn the_form_shows_the_engines_suggestion_while_it_is_filled_in() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let page = c.get(&format!("/children/{}/assess", f.child_a1)).await;
    page.assert_contains("data-suggest=\"/questionnaires/trivsel-6-9/suggestion\"")
        .assert_contains("id=\"live-suggestion\"")
        .assert_contains("<script src=\"/assets/live.js?v=");
    let script = c.get("/assets/live.js").await;
    assert_eq!(script.status, StatusCode::OK);
    script.assert_contains("live-suggestion");
    let access_before = app.count("SELECT COUNT(*) FROM access_log").await;
    let url = "/questionnaires/trivsel-6-9/suggestion";
    let suggest = async |c: &mut Client, answers: &[(String, String)]| {
        let fields: Vec<(&str, &str)> = answers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        c.post(url, &fields).await
    };

    // A few answers: no level yet, only the request to answer every area.
    let res = suggest(&mut c, &answers("1", None)[..4]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.assert_contains("Forslag indtil nu")
        .assert_contains("Besvar spørgsmålene i alle områder")
        .assert_lacks("class=\"level\"");
    // Every area answered: the same level the submission will suggest (orange, as in the
    // round test above), with its reasons.
    let res = suggest(&mut c, &worrying_answers()).await;
    res.assert_contains("Bekymring")
        .assert_lacks("Alvorlig bekymring")
        .assert_lacks("Besvar spørgsmålene i alle områder")
        // Complete, but orange involves people outside the team: the handleguide comes first.
        .assert_lacks("name=\"confirm\"")
        .assert_contains("viser Trivsel handleguiden");
    // Thriving answers: the professional may confirm green as they submit.
    suggest(&mut c, &thriving_answers())
        .await
        .assert_contains("name=\"confirm\" value=\"green\"");
    // A critical sign left unanswered keeps the suggestion incomplete.
    let mut open = thriving_answers();
    open.retain(|(k, _)| k != "violence");
    suggest(&mut c, &open)
        .await
        .assert_contains("Besvar også de øvrige spørgsmål")
        .assert_lacks("name=\"confirm\"");
    // A critical sign decides at once, even before the rest is answered.
    let mut early = answers("0", Some("neglect"));
    early.retain(|(k, _)| k.starts_with("development") || k == "neglect");
    suggest(&mut c, &early)
        .await
        .assert_contains("Alvorlig bekymring")
        .assert_contains("Kritisk forhold besvaret ja")
        .assert_contains("Besvar også de øvrige spørgsmål")
        .assert_lacks("For få svar")
        .assert_lacks("value=\"confirm\"");
    // Nothing was stored or read about a child.
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM access_log").await,
        access_before
    );
    // An answer the questionnaire does not have, an unknown questionnaire, a role without
    // assessments, and a request without the CSRF token are refused.
    let bad = [("development_1".to_string(), "7".to_string())];
    assert_eq!(suggest(&mut c, &bad).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        c.post("/questionnaires/nope/suggestion", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.post_raw(url, &[("development_1", "1")], None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let mut admin = app.login(ADMIN).await;
    admin.get("/").await;
    assert_eq!(
        admin.post(url, &[("development_1", "1")]).await.status,
        StatusCode::NOT_FOUND
    );
}

/// After the questionnaire changes (a domain renamed, an item added), an assessment made
/// with the old version is still shown with that version; its correction starts from its
/// answers carried into the new version, with the new item marked and unanswered.
#[tokio::test]
async fn an_old_assessment_keeps_its_own_version() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let key = key_in(
        &c.get(&format!("/children/{}/assess", f.child_a1))
            .await
            .body,
    );
    let answers = answers("1", None);
    let url = c
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key, "team", "score", &answers),
        )
        .await
        .location
        .unwrap();
    c.post(&format!("{url}/decide"), &[("level", "orange")])
        .await;

    // Version 2: the social domain renamed and a fourth social item added.
    let v2 = questionnaires_with("6-9.toml", |b| {
        b.replacen("version = 1", "version = 2", 1)
            .replace(
                "Sociale kompetencer, venskaber og fritid",
                "Venskaber og fællesskab",
            )
            .replacen(
                "[[items]]\nid = \"social_1\"",
                "[[items]]\nid = \"social_4\"\ndomain = \"social\"\ntext = { da = \"Barnet har en voksen at gå til i frikvarteret.\", en = \"The child has an adult to turn to at break.\" }\nresponses = \"agreement\"\nreverse = true\n\n[[items]]\nid = \"social_1\"",
                1,
            )
    });
    let v2_app = app
        .another_instance(trivsel::config::Config {
            questionnaire_dir: Some(v2.path().to_path_buf()),
            ..Default::default()
        })
        .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM questionnaire_versions WHERE questionnaire_id = 'trivsel-6-9' AND definition IS NOT NULL").await,
        2,
        "both versions' texts are kept"
    );
    let mut c = v2_app.login(EDUCATOR).await;
    c.get(&url)
        .await
        .assert_contains("Sociale kompetencer, venskaber og fritid")
        .assert_lacks("Venskaber og fællesskab");
    c.get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("Sociale kompetencer, venskaber og fritid");
    // Re-scored with its own version, the stored answers give the stored result; the new
    // instance has version 2 in use and finds version 1 by the assessment's hash.
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    let cat = v2_app.state.catalogue.clone().unwrap();
    let mut conn = v2_app.db.conn().await.unwrap();
    let stored = trivsel::assessment::db::get(&mut conn, id)
        .await
        .unwrap()
        .unwrap();
    let own = trivsel::assessment::versions::questionnaire(
        &mut conn,
        &cat,
        &stored.questionnaire_id,
        &stored.questionnaire_hash,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(own.def.version, 1);
    assert_ne!(own.hash, cat.by_id("trivsel-6-9").unwrap().hash);
    let again = trivsel::scoring::score(
        &own.model,
        &trivsel::questionnaire::answers_from_map(&own, &stored.answer_map()).unwrap(),
    );
    assert_eq!(again.total, stored.total);
    assert_eq!(again.domains, stored.domains());
    drop(conn);

    // The correction is made with version 2, from the old answers.
    let res = c.post(&format!("{url}/correct"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = c.get(&format!("/children/{}/assess", f.child_a1)).await;
    page.assert_contains("Venskaber og fællesskab")
        .assert_contains("name=\"social_1\" value=\"1\" checked")
        .assert_contains("Nyt spørgsmål")
        .assert_contains("ikke besvaret før: 1.")
        .assert_lacks("name=\"social_4\" value=\"1\" checked");
    assert_eq!(page.body.matches("Nyt spørgsmål").count(), 1);
    assert!(
        page.body
            .contains("Barnet har en voksen at gå til i frikvarteret.")
    );
}

/// A round that names an optional instrument (the example instrument's structure, here as the
/// parents' questionnaire) offers it beside the questionnaire for the child's age; its answers
/// are a view the team sees beside its own form, never the team's position.
#[tokio::test]
async fn a_round_uses_an_optional_instrument_beside_the_questionnaire_for_the_age() {
    let dir = questionnaires_with("", |b| b);
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("questionnaires");
    let example = std::fs::read_to_string(shipped.join("examples/strengths-difficulties.toml"))
        .unwrap()
        .replacen("informant = \"educator\"", "informant = \"parent\"", 1);
    std::fs::write(dir.path().join("sd-25.toml"), example).unwrap();
    let (app, f) = spawn_with_questionnaires(&dir).await;
    let mut c = app.login(EDUCATOR).await;
    let parents = format!("/children/{}/assess?q=example-sd-25", f.child_a1);
    // Not before a round names it.
    assert_eq!(c.get(&parents).await.status, StatusCode::NOT_FOUND);

    let mut admin = app.login(ADMIN).await;
    let today = chrono::Utc::now().date_naive();
    let (opens, closes) = (
        (today - chrono::Duration::days(10)).to_string(),
        (today + chrono::Duration::days(20)).to_string(),
    );
    admin
        .get("/admin/rounds")
        .await
        .assert_contains("Ekstra skemaer")
        .assert_contains("Eksempel: screeningsskema med 25 udsagn (struktur) (forældre, 4–17 år)");
    let res = admin
        .post(
            "/admin/rounds",
            &[
                ("name", "Forår 2027"),
                ("opens_on", &opens),
                ("closes_on", &closes),
                ("instruments", "example-sd-25"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    // The form for the age lists both; the parents' form is a view.
    c.get(&format!("/children/{}/assess", f.child_a1))
        .await
        .assert_contains("Skemaer i runden")
        .assert_contains("?q=example-sd-25");
    let page = c.get(&parents).await;
    page.assert_contains("Svar i dette skema")
        .assert_contains("name=\"s01\"")
        .assert_lacks("id=\"kind-team\"");
    let key = key_in(&page.body);
    let answers: Vec<(String, String)> = (1..=25)
        .map(|n| (format!("s{n:02}"), "1".to_string()))
        .collect();
    let mut fields = form(&key, "team", "score", &answers);
    fields.push(("questionnaire", "example-sd-25"));
    let refused = c
        .post(&format!("/children/{}/assess", f.child_a1), &fields)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "never the team's position"
    );
    let mut fields = form(&key, "individual", "score", &answers);
    fields.push(("questionnaire", "example-sd-25"));
    let url = c
        .post(&format!("/children/{}/assess", f.child_a1), &fields)
        .await
        .location
        .expect("saved");
    let res = c
        .post(
            &format!("{url}/decide"),
            &[
                ("level", "yellow"),
                ("justification", "Drøftet med forældrene ved mødet i dag."),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM assessments WHERE questionnaire_id = 'example-sd-25' AND kind = 'individual' AND status = 'submitted'").await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM round_positions").await, 0);

    // The team's form shows the parents' view, with its own domains.
    c.get(&format!("/children/{}/assess", f.child_a1))
        .await
        .assert_contains("Individuelle vurderinger i denne runde")
        .assert_contains("Eksempel: screeningsskema med 25 udsagn (struktur) (forældre)")
        .assert_contains("Prosocial adfærd (styrke)");
    c.get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("Eksempel: screeningsskema med 25 udsagn (struktur) (forældre)");

    // The team's position is given in the questionnaire for the age; the municipal figures
    // count it in that questionnaire's age band, never in the optional instrument's (which
    // covers 4–17 and so overlaps 3–5 for a child of four).
    app.exec(&format!(
        "UPDATE children SET birth_date = '{}' WHERE id = {}",
        chrono::Utc::now().date_naive() - chrono::Duration::days(4 * 365 + 60),
        f.child_a1
    ))
    .await;
    let page = c.get(&format!("/children/{}/assess", f.child_a1)).await;
    assert_eq!(hidden_in(&page.body, "questionnaire"), "trivsel-3-5");
    let url = c
        .post(
            &format!("/children/{}/assess", f.child_a1),
            &form(&key_in(&page.body), "team", "score", &thriving_answers()),
        )
        .await
        .location
        .expect("saved");
    c.post(&format!("{url}/decide"), &[("level", "green")])
        .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM round_positions").await, 1);
    app.login(ADMIN)
        .await
        .get("/overview/municipality")
        .await
        .assert_contains("3–5")
        .assert_lacks("4–17");
}

/// An item asked only on an earlier answer: the form says when (and marks it for the script
/// that hides it until then), and an answer to it is neither stored nor scored when the earlier
/// answer does not call for it.
#[tokio::test]
async fn a_conditional_item_is_asked_only_on_the_earlier_answer() {
    let dir = questionnaires_with("6-9.toml", |b| {
        b.replacen("version = 1", "version = 2", 1).replacen(
            "id = \"social_3\"\n",
            "id = \"social_3\"\nshow_if = { item = \"social_2\", values = [\"1\", \"2\"] }\n",
            1,
        )
    });
    let (app, f) = spawn_with_questionnaires(&dir).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let assess = format!("/children/{}/assess", f.child_a1);
    let page = c.get(&assess).await;
    page.assert_contains("data-show-if=\"social_2\" data-show-values=\"1 2\"")
        .assert_contains("Besvares kun, hvis svaret på «Barnet bliver drillet eller holdt udenfor.» er Passer delvist eller Passer helt.");
    // social_2 "Passer ikke": social_3 is not asked, so its answer is dropped.
    let answers = answers("0", None);
    let url = c
        .post(
            &assess,
            &form(&key_in(&page.body), "team", "score", &answers),
        )
        .await
        .location
        .expect("saved");
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM assessments WHERE id = {id} AND answers LIKE '%social_2%' AND answers NOT LIKE '%social_3%'")).await,
        1
    );
}

/// A free-text item: a field on the form, kept apart from the scored answers, refused with a
/// message at the field when too long (the text kept), shown on the assessment and in the
/// child's access report.
#[tokio::test]
async fn a_free_text_item_is_answered_in_own_words() {
    let dir = questionnaires_with("6-9.toml", |b| {
        b.replacen("version = 1", "version = 2", 1).replacen(
            "[total]",
            "[[free_text]]\nid = \"strengths\"\ntext = { da = \"Hvad er barnet god til?\", en = \"What is the child good at?\" }\nhelp = { da = \"Skriv med dine egne ord.\", en = \"In your own words.\" }\nmax_chars = 40\n\n[total]",
            1,
        )
    });
    let (app, f) = spawn_with_questionnaires(&dir).await;
    open_round(&app).await;
    let mut c = app.login(EDUCATOR).await;
    let assess = format!("/children/{}/assess", f.child_a1);
    let page = c.get(&assess).await;
    page.assert_contains("<label for=\"ft-strengths\">Hvad er barnet god til?</label>")
        .assert_contains("Skriv med dine egne ord.")
        .assert_contains("maxlength=\"40\"");
    let key = key_in(&page.body);
    let answers = answers("0", None);
    let too_long = "Tegner flot og hjælper de mindste i klassen hver dag.";
    let mut fields = form(&key, "team", "score", &answers);
    fields.push(("strengths", too_long));
    let res = c.post(&assess, &fields).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("id=\"ft-strengths-error\"")
        .assert_contains(too_long);
    assert_eq!(app.count("SELECT COUNT(*) FROM assessments").await, 0);

    let mut fields = form(&key, "team", "score", &answers);
    fields.push(("strengths", "Tegner flot."));
    let url = c.post(&assess, &fields).await.location.expect("saved");
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM assessments WHERE id = {id} AND free_text LIKE '%Tegner flot.%' AND answers NOT LIKE '%Tegner%'")).await,
        1
    );
    c.get(&url)
        .await
        .assert_contains("Svar med egne ord")
        .assert_contains("Tegner flot.");
    let dpo = app.add_dpo().await;
    let mut d = app.login(&dpo).await;
    let report = d
        .get(&format!(
            "/children/{}/access-report?format=json",
            f.child_a1
        ))
        .await;
    assert!(
        report
            .body
            .contains("\"free_text\":{\"strengths\":\"Tegner flot.\"}"),
        "{}",
        report.body
    );
}
