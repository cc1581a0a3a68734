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
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));

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
