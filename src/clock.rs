//! The time, from one place (see [`Clock`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// The time, from one place: the system clock, or a clock tests set and advance (deadlines
/// and escalation are tested without sleeping).
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<std::sync::Mutex<DateTime<Utc>>>>);

impl Clock {
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock(Some(Arc::new(std::sync::Mutex::new(at))))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now(),
            Some(t) => *t.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Moves a fixed clock forward; the system clock cannot be moved.
    pub fn advance(&self, by: chrono::Duration) {
        if let Some(t) = &self.0 {
            let mut g = t.lock().unwrap_or_else(|e| e.into_inner());
            *g += by;
        }
    }
}
