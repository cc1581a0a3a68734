//! The binary's subcommands, run as a new user would run them.

use std::io::Write;
use std::process::{Command, Stdio};

fn trivsel(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trivsel"));
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn");
    for (k, _) in std::env::vars() {
        if k.starts_with("TRIVSEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env(
        "TRIVSEL_QUESTIONNAIRE_DIR",
        concat!(env!("CARGO_MANIFEST_DIR"), "/questionnaires"),
    );
    cmd
}

/// `trivsel init`'s copies of the built-in files in `dir/q`, with `file` edited; the folder.
fn edited_copy(
    dir: &std::path::Path,
    file: &str,
    edit: impl Fn(String) -> String,
) -> std::path::PathBuf {
    let qdir = dir.join("q");
    let out = trivsel(dir)
        .env_remove("TRIVSEL_QUESTIONNAIRE_DIR")
        .args(["init", qdir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = std::fs::read_to_string(qdir.join(file)).unwrap();
    std::fs::write(qdir.join(file), edit(body)).unwrap();
    qdir
}

#[test]
fn check_accepts_defaults_and_rejects_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = trivsel(dir.path()).arg("check").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("configuration OK"), "{stdout}");
    assert!(
        stdout.contains("questionnaires OK: scale \"boernelineal\" with 4 levels"),
        "{stdout}"
    );
    let out = trivsel(dir.path())
        .arg("check")
        .env("TRIVSEL_SCALE", "topi")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("scale \"topi\" with 3 levels"));

    // A broken questionnaire file is refused with file, key and reason.
    let qdir = dir.path().join("q");
    std::fs::create_dir_all(qdir.join("scales")).unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("questionnaires");
    std::fs::copy(
        shipped.join("scales/boernelineal.toml"),
        qdir.join("scales/boernelineal.toml"),
    )
    .unwrap();
    std::fs::copy(
        shipped.join("alerts.toml"),
        qdir.clone().join("alerts.toml"),
    )
    .unwrap();
    let body = std::fs::read_to_string(shipped.join("6-9.toml"))
        .unwrap()
        .replace("min_answered = 2", "min_answered = 7");
    std::fs::write(qdir.join("6-9.toml"), body).unwrap();
    let out = trivsel(dir.path())
        .arg("check")
        .env("TRIVSEL_QUESTIONNAIRE_DIR", &qdir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "6-9.toml: domains[0].min_answered: must be between 1 and the domain's 3 items"
        ),
        "{err}"
    );
    // …and the server will not start on it.
    let out = trivsel(dir.path())
        .arg("serve")
        .env("TRIVSEL_QUESTIONNAIRE_DIR", &qdir)
        .env("TRIVSEL_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("6-9.toml: domains[0].min_answered"));

    let out = trivsel(dir.path())
        .arg("check")
        .env("TRIVSEL_PUBLIC_URL", "ftp://x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("public_url must start with http"));

    // A logo that is not an image, or missing, is refused with the path and the reason.
    let not_image = dir.path().join("logo.png");
    std::fs::write(&not_image, "just text").unwrap();
    for (path, reason) in [
        (not_image.clone(), "not a PNG, JPEG, WebP or SVG image"),
        (dir.path().join("missing.svg"), "cannot be read"),
    ] {
        let out = trivsel(dir.path())
            .arg("serve")
            .env("TRIVSEL_LOGO", &path)
            .env("TRIVSEL_LISTEN", "127.0.0.1:0")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&path.display().to_string()) && err.contains(reason),
            "{err}"
        );
    }

    let out = trivsel(dir.path())
        .arg("check")
        .env("TRIVSEL_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .to_lowercase()
            .contains("listen"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::write(dir.path().join("bad.toml"), "sesion_idle_minutes = 5\n").unwrap();
    let out = trivsel(dir.path())
        .args(["--config", "bad.toml", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sesion_idle_minutes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Secrets never reach the output.
    let out = trivsel(dir.path())
        .arg("check")
        .env("DATABASE_URL", "mysql://user:hemmelig@host/db")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hemmelig"));
}

#[test]
fn user_add_and_set_password_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = trivsel(dir.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(
        &[
            "user",
            "add",
            "--email",
            "ada@kommune.dk",
            "--name",
            "Ada",
            "--role",
            "admin",
        ],
        "kort\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));

    let out = run(
        &[
            "user",
            "add",
            "--email",
            "ada@kommune.dk",
            "--name",
            "Ada",
            "--role",
            "admin",
        ],
        "en-lang-kode-1\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &[
            "user",
            "add",
            "--email",
            "ADA@kommune.dk",
            "--name",
            "Ada",
            "--role",
            "admin",
        ],
        "en-lang-kode-1\n",
    );
    assert!(!out.status.success(), "duplicate email refused");
    let out = run(
        &[
            "user",
            "add",
            "--email",
            "e@kommune.dk",
            "--name",
            "E",
            "--role",
            "educator",
        ],
        "en-lang-kode-1\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--assign is required"));

    let out = run(
        &["user", "set-password", "--email", "ada@kommune.dk"],
        "en-ny-lang-kode\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &["user", "set-password", "--email", "nobody@kommune.dk"],
        "en-ny-lang-kode\n",
    );
    assert!(!out.status.success());
    // Linking an identity at a single sign-on provider, for scripts.
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/demo.toml");
    let link = |email: &str, provider: &str| {
        run(
            &[
                "--config",
                demo,
                "user",
                "link",
                "--email",
                email,
                "--provider",
                provider,
                "--identity",
                "ada@kommune.dk",
            ],
            "",
        )
    };
    let out = link("ada@kommune.dk", "test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("linked to its identity at test"));
    assert!(!link("ada@kommune.dk", "ukendt").status.success());
    assert!(!link("nobody@kommune.dk", "test").status.success());
    assert!(
        dir.path().join("data/trivsel.db").exists(),
        "the SQLite file is created on first run"
    );
}

#[test]
fn score_prints_the_engines_verdict_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("a.json");
    std::fs::write(&answers, r#"{"security_1": "0", "security_2": "2", "security_3": "0", "social_1": "2", "violence": "no"}"#).unwrap();
    let q = concat!(env!("CARGO_MANIFEST_DIR"), "/questionnaires/6-9.toml");
    let out = trivsel(dir.path())
        .arg("score")
        .arg(q)
        .arg(&answers)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["questionnaire"], "trivsel-6-9");
    // security: reverse(0)=2 + 2 + reverse(0)=2 = 6 → the security band and any-domain rule: orange.
    assert_eq!(report["level"], "orange");
    assert_eq!(report["outcome"]["domains"][3]["score"], 6.0);
    assert_eq!(
        report["outcome"]["total"],
        serde_json::Value::Null,
        "too few answers for a total"
    );
    assert_eq!(report["hash"].as_str().unwrap().len(), 64);

    std::fs::write(&answers, r#"{"security_1": "7", "nope": "1"}"#).unwrap();
    let out = trivsel(dir.path())
        .arg("score")
        .arg(q)
        .arg(&answers)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("security_1: \"7\" is not one of") && err.contains("nope: no such item"),
        "{err}"
    );
}

/// `trivsel score --batch` reads JSON Lines (a file or standard input) and writes one result
/// per line, in order, each equal to what `score` gives for that set alone; a line that
/// cannot be scored gives its line number and reason, and the exit status says so.
#[test]
fn score_batch_scores_json_lines_as_score_does_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let q = concat!(env!("CARGO_MANIFEST_DIR"), "/questionnaires/6-9.toml");
    let sets = [
        r#"{"security_1": "0", "security_2": "2", "security_3": "0", "social_1": "2", "violence": "no"}"#,
        r#"{"development_1": "2", "development_2": "0", "development_3": "2"}"#,
        r#"{"social_1": "1", "social_2": "1", "social_3": "1", "neglect": "yes"}"#,
    ];
    let alone: Vec<serde_json::Value> = sets
        .iter()
        .map(|set| {
            let file = dir.path().join("one.json");
            std::fs::write(&file, set).unwrap();
            let out = trivsel(dir.path())
                .arg("score")
                .arg(q)
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    // From standard input, with a blank line and a bad set in between.
    let mut input = format!("{}\n\n{}\n", sets[0], sets[1]);
    input.push_str("{\"security_1\": \"7\"}\n");
    input.push_str(sets[2]);
    input.push('\n');
    let mut child = trivsel(dir.path())
        .args(["score", "--batch", q])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "a refused line sets the exit status");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], alone[0]);
    assert_eq!(lines[1], alone[1]);
    assert_eq!(lines[2]["line"], 4);
    assert!(
        lines[2]["error"]
            .as_str()
            .unwrap()
            .contains("security_1: \"7\" is not one of"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3], alone[2]);
    assert_eq!(lines[3]["level"], "red", "a critical sign answered yes");
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 answer sets scored, 1 refused"));

    // From a file, all good.
    let file = dir.path().join("sets.jsonl");
    std::fs::write(&file, sets.join("\n")).unwrap();
    let out = trivsel(dir.path())
        .args(["score", "--batch", q])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, alone);
}

