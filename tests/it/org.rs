//! The admin maintains the organisation; invalid forms come back with input and messages and
//! write nothing; children move between groups with their history kept.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn admin_builds_an_organisation_through_the_forms() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(ADMIN).await;

    let res = c
        .post("/admin/districts/new", &[("name", "Distrikt Nord")])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let district: i64 = app
        .count("SELECT id FROM districts WHERE name = 'Distrikt Nord'")
        .await;
    c.get("/admin/org")
        .await
        .assert_contains("Distrikt Nord")
        .assert_contains("ingen socialrådgiver");
    c.get("/")
        .await
        .assert_contains("Distrikt uden forebyggende socialrådgiver");

    let res = c
        .post(
            "/admin/institutions/new",
            &[
                ("name", "Nordlys Børnehus"),
                ("district_id", &district.to_string()),
                ("kind", "boernehave"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let inst: i64 = app
        .count("SELECT id FROM institutions WHERE name = 'Nordlys Børnehus'")
        .await;

    let res = c
        .post(
            "/admin/groups/new",
            &[
                ("name", "Grøn stue"),
                ("institution_id", &inst.to_string()),
                ("school_year", "2026/27"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let group: i64 = app
        .count("SELECT id FROM groups WHERE name = 'Grøn stue'")
        .await;
    assert_eq!(res.location, Some(format!("/groups/{group}")));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM groups WHERE id = {group} AND kind = 'stue'"
        ))
        .await,
        1
    );

    let res = c
        .post(
            "/admin/children/new",
            &[
                ("first_name", "Freja"),
                ("last_name", "Fisker"),
                ("birth_date", "14-03-2022"),
                ("gender", "p"),
                ("external_id", "X-1"),
                ("group_id", &group.to_string()),
                ("from_date", "2026-08-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let child: i64 = app
        .count("SELECT id FROM children WHERE external_id = 'X-1'")
        .await;
    c.get(&format!("/groups/{group}"))
        .await
        .assert_contains("Freja Fisker")
        .assert_contains("14-03-2022");
    c.get(&format!("/children/{child}"))
        .await
        .assert_contains("Grøn stue")
        .assert_contains("Pige");

    let res = c
        .post(
            &format!("/admin/children/{child}/guardians"),
            &[
                ("name", "Mona Fisker"),
                ("relation", "Mor"),
                ("email", "mona@example.dk"),
                ("address", "Nordvej 1"),
                ("has_custody", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    c.get(&format!("/admin/children/{child}"))
        .await
        .assert_contains("Mona Fisker")
        .assert_contains("Nordvej 1");
    let gid: i64 = app
        .count("SELECT id FROM guardians WHERE name = 'Mona Fisker'")
        .await;
    let res = c
        .post(
            &format!("/admin/children/{child}/guardians/{gid}/delete"),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM guardians WHERE name = 'Mona Fisker'")
            .await,
        0
    );
}

#[tokio::test]
async fn invalid_forms_keep_input_show_messages_and_write_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(ADMIN).await;
    let children_before = app.count("SELECT COUNT(*) FROM children").await;

    let res = c.post("/admin/districts/new", &[("name", "  ")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Skal udfyldes.")
        .assert_contains("aria-invalid=\"true\"")
        // The error summary above the form names the field and links to it.
        .assert_contains("id=\"error-summary\"")
        .assert_contains("<a href=\"#name\" class=\"function-link\">Navn: Skal udfyldes.</a>");

    let res = c
        .post("/admin/districts/new", &[("name", "distrikt  a")])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Navnet er allerede i brug.")
        .assert_contains("value=\"distrikt  a\"");

    let res = c
        .post(
            "/admin/institutions/new",
            &[
                ("name", "Ny skole"),
                ("district_id", ""),
                ("kind", "gymnasium"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("value=\"Ny skole\"")
        .assert_contains("Vælg en af mulighederne.");

    let res = c
        .post(
            "/admin/groups/new",
            &[
                ("name", "3.C"),
                ("institution_id", &f.school_a.to_string()),
                ("school_year", "2026-27"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Skriv skoleåret som fx 2026/27.")
        .assert_contains("value=\"3.C\"");

    let res = c
        .post(
            "/admin/children/new",
            &[
                ("first_name", "Gustav"),
                ("last_name", ""),
                ("birth_date", "31-02-2020"),
                ("gender", "u"),
                ("group_id", ""),
                ("from_date", "2026-08-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("value=\"Gustav\"")
        .assert_contains("id=\"last_name-error\"")
        .assert_contains("Skriv en gyldig dato")
        .assert_contains("id=\"group_id-error\"");
    let res = c
        .post(
            "/admin/children/new",
            &[
                ("first_name", "Gustav"),
                ("last_name", "Ung"),
                ("birth_date", "2099-01-01"),
                ("gender", "u"),
                ("group_id", &f.class_a1.to_string()),
                ("from_date", "2026-08-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Fødselsdatoen skal ligge i fortiden");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM children").await,
        children_before
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM institutions WHERE name = 'Ny skole'")
            .await,
        0
    );

    // Duplicate external id on edit.
    let res = c
        .post(
            "/admin/children/new",
            &[
                ("first_name", "A"),
                ("last_name", "B"),
                ("birth_date", "2020-01-01"),
                ("gender", "u"),
                ("external_id", "E-9"),
                ("group_id", &f.class_a1.to_string()),
                ("from_date", "2026-08-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = c
        .post(
            &format!("/admin/children/{}", f.child_a1),
            &[
                ("first_name", "Alma"),
                ("last_name", "Andersen"),
                ("birth_date", "2019-05-01"),
                ("gender", "u"),
                ("external_id", "E-9"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Et andet barn har allerede dette eksterne id.");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM children WHERE id = {} AND external_id IS NULL",
            f.child_a1
        ))
        .await,
        1
    );

    let res = c
        .post(
            "/admin/users/new",
            &[("name", ""), ("email", EDUCATOR), ("role", "educator")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Der findes allerede en bruger med denne e-mail.")
        .assert_contains("Vælg mindst én gruppe");
}

#[tokio::test]
async fn moving_a_child_keeps_the_history_and_changes_who_sees_it() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;
    let mut educator = app.login(EDUCATOR).await;
    let mut educator_b = app.login(EDUCATOR_B).await;
    assert_eq!(
        educator
            .get(&format!("/children/{}", f.child_a1))
            .await
            .status,
        StatusCode::OK
    );

    // A move must start after the current enrolment.
    let res = admin
        .post(
            &format!("/admin/children/{}/enrol", f.child_a1),
            &[
                ("group_id", &f.class_b1.to_string()),
                ("from_date", "2026-07-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Startdatoen skal ligge efter");

    let res = admin
        .post(
            &format!("/admin/children/{}/enrol", f.child_a1),
            &[
                ("group_id", &f.class_b1.to_string()),
                ("from_date", "2026-10-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = admin.get(&format!("/children/{}", f.child_a1)).await;
    page.assert_contains("Askeskolen")
        .assert_contains("Bøgeskolen")
        .assert_contains("30-09-2026")
        .assert_contains("01-10-2026");
    assert_eq!(
        educator
            .get(&format!("/children/{}", f.child_a1))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        educator_b
            .get(&format!("/children/{}", f.child_a1))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM enrolments WHERE child_id = {}",
            f.child_a1
        ))
        .await,
        2
    );
}

#[tokio::test]
async fn protected_addresses_are_never_shown() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;
    admin
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains(&format!("Hemmelig Vej {}", f.child_a1));
    admin
        .get(&format!("/children/{}", f.protected_child))
        .await
        .assert_contains("Navne- og adressebeskyttelse")
        .assert_lacks(&format!("Hemmelig Vej {}", f.protected_child));
    admin
        .get(&format!("/admin/children/{}", f.protected_child))
        .await
        .assert_lacks(&format!("Hemmelig Vej {}", f.protected_child));
    // Staff who work with the child see contacts, not addresses.
    let mut educator = app.login(EDUCATOR).await;
    educator
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("Mor Andersen")
        .assert_lacks("Hemmelig Vej");
}

#[tokio::test]
async fn admin_manages_staff_accounts_and_their_scope() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;
    let group = f.room_a.to_string();
    let res = admin
        .post(
            "/admin/users/new",
            &[
                ("name", "Nina Ny"),
                ("email", "Nina@Test.dk"),
                ("role", "educator"),
                ("active", "on"),
                ("assign_group", &group),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    // She chooses her own password from the invitation.
    let mut nina = app
        .accept_invitation("nina@test.dk", "en-lang-kode-1")
        .await;
    nina.get("/")
        .await
        .assert_contains("Rød stue")
        .assert_lacks("1.A");
    assert_eq!(
        nina.get(&format!("/children/{}", f.child_room))
            .await
            .status,
        StatusCode::OK
    );

    // Deactivate her.
    let id: i64 = app
        .count("SELECT id FROM users WHERE email = 'nina@test.dk'")
        .await;
    let res = admin
        .post(
            &format!("/admin/users/{id}"),
            &[
                ("name", "Nina Ny"),
                ("email", "nina@test.dk"),
                ("role", "educator"),
                ("assign_group", &group),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(nina.get("/").await.location.as_deref(), Some("/login"));

    // The admin cannot lock themselves out.
    let res = admin
        .post(
            &format!("/admin/users/{}", f.admin),
            &[
                ("name", "A"),
                ("email", ADMIN),
                ("role", "leader"),
                ("active", "on"),
                ("assign_institution", &f.school_a.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Du kan ikke fjerne din egen administratoradgang.");
}

/// The admin finds a child by the start of the name, first name or last name first, Danish
/// letters in any case, or by the external id; the children without a current enrolment are
/// listed only when asked for.
#[tokio::test]
async fn the_child_search_finds_names_by_their_start_and_lists_the_unenrolled_on_request() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;
    let group = f.class_a1.to_string();
    let res = admin
        .post(
            "/admin/children/new",
            &[
                ("first_name", "Åse"),
                ("last_name", "Østergård"),
                ("birth_date", "01-05-2019"),
                ("gender", "p"),
                ("external_id", "X-77"),
                ("group_id", &group),
                ("from_date", "2026-08-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    for term in ["åse", "ÅSE ØST", "østergård", "Østergård å", "X-77"] {
        admin
            .get(&format!(
                "/admin/children?q={}",
                form_urlencoded::byte_serialize(term.as_bytes()).collect::<String>()
            ))
            .await
            .assert_contains("Åse Østergård");
    }
    // A prefix, not any part of the name.
    admin
        .get("/admin/children?q=tergård")
        .await
        .assert_lacks("Åse Østergård");
    admin
        .get("/admin/children?q=ander")
        .await
        .assert_contains("Alma Andersen");
    // The unenrolled list only when asked for: Åse leaves her group (no page ends an
    // enrolment without a new one yet; this is what ending it writes).
    app.exec(
        "UPDATE enrolments SET to_date = '2026-09-01' WHERE child_id = \
         (SELECT id FROM children WHERE external_id = 'X-77')",
    )
    .await;
    app.exec("UPDATE children SET current_group_id = NULL WHERE external_id = 'X-77'")
        .await;
    admin
        .get("/admin/children")
        .await
        .assert_lacks("Åse Østergård");
    admin
        .get("/admin/children?unenrolled=1")
        .await
        .assert_contains("Åse Østergård")
        .assert_lacks("Alma Andersen");
}

/// At municipal scale no form lists every group: the admin chooses the institution, presses
/// "Vis grupper", and picks among its groups; the form comes back with what was typed and
/// nothing is saved until the admin saves.
#[tokio::test]
async fn groups_are_chosen_by_institution_first_and_choosing_saves_nothing() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;

    // Moving a child: the form starts at the child's own institution and lists only its groups.
    let page = admin.get(&format!("/admin/children/{}", f.child_a1)).await;
    page.assert_contains(&format!(
        r#"<option value="{}" selected>Askeskolen</option>"#,
        f.school_a
    ))
    .assert_contains("2.A (2026/27)")
    .assert_lacks("1.B (2026/27)")
    .assert_lacks("Rød stue");
    let enrolments = "SELECT COUNT(*) FROM enrolments";
    let before = app.count(enrolments).await;
    let res = admin
        .post(
            &format!("/admin/children/{}/enrol", f.child_a1),
            &[
                ("institution_id", &f.school_b.to_string()),
                ("group_id", &f.class_a2.to_string()),
                ("from_date", "2026-10-01"),
                ("action", "choose_institution"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.assert_contains(&format!(
        r#"<option value="{}" >1.B (2026/27)</option>"#,
        f.class_b1
    ))
    .assert_lacks("2.A (2026/27)")
    .assert_contains(r#"value="2026-10-01""#);
    assert_eq!(app.count(enrolments).await, before);

    // A group left over from the institution shown before is refused, not guessed at.
    let res = admin
        .post(
            &format!("/admin/children/{}/enrol", f.child_a1),
            &[
                ("institution_id", &f.school_b.to_string()),
                ("group_id", &f.class_a2.to_string()),
                ("from_date", "2026-10-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Gruppen hører ikke til den valgte institution.");
    assert_eq!(app.count(enrolments).await, before);

    // A new child: no institution yet, so no groups until one is chosen; the name stays.
    admin
        .get("/admin/children/new")
        .await
        .assert_contains("Vælg institutionen og tryk »Vis grupper«")
        .assert_lacks("1.A (2026/27)");
    let res = admin
        .post(
            "/admin/children/new",
            &[
                ("first_name", "Ida"),
                ("last_name", "Valg"),
                ("birth_date", "2021-03-04"),
                ("gender", "p"),
                ("institution_id", &f.daycare_a.to_string()),
                ("from_date", "2026-08-01"),
                ("action", "choose_institution"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.assert_contains(r#"value="Ida""#)
        .assert_contains("Rød stue")
        .assert_lacks("1.A (2026/27)");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM children WHERE first_name = 'Ida'")
            .await,
        0
    );

    // An educator's groups: the ticked ones stay listed, another institution's are added.
    let id: i64 = app
        .count(&format!("SELECT id FROM users WHERE email = '{EDUCATOR}'"))
        .await;
    let page = admin.get(&format!("/admin/users/{id}")).await;
    page.assert_contains(&format!(
        r#"name="assign_group" value="{}" checked"#,
        f.class_a1
    ))
    .assert_lacks("Rød stue");
    let res = admin
        .post(
            &format!("/admin/users/{id}"),
            &[
                ("name", "Ændret navn"),
                ("email", EDUCATOR),
                ("role", "educator"),
                ("active", "on"),
                ("assign_group", &f.class_a1.to_string()),
                ("institution_id", &f.daycare_a.to_string()),
                ("action", "choose_institution"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.assert_contains(r#"value="Ændret navn""#)
        .assert_contains(&format!(
            r#"name="assign_group" value="{}" checked"#,
            f.class_a1
        ))
        .assert_contains(&format!(r#"name="assign_group" value="{}" >"#, f.room_a));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE name = 'Ændret navn'")
            .await,
        0
    );

    // Boxes ticked under another role are not read as ids of this role's kind.
    let res = admin
        .post(
            &format!("/admin/users/{id}"),
            &[
                ("name", "Ændret navn"),
                ("email", EDUCATOR),
                ("role", "educator"),
                ("active", "on"),
                ("assign_institution", &f.class_a1.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Vælg mindst én gruppe");
}

/// An account's assignments must name groups, institutions or districts that exist; a repeated
/// one counts once.
#[tokio::test]
async fn assignments_that_do_not_exist_are_refused_at_the_field() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;
    let res = admin
        .post(
            "/admin/users/new",
            &[
                ("name", "Nina Ny"),
                ("email", "nina@test.dk"),
                ("role", "educator"),
                ("active", "on"),
                ("assign_group", "999999"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    res.assert_contains("Vælg en af mulighederne.")
        .assert_contains(r#"value="Nina Ny""#);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email = 'nina@test.dk'")
            .await,
        0
    );
    let group = f.room_a.to_string();
    let res = admin
        .post(
            "/admin/users/new",
            &[
                ("name", "Nina Ny"),
                ("email", "nina@test.dk"),
                ("role", "educator"),
                ("active", "on"),
                ("assign_group", &group),
                ("assign_group", &group),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM user_groups WHERE group_id = {group}"
        ))
        .await,
        1
    );
}

/// The child's row on a group page.
fn row_of(page: &str, child: i64) -> String {
    let start = page
        .find(&format!("id=\"child-{child}\""))
        .expect("the child's row");
    let end = page[start..].find("</tr>").unwrap() + start;
    page[start..end].to_string()
}

/// A child moved to another institution does not bring what the first one recorded: the new
/// teacher sees the positions recorded since the child came and that the handover was not
/// consented; with the parents' handover consent a summary follows the child (the last
/// position), never the earlier assessments with their answers and observations.
#[tokio::test]
async fn a_moved_child_shows_the_new_institution_only_its_own_record_until_handover_consent() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut educator = app.login(EDUCATOR).await;
    let earlier =
        crate::alerts::position(&mut educator, f.child_a1, &thriving_answers(), "green").await;

    // The admin moves the child to Bøgeskolen from tomorrow.
    move_from_tomorrow(&app, f.child_a1, f.class_b1).await;

    let mut teacher = app.login(EDUCATOR_B).await;
    teacher
        .get(&format!("/children/{}", f.child_a1))
        .await
        .assert_contains("Barnet er ikke vurderet endnu.")
        .assert_contains("Ikke spurgt")
        // That the handover was not consented, and nothing more.
        .assert_contains("id=\"handover-not-consented\"")
        .assert_lacks("Seneste position før skiftet");
    assert_eq!(teacher.get(&earlier).await.status, StatusCode::NOT_FOUND);
    let group = teacher.get(&format!("/groups/{}", f.class_b1)).await;
    assert!(
        !row_of(&group.body, f.child_a1).contains("class=\"level\""),
        "no earlier position in the group table"
    );

    // The parents agree to the handover: the summary follows the child, not the record.
    give_consent(&app, &mut teacher, f.child_a1, "handover_next_institution").await;
    let page = teacher.get(&format!("/children/{}", f.child_a1)).await;
    let handover = &page.body[page
        .body
        .find("id=\"handover\"")
        .expect("the handover summary")..];
    let handover = &handover[..handover.find("</section>").unwrap()];
    assert!(
        handover.contains("Seneste position før skiftet"),
        "{handover}"
    );
    assert!(handover.contains("Trivsel"), "{handover}");
    // Never the answers or the observation, and the earlier assessment stays closed.
    page.assert_lacks("Alma virker ked af det.");
    assert_eq!(teacher.get(&earlier).await.status, StatusCode::NOT_FOUND);
    let group = teacher.get(&format!("/groups/{}", f.class_b1)).await;
    assert!(row_of(&group.body, f.child_a1).contains("class=\"level\""));
    // Showing the summary is logged, as the receiving teacher's read.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE object = 'handover' AND child_id = {}",
            f.child_a1
        ))
        .await,
        1
    );
}

/// After saving, the page says what was saved, and the child's edit page is headed with the
/// child's name; a team position's page says it was saved.
#[tokio::test]
async fn saving_is_confirmed_on_the_page_it_leads_to() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut admin = app.login(ADMIN).await;
    let group = f.class_a1.to_string();
    let res = admin
        .post(
            "/admin/children/new",
            &[
                ("first_name", "Nora"),
                ("last_name", "Nielsen"),
                ("birth_date", "2019-02-01"),
                ("gender", "p"),
                ("group_id", &group),
                ("from_date", "2026-08-01"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = admin.get(res.location.as_deref().unwrap()).await;
    page.assert_contains("Barnet er oprettet.")
        .assert_contains("Redigér barn: Nora Nielsen");
    let id = res
        .location
        .as_deref()
        .unwrap()
        .trim_start_matches("/admin/children/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let res = admin
        .post(
            &format!("/admin/children/{id}"),
            &[
                ("first_name", "Nora"),
                ("last_name", "Nielsen-Holm"),
                ("birth_date", "2019-02-01"),
                ("gender", "p"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    admin
        .get(res.location.as_deref().unwrap())
        .await
        .assert_contains("Ændringerne er gemt.")
        .assert_contains("Redigér barn: Nora Nielsen-Holm");

    let mut educator = app.login(EDUCATOR).await;
    let url =
        crate::alerts::position(&mut educator, f.child_a1, &thriving_answers(), "green").await;
    educator
        .get(&url)
        .await
        .assert_contains("Positionen er gemt.");
}
