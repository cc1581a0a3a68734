//! CSV import: a dry run reports every bad row by line number; any bad row means nothing is
//! imported; a good file is imported whole, with groups created as needed.

use reqwest::StatusCode;

use crate::helpers::*;

const HEADER: &str = "first_name;last_name;birth_date;gender;external_id;protected_address;institution;group;school_year;guardian1_name;guardian1_phone;guardian1_email";

fn file(rows: &[&str]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.into_bytes()
}

async fn totals(app: &TestApp) -> i64 {
    app.count("SELECT (SELECT COUNT(*) FROM children) + (SELECT COUNT(*) FROM groups) + (SELECT COUNT(*) FROM guardians) + (SELECT COUNT(*) FROM enrolments)").await
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_nothing_is_imported() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(ADMIN).await;
    c.get("/admin/import").await;
    let before = totals(&app).await;
    let data = file(&[
        "Ida;Iversen;2020-02-02;pige;I-1;nej;Askeskolen;0.A;2026/27;Irma Iversen;11223344;irma@example.dk",
        "Jens;;2019-13-01;x;I-2;måske;Ukendt Skole;1.A;2026/27;;;",
        "Kaj;Krog;2019-01-01;dreng;I-1;nej;Askeskolen;1.A;26/27;;;ikke-mail",
    ]);
    for mode in ["dry_run", "import"] {
        let res = c
            .post_multipart("/admin/import", &[("mode", mode)], ("file", data.clone()))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{mode}");
        res.assert_contains("Intet er gemt");
        let table = &res.body[res.body.find("id=\"import-errors\"").unwrap()..];
        for (line, column) in [
            (3, "last_name"),
            (3, "birth_date"),
            (3, "gender"),
            (3, "protected_address"),
            (3, "institution"),
            (4, "external_id"),
            (4, "school_year"),
            (4, "guardian1_name"),
        ] {
            assert!(
                table.contains(&format!("<tr><td>{line}</td><td>{column}</td>")),
                "{mode}: line {line} column {column} reported:\n{table}"
            );
        }
        assert!(
            !table.contains("<tr><td>2</td>"),
            "the good row is not reported"
        );
        assert_eq!(totals(&app).await, before, "{mode}: nothing written");
    }

    let res = c
        .post_multipart(
            "/admin/import",
            &[("mode", "import")],
            ("file", b"navn,alder\nA,3".to_vec()),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("<tr><td>1</td><td>navn</td><td>Ukendt kolonne.</td>")
        .assert_contains("<tr><td>1</td><td>first_name</td>");
}

#[tokio::test]
async fn a_good_file_is_checked_then_imported_whole() {
    let app = TestApp::spawn().await;
    let f = Fixture::create(&app).await;
    let mut c = app.login(ADMIN).await;
    c.get("/admin/import").await;
    let before = totals(&app).await;
    let data = file(&[
        "Ida;Iversen;02-02-2020;pige;I-1;nej;askeskolen;0.A;2026/27;Irma Iversen;11223344;irma@example.dk",
        "Jens;Jul;2019-01-12;dreng;I-2;ja;Askeskolen;1.A;2026/27;;;",
        "Lis;Lund;2019-04-04;;;;Askeskolen;0.A;2026/27;;;",
    ]);
    let dry = c
        .post_multipart(
            "/admin/import",
            &[("mode", "dry_run")],
            ("file", data.clone()),
        )
        .await;
    assert_eq!(dry.status, StatusCode::OK);
    dry.assert_contains("Prøvekørslen fandt ingen fejl")
        .assert_contains(": 3 rækker");
    assert_eq!(totals(&app).await, before, "a dry run writes nothing");

    let done = c
        .post_multipart("/admin/import", &[("mode", "import")], ("file", data))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    done.assert_contains("Importen er gennemført: 3 børn, 1 nye grupper, 1 forældre");
    let new_group: i64 = app
        .count(&format!(
            "SELECT id FROM groups WHERE institution_id = {} AND name = '0.A'",
            f.school_a
        ))
        .await;
    let page = c.get(&format!("/groups/{new_group}")).await;
    page.assert_contains("Ida Iversen")
        .assert_contains("Lis Lund");
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM enrolments e JOIN children ch ON ch.id = e.child_id WHERE ch.external_id = 'I-2' AND e.group_id = {}", f.class_a1)).await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM children WHERE external_id = 'I-2' AND protected_address")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM access_log WHERE action = 'create' AND detail = 'import'")
            .await,
        3
    );

    // Importing the same file again is refused: the external ids exist now.
    let again = c
        .post_multipart(
            "/admin/import",
            &[("mode", "import")],
            (
                "file",
                file(&["Ida;Iversen;02-02-2020;pige;I-1;nej;Askeskolen;0.A;2026/27;;;"]),
            ),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    again.assert_contains("Et andet barn har allerede dette eksterne id.");
}

/// An upload between the multipart reader's own 2 MiB default and the configured body limit
/// (4 MiB) reaches the import and its checks, not a CSRF refusal.
#[tokio::test]
async fn a_three_megabyte_upload_is_read_not_refused_as_forged() {
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let mut c = app.login(ADMIN).await;
    let long_name = "A".repeat(3 * 1024 * 1024);
    let row = format!("{long_name};Iversen;2020-02-02;pige;I-1;nej;Askeskolen;0.A;2026/27;;;");
    let data = file(&[&row]);
    assert!(data.len() > 3 * 1024 * 1024);
    let res = c
        .post_multipart("/admin/import", &[("mode", "dry_run")], ("file", data))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("Intet er gemt");
}