/// Output piped into a program that stops reading (`trivsel check | head -1`) ends quietly.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = trivsel(dir.path())
        .arg("check")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before the first line
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A database that cannot be opened is refused at start-up with its cause: the address and
/// "connection refused" for PostgreSQL, the file's path for SQLite.
#[test]
fn start_up_errors_name_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let out = trivsel(dir.path())
        .arg("migrate")
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{port}/x"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(!out.status.success());
    assert!(
        stderr.contains("connection refused") && stderr.contains(&format!("127.0.0.1:{port}")),
        "{stderr}"
    );
    let missing = dir.path().join("no-such-folder").join("trivsel.db");
    let out = trivsel(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", format!("sqlite://{}", missing.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
}

/// The binary carries the shipped questionnaires: it runs from any folder, and `init` writes
/// editable copies (never over an existing file) that `questionnaire_dir` then uses.
#[test]
fn the_questionnaires_are_built_in_and_init_writes_editable_copies() {
    let dir = tempfile::tempdir().unwrap();
    let out = trivsel(dir.path())
        .env_remove("TRIVSEL_QUESTIONNAIRE_DIR")
        .arg("check")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("questionnaires OK: scale \"boernelineal\""),
        "{stdout}"
    );

    let copies = dir.path().join("mine");
    let out = trivsel(dir.path())
        .env_remove("TRIVSEL_QUESTIONNAIRE_DIR")
        .args(["init", "mine"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, bytes) in trivsel::questionnaire::BUILT_IN {
        assert_eq!(&std::fs::read(copies.join(name)).unwrap(), bytes, "{name}");
    }
    // The copies are the shipped folder's files.
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("questionnaires");
    for (name, bytes) in trivsel::questionnaire::BUILT_IN {
        assert_eq!(&std::fs::read(shipped.join(name)).unwrap(), bytes, "{name}");
    }
    let count = |d: &std::path::Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "toml")
            })
            .count()
    };
    assert_eq!(
        count(&shipped) + count(&shipped.join("scales")) + count(&shipped.join("examples")),
        trivsel::questionnaire::BUILT_IN.len(),
        "every shipped file is built in"
    );

    // An edited copy is what the service then uses; init never overwrites it.
    let edited = std::fs::read_to_string(copies.join("alerts.toml"))
        .unwrap()
        .replacen("[[rules]]", "[[rules]]\nbroken = ", 1);
    std::fs::write(copies.join("alerts.toml"), edited).unwrap();
    let out = trivsel(dir.path())
        .env("TRIVSEL_QUESTIONNAIRE_DIR", &copies)
        .arg("check")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the edited (broken) copy is the one checked"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("alerts.toml"));
    let out = trivsel(dir.path())
        .env_remove("TRIVSEL_QUESTIONNAIRE_DIR")
        .args(["init", "mine"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was written"));
}

/// A backup taken while the service writes holds every write acknowledged before it began,
/// and a service started on the restored file serves it. PostgreSQL is backed up with its
/// own tools, and `backup` says so.
#[tokio::test]
async fn a_backup_under_write_load_restores_every_acknowledged_write() {
    use crate::helpers::*;
    let app = TestApp::spawn().await;
    Fixture::create(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    if !app.url.starts_with("sqlite:") {
        let out = trivsel(dir.path())
            .arg("backup")
            .arg(&file)
            .env("DATABASE_URL", &app.url)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        return;
    }
    // An admin keeps creating districts, one acknowledged write after another.
    let mut admin = app.login(ADMIN).await;
    let writer = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for i in 0..400 {
            let name = format!("Distrikt {i:03}");
            let res = admin.post("/admin/districts/new", &[("name", &name)]).await;
            assert_eq!(res.status, reqwest::StatusCode::SEE_OTHER);
            acknowledged.push((name, std::time::Instant::now()));
        }
        acknowledged
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let mut backup = trivsel(dir.path());
    backup
        .arg("backup")
        .arg(&file)
        .env("DATABASE_URL", &app.url);
    let out = tokio::task::spawn_blocking(move || backup.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acknowledged = writer.await.unwrap();
    let before: Vec<&String> = acknowledged
        .iter()
        .filter(|(_, at)| *at < started)
        .map(|(n, _)| n)
        .collect();
    assert!(
        !before.is_empty(),
        "writes were acknowledged before the backup"
    );

    // Restore: the backup becomes a service's database file.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = restored_dir.path().join("trivsel.db");
    std::fs::copy(&file, &restored).unwrap();
    let back = TestApp::spawn_at(format!("sqlite://{}", restored.display())).await;
    for name in &before {
        assert_eq!(
            back.count(&format!(
                "SELECT COUNT(*) FROM districts WHERE name = '{name}'"
            ))
            .await,
            1,
            "{name} was acknowledged before the backup began"
        );
    }
    assert_eq!(
        back.count("SELECT COUNT(*) FROM districts WHERE name LIKE 'Distrikt A%' OR name LIKE 'Distrikt B%'")
            .await,
        2
    );
    let mut admin = back.login(ADMIN).await;
    admin
        .get("/admin/org")
        .await
        .assert_contains(before[0].as_str());
}

/// `trivsel retention --dry-run` counts what the policy would delete per kind of record and
/// rule, with no personal data, and changes nothing; `trivsel retention` deletes it (never a
/// held child); a broken policy file is refused at `check` with the file, key and reason.
#[tokio::test]
async fn retention_from_the_command_line_counts_then_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let out = trivsel(dir.path())
            .env("TRIVSEL_DATA_DIR", &data)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["demo"]);
    let line = |out: &str, rule: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| l.starts_with(rule))
            .collect()
    };
    let dry = run(&["retention", "--dry-run"]);
    assert!(dry.contains("dry run; nothing changed"), "{dry}");
    // The demo's three children who left over three years ago; the fourth is under a hold.
    assert_eq!(
        line(&dry, "children"),
        [
            "children 3 years after left 3",
            "children 18 years after birth 0"
        ],
        "{dry}"
    );
    let url = format!("sqlite://{}", data.join("trivsel.db").display());
    let db = trivsel::db::Db::connect(&url, 1).await.unwrap();
    let leavers = async || -> i64 {
        let trivsel::db::Db::Sqlite { read, .. } = &db else {
            unreachable!()
        };
        sqlx::query_scalar("SELECT COUNT(*) FROM children WHERE external_id LIKE 'DEMO-LEFT-%'")
            .fetch_one(read)
            .await
            .unwrap()
    };
    assert_eq!(leavers().await, 4, "a dry run deletes nothing");
    let names: Vec<String> = {
        let trivsel::db::Db::Sqlite { read, .. } = &db else {
            unreachable!()
        };
        sqlx::query_scalar("SELECT first_name || ' ' || last_name FROM children WHERE external_id LIKE 'DEMO-LEFT-%'")
            .fetch_all(read)
            .await
            .unwrap()
    };
    for n in &names {
        assert!(!dry.contains(n.as_str()), "no names in the output");
    }

    let deleted = run(&["retention"]);
    assert_eq!(
        line(&deleted, "children 3 years"),
        ["children 3 years after left 3"],
        "{deleted}"
    );
    assert_eq!(leavers().await, 1, "the held child stays");
    let again = run(&["retention", "--dry-run"]);
    assert_eq!(
        line(&again, "children 3 years"),
        ["children 3 years after left 0"],
        "{again}"
    );
    db.close().await;

    // A broken policy is refused with file, key and reason.
    let qdir = edited_copy(dir.path(), "retention.toml", |b| {
        b.replacen("after = \"closed\"", "after = \"opened\"", 1)
    });
    let out = trivsel(dir.path())
        .env("TRIVSEL_QUESTIONNAIRE_DIR", &qdir)
        .arg("check")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("retention.toml: rule[9].after: \"opened\" is not an event"),
        "{err}"
    );
}

