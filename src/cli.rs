//! The command line: `serve` (default), `migrate`, `demo`, `user add|set-password`, `check`, `init`,
//! `score`, `backup`, `audit verify`.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::app;
use crate::auth::{Role, password, users};
use crate::config::Config;
use crate::db::Db;
use crate::state::AppState;

/// Writes a line to standard output. Output piped into a program that stops reading
/// (`trivsel check | head -1`) ends quietly instead of panicking.
fn say(line: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        done => done.context("write to standard output"),
    }
}

/// `println!` through [`say`], returning the error from the calling function.
macro_rules! out {
    ($($arg:tt)*) => {
        say(format_args!($($arg)*))?
    };
}

#[derive(Parser, Debug)]
#[command(
    name = "trivsel",
    version,
    about = "Trivsel: early detection of child wellbeing concerns"
)]
pub struct Cli {
    /// TOML configuration file (optional; environment variables override it).
    #[arg(long, env = "TRIVSEL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web service (the default).
    Serve {
        /// Seed the demo municipality first if the database is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Seed the demo municipality into an empty database.
    Demo {
        /// Generate about this many children (copies of the demo's institutions), e.g. 110000.
        #[arg(long)]
        children: Option<usize>,
        /// Rounds of assessment history to generate, scored by the real engine.
        #[arg(long, default_value_t = 0)]
        rounds: usize,
    },
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// The access log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Delete what the retention policy (`retention.toml`) says is kept long enough, as the
    /// daily job does, and print the counts per kind of record and rule.
    Retention {
        /// Only count what would be deleted; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate the configuration, the questionnaire files and the retention policy; exit
    /// non-zero on a problem.
    Check,
    /// Make a consistent copy of the SQLite database while the service runs (PostgreSQL:
    /// use its own tools, see docs/operations.md).
    Backup {
        /// The new file to write (it must not exist).
        file: PathBuf,
    },
    /// Write editable copies of the built-in questionnaires, scales, alert rules and retention
    /// policy, and an example instrument in `examples/`, into a folder (then set
    /// `questionnaire_dir` to it).
    Init {
        /// The folder to create or fill; existing files are never overwritten.
        #[arg(default_value = "questionnaires")]
        dir: PathBuf,
    },
    /// Score a set of answers with a questionnaire file, as the service would, and print JSON.
    Score {
        /// The questionnaire file (TOML).
        questionnaire: PathBuf,
        /// A JSON object of item id → answer value, e.g. {"social_1": "2", "violence": "no"};
        /// with --batch, JSON Lines (one such object per line; standard input when left out or
        /// `-`).
        answers: Option<PathBuf>,
        /// Score many answer sets in one process: one JSON result per input line, in order
        /// (a line that cannot be scored gives {"line": N, "error": "..."}; the exit status is
        /// then 1).
        #[arg(long)]
        batch: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the access log's seals: exits non-zero naming the first seal an edited, inserted
    /// or deleted record breaks.
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; the password is read from the first line of standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Ids of the groups (educator), institutions (leader) or districts (social worker).
        #[arg(long, value_delimiter = ',')]
        assign: Vec<i64>,
    },
    /// Set an account's password, read from the first line of standard input.
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Link an account to its identity at a single sign-on provider (`[[oidc]]` id), for
    /// scripts that provision accounts in bulk.
    Link {
        #[arg(long)]
        email: String,
        #[arg(long)]
        provider: String,
        #[arg(long)]
        identity: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    crate::telemetry::init(config.log_format);
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo } => serve(config, demo).await,
        Command::Migrate => {
            let db = open(&config).await?;
            db.close().await;
            out!("migrations applied");
            Ok(())
        }
        Command::Demo { children, rounds } => {
            let catalogue = config.catalogue()?;
            let db = open(&config).await?;
            crate::assessment::register_versions(&db, &catalogue, chrono::Utc::now()).await?;
            let size = crate::demo::Size::for_children(children.unwrap_or(2030), rounds);
            let started = std::time::Instant::now();
            let s = crate::demo::seed_with(&db, chrono::Utc::now(), size, Some(&catalogue)).await?;
            out!(
                "demo municipality seeded in {:.1} s: {} districts, {} institutions, {} groups, {} children, {} assessments, {} alerts, {} measures, {} accounts (password: {})",
                started.elapsed().as_secs_f64(),
                s.districts,
                s.institutions,
                s.groups,
                s.children,
                s.assessments,
                s.alerts,
                s.measures,
                s.accounts,
                crate::demo::PASSWORD
            );
            db.close().await;
            Ok(())
        }
        Command::User(cmd) => user(config, cmd).await,
        Command::Audit(AuditCommand::Verify) => {
            let db = Db::connect(&config.database_url()?, 1).await?;
            let mut c = db.conn().await?;
            let verified = crate::audit::verify(&mut c).await?;
            drop(c);
            db.close().await;
            match verified {
                crate::audit::Verified::Intact {
                    seals,
                    sealed,
                    unsealed,
                } => {
                    out!(
                        "access log intact: {sealed} records in {seals} seals ({unsealed} newer records not sealed yet)"
                    );
                    Ok(())
                }
                crate::audit::Verified::Broken {
                    seal,
                    first_id,
                    last_id,
                    reason,
                } => anyhow::bail!(
                    "access log altered: seal {seal} (records {first_id}–{last_id}): {reason}"
                ),
            }
        }
        Command::Retention { dry_run } => retention(&config, dry_run).await,
        Command::Score {
            questionnaire,
            answers,
            batch: false,
        } => {
            let answers = answers.context("give the answers file (a JSON object)")?;
            score(&config, &questionnaire, &answers)
        }
        Command::Score {
            questionnaire,
            answers,
            batch: true,
        } => score_batch(&config, &questionnaire, answers.as_deref()),
        Command::Init { dir } => init(&dir),
        Command::Backup { file } => {
            let url = config.database_url()?;
            anyhow::ensure!(
                url.starts_with("sqlite:"),
                "trivsel backup copies a SQLite database; back up PostgreSQL with its own tools \
                 (pg_dump, or base backups with WAL archiving; see docs/operations.md)"
            );
            anyhow::ensure!(
                !file.exists(),
                "{} exists; give the backup a new file",
                file.display()
            );
            let db = Db::connect(&url, 1).await?;
            db.backup_to(&file).await?;
            db.close().await;
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            out!("backed up to {} ({size} bytes)", file.display());
            Ok(())
        }
        Command::Check => {
            let catalogue = config.catalogue()?;
            out!(
                "questionnaires OK: scale {:?} with {} levels; {}",
                catalogue.scale.def.id,
                catalogue.scale.def.levels.len(),
                catalogue
                    .questionnaires
                    .iter()
                    .map(|q| format!(
                        "{} v{} ({}–{} years{})",
                        q.def.id,
                        q.def.version,
                        q.def.age_from,
                        q.def.age_to,
                        if q.def.optional {
                            format!(", optional, informant {}", q.def.informant.as_str())
                        } else {
                            String::new()
                        }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            versions_against_database(&config, &catalogue).await?;
            let policy = config.retention()?;
            out!(
                "retention policy OK: {} rules in {}",
                policy.rules.len(),
                policy.file
            );
            if let Some(logo) = config.logo()? {
                out!(
                    "logo OK: {} bytes of {}",
                    logo.bytes.len(),
                    logo.content_type
                );
            }
            let url = config.database_url()?;
            anyhow::ensure!(
                url.starts_with("sqlite:") || url.starts_with("postgres"),
                "database URL must start with sqlite: or postgres://"
            );
            out!(
                "configuration OK ({} database, listening on {})",
                if url.starts_with("sqlite:") {
                    "SQLite"
                } else {
                    "PostgreSQL"
                },
                config.listen
            );
            Ok(())
        }
    }
}

/// Whether the questionnaire files changed without a new version, against the versions the
/// database recorded (as the service checks at start-up); says so when it cannot ask. Never
/// creates or migrates a database.
async fn versions_against_database(
    config: &Config,
    catalogue: &crate::questionnaire::Catalogue,
) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let url = match &config.database_url {
        Some(url) => url.expose_secret().to_string(),
        None => {
            let file = config.default_database_file();
            if !file.exists() {
                out!(
                    "questionnaire versions not compared: no database yet ({})",
                    file.display()
                );
                return Ok(());
            }
            format!("sqlite://{}", file.display())
        }
    };
    if !url.starts_with("sqlite:") && !url.starts_with("postgres") {
        // `check` names the URL's problem below.
        return Ok(());
    }
    let db = match Db::connect(&url, 1).await {
        Ok(db) => db,
        Err(e) => {
            out!("questionnaire versions not compared: the database cannot be reached ({e:#})");
            return Ok(());
        }
    };
    let mut c = db.conn().await?;
    let conflicts = crate::assessment::version_conflicts(&mut c, catalogue).await;
    drop(c);
    db.close().await;
    match conflicts {
        Ok(p) if p.is_empty() => {
            out!("questionnaire versions match the database's");
            Ok(())
        }
        Ok(p) => anyhow::bail!("{}", p.join("\n")),
        // A database without the table has recorded no versions yet.
        Err(e) => {
            out!("questionnaire versions not compared: {e:#}");
            Ok(())
        }
    }
}

/// `trivsel retention [--dry-run]`: counts per kind of record and rule, never personal data.
async fn retention(config: &Config, dry_run: bool) -> anyhow::Result<()> {
    use crate::retention::run;
    let policy = config.retention()?;
    let db = open(config).await?;
    let now = chrono::Utc::now();
    let lines = if dry_run {
        run::dry_run(&db, &policy, now).await?
    } else {
        let clock = crate::clock::Clock::default();
        run::run(&db, &policy, run::Trigger::Cli, None, None, &clock)
            .await?
            .map(|r| r.lines())
            .unwrap_or_default()
    };
    db.close().await;
    out!(
        "{} ({}, {})",
        if dry_run {
            "would delete (dry run; nothing changed)"
        } else {
            "deleted"
        },
        policy.file,
        now.format("%Y-%m-%d %H:%M UTC")
    );
    out!("{:<16} {:<28} {:>10}", "records", "rule", "rows");
    for l in &lines {
        out!("{:<16} {:<28} {:>10}", l.records, l.describe(), l.rows);
    }
    out!(
        "{:<16} {:<28} {:>10}",
        "total",
        "",
        lines.iter().map(|l| l.rows).sum::<i64>()
    );
    Ok(())
}

/// Opens the database and applies migrations.
pub async fn open(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url()?, config.max_connections).await?;
    db.migrate().await?;
    let filled = crate::org::db::fill_search_keys(&db).await?;
    if filled > 0 {
        tracing::info!(children = filled, "search keys filled");
    }
    db.refresh_statistics(false).await?;
    Ok(db)
}

async fn serve(mut config: Config, demo: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // The demo shows the screening sheet's quick placement unless configured otherwise.
    if demo {
        config.quick_placement.get_or_insert(true);
        // Its accounts open with the password "demo"; the demo's own two-factor account shows
        // the second step (README).
        config.two_factor_roles.get_or_insert_with(Vec::new);
    }
    // Refuse to start on an invalid questionnaire, scale or retention file, before touching
    // anything.
    let catalogue = config.catalogue()?;
    let retention = config.retention()?;
    let logo = match config.logo()? {
        None if demo => Some(crate::web::branding::Logo::demo()),
        logo => logo,
    };
    let db = open(&config).await?;
    crate::assessment::register_versions(&db, &catalogue, chrono::Utc::now()).await?;
    let now = chrono::Utc::now();
    if demo {
        let mut c = db.conn().await?;
        let empty = users::count(&mut c).await? == 0;
        drop(c);
        if empty {
            let s = crate::demo::seed_with(&db, now, crate::demo::Size::demo(), Some(&catalogue))
                .await?;
            tracing::info!(
                children = s.children,
                assessments = s.assessments,
                "demo municipality seeded"
            );
        }
        // With single sign-on configured, each demo account logs in with its email there too.
        let providers: Vec<&str> = config.oidc.iter().map(|p| p.id.as_str()).collect();
        crate::demo::link_identities(&db, &providers, now).await?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("bind {}", config.listen))?;
    let addr = listener.local_addr()?;
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    if let Some(token) = crate::auth::routes::issue_setup_token(&db, now).await? {
        out!("No accounts yet. Create the first administrator here (the link works once):");
        out!("  {base}/setup/{token}");
    }
    let state = AppState::new(db.clone(), config, String::new())
        .with_catalogue(catalogue)
        .with_retention(retention)
        .with_logo(logo);
    state.load_municipality_name().await?;
    tracing::info!(%addr, backend = ?db.backend(), ready_ms = started.elapsed().as_millis() as u64, "listening");
    app::serve(state, listener, app::shutdown_signal()).await?;
    db.close().await;
    Ok(())
}

/// `trivsel score`: the same loading, validation and engine as the service.
/// Writes the built-in files into `dir`, refusing to overwrite any.
fn init(dir: &std::path::Path) -> anyhow::Result<()> {
    let targets: Vec<(PathBuf, &[u8])> = crate::questionnaire::BUILT_IN
        .iter()
        .map(|(name, bytes)| (dir.join(name), *bytes))
        .collect();
    if let Some((existing, _)) = targets.iter().find(|(p, _)| p.exists()) {
        anyhow::bail!(
            "{} exists; nothing was written (init never overwrites a file)",
            existing.display()
        );
    }
    for (path, bytes) in &targets {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("create folder {}", parent.display()))?;
        }
        std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))?;
    }
    out!(
        "wrote {} files to {}; set questionnaire_dir = {:?} (or TRIVSEL_QUESTIONNAIRE_DIR) to use them",
        targets.len(),
        dir.display(),
        dir.display().to_string()
    );
    Ok(())
}

