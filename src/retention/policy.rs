//! The retention policy file (`retention.toml`, beside the questionnaires): per kind of
//! record, how long it is kept and from what event. Read and checked at start-up like the
//! questionnaires, so a mistake is refused with the file, the key and the reason before the
//! service deletes anything.

use std::fmt;

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::Deserialize;

use crate::questionnaire::{Problem, Problems, Source};

/// The kinds of record the policy covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Records {
    Children,
    Enrolments,
    Assessments,
    FreeText,
    FollowUps,
    Alerts,
    Consent,
    AccessLog,
    Sessions,
    Outbox,
    LoginAttempts,
    Devices,
}

/// The events a period counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum After {
    /// The day the child left the municipality's institutions.
    Left,
    /// The child's birth: the period is the child's age.
    Birth,
    /// The record's own date.
    Created,
    /// The day the alert was closed.
    Closed,
    /// The session's expiry.
    Expiry,
    /// An email delivered or given up.
    Sent,
    /// A device's last login.
    LastUse,
}

impl Records {
    pub const ALL: [Records; 12] = [
        Records::Children,
        Records::Enrolments,
        Records::Assessments,
        Records::FreeText,
        Records::FollowUps,
        Records::Alerts,
        Records::Consent,
        Records::AccessLog,
        Records::Sessions,
        Records::Outbox,
        Records::LoginAttempts,
        Records::Devices,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Records::Children => "children",
            Records::Enrolments => "enrolments",
            Records::Assessments => "assessments",
            Records::FreeText => "free_text",
            Records::FollowUps => "follow_ups",
            Records::Alerts => "alerts",
            Records::Consent => "consent",
            Records::AccessLog => "access_log",
            Records::Sessions => "sessions",
            Records::Outbox => "outbox",
            Records::LoginAttempts => "login_attempts",
            Records::Devices => "devices",
        }
    }

    pub fn parse(s: &str) -> Option<Records> {
        Records::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The events this kind of record may count from.
    pub fn events(self) -> &'static [After] {
        use After::*;
        match self {
            Records::Children | Records::Enrolments | Records::Consent => &[Left, Birth],
            Records::Assessments | Records::FreeText | Records::FollowUps => {
                &[Left, Birth, Created]
            }
            Records::Alerts => &[Left, Birth, Closed],
            Records::AccessLog | Records::LoginAttempts => &[Created],
            Records::Sessions => &[Expiry],
            Records::Outbox => &[Sent],
            Records::Devices => &[LastUse],
        }
    }

    /// Records of one child (kept whole under a legal hold).
    pub fn of_a_child(self) -> bool {
        self.events().contains(&After::Left)
    }

    /// The catalogue key of the kind's Danish/English name.
    pub fn label_key(self) -> &'static str {
        match self {
            Records::Children => "retention.records.children",
            Records::Enrolments => "retention.records.enrolments",
            Records::Assessments => "retention.records.assessments",
            Records::FreeText => "retention.records.free_text",
            Records::FollowUps => "retention.records.follow_ups",
            Records::Alerts => "retention.records.alerts",
            Records::Consent => "retention.records.consent",
            Records::AccessLog => "retention.records.access_log",
            Records::Sessions => "retention.records.sessions",
            Records::Outbox => "retention.records.outbox",
            Records::LoginAttempts => "retention.records.login_attempts",
            Records::Devices => "retention.records.devices",
        }
    }
}

impl After {
    const ALL: [After; 7] = [
        After::Left,
        After::Birth,
        After::Created,
        After::Closed,
        After::Expiry,
        After::Sent,
        After::LastUse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            After::Left => "left",
            After::Birth => "birth",
            After::Created => "created",
            After::Closed => "closed",
            After::Expiry => "expiry",
            After::Sent => "sent",
            After::LastUse => "last_use",
        }
    }

    pub fn parse(s: &str) -> Option<After> {
        After::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The catalogue key of "after …" in a reader's words.
    pub fn label_key(self) -> &'static str {
        match self {
            After::Left => "retention.after.left",
            After::Birth => "retention.after.birth",
            After::Created => "retention.after.created",
            After::Closed => "retention.after.closed",
            After::Expiry => "retention.after.expiry",
            After::Sent => "retention.after.sent",
            After::LastUse => "retention.after.last_use",
        }
    }
}

/// How long: whole months (a year is twelve) or days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Months(u32),
    Days(u32),
}