/// `trivsel check` compares the questionnaire files with the versions the database recorded,
/// as the service does at start-up: a file changed without a new version is refused before a
/// restart would be; without a database it says the versions were not compared.
#[test]
fn check_compares_questionnaire_versions_with_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let check = |qdir: Option<&std::path::Path>| {
        let mut cmd = trivsel(dir.path());
        cmd.env("TRIVSEL_DATA_DIR", &data).arg("check");
        if let Some(q) = qdir {
            cmd.env("TRIVSEL_QUESTIONNAIRE_DIR", q);
        }
        cmd.output().unwrap()
    };
    let out = check(None);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("questionnaire versions not compared: no database yet"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !data.join("trivsel.db").exists(),
        "check creates no database"
    );
    let out = trivsel(dir.path())
        .env("TRIVSEL_DATA_DIR", &data)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success());
    // The service records the versions it starts with; the demo does the same.
    let out = trivsel(dir.path())
        .env("TRIVSEL_DATA_DIR", &data)
        .arg("demo")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = check(None);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("questionnaire versions match the database's")
    );

    let qdir = edited_copy(dir.path(), "6-9.toml", |b| {
        b.replacen("da = \"", "da = \"Ændret: ", 1)
    });
    let out = check(Some(&qdir));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("6-9.toml: version: the file changed but its version is still 1"),
        "{err}"
    );
}

/// The README's configuration for the demo against the test OpenID Provider is valid; a
/// provider with a bad id, and passwords switched off without a provider, are refused.
#[test]
fn the_single_sign_on_configuration_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/demo.toml");
    let out = trivsel(dir.path())
        .args(["--config", demo, "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(demo)
            .unwrap()
            .replace("id = \"test\"", "id = \"med mellemrum\""),
    )
    .unwrap();
    let out = trivsel(dir.path())
        .args(["--config", bad.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("oidc: id \"med mellemrum\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = trivsel(dir.path())
        .args(["check"])
        .env("TRIVSEL_PASSWORD_LOGIN", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("password_login = false needs an [[oidc]] provider"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