/// A questionnaire file compiled against the scale in use, as the service would, for `score`.
fn scoring_file(
    config: &Config,
    file: &std::path::Path,
) -> anyhow::Result<(
    crate::questionnaire::Questionnaire,
    std::sync::Arc<crate::questionnaire::Scale>,
)> {
    use crate::questionnaire::{self as q, Problems};
    let scale = config.catalogue()?.scale;
    let name = file.display().to_string();
    let bytes = std::fs::read(file).with_context(|| format!("read {name}"))?;
    let def: q::format::QuestionnaireFile =
        q::parse_bytes(&name, &bytes).map_err(|p| anyhow::anyhow!("{p}"))?;
    let model = q::compile(&name, &def, &scale).map_err(|p| anyhow::anyhow!("{}", Problems(p)))?;
    let questionnaire = q::Questionnaire {
        file: name,
        hash: q::content_hash(&bytes),
        text: String::from_utf8_lossy(&bytes).into(),
        def,
        model,
    };
    Ok((questionnaire, scale))
}

/// One answer set's result as JSON, or what is wrong with the answers.
fn score_one(
    questionnaire: &crate::questionnaire::Questionnaire,
    scale: &crate::questionnaire::Scale,
    map: &std::collections::BTreeMap<String, String>,
    pretty: bool,
) -> Result<String, String> {
    use crate::questionnaire as q;
    let parsed = q::answers_from_map(questionnaire, map)
        .map_err(|e| format!("invalid answers:\n  {}", e.join("\n  ")))?;
    let outcome = crate::scoring::score(&questionnaire.model, &parsed);
    let level = scale.level(outcome.level);
    let report = q::ScoreReport {
        questionnaire: &questionnaire.def.id,
        version: questionnaire.def.version,
        hash: &questionnaire.hash,
        scale: &scale.def.id,
        level: &level.id,
        level_name: &level.name.da,
        outcome,
    };
    if pretty {
        serde_json::to_string_pretty(&report)
    } else {
        serde_json::to_string(&report)
    }
    .map_err(|e| e.to_string())
}

