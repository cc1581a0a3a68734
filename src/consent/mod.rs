//! Consent from the parents with custody, per child and purpose, as a state machine over an
//! append-only list of events: requested → given or refused; given → withdrawn or expired.
//!
//! [`may_disclose_identity`] is the one place that decides whether a child's identity may be
//! shown outside the child's own institution. It is pure, so it is tested on its own over
//! arbitrary sequences of events.

pub mod db;
pub mod routes;

use chrono::NaiveDate;

/// What consent is given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Name the child to the district's preventive social worker.
    ShareWithSocialWorker,
    /// Hand information over to the child's next institution.
    HandoverNextInstitution,
    /// Involve PPR (educational psychology).
    InvolvePpr,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [
        Purpose::ShareWithSocialWorker,
        Purpose::HandoverNextInstitution,
        Purpose::InvolvePpr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::ShareWithSocialWorker => "share_with_social_worker",
            Purpose::HandoverNextInstitution => "handover_next_institution",
            Purpose::InvolvePpr => "involve_ppr",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Purpose::ShareWithSocialWorker => "consent.purpose.share_with_social_worker",
            Purpose::HandoverNextInstitution => "consent.purpose.handover_next_institution",
            Purpose::InvolvePpr => "consent.purpose.involve_ppr",
        }
    }
}

/// Something that happened to a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Requested,
    Given,
    Refused,
    Withdrawn,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Requested => "requested",
            EventKind::Given => "given",
            EventKind::Refused => "refused",
            EventKind::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        [
            EventKind::Requested,
            EventKind::Given,
            EventKind::Refused,
            EventKind::Withdrawn,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

/// One recorded event, oldest first in any list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub purpose: Purpose,
    pub kind: EventKind,
    /// For `Given`: the last day the consent holds, if limited.
    pub expires_on: Option<NaiveDate>,
}

/// The state a list of events leaves a consent in on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    None,
    Requested,
    Given { expires_on: Option<NaiveDate> },
    Refused,
    Withdrawn,
    Expired,
}

impl State {
    pub fn key(self) -> &'static str {
        match self {
            State::None => "consent.state.none",
            State::Requested => "consent.state.requested",
            State::Given { .. } => "consent.state.given",
            State::Refused => "consent.state.refused",
            State::Withdrawn => "consent.state.withdrawn",
            State::Expired => "consent.state.expired",
        }
    }
}

/// Whether `next` may follow the state `from`. A consent can be given or refused with or
/// without a recorded request (parents often answer on the spot); a given consent can be
/// renewed (given again, e.g. with a new expiry) or withdrawn; only a given consent can be
/// withdrawn; after a refusal, withdrawal or expiry a new request starts over.
pub fn allowed(from: State, next: EventKind) -> bool {
    match (from, next) {
        (State::Given { .. }, EventKind::Withdrawn | EventKind::Given) => true,
        (State::Given { .. }, _) => false,
        (_, EventKind::Withdrawn) => false,
        (State::Requested, EventKind::Requested) => false,
        _ => true,
    }
}

/// Folds the events for `purpose` into the state on `today`. Events that were not allowed when
/// recorded are ignored (the recording code refuses them, so none should exist).
pub fn state(events: &[Event], purpose: Purpose, today: NaiveDate) -> State {
    let mut s = State::None;
    for e in events.iter().filter(|e| e.purpose == purpose) {
        // A consent that expired before the next event no longer holds at that event.
        if let State::Given {
            expires_on: Some(d),
        } = s
            && d < today
        {
            s = State::Expired;
        }
        if !allowed(s, e.kind) {
            continue;
        }
        s = match e.kind {
            EventKind::Requested => State::Requested,
            EventKind::Given => State::Given {
                expires_on: e.expires_on,
            },
            EventKind::Refused => State::Refused,
            EventKind::Withdrawn => State::Withdrawn,
        };
    }
    match s {
        State::Given {
            expires_on: Some(d),
        } if d < today => State::Expired,
        other => other,
    }
}

/// The one decision: may the child's identity be disclosed outside the child's own
/// institution for `purpose`? Only with consent for that purpose that holds today — or when
/// the duty to notify applies, which overrides consent (Barnets Lov § 133).
pub fn may_disclose_identity(
    events: &[Event],
    purpose: Purpose,
    today: NaiveDate,
    duty_to_notify: bool,
) -> bool {
    duty_to_notify || matches!(state(events, purpose, today), State::Given { .. })
}

/// Whether what other institutions recorded about the child may be shown to the child's
/// current one: only with the parents' handover consent, holding today. Until then a new
/// institution sees what was recorded while the child was with it (`auth::scope::record_window`).
pub fn may_share_earlier_records(events: &[Event], today: NaiveDate) -> bool {
    matches!(
        state(events, Purpose::HandoverNextInstitution, today),
        State::Given { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const P: Purpose = Purpose::ShareWithSocialWorker;

    fn ev(kind: EventKind) -> Event {
        Event {
            purpose: P,
            kind,
            expires_on: None,
        }
    }

    #[test]
    fn the_ordinary_paths() {
        let today = d("2026-11-24");
        use EventKind::*;
        assert_eq!(state(&[], P, today), State::None);
        assert_eq!(state(&[ev(Requested)], P, today), State::Requested);
        assert_eq!(
            state(&[ev(Requested), ev(Given)], P, today),
            State::Given { expires_on: None }
        );
        assert_eq!(
            state(&[ev(Requested), ev(Refused)], P, today),
            State::Refused
        );
        assert_eq!(
            state(&[ev(Given), ev(Withdrawn)], P, today),
            State::Withdrawn
        );
        assert_eq!(
            state(
                &[ev(Given), ev(Withdrawn), ev(Requested), ev(Given)],
                P,
                today
            ),
            State::Given { expires_on: None }
        );
        let limited = Event {
            purpose: P,
            kind: Given,
            expires_on: Some(d("2026-11-23")),
        };
        assert_eq!(
            state(std::slice::from_ref(&limited), P, today),
            State::Expired
        );
        assert_eq!(
            state(&[limited], P, d("2026-11-23")),
            State::Given {
                expires_on: Some(d("2026-11-23"))
            }
        );
        // Another purpose's consent does not count.
        assert_eq!(state(&[ev(Given)], Purpose::InvolvePpr, today), State::None);
        // Not allowed: withdrawing what was never given.
        assert!(!allowed(State::Refused, Withdrawn));
        assert!(!allowed(State::None, Withdrawn));
    }

    #[test]
    fn disclosure_needs_consent_for_the_purpose_or_the_duty_to_notify() {
        let today = d("2026-11-24");
        let given = [ev(EventKind::Given)];
        assert!(may_disclose_identity(&given, P, today, false));
        assert!(!may_disclose_identity(
            &given,
            Purpose::InvolvePpr,
            today,
            false
        ));
        assert!(!may_disclose_identity(&[], P, today, false));
        assert!(may_disclose_identity(&[], P, today, true));
        assert!(!may_disclose_identity(
            &[ev(EventKind::Given), ev(EventKind::Withdrawn)],
            P,
            today,
            false
        ));
    }
}