impl Period {
    /// The last day a record dated on it is due, seen from `today`: a record dated on or
    /// before it has been kept its period.
    pub fn cutoff_date(self, today: NaiveDate) -> NaiveDate {
        match self {
            Period::Months(m) => today
                .checked_sub_months(Months::new(m))
                .unwrap_or(NaiveDate::MIN),
            Period::Days(d) => today - chrono::Duration::days(i64::from(d)),
        }
    }

    /// The moment a record stamped before it has been kept its period.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Period::Months(m) => now
                .checked_sub_months(Months::new(m))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            Period::Days(d) => now - chrono::Duration::days(i64::from(d)),
        }
    }
}

impl Period {
    /// A compact form for reports: `36m`, `90d`.
    pub fn code(self) -> String {
        match self {
            Period::Months(m) => format!("{m}m"),
            Period::Days(d) => format!("{d}d"),
        }
    }

    pub fn from_code(s: &str) -> Option<Period> {
        if let Some(m) = s.strip_suffix('m') {
            m.parse().ok().map(Period::Months)
        } else {
            s.strip_suffix('d')?.parse().ok().map(Period::Days)
        }
    }

    /// The period in a reader's words: (number, catalogue key of the unit).
    pub fn words(self) -> (u32, &'static str) {
        match self {
            Period::Months(m) if m % 12 == 0 && m > 0 => (m / 12, "retention.unit.years"),
            Period::Months(m) => (m, "retention.unit.months"),
            Period::Days(d) => (d, "retention.unit.days"),
        }
    }

    /// The fewest days the period can be (a month is at least 28).
    fn shortest_days(self) -> u32 {
        match self {
            Period::Months(m) => m.saturating_mul(28),
            Period::Days(d) => d,
        }
    }
}

impl fmt::Display for Period {
    /// In the file's own words, for reports: "3 years", "6 months", "90 days".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Months(m) if m % 12 == 0 => {
                write!(f, "{} year{}", m / 12, if m == 12 { "" } else { "s" })
            }
            Period::Months(m) => write!(f, "{m} month{}", if m == 1 { "" } else { "s" }),
            Period::Days(d) => write!(f, "{d} day{}", if d == 1 { "" } else { "s" }),
        }
    }
}

/// One checked rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub records: Records,
    pub after: After,
    pub keep: Period,
}

/// The policy in force: every kind of record has at least one rule.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Where it was read from, for messages.
    pub file: String,
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    rule: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    records: String,
    after: String,
    years: Option<u32>,
    months: Option<u32>,
    days: Option<u32>,
}

/// The shortest an access log may be kept: a month, so a question about last week's
/// accesses can always be answered.
const ACCESS_LOG_AT_LEAST_DAYS: u32 = 30;

impl Policy {
    /// The policy of a questionnaire folder (its `retention.toml`), or the built-in one.
    pub fn load(source: &Source) -> Result<Policy, Problems> {
        let (file, read) = source.side_file("retention.toml");
        let bytes = read.map_err(|e| {
            Problems(vec![Problem {
                file: file.clone(),
                key: String::new(),
                reason: format!("cannot read: {e}"),
            }])
        })?;
        let parsed =
            crate::questionnaire::parse_bytes(&file, &bytes).map_err(|p| Problems(vec![p]))?;
        Self::checked(&file, parsed)
    }

    /// The policy built into the binary (checked by a test, so it always loads).
    pub fn built_in() -> Policy {
        Self::load(&Source::BuiltIn).expect("the built-in retention policy is valid")
    }

    /// Reads and checks a policy; every problem is collected before giving up.
    pub fn parse(file: &str, text: &str) -> Result<Policy, Problems> {
        let parsed = crate::questionnaire::parse(file, text).map_err(|p| Problems(vec![p]))?;
        Self::checked(file, parsed)
    }