fn score(config: &Config, file: &std::path::Path, answers: &std::path::Path) -> anyhow::Result<()> {
    let (questionnaire, scale) = scoring_file(config, file)?;
    let map: std::collections::BTreeMap<String, String> = serde_json::from_slice(
        &std::fs::read(answers).with_context(|| format!("read {}", answers.display()))?,
    )
    .with_context(|| {
        format!(
            "{} must be a JSON object of item id to answer value",
            answers.display()
        )
    })?;
    let report = score_one(&questionnaire, &scale, &map, true).map_err(|e| anyhow::anyhow!(e))?;
    out!("{report}");
    Ok(())
}

/// `trivsel score --batch`: JSON Lines in, one result per line out, in one process.
fn score_batch(
    config: &Config,
    file: &std::path::Path,
    answers: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use std::io::BufRead;
    let (questionnaire, scale) = scoring_file(config, file)?;
    let input: Box<dyn BufRead> = match answers {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("read {}", p.display()))?,
        )),
    };
    let (mut scored, mut refused) = (0u64, 0u64);
    for (i, line) in input.lines().enumerate() {
        let line = line.context("read the answers")?;
        if line.trim().is_empty() {
            continue;
        }
        let result = serde_json::from_str::<std::collections::BTreeMap<String, String>>(&line)
            .map_err(|e| format!("not a JSON object of item id to answer value: {e}"))
            .and_then(|map| score_one(&questionnaire, &scale, &map, false))
            .map_err(|e| e.replace(":\n  ", ": ").replace("\n  ", "; "));
        match result {
            Ok(report) => {
                scored += 1;
                out!("{report}");
            }
            Err(error) => {
                refused += 1;
                out!("{}", serde_json::json!({ "line": i + 1, "error": error }));
            }
        }
    }
    eprintln!("{scored} answer sets scored, {refused} refused");
    anyhow::ensure!(refused == 0, "{refused} answer set(s) could not be scored");
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("read password from standard input")?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(
        pw.chars().count() >= password::MIN_LENGTH,
        "the password must be at least {} characters",
        password::MIN_LENGTH
    );
    Ok(pw)
}

