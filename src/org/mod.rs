//! The organisation: municipality → districts → institutions → groups → children, with
//! enrolment history and guardians. Admin pages maintain it; CSV import fills it in bulk.

pub mod choice;
pub mod db;
pub mod import;
pub mod routes;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

/// The kinds of institution a child can be enrolled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstitutionKind {
    Dagpleje,
    Vuggestue,
    Boernehave,
    Skole,
    Sfo,
    Klub,
}

impl InstitutionKind {
    pub const ALL: [InstitutionKind; 6] = [
        InstitutionKind::Dagpleje,
        InstitutionKind::Vuggestue,
        InstitutionKind::Boernehave,
        InstitutionKind::Skole,
        InstitutionKind::Sfo,
        InstitutionKind::Klub,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InstitutionKind::Dagpleje => "dagpleje",
            InstitutionKind::Vuggestue => "vuggestue",
            InstitutionKind::Boernehave => "boernehave",
            InstitutionKind::Skole => "skole",
            InstitutionKind::Sfo => "sfo",
            InstitutionKind::Klub => "klub",
        }
    }

    /// Accepts the stored code or the Danish word (as typed in a CSV file).
    pub fn parse(s: &str) -> Option<InstitutionKind> {
        let s = s.trim().to_lowercase();
        let s = if s == "børnehave" {
            "boernehave".to_string()
        } else {
            s
        };
        InstitutionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            InstitutionKind::Dagpleje => "kind.dagpleje",
            InstitutionKind::Vuggestue => "kind.vuggestue",
            InstitutionKind::Boernehave => "kind.boernehave",
            InstitutionKind::Skole => "kind.skole",
            InstitutionKind::Sfo => "kind.sfo",
            InstitutionKind::Klub => "kind.klub",
        }
    }

    /// Schools have classes; everything else has daycare-style groups.
    pub fn group_kind(self) -> GroupKind {
        match self {
            InstitutionKind::Skole => GroupKind::Klasse,
            _ => GroupKind::Stue,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Stue,
    Klasse,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Stue => "stue",
            GroupKind::Klasse => "klasse",
        }
    }

    pub fn parse(s: &str) -> Option<GroupKind> {
        match s.trim().to_lowercase().as_str() {
            "stue" => Some(GroupKind::Stue),
            "klasse" => Some(GroupKind::Klasse),
            _ => None,
        }
    }
}

/// Gender as recorded by the municipality's admin system, used only for aggregate overviews.
pub fn parse_gender(s: &str) -> Option<&'static str> {
    match s.trim().to_lowercase().as_str() {
        "" | "u" | "ukendt" => Some("u"),
        "p" | "pige" | "f" | "girl" => Some("p"),
        "d" | "dreng" | "m" | "boy" => Some("d"),
        _ => None,
    }
}

/// A name as compared for uniqueness: trimmed, inner white space folded, lower-cased.
pub fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A school year like `2026/27`, starting 1 August.
pub fn school_year_of(date: NaiveDate) -> String {
    let start = if date.month() >= 8 {
        date.year()
    } else {
        date.year() - 1
    };
    format!("{}/{:02}", start, (start + 1) % 100)
}

pub fn valid_school_year(s: &str) -> bool {
    let Some((a, b)) = s.split_once('/') else {
        return false;
    };
    match (a.parse::<i32>(), b.parse::<i32>()) {
        (Ok(a), Ok(b)) => a > 1990 && a < 2200 && b == (a + 1) % 100 && b.to_string().len() <= 2,
        _ => false,
    }
}

/// Dates in forms and CSV files: ISO `2019-03-14` or Danish `14-03-2019` / `14.03.2019`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d-%m-%Y"))
        .or_else(|_| NaiveDate::parse_from_str(s, "%d.%m.%Y"))
        .ok()
}

/// Whole years of age on `on`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// The birth dates whose age on `on` lies in `from..=to` whole years, as (after, until]: for
/// a query that must find a child of an age band without reading its birth date first.
pub fn born_between_ages(from: u32, to: u32, on: NaiveDate) -> (NaiveDate, NaiveDate) {
    // The latest birth date with `age_on(_, on) >= years`: the same day `years` earlier, or
    // 28 February when `on` is a 29 February and that year has none.
    let latest_aged = |years: u32| {
        let year = on.year() - i32::try_from(years).unwrap_or(i32::MAX / 2);
        on.with_year(year)
            .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
            .unwrap_or(NaiveDate::MIN)
    };
    (latest_aged(to.saturating_add(1)), latest_aged(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_date_bounds_agree_with_age_on() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        for on in [
            "2026-12-01",
            "2024-02-29",
            "2025-02-28",
            "2025-03-01",
            "2026-01-01",
        ] {
            let on = d(on);
            for (from, to) in [(0, 2), (3, 5), (6, 9), (10, 13), (14, 17)] {
                let (after, until) = born_between_ages(from, to, on);
                let mut birth = d("2005-01-01");
                while birth <= on {
                    let age = age_on(birth, on);
                    let in_band = age >= from as i32 && age <= to as i32;
                    assert_eq!(
                        in_band,
                        birth > after && birth <= until,
                        "born {birth}, on {on}, band {from}-{to}"
                    );
                    birth = birth.succ_opt().unwrap();
                }
            }
        }
    }

    #[test]
    fn school_years() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(school_year_of(d("2026-08-01")), "2026/27");
        assert_eq!(school_year_of(d("2026-07-31")), "2025/26");
        assert_eq!(school_year_of(d("2099-12-01")), "2099/00");
        assert!(valid_school_year("2026/27"));
        assert!(valid_school_year("2099/00"));
        assert!(!valid_school_year("2026/28"));
        assert!(!valid_school_year("2026-27"));
    }

    #[test]
    fn dates_and_ages() {
        let d = parse_date("14-03-2019").unwrap();
        assert_eq!(d, parse_date("2019-03-14").unwrap());
        assert_eq!(d, parse_date("14.03.2019").unwrap());
        assert!(parse_date("2019-02-30").is_none());
        assert_eq!(age_on(d, parse_date("2026-03-13").unwrap()), 6);
        assert_eq!(age_on(d, parse_date("2026-03-14").unwrap()), 7);
    }

    #[test]
    fn names_and_kinds() {
        assert_eq!(name_key("  Rød   Stue "), "rød stue");
        assert_eq!(
            InstitutionKind::parse("Børnehave"),
            Some(InstitutionKind::Boernehave)
        );
        assert_eq!(
            InstitutionKind::parse("skole"),
            Some(InstitutionKind::Skole)
        );
        assert_eq!(InstitutionKind::parse("gymnasium"), None);
        assert_eq!(parse_gender("Pige"), Some("p"));
        assert_eq!(parse_gender("x"), None);
    }
}
