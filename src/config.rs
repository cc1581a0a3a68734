//! Typed configuration: built-in defaults, then an optional TOML file, then environment
//! variables (`TRIVSEL_*`, plus the conventional `DATABASE_URL`). Zero configuration gives a
//! SQLite file under `./data` and a server on `127.0.0.1:8080`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP: only for a relay on the same host or network segment.
    None,
    /// STARTTLS, required (the default).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// An OpenID Connect provider staff log in with (Unilogin's broker, the municipality's Entra
/// ID): `[[oidc]]` in the configuration file. See `src/auth/sso.rs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// In URLs (`/login/sso/{id}`): letters, digits, '-' or '_'.
    pub id: String,
    /// The button's text ("Log ind med Unilogin").
    pub label: String,
    /// The issuer; its metadata and keys come from discovery.
    pub issuer: String,
    pub client_id: String,
    /// Never printed.
    pub client_secret: SecretString,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The ID token claim that identifies the account (`email`, `uniid`, `oid`, …).
    #[serde(default = "default_identity_claim")]
    pub identity_claim: String,
    /// The claim that states the assurance of the login (e.g. `loa` or `acr`), and the values
    /// that meet the requirement (e.g. NSIS Substantial and High).
    #[serde(default)]
    pub assurance_claim: Option<String>,
    #[serde(default)]
    pub assurance_values: Vec<String>,
    /// The roles that need that assurance. Unset: admins and social workers.
    #[serde(default)]
    pub assurance_roles: Option<Vec<String>>,
    /// An identity with no account (and an `email` claim no account uses) gets one at its
    /// first login, with no role and no scope, for the admin to complete. Off by default.
    #[serde(default)]
    pub create_accounts: bool,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "email".into()]
}

fn default_identity_claim() -> String {
    "email".into()
}

/// A kind of preventive measure a social worker records on a named case (`[[measure_types]]`;
/// see `src/alerts/measures.rs`). Unset, the built-in list ([`MeasureType::built_in`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureType {
    /// Stored with each measure: letters, digits, '-' or '_'.
    pub id: String,
    pub label_da: String,
    pub label_en: String,
    /// An early preventive measure under Barnets Lov § 30 (at most about three months): the
    /// case warns when one runs past its planned length.
    #[serde(default)]
    pub section30: bool,
    /// The length a measure of this kind is planned for, in weeks (the form's default).
    pub planned_weeks: u32,
    /// How often it is reviewed, in weeks (the form's default).
    pub review_weeks: u32,
}

impl MeasureType {
    /// The kinds the seeds describe: the Familieteam's course and family consultation (early
    /// measures under § 30, reviewed every three months), a network meeting, PPR's
    /// involvement, and respite care (reviewed every six weeks, like a placement).
    pub fn built_in() -> Vec<MeasureType> {
        let t = |id: &str, da: &str, en: &str, section30: bool, planned: u32, review: u32| {
            MeasureType {
                id: id.into(),
                label_da: da.into(),
                label_en: en.into(),
                section30,
                planned_weeks: planned,
                review_weeks: review,
            }
        };
        vec![
            t(
                "familieteam",
                "Forløb i Familieteamet",
                "Course with the Familieteam",
                true,
                12,
                13,
            ),
            t(
                "family_consultation",
                "Familierådgivning",
                "Family consultation",
                true,
                12,
                13,
            ),
            t(
                "network_meeting",
                "Netværksmøder",
                "Network meetings",
                false,
                26,
                13,
            ),
            t(
                "ppr",
                "Inddragelse af PPR",
                "PPR involvement",
                false,
                26,
                13,
            ),
            t("respite", "Aflastning", "Respite care", false, 26, 6),
        ]
    }

    pub fn label(&self, lang: crate::web::Lang) -> &str {
        match lang {
            crate::web::Lang::En => &self.label_en,
            _ => &self.label_da,
        }
    }
}