async fn user(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let db = open(&config).await?;
    match cmd {
        UserCommand::Add {
            email,
            name,
            role,
            assign,
        } => {
            anyhow::ensure!(
                validator::ValidateEmail::validate_email(&email.trim()),
                "invalid email address: {email}"
            );
            anyhow::ensure!(!name.trim().is_empty(), "the name must not be empty");
            anyhow::ensure!(
                role == Role::Admin || !assign.is_empty(),
                "--assign is required for role {}",
                role.as_str()
            );
            let pw = read_password()?;
            let hash = password::hash(pw).await?;
            let mut tx = db.begin().await?;
            anyhow::ensure!(
                !users::email_taken(&mut tx, &email, None).await?,
                "an account with email {email} exists"
            );
            let id = users::insert(
                &mut tx,
                &email,
                &name,
                role,
                Some(&hash),
                chrono::Utc::now(),
            )
            .await?;
            users::set_assignments(&mut tx, id, role, &assign)
                .await
                .context("assign (check that the ids exist)")?;
            tx.commit().await?;
            out!("account {id} created");
        }
        UserCommand::SetPassword { email } => {
            let mut c = db.writer().await?;
            let (id, _, _) = users::credentials(&mut c, &email)
                .await?
                .with_context(|| format!("no account with email {email}"))?;
            let pw = read_password()?;
            let hash = password::hash(pw).await?;
            users::set_password_hash(&mut c, id, &hash).await?;
            out!("password set for account {id}");
        }
        UserCommand::Link {
            email,
            provider,
            identity,
        } => {
            anyhow::ensure!(
                config.oidc.iter().any(|p| p.id == provider),
                "no [[oidc]] provider with id {provider:?} in the configuration"
            );
            anyhow::ensure!(
                !identity.trim().is_empty(),
                "the identity must not be empty"
            );
            let mut tx = db.begin().await?;
            let (id, _, _) = users::credentials(&mut tx, &email)
                .await?
                .with_context(|| format!("no account with email {email}"))?;
            crate::auth::sso::insert_link(
                &mut tx,
                &provider,
                identity.trim(),
                id,
                chrono::Utc::now(),
            )
            .await?;
            tx.commit().await?;
            out!("account {id} linked to its identity at {provider}");
        }
    }
    db.close().await;
    Ok(())
}
