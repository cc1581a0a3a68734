//! Times as people read them: stored in UTC, shown in the municipality's time zone
//! (`time_zone`, default Europe/Copenhagen), with summer time where it applies. A deadline
//! ("Frist") is the local time at which it falls.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// `at` in `tz` as "dd-mm-yyyy hh:mm".
pub fn datetime(tz: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&tz).format("%d-%m-%Y %H:%M").to_string()
}

/// `at` in `tz` to the second, as the access log shows it ("25-10-2026 02:59:07").
pub fn timestamp(tz: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&tz)
        .format("%d-%m-%Y %H:%M:%S")
        .to_string()
}

/// The local date of `at` in `tz` as "dd-mm-yyyy".
pub fn date(tz: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&tz).format("%d-%m-%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Copenhagen;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Around both change-overs of 2026 (29 March, 25 October: at 01:00 UTC).
    #[test]
    fn copenhagen_local_time_follows_summer_time() {
        let cases = [
            ("2026-03-29T00:59:00Z", "29-03-2026 01:59"),
            ("2026-03-29T01:00:00Z", "29-03-2026 03:00"),
            ("2026-07-01T12:00:00Z", "01-07-2026 14:00"),
            ("2026-10-25T00:59:00Z", "25-10-2026 02:59"),
            ("2026-10-25T01:00:00Z", "25-10-2026 02:00"),
            ("2026-12-31T23:30:00Z", "01-01-2027 00:30"),
        ];
        for (at, shown) in cases {
            assert_eq!(datetime(Copenhagen, utc(at)), shown, "{at}");
        }
        // The local date, not the UTC date, near midnight.
        assert_eq!(date(Copenhagen, utc("2026-06-30T22:30:00Z")), "01-07-2026");
        assert_eq!(date(Copenhagen, utc("2026-12-31T22:59:00Z")), "31-12-2026");
    }
}