/// All settings. `Debug` redacts secrets (the database URL may carry a password).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Folder for the SQLite file (created on first run).
    pub data_dir: PathBuf,
    /// `sqlite:…` or `postgres://…`; defaults to `sqlite://<data_dir>/trivsel.db`.
    pub database_url: Option<SecretString>,
    /// Pool size.
    pub max_connections: u32,
    /// The address users reach the service at, e.g. `https://trivsel.kommune.dk`. Used for
    /// links and the CSRF origin check; `https` turns on `Secure` cookies.
    pub public_url: Option<String>,
    /// Minutes of inactivity after which a session ends.
    pub session_idle_minutes: i64,
    /// How long an instance reuses a session and its account once read, in seconds (0: read
    /// on every request). Changes made through the same instance bite at once regardless.
    pub session_cache_seconds: u64,
    /// Failed logins for one account within the window before further attempts are refused.
    pub login_max_failures: i64,
    /// Length of the login throttling window, in minutes.
    pub login_window_minutes: i64,
    /// Largest accepted request body, in bytes (CSV import included).
    pub body_limit_bytes: usize,
    /// `text` or `json` log lines.
    pub log_format: LogFormat,
    /// Name shown in the header when the database does not hold one yet.
    pub municipality_name: String,
    /// The municipality's logo for the header: a PNG, JPEG, WebP or SVG file of at most
    /// 512 KiB (see `web::branding`). Unset: the name alone (the demo shows a demo logo).
    pub logo: Option<PathBuf>,
    /// Folder of the questionnaire files, with the scales in its `scales/` subfolder, the
    /// alert rules in `alerts.toml` and the retention policy in `retention.toml`. Unset: the files built into the binary (`trivsel init`
    /// writes editable copies of them).
    pub questionnaire_dir: Option<PathBuf>,
    /// Id of the scale in use, e.g. `boernelineal` (four levels) or `topi` (three).
    pub scale: String,
    /// SMTP server for notification emails; without it email waits in the outbox.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretString>,
    /// Sender address, e.g. `Trivsel <trivsel@kommune.dk>`.
    pub mail_from: String,
    /// How often the outbox is checked for due email, in seconds.
    pub mail_poll_seconds: u64,
    /// The longest one email may take, from connecting to the server's last reply, in
    /// seconds; a server that hangs past it counts as a temporary failure.
    pub mail_timeout_seconds: u64,
    /// How often the minute jobs (escalation, round reminders) run, in seconds.
    pub job_interval_seconds: u64,
    /// Bearer token for `GET /metrics` (Prometheus text format); unset, there is no such page.
    pub metrics_token: Option<SecretString>,
    /// Counts below this are shown as "<N" in aggregate overviews.
    pub suppression_threshold: i64,
    /// Days before a round closes when educators and leaders are reminded of missing positions.
    pub reminder_days_before_close: u32,
    /// How long the municipal figures of a round are reused before they are counted again,
    /// in seconds (0: count on every request).
    pub aggregate_cache_seconds: u64,
    /// Whether the group page offers the quick placement "Trives" (the team's judgement that a
    /// child is thriving, without the questionnaire). Unset: off, except with `serve --demo`.
    pub quick_placement: Option<bool>,
    /// The roles whose password accounts must use a second factor (TOTP). Unset: admins and
    /// social workers, except with `serve --demo` (none); everyone else may choose one.
    pub two_factor_roles: Option<Vec<String>>,
    /// Single sign-on providers (`[[oidc]]`); none by default.
    pub oidc: Vec<OidcProvider>,
    /// Whether staff may log in with a password. Off, only the `break_glass` accounts may
    /// (for when the provider is down).
    pub password_login: bool,
    /// Admin accounts (emails) that may always log in with a password.
    pub break_glass: Vec<String>,
    /// The municipality's time zone (IANA name): every time is stored in UTC and shown, and
    /// every deadline is stated, in this zone.
    pub time_zone: chrono_tz::Tz,
    /// The kinds of preventive measure (`[[measure_types]]`); unset, the built-in list.
    pub measure_types: Vec<MeasureType>,
    /// When a child moves to another institution without the parents' handover consent, the
    /// leaders of the institution it leaves are asked by email to talk with the parents.
    pub handover_task: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("data"),
            database_url: None,
            max_connections: 16,
            public_url: None,
            session_idle_minutes: 30,
            session_cache_seconds: 2,
            login_max_failures: 5,
            login_window_minutes: 15,
            body_limit_bytes: 4 * 1024 * 1024,
            log_format: LogFormat::Text,
            municipality_name: "Trivsel".to_string(),
            logo: None,
            questionnaire_dir: None,
            scale: "boernelineal".to_string(),
            smtp_host: None,
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            mail_from: "Trivsel <trivsel@localhost>".to_string(),
            mail_poll_seconds: 5,
            mail_timeout_seconds: 30,
            job_interval_seconds: 60,
            metrics_token: None,
            suppression_threshold: 5,
            reminder_days_before_close: 7,
            aggregate_cache_seconds: 60,
            quick_placement: None,
            two_factor_roles: None,
            oidc: Vec::new(),
            password_login: true,
            break_glass: Vec::new(),
            time_zone: chrono_tz::Europe::Copenhagen,
            measure_types: MeasureType::built_in(),
            handover_task: true,
        }
    }
}

