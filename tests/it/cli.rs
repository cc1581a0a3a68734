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
