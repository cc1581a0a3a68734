//! The state every feature shares: the database, the settings, the catalogue in use, the
//! clock and this instance's caches. It sits at the bottom of the crate: features import it,
//! and it imports no feature's routes (the router is assembled in [`crate::app`], at the top).

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::auth::session_store::SessionCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;

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
    pub clock: Clock,
    municipality: RwLock<String>,
    /// Recently counted municipal figures (see `aggregate_cache_seconds`).
    pub aggregates: crate::overview::AggregateCache,
    /// Recently read sessions and their accounts (see `session_cache_seconds`).
    pub sessions: SessionCache,
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
                clock: Clock::default(),
                municipality: RwLock::new(municipality),
                aggregates: Default::default(),
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

    /// The current time. One place, so time-dependent behaviour can be tested.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