impl Config {
    /// Loads defaults → `file` (if given, it must exist) → environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut fig = Figment::new();
        if let Some(path) = file {
            anyhow::ensure!(
                path.exists(),
                "configuration file {} not found",
                path.display()
            );
            fig = fig.merge(Toml::file(path));
        }
        fig = fig
            .merge(Env::prefixed("TRIVSEL_").ignore(&["config", "test_database_url", "log_spans"]))
            .merge(Env::raw().only(&["DATABASE_URL"]));
        let config: Config = fig.extract().map_err(|e| {
            let msgs: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            anyhow::anyhow!("invalid configuration: {}", msgs.join("; "))
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        for (i, m) in self.measure_types.iter().enumerate() {
            anyhow::ensure!(
                !m.id.is_empty()
                    && m.id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "invalid configuration: measure_types[{i}].id must be letters, digits, '-' or '_', got {:?}",
                m.id
            );
            anyhow::ensure!(
                m.planned_weeks > 0 && m.review_weeks > 0,
                "invalid configuration: measure_types[{i}] ({}): planned_weeks and review_weeks must be positive",
                m.id
            );
            anyhow::ensure!(
                self.measure_types[..i].iter().all(|o| o.id != m.id),
                "invalid configuration: measure_types[{i}].id {:?} is used twice",
                m.id
            );
        }
        if let Some(url) = &self.public_url {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "invalid configuration: public_url must start with http:// or https://, got {url:?}"
            );
        }
        if let Some(url) = &self.database_url {
            let url = url.expose_secret();
            anyhow::ensure!(
                url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://"),
                "invalid configuration: database_url must start with sqlite: or postgres://"
            );
        }
        anyhow::ensure!(
            self.session_idle_minutes > 0,
            "invalid configuration: session_idle_minutes must be positive"
        );
        anyhow::ensure!(
            self.login_max_failures > 0 && self.login_window_minutes > 0,
            "invalid configuration: login_max_failures and login_window_minutes must be positive"
        );
        anyhow::ensure!(
            self.mail_from.parse::<lettre::message::Mailbox>().is_ok(),
            "invalid configuration: mail_from {:?} is not an email address",
            self.mail_from
        );
        anyhow::ensure!(
            self.suppression_threshold >= 2,
            "invalid configuration: suppression_threshold must be 2 or more"
        );
        anyhow::ensure!(
            self.mail_poll_seconds > 0
                && self.mail_timeout_seconds > 0
                && self.job_interval_seconds > 0,
            "invalid configuration: mail_poll_seconds, mail_timeout_seconds and \
             job_interval_seconds must be positive"
        );
        anyhow::ensure!(
            self.max_connections > 0,
            "invalid configuration: max_connections must be positive"
        );
        let mut ids = std::collections::HashSet::new();
        for p in &self.oidc {
            anyhow::ensure!(
                !p.id.is_empty()
                    && p.id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    && ids.insert(p.id.as_str()),
                "invalid configuration: oidc: id {:?} must be unique and letters, digits, '-' or '_'",
                p.id
            );
            anyhow::ensure!(
                p.issuer.starts_with("https://") || p.issuer.starts_with("http://127.0.0.1"),
                "invalid configuration: oidc {:?}: issuer must be an https:// address",
                p.id
            );
            anyhow::ensure!(
                p.scopes.iter().any(|s| s == "openid"),
                "invalid configuration: oidc {:?}: scopes must include \"openid\"",
                p.id
            );
            for role in p.assurance_roles.iter().flatten() {
                anyhow::ensure!(
                    crate::auth::Role::parse(role).is_some(),
                    "invalid configuration: oidc {:?}: assurance_roles: {role:?} is not a role",
                    p.id
                );
            }
        }
        anyhow::ensure!(
            self.password_login || !self.oidc.is_empty(),
            "invalid configuration: password_login = false needs an [[oidc]] provider"
        );
        for role in self.two_factor_roles.iter().flatten() {
            anyhow::ensure!(
                crate::auth::Role::parse(role).is_some(),
                "invalid configuration: two_factor_roles: {role:?} is not a role (educator, leader, social_worker, admin, dpo)"
            );
        }
        Ok(())
    }

