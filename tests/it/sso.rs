//! Single sign-on against a real, standards-complete OpenID Provider on loopback
//! (`tests/oidc/provider.mjs`: oidc-provider, which `.ci/run` installs): its login is driven over
//! HTTP as a browser would, and every refusal is checked with a token the provider really sends.

use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use trivsel::config::{Config, OidcProvider};

use crate::helpers::*;
use crate::smtp::free_port;

/// The provider's process; it ends with the test.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Installs the provider's packages once per run when they are missing (a fresh clone).
fn install(dir: &std::path::Path) {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        if dir.join("node_modules/oidc-provider").exists() {
            return;
        }
        let status = Command::new("npm")
            .args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(dir)
            .status()
            .expect("npm (Node.js) is needed for the single sign-on tests");
        assert!(status.success(), "npm ci --prefix tests/oidc failed");
    });
}

impl Provider {
    /// Starts the provider on `port` for a Trivsel at `base`, and waits until it answers.
    async fn start(port: u16, base: &str) -> Provider {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        install(&dir);
        let child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .arg(port.to_string())
            .arg(format!("{base}/login/sso/test/callback"))
            .arg(format!("{base}/login"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (the OpenID Provider: npm ci --prefix tests/oidc)");
        // Owned at once, so it is ended (and waited for) on every path.
        let provider = Provider {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http
                .get(format!(
                    "{}/.well-known/openid-configuration",
                    provider.issuer
                ))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return provider;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the OpenID Provider did not start (npm ci --prefix tests/oidc)");
    }

    async fn mode(&self, mode: &str) {
        let res = reqwest::Client::new()
            .post(format!("{}/__mode?set={mode}", self.issuer))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }
}

fn sso_config(issuer_port: u16) -> Config {
    Config {
        oidc: vec![OidcProvider {
            id: "test".into(),
            label: "Log ind med Test-IdP".into(),
            issuer: format!("http://127.0.0.1:{issuer_port}"),
            client_id: "trivsel".into(),
            client_secret: "hemmelig-klient-til-test".to_string().into(),
            scopes: vec!["openid".into(), "email".into(), "nsis".into()],
            identity_claim: "email".into(),
            assurance_claim: Some("loa".into()),
            assurance_values: vec!["substantial".into(), "high".into()],
            assurance_roles: None,
            create_accounts: false,
        }],
        ..Config::default()
    }
}

/// A browser: cookies kept, redirects followed by hand.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Logs in at the provider as `account` from Trivsel's "log in with" button, following every
/// redirect and answering the provider's login (and consent) pages; the last response, from
/// Trivsel, and its URL.
async fn sso_login(b: &reqwest::Client, base: &str, account: &str) -> (StatusCode, String, String) {
    let mut url = format!("{base}/login/sso/test");
    for _ in 0..20 {
        let res = b.get(&url).send().await.unwrap();
        let status = res.status();
        if status.is_redirection() {
            let to = res.headers()["location"].to_str().unwrap().to_string();
            url = if to.starts_with('/') {
                let origin: String = url.split('/').take(3).collect::<Vec<_>>().join("/");
                format!("{origin}{to}")
            } else {
                to
            };
            continue;
        }
        let body = res.text().await.unwrap();
        if url.contains("/interaction/") && status == StatusCode::OK {
            let fields: Vec<(&str, &str)> = if body.contains("name=\"prompt\" value=\"login\"") {
                vec![("prompt", "login"), ("login", account), ("password", "x")]
            } else {
                vec![("prompt", "consent")]
            };
            let res = b.post(&url).form(&fields).send().await.unwrap();
            assert!(
                res.status().is_redirection(),
                "{}",
                res.text().await.unwrap()
            );
            let to = res.headers()["location"].to_str().unwrap().to_string();
            url = if to.starts_with('/') {
                let origin: String = url.split('/').take(3).collect::<Vec<_>>().join("/");
                format!("{origin}{to}")
            } else {
                to
            };
            continue;
        }
        return (status, url, body);
    }
    panic!("too many redirects");
}

async fn home(b: &reqwest::Client, base: &str) -> (StatusCode, String) {
    let res = b.get(format!("{base}/")).send().await.unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn staff_log_in_with_single_sign_on_and_every_bad_token_is_refused() {
    let port = free_port().await;
    let app = TestApp::spawn_with(sso_config(port)).await;
    let f = Fixture::create(&app).await;
    let provider = Provider::start(port, &app.base).await;

    // The login page offers the provider.
    app.client()
        .get("/login")
        .await
        .assert_contains("href=\"/login/sso/test\"")
        .assert_contains("Log ind med Test-IdP");

    // The admin links the social worker's identity (logged).
    let worker = app
        .count(&format!("SELECT id FROM users WHERE email = '{WORKER}'"))
        .await;
    let mut admin = app.login(ADMIN).await;
    // An empty identity comes back on the account's page with the message at the field.
    let res = admin
        .post(
            &format!("/admin/users/{worker}/sso"),
            &[("provider", "test"), ("identity", "  ")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    res.assert_contains("id=\"sso-identity-error\"")
        .assert_contains("href=\"#sso-identity\"");
    assert_eq!(app.count("SELECT COUNT(*) FROM sso_identities").await, 0);
    let res = admin
        .post(
            &format!("/admin/users/{worker}/sso"),
            &[("provider", "test"), ("identity", WORKER)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM access_log WHERE object = 'user:{worker}' AND detail = 'sso-link:test'")).await,
        1
    );

    // A successful login: the right account, with its scope.
    let b = browser();
    let (status, url, _) = sso_login(&b, &app.base, WORKER).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    let (status, page) = home(&b, &app.base).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Distrikt A"), "{page}");

    // Logout ends the session here and sends the browser to the provider's logout.
    let csrf = csrf_in(&page).unwrap();
    let res = b
        .post(format!("{}/logout", app.base))
        .header("origin", &app.base)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to.starts_with(&format!("{}/session/end?", provider.issuer)),
        "{to}"
    );
    assert!(to.contains("id_token_hint="), "{to}");
    let (status, _) = home(&b, &app.base).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "logged out here");

    // An identity no account is linked to is refused, in Danish.
    let b = browser();
    let (status, _, body) = sso_login(&b, &app.base, "ukendt@test.dk").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("Din bruger findes ikke i Trivsel."), "{body}");

    // Too low an assurance for a social worker; enough for an educator.
    let b = browser();
    let (status, _, body) = sso_login(&b, &app.base, &format!("lav.{WORKER}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("sikringsniveau betydelig"), "{body}");
    let educator = app
        .count(&format!("SELECT id FROM users WHERE email = '{EDUCATOR}'"))
        .await;
    admin
        .post(
            &format!("/admin/users/{educator}/sso"),
            &[("provider", "test"), ("identity", EDUCATOR)],
        )
        .await;
    let b = browser();
    let (status, url, _) = sso_login(&b, &app.base, &format!("lav.{EDUCATOR}")).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    assert!(home(&b, &app.base).await.1.contains("1.A"));

    // Tokens the provider really sends, each wrong in one way: refused, nobody logged in.
    for mode in ["tampered", "audience", "issuer", "expired", "replay"] {
        provider.mode(mode).await;
        let b = browser();
        let (status, _, body) = sso_login(&b, &app.base, WORKER).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{mode}");
        assert!(body.contains("kunne ikke bekræftes"), "{mode}: {body}");
        assert_eq!(home(&b, &app.base).await.0, StatusCode::SEE_OTHER, "{mode}");
    }
    provider.mode("normal").await;

    // A callback replayed with its state is refused: the login under way is used once.
    let b = browser();
    let res = b
        .get(format!(
            "{}/login/sso/test/callback?code=x&state=y",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // An invited account (no password yet) is linked at its first login by its email.
    admin
        .post(
            "/admin/users/new",
            &[
                ("name", "Nanna Ny"),
                ("email", "nanna@test.dk"),
                ("role", "educator"),
                ("active", "on"),
                ("assign_group", &f.class_a1.to_string()),
            ],
        )
        .await;
    let b = browser();
    let (status, url, _) = sso_login(&b, &app.base, "nanna@test.dk").await;
    assert_eq!(status, StatusCode::OK, "{url}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sso_identities WHERE identity = 'nanna@test.dk'")
            .await,
        1
    );
}

/// With passwords switched off, the login page leads to the provider and only the break-glass
/// admin may use a password.
#[tokio::test]
async fn password_login_can_be_switched_off_except_for_break_glass_accounts() {
    let port = free_port().await;
    let app = TestApp::spawn_with(Config {
        password_login: false,
        break_glass: vec![ADMIN.into()],
        ..sso_config(port)
    })
    .await;
    Fixture::create(&app).await;
    let page = app.client().get("/login").await;
    page.assert_contains("Log ind med Test-IdP")
        .assert_contains("Adgangskoder bruges kun af nødadgangen.");
    let res = app.client().login(EDUCATOR, PASSWORD).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    res.assert_contains("Log ind med adgangskode er slået fra.");
    assert_eq!(
        app.client().login(ADMIN, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

/// With `create_accounts`, an unknown identity gets an account with no role and no scope at
/// its first login, and waits; once the admin gives it a role it logs in.
#[tokio::test]
async fn an_unknown_identity_can_get_an_account_for_the_admin_to_complete() {
    let port = free_port().await;
    let mut config = sso_config(port);
    config.oidc[0].create_accounts = true;
    let app = TestApp::spawn_with(config).await;
    let f = Fixture::create(&app).await;
    let _provider = Provider::start(port, &app.base).await;
    for _ in 0..2 {
        let b = browser();
        let (status, _, body) = sso_login(&b, &app.base, "ny.person@test.dk").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert!(body.contains("venter på, at en administrator"), "{body}");
        assert_eq!(
            home(&b, &app.base).await.0,
            StatusCode::SEE_OTHER,
            "not logged in"
        );
    }
    let id = app
        .count("SELECT id FROM users WHERE email = 'ny.person@test.dk' AND role = '' AND password_hash IS NULL")
        .await;
    let mut admin = app.login(ADMIN).await;
    let res = admin
        .post(
            &format!("/admin/users/{id}"),
            &[
                ("name", "Ny Person"),
                ("email", "ny.person@test.dk"),
                ("role", "educator"),
                ("active", "on"),
                ("assign_group", &f.class_a1.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let b = browser();
    let (status, url, _) = sso_login(&b, &app.base, "ny.person@test.dk").await;
    assert_eq!(status, StatusCode::OK, "{url}");
    assert!(home(&b, &app.base).await.1.contains("1.A"));
}
