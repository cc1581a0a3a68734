//! The disclosure decision over arbitrary sequences of consent events.

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use trivsel::consent::{Event, EventKind, Purpose, State, may_disclose_identity, state};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop_oneof![
            Just(Purpose::ShareWithSocialWorker),
            Just(Purpose::HandoverNextInstitution),
            Just(Purpose::InvolvePpr)
        ],
        prop_oneof![
            Just(EventKind::Requested),
            Just(EventKind::Given),
            Just(EventKind::Refused),
            Just(EventKind::Withdrawn)
        ],
        proptest::option::of(-30i64..30),
    )
        .prop_map(|(purpose, kind, days)| Event {
            purpose,
            kind,
            expires_on: if kind == EventKind::Given {
                days.map(|d| today() + Duration::days(d))
            } else {
                None
            },
        })
}

const P: Purpose = Purpose::ShareWithSocialWorker;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn the_duty_to_notify_always_discloses(events in proptest::collection::vec(event(), 0..12)) {
        prop_assert!(may_disclose_identity(&events, P, today(), true));
    }

    #[test]
    fn disclosure_is_exactly_consent_that_holds_today(events in proptest::collection::vec(event(), 0..12)) {
        let s = state(&events, P, today());
        let holds = matches!(s, State::Given { expires_on } if expires_on.is_none_or(|d| d >= today()));
        prop_assert_eq!(may_disclose_identity(&events, P, today(), false), holds);
        // Without any "given" for this purpose there is never disclosure.
        if !events.iter().any(|e| e.purpose == P && e.kind == EventKind::Given) {
            prop_assert!(!may_disclose_identity(&events, P, today(), false));
        }
    }

    #[test]
    fn other_purposes_never_change_the_decision(events in proptest::collection::vec(event(), 0..12)) {
        let only: Vec<Event> = events.iter().filter(|e| e.purpose == P).cloned().collect();
        prop_assert_eq!(
            may_disclose_identity(&events, P, today(), false),
            may_disclose_identity(&only, P, today(), false)
        );
    }

    #[test]
    fn withdrawal_takes_effect_at_once(mut events in proptest::collection::vec(event(), 0..12)) {
        events.push(Event { purpose: P, kind: EventKind::Given, expires_on: None });
        prop_assert!(may_disclose_identity(&events, P, today(), false));
        events.push(Event { purpose: P, kind: EventKind::Withdrawn, expires_on: None });
        prop_assert!(!may_disclose_identity(&events, P, today(), false));
    }

    #[test]
    fn an_expired_consent_discloses_nothing(events in proptest::collection::vec(event(), 0..12), days in 1i64..400) {
        let mut events = events;
        events.push(Event { purpose: P, kind: EventKind::Requested, expires_on: None });
        events.push(Event { purpose: P, kind: EventKind::Given, expires_on: Some(today() - Duration::days(days)) });
        prop_assert!(!may_disclose_identity(&events, P, today(), false));
        prop_assert_eq!(state(&events, P, today()), State::Expired);
    }
}