    /// The database URL to use, creating the data folder for the SQLite default.
    pub fn database_url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.expose_secret().to_string()),
            None => {
                std::fs::create_dir_all(&self.data_dir)
                    .with_context(|| format!("create data folder {}", self.data_dir.display()))?;
                Ok(format!(
                    "sqlite://{}",
                    self.default_database_file().display()
                ))
            }
        }
    }

    /// The SQLite file used when `database_url` is unset.
    pub fn default_database_file(&self) -> PathBuf {
        self.data_dir.join("trivsel.db")
    }

    /// Loads and validates the scale and questionnaire files.
    pub fn catalogue(&self) -> anyhow::Result<crate::questionnaire::Catalogue> {
        match &self.questionnaire_dir {
            Some(dir) => crate::questionnaire::Catalogue::load(dir, &self.scale),
            None => crate::questionnaire::Catalogue::built_in(&self.scale),
        }
        .map_err(|p| anyhow::anyhow!("{p}"))
    }

    /// Loads and validates the retention policy (`retention.toml` beside the questionnaires).
    pub fn retention(&self) -> anyhow::Result<crate::retention::policy::Policy> {
        use crate::questionnaire::Source;
        match &self.questionnaire_dir {
            Some(dir) => crate::retention::policy::Policy::load(&Source::Folder(dir)),
            None => crate::retention::policy::Policy::load(&Source::BuiltIn),
        }
        .map_err(|p| anyhow::anyhow!("{p}"))
    }

    /// The configured logo, read and checked (a bad file refuses the start).
    pub fn logo(&self) -> anyhow::Result<Option<crate::web::branding::Logo>> {
        self.logo
            .as_deref()
            .map(crate::web::branding::Logo::load)
            .transpose()
    }

    /// The address links in emails point to.
    pub fn base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }

    /// Whether accounts of `role` must use a second factor with their password.
    pub fn two_factor_required(&self, role: crate::auth::Role) -> bool {
        match &self.two_factor_roles {
            Some(roles) => roles.iter().any(|r| r == role.as_str()),
            None => matches!(
                role,
                crate::auth::Role::Admin | crate::auth::Role::SocialWorker
            ),
        }
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}
