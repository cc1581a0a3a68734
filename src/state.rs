//! The state every feature shares: the database, the settings, the catalogue in use, the
//! clock and this instance's caches. It sits at the bottom of the crate: features import it,
//! and it imports no feature's routes (the router is assembled in [`crate::app`], at the top).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::auth::session_store::SessionCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;

/// Failed readiness checks in a row (one a second) before the pages answer "try again".
const GATE_AFTER: u32 = 3;

/// How long a readiness check may take.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Shared state: one cheap clone, everything behind an `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub db: Db,
    pub config: Config,
    /// The scale and questionnaires in use (validated at start-up).
    pub catalogue: Option<Arc<crate::questionnaire::Catalogue>>,
    /// How long each kind of record is kept (validated at start-up; the built-in policy
    /// unless set).
    pub retention: Arc<crate::retention::policy::Policy>,
    pub clock: Clock,
    municipality: RwLock<String>,
    /// The municipality's logo (`logo`), checked at start-up.
    pub logo: Option<crate::web::branding::Logo>,
    /// Recently counted municipal figures (see `aggregate_cache_seconds`).
    pub aggregates: crate::overview::AggregateCache,
    /// Recently read sessions and their accounts (see `session_cache_seconds`).
    pub sessions: SessionCache,
    /// The single sign-on providers' discovered metadata.
    pub sso: crate::auth::sso::Discovery,
    /// This instance's metrics (`GET /metrics`).
    pub metrics: crate::metrics::Metrics,
    /// Readiness checks failed in a row (0 while the database answers).
    database_failures: std::sync::atomic::AtomicU32,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl AppState {
    pub fn new(db: Db, config: Config, municipality: String) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                db,
                sessions: SessionCache::new(config.session_cache_seconds),
                config,
                catalogue: None,
                retention: Arc::new(crate::retention::policy::Policy::built_in()),
                clock: Clock::default(),
                municipality: RwLock::new(municipality),
                logo: None,
                aggregates: Default::default(),
                database_failures: Default::default(),
                metrics: Default::default(),
                sso: Default::default(),
            }),
        }
    }

    /// Sets the clock; only before the state is shared.
    pub fn with_clock(mut self, clock: Clock) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.clock = clock;
        }
        self
    }

    /// Sets the questionnaire catalogue; only before the state is shared.
    pub fn with_catalogue(mut self, catalogue: crate::questionnaire::Catalogue) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.catalogue = Some(Arc::new(catalogue));
        }
        self
    }

    /// Sets the logo; only before the state is shared.
    pub fn with_logo(mut self, logo: Option<crate::web::branding::Logo>) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.logo = logo;
        }
        self
    }

    /// Sets the retention policy; only before the state is shared.
    pub fn with_retention(mut self, policy: crate::retention::policy::Policy) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.retention = Arc::new(policy);
        }
        self
    }

    pub fn municipality_name(&self) -> String {
        self.municipality
            .read()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Reads the municipality's name from the database (set by the demo or an admin).
    pub async fn load_municipality_name(&self) -> anyhow::Result<()> {
        let mut c = self.db.conn().await?;
        let name = crate::org::db::municipality_name(&mut c)
            .await?
            .unwrap_or_else(|| self.config.municipality_name.clone());
        if let Ok(mut m) = self.municipality.write() {
            *m = name;
        }
        Ok(())
    }

    /// Checks that the database answers and takes a write, within a second, and remembers
    /// the answer for the pages (see `app::gate`).
    pub async fn check_database(&self) -> anyhow::Result<()> {
        let checked = match tokio::time::timeout(READY_WITHIN, self.db.ready()).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "the database did not answer within {} ms",
                READY_WITHIN.as_millis()
            )),
        };
        let before = match &checked {
            Ok(()) => self.database_failures.swap(0, Relaxed),
            Err(_) => self.database_failures.fetch_add(1, Relaxed),
        };
        match (&checked, before) {
            (Err(e), 0) => tracing::error!(error = format!("{e:#}"), "database unavailable"),
            (Ok(()), 1..) => tracing::warn!("database available again"),
            _ => {}
        }
        checked
    }

    /// Whether the pages should be served: false once [`GATE_AFTER`] readiness checks in a
    /// row have failed (one slow check under a burst of writes does not close the gate).
    pub fn database_ready(&self) -> bool {
        self.database_failures.load(Relaxed) < GATE_AFTER
    }

    /// The current time. One place, so time-dependent behaviour can be tested.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