    /// Checks a read policy file's rules.
    fn checked(file: &str, parsed: PolicyFile) -> Result<Policy, Problems> {
        let mut problems = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        for (i, r) in parsed.rule.iter().enumerate() {
            let problem = |key: &str, reason: String| Problem {
                file: file.to_string(),
                key: format!("rule[{i}].{key}"),
                reason,
            };
            let records = Records::parse(&r.records);
            if records.is_none() {
                problems.push(problem(
                    "records",
                    format!(
                        "{:?} is not a kind of record; one of {}",
                        r.records,
                        Records::ALL.map(Records::as_str).join(", ")
                    ),
                ));
            }
            let after = After::parse(&r.after);
            match (records, after) {
                (_, None) => problems.push(problem(
                    "after",
                    format!(
                        "{:?} is not an event; one of {}",
                        r.after,
                        After::ALL.map(After::as_str).join(", ")
                    ),
                )),
                (Some(rec), Some(a)) if !rec.events().contains(&a) => problems.push(problem(
                    "after",
                    format!(
                        "{} cannot count from {:?}; only from {}",
                        rec.as_str(),
                        r.after,
                        rec.events()
                            .iter()
                            .map(|e| e.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
                _ => {}
            }
            let keep = match (r.years, r.months, r.days) {
                (Some(y), None, None) => y.checked_mul(12).map(Period::Months),
                (None, Some(m), None) => Some(Period::Months(m)),
                (None, None, Some(d)) => Some(Period::Days(d)),
                _ => {
                    problems.push(problem(
                        "years",
                        "give exactly one of years, months or days".into(),
                    ));
                    continue;
                }
            };
            let Some(keep) = keep else {
                problems.push(problem("years", "too many years".into()));
                continue;
            };
            let zero = matches!(keep, Period::Months(0) | Period::Days(0));
            if zero && after != Some(After::Expiry) {
                problems.push(problem(
                    "years",
                    "must be more than 0 (only a session may go at its expiry)".into(),
                ));
            }
            if records == Some(Records::AccessLog)
                && keep.shortest_days() < ACCESS_LOG_AT_LEAST_DAYS
            {
                problems.push(problem(
                    "days",
                    format!("the access log is kept at least {ACCESS_LOG_AT_LEAST_DAYS} days"),
                ));
            }
            if let (Some(records), Some(after)) = (records, after) {
                if rules
                    .iter()
                    .any(|o| o.records == records && o.after == after)
                {
                    problems.push(problem(
                        "after",
                        format!(
                            "a second rule for {} after {}",
                            records.as_str(),
                            after.as_str()
                        ),
                    ));
                }
                rules.push(Rule {
                    records,
                    after,
                    keep,
                });
            }
        }
        for records in Records::ALL {
            if !rules.iter().any(|r| r.records == records) {
                problems.push(Problem {
                    file: file.to_string(),
                    key: "rule".into(),
                    reason: format!(
                        "no rule for {}: say how long they are kept",
                        records.as_str()
                    ),
                });
            }
        }
        if problems.is_empty() {
            Ok(Policy {
                file: file.to_string(),
                rules,
            })
        } else {
            Err(Problems(problems))
        }
    }

    /// The rules for one kind of record.
    pub fn rules_for(&self, records: Records) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.records == records)
    }

    /// The one period of a kind of record that counts from `after`, if the policy has it.
    pub fn period(&self, records: Records, after: After) -> Option<Period> {
        self.rules_for(records)
            .find(|r| r.after == after)
            .map(|r| r.keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_policy_loads_and_covers_every_kind() {
        let p = Policy::built_in();
        for r in Records::ALL {
            assert!(p.rules_for(r).count() >= 1, "{}", r.as_str());
        }
        // Free text goes before the scores it explains.
        let text = p.period(Records::FreeText, After::Left).unwrap();
        let scores = p.period(Records::Assessments, After::Left).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert!(text.cutoff_date(today) > scores.cutoff_date(today));
    }

    #[test]
    fn mistakes_are_refused_with_key_and_reason() {
        let text = r#"
[[rule]]
records = "childs"
after = "left"
years = 3

[[rule]]
records = "access_log"
after = "left"
days = 10

[[rule]]
records = "consent"
after = "birth"
years = 1
months = 2

[[rule]]
records = "outbox"
after = "sent"
days = 0
"#;
        let problems = Policy::parse("retention.toml", text).unwrap_err().0;
        let said: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let has = |key: &str, part: &str| {
            assert!(
                problems
                    .iter()
                    .any(|p| p.key == key && p.reason.contains(part)),
                "{key} / {part} in {said:#?}"
            )
        };
        has("rule[0].records", "not a kind of record");
        has("rule[1].after", "only from created");
        has("rule[1].days", "at least 30 days");
        has("rule[2].years", "exactly one of");
        has("rule[3].years", "more than 0");
        has("rule", "no rule for children");
    }

    #[test]
    fn periods_count_back_from_today() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        assert_eq!(
            Period::Months(1).cutoff_date(today),
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
        );
        assert_eq!(
            Period::Days(30).cutoff_date(today),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        );
        assert_eq!(Period::Months(36).to_string(), "3 years");
        assert_eq!(Period::Months(6).to_string(), "6 months");
    }
}
