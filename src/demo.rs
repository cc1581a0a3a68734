//! A deterministic fictional municipality for trying the service: five districts (Centrum
//! with two preventive social workers), 24 institutions of every type, about a hundred groups
//! and about 2,000 children with invented Danish names. The same structure and names come out
//! every time; birth dates follow the current school year so ages stay realistic. A screening
//! round is open from two weeks before the seeding to a month after.

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::auth::{Role, password, users};
use crate::db::Db;
use crate::org::db::{self as org, ChildInput, GuardianInput};
use crate::org::{InstitutionKind, school_year_of};

pub const PASSWORD: &str = "demo";
pub const MUNICIPALITY: &str = "Demo Kommune";

/// Small, seedable and stable across platforms and crate versions (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const GIRLS: &[&str] = &[
    "Emma", "Ida", "Clara", "Freja", "Alma", "Ella", "Sofia", "Agnes", "Karla", "Laura", "Olivia",
    "Josefine", "Nora", "Ellen", "Asta", "Lea", "Luna", "Marie", "Isabella", "Frida", "Mathilde",
    "Anna", "Esther", "Vigga", "Liva", "Ingrid", "Sara", "Maja", "Lærke", "Silje",
];
const BOYS: &[&str] = &[
    "William",
    "Noah",
    "Oscar",
    "Lucas",
    "Carl",
    "Victor",
    "Malthe",
    "Alfred",
    "Emil",
    "Aksel",
    "Valdemar",
    "Magnus",
    "Frederik",
    "Elias",
    "Arthur",
    "August",
    "Oliver",
    "Felix",
    "Anton",
    "Johan",
    "Mikkel",
    "Storm",
    "Theo",
    "Sebastian",
    "Konrad",
    "Bertram",
    "Otto",
    "Villads",
    "Hugo",
    "Asger",
];
const ADULTS: &[&str] = &[
    "Mette", "Henrik", "Louise", "Thomas", "Camilla", "Martin", "Sarah", "Jesper", "Maria",
    "Rasmus", "Line", "Morten", "Julie", "Anders", "Katrine", "Søren", "Tina", "Jonas", "Stine",
    "Kasper",
];
const SURNAMES: &[&str] = &[
    "Nielsen",
    "Jensen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Petersen",
    "Madsen",
    "Kristensen",
    "Olsen",
    "Thomsen",
    "Christiansen",
    "Poulsen",
    "Johansen",
    "Møller",
    "Mortensen",
    "Knudsen",
    "Jakobsen",
    "Holm",
    "Lund",
    "Bech",
    "Dahl",
    "Skov",
    "Vestergaard",
    "Frost",
    "Kjær",
];
const STREETS: &[&str] = &[
    "Bybjergvej",
    "Kildedalsvej",
    "Hold-an Vej",
    "Magleparken",
    "Skovlunde Byvej",
    "Egebjergvej",
    "Rugmarken",
    "Lindebjergvej",
];

/// (district, kind, institution name, number of groups, children per group).
const INSTITUTIONS: &[(&str, InstitutionKind, &str, usize, usize)] = &[
    (
        "Centrum",
        InstitutionKind::Dagpleje,
        "Dagplejen Centrum",
        2,
        5,
    ),
    (
        "Centrum",
        InstitutionKind::Vuggestue,
        "Vuggestuen Mariehønen",
        3,
        12,
    ),
    (
        "Centrum",
        InstitutionKind::Boernehave,
        "Børnehaven Troldehøj",
        4,
        22,
    ),
    ("Centrum", InstitutionKind::Skole, "Centrumskolen", 10, 20),
    ("Centrum", InstitutionKind::Skole, "Hedeskolen", 10, 20),
    ("Centrum", InstitutionKind::Sfo, "SFO Centrum", 3, 20),
    ("Centrum", InstitutionKind::Klub, "Klub Centrum", 2, 20),
    ("Nord", InstitutionKind::Dagpleje, "Dagplejen Nord", 2, 5),
    (
        "Nord",
        InstitutionKind::Vuggestue,
        "Vuggestuen Solsikken",
        3,
        12,
    ),
    (
        "Nord",
        InstitutionKind::Boernehave,
        "Børnehaven Mælkebøtten",
        4,
        22,
    ),
    ("Nord", InstitutionKind::Skole, "Nordskolen", 10, 20),
    ("Syd", InstitutionKind::Dagpleje, "Dagplejen Syd", 2, 5),
    (
        "Syd",
        InstitutionKind::Vuggestue,
        "Vuggestuen Humlebien",
        3,
        12,
    ),
    (
        "Syd",
        InstitutionKind::Boernehave,
        "Børnehaven Skovbrynet",
        4,
        22,
    ),
    ("Syd", InstitutionKind::Skole, "Sydskolen", 10, 20),
    ("Syd", InstitutionKind::Sfo, "SFO Syd", 3, 20),
    ("Øst", InstitutionKind::Dagpleje, "Dagplejen Øst", 2, 5),
    (
        "Øst",
        InstitutionKind::Vuggestue,
        "Vuggestuen Regnbuen",
        3,
        12,
    ),
    (
        "Øst",
        InstitutionKind::Boernehave,
        "Børnehaven Kastanjen",
        4,
        22,
    ),
    ("Øst", InstitutionKind::Skole, "Østskolen", 10, 20),
    ("Vest", InstitutionKind::Dagpleje, "Dagplejen Vest", 2, 5),
    (
        "Vest",
        InstitutionKind::Vuggestue,
        "Vuggestuen Spiren",
        3,
        12,
    ),
    (
        "Vest",
        InstitutionKind::Boernehave,
        "Børnehaven Egely",
        4,
        22,
    ),
    ("Vest", InstitutionKind::Skole, "Vestskolen", 10, 20),
];

const DAYCARE_GROUPS: &[&str] = &["Mariehønen", "Sommerfuglen", "Bien", "Guldsmeden", "Myren"];
const CHILDMINDERS: &[&str] = &["Dagplejer Anne", "Dagplejer Birgit", "Dagplejer Connie"];
const SFO_GROUPS: &[&str] = &["0.-1. klasse", "2. klasse", "3. klasse"];
const CLUB_GROUPS: &[&str] = &["Juniorklub", "Ungdomsklub"];

/// The demo account that shows the second step of a login: its authenticator secret is
/// [`TWO_FACTOR_SECRET`] (base32; README), typed into any authenticator app.
pub const TWO_FACTOR_ACCOUNT: &str = "tofaktor@demo.trivsel.dk";
pub const TWO_FACTOR_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// The demo accounts: (email, name, role, what they are assigned to).
pub const ACCOUNTS: &[(&str, &str, Role, &str)] = &[
    (
        "admin@demo.trivsel.dk",
        "Anja Administrator",
        Role::Admin,
        "",
    ),
    (
        "dpo@demo.trivsel.dk",
        "Dorthe Databeskyttelse",
        Role::Dpo,
        "",
    ),
    (
        "leder@demo.trivsel.dk",
        "Lars Leder",
        Role::Leader,
        "Centrumskolen",
    ),
    (
        "paedagog@demo.trivsel.dk",
        "Pia Pædagog",
        Role::Educator,
        "Børnehaven Troldehøj:Mariehønen,Sommerfuglen",
    ),
    (
        "laerer@demo.trivsel.dk",
        "Lone Lærer",
        Role::Educator,
        "Centrumskolen:3.A",
    ),
    (
        TWO_FACTOR_ACCOUNT,
        "Tove Tofaktor",
        Role::Educator,
        "Centrumskolen:3.A",
    ),
    (
        "raadgiver@demo.trivsel.dk",
        "Rikke Rådgiver",
        Role::SocialWorker,
        "Centrum",
    ),
    (
        "raadgiver2@demo.trivsel.dk",
        "Rune Rådgiver",
        Role::SocialWorker,
        "Centrum",
    ),
    (
        "raadgiver3@demo.trivsel.dk",
        "Rita Rådgiver",
        Role::SocialWorker,
        "Nord",
    ),
    (
        "raadgiver4@demo.trivsel.dk",
        "Sune Rådgiver",
        Role::SocialWorker,
        "Syd",
    ),
    (
        "raadgiver5@demo.trivsel.dk",
        "Ølse Rådgiver",
        Role::SocialWorker,
        "Øst",
    ),
    (
        "raadgiver6@demo.trivsel.dk",
        "Vera Rådgiver",
        Role::SocialWorker,
        "Vest",
    ),
];

#[derive(Debug, Default)]
pub struct Summary {
    pub assessments: usize,
    /// Alerts raised by the newest round's positions (bench data sets only).
    pub alerts: usize,
    /// Preventive measures on the taken ones (bench data sets only).
    pub measures: usize,
    pub districts: usize,
    pub institutions: usize,
    pub groups: usize,
    pub children: usize,
    pub accounts: usize,
}

/// Seeds the demo municipality in one transaction. Refuses a database that already holds
/// accounts or districts, so it can never mix with real data.
pub async fn seed(db: &Db, now: DateTime<Utc>) -> anyhow::Result<Summary> {
    seed_with(db, now, Size::default(), None).await
}

/// How big a municipality to generate: `copies` of the demo's institutions (about 2,030
/// children each; 55 copies ≈ Copenhagen's 110,000) and `rounds` of assessment history.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub copies: usize,
    pub rounds: usize,
    /// Whether the open round gets positions too (a data set for benches) or is left for
    /// the demo's educators to assess (`serve --demo`).
    pub history_in_open_round: bool,
}

impl Default for Size {
    fn default() -> Self {
        Size {
            copies: 1,
            rounds: 0,
            history_in_open_round: true,
        }
    }
}

impl Size {
    /// What `serve --demo` seeds: the demo municipality with three earlier rounds of
    /// positions (so overviews show trends and movement) and an open round with none.
    pub fn demo() -> Size {
        Size {
            copies: 1,
            rounds: 4,
            history_in_open_round: false,
        }
    }
}

impl Size {
    /// The size for about `children` children with `rounds` rounds of history.
    pub fn for_children(children: usize, rounds: usize) -> Size {
        Size {
            copies: children.div_ceil(2030).max(1),
            rounds,
            history_in_open_round: true,
        }
    }
}

/// Seeds the demo municipality at `size`; with rounds of history the `catalogue` scores it.
pub async fn seed_with(
    db: &Db,
    now: DateTime<Utc>,
    size: Size,
    catalogue: Option<&crate::questionnaire::Catalogue>,
) -> anyhow::Result<Summary> {
    let mut tx = db.begin().await?;
    let counts = org::counts(&mut tx).await?;
    anyhow::ensure!(
        counts.users == 0 && counts.districts == 0,
        "the database is not empty: the demo municipality is only seeded into a new database"
    );
    let hash = password::hash(PASSWORD.to_string()).await?;
    let mut rng = Rng(0x7472_6976_7365_6c21);
    let mut summary = Summary::default();
    let today = now.date_naive();
    let school_year = school_year_of(today);
    let year_start: i32 = school_year[..4].parse().context("school year")?;
    let reference = NaiveDate::from_ymd_opt(year_start, 8, 1).context("reference date")?;

    org::set_municipality_name(&mut tx, MUNICIPALITY).await?;
    let mut district_ids: std::collections::HashMap<String, i64> = std::collections::HashMap::new();

    let mut group_ids: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let mut institution_ids = std::collections::HashMap::new();
    let mut child_no = 0usize;
    let mut born: Vec<(i64, NaiveDate)> = Vec::new();
    for copy in 0..size.copies {
        for &(district, kind, base_name, groups, per_group) in INSTITUTIONS {
            // Copies beyond the first get numbered names; every ten copies share new districts.
            let district = if copy < 10 {
                district.to_string()
            } else {
                format!("{district} {}", copy / 10 + 1)
            };
            let name = if copy == 0 {
                base_name.to_string()
            } else {
                format!("{base_name} {}", copy + 1)
            };
            let district_id = match district_ids.get(&district) {
                Some(id) => *id,
                None => {
                    let id = org::save_district(&mut tx, None, &district, now)
                        .await?
                        .context("district")?;
                    district_ids.insert(district.clone(), id);
                    summary.districts += 1;
                    id
                }
            };
            let name = name.as_str();
            let inst = org::save_institution(&mut tx, None, district_id, name, kind, now)
                .await?
                .context("institution")?;
            institution_ids.insert(name.to_string(), inst);
            summary.institutions += 1;
            for g in 0..groups {
                let (group_name, ages) = match kind {
                    InstitutionKind::Dagpleje => (CHILDMINDERS[g].to_string(), (0, 2)),
                    InstitutionKind::Vuggestue => (DAYCARE_GROUPS[g].to_string(), (0, 2)),
                    InstitutionKind::Boernehave => (DAYCARE_GROUPS[g].to_string(), (3, 5)),
                    InstitutionKind::Skole => (format!("{g}.A"), (6 + g as i32, 6 + g as i32)),
                    InstitutionKind::Sfo => (SFO_GROUPS[g].to_string(), (6, 9)),
                    InstitutionKind::Klub => (
                        CLUB_GROUPS[g].to_string(),
                        (10 + 2 * g as i32, 11 + 2 * g as i32),
                    ),
                };
                let gid = org::save_group(
                    &mut tx,
                    None,
                    inst,
                    &group_name,
                    kind.group_kind(),
                    &school_year,
                    now,
                )
                .await?
                .context("group")?;
                group_ids.insert(format!("{name}:{group_name}"), gid);
                summary.groups += 1;
                for _ in 0..per_group {
                    child_no += 1;
                    let girl = rng.below(2) == 0;
                    let first = rng.pick(if girl { GIRLS } else { BOYS });
                    let last = rng.pick(SURNAMES);
                    // Age on the reference date between ages.0 and ages.1 (inclusive).
                    let span_days = (ages.1 - ages.0 + 1) * 365;
                    let days_old = ages.0 * 365 + rng.below(span_days as usize) as i32 + 1;
                    let mut birth = reference - Duration::days(i64::from(days_old));
                    if birth > today {
                        birth = today - Duration::days(30);
                    }
                    let child = ChildInput {
                        first_name: first.to_string(),
                        last_name: last.to_string(),
                        birth_date: birth,
                        gender: if girl { "p" } else { "d" },
                        external_id: Some(format!("DEMO-{child_no:05}")),
                        protected_address: rng.below(100) == 0,
                    };
                    let cid = org::insert_child(&mut tx, &child, now).await?;
                    born.push((cid, birth));
                    org::enrol(&mut tx, cid, gid, reference).await?;
                    let street = rng.pick(STREETS);
                    let number = rng.below(120) + 1;
                    for relation in ["Mor", "Far"] {
                        let guardian = GuardianInput {
                            name: format!("{} {}", rng.pick(ADULTS), last),
                            relation: relation.to_string(),
                            phone: format!("+45 2{:07}", rng.below(10_000_000)),
                            email: String::new(),
                            address: format!("{street} {number}, 2750 Ballerup"),
                            has_custody: true,
                        };
                        org::insert_guardian(&mut tx, cid, &guardian, now).await?;
                    }
                    summary.children += 1;
                }
            }
        }
    }

    let mut dpo = None;
    for &(email, name, role, assigned) in ACCOUNTS {
        let id = users::insert(&mut tx, email, name, role, Some(&hash), now).await?;
        if role == Role::Dpo {
            dpo = Some(id);
        }
        let ids: Vec<i64> = match role {
            Role::Admin | Role::Dpo => Vec::new(),
            Role::Leader => vec![institution_ids[assigned]],
            Role::SocialWorker => vec![district_ids[assigned]],
            Role::Educator => {
                let (inst, groups) = assigned.split_once(':').context("educator assignment")?;
                groups
                    .split(',')
                    .map(|g| group_ids[&format!("{inst}:{g}")])
                    .collect()
            }
        };
        users::set_assignments(&mut tx, id, role, &ids).await?;
        if email == TWO_FACTOR_ACCOUNT {
            crate::dispatch!(&mut tx, c => sqlx::query("UPDATE users SET totp_secret = $2 WHERE id = $1")
                .bind(id)
                .bind(TWO_FACTOR_SECRET)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        summary.accounts += 1;
    }
    if let (Some(dpo), Some(&first_group)) = (dpo, group_ids.values().min()) {
        summary.children += leavers(&mut tx, first_group, dpo, &mut rng, now).await?;
    }
    // An open screening round for every institution, so the demo educators can assess; with
    // history, earlier rounds every half year before it.
    let mut rounds = Vec::new();
    for back in (0..size.rounds.max(1)).rev() {
        let opens = today - Duration::days(14 + 182 * back as i64);
        let closes = opens + Duration::days(44);
        let season = if chrono::Datelike::month(&opens) >= 8 {
            "Efterår"
        } else {
            "Forår"
        };
        let name = format!("{season} {}", chrono::Datelike::year(&opens));
        let id =
            crate::assessment::db::insert_round(&mut tx, &name, opens, closes, "", "", now).await?;
        rounds.push((id, closes));
    }
    if size.rounds > 0 {
        let cat = catalogue.context("history needs the questionnaires")?;
        let author = users::insert(
            &mut tx,
            "historik@demo.trivsel.dk",
            "Tidligere vurdering",
            Role::Educator,
            None,
            now,
        )
        .await?;
        let past = if size.history_in_open_round {
            &rounds[..]
        } else {
            &rounds[..rounds.len() - 1]
        };
        let ranks;
        (summary.assessments, ranks) =
            history(&mut tx, cat, &born, past, author, &mut rng, now).await?;
        crate::assessment::db::rebuild_round_positions(&mut tx).await?;
        // A bench data set's social workers have work: the alerts the engine's own rules
        // raise for the open round's positions.
        if size.history_in_open_round
            && let Some(&(round, closes)) = past.last()
        {
            let newest = (past.len() - 1, round);
            summary.alerts =
                raise_alerts(&mut tx, cat, &born, &ranks, newest, closes, author, now).await?;
            case_work(&mut tx, &hash, author, closes, now, &mut summary).await?;
        }
    }
    tx.commit().await?;
    // A bulk load: the planner's statistics follow it at once.
    db.refresh_statistics(true).await?;
    Ok(summary)
}

/// Children who left the municipality's institutions long ago, so the retention page has
/// something to show: three whose records the policy's rules have reached (a dry run counts
/// them; the first nightly run deletes them), and one under a legal hold placed by the
/// data-protection officer, which no run touches. Returns how many children.
async fn leavers(
    tx: &mut crate::db::Tx,
    group: i64,
    dpo: i64,
    rng: &mut Rng,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let today = now.date_naive();
    for n in 0..4 {
        let left_on = today - Duration::days(3 * 365 + 60 + 30 * n);
        let girl = rng.below(2) == 0;
        let last = rng.pick(SURNAMES);
        let child = ChildInput {
            first_name: rng.pick(if girl { GIRLS } else { BOYS }).to_string(),
            last_name: last.to_string(),
            birth_date: left_on - Duration::days(5 * 365 + 40 * n),
            gender: if girl { "p" } else { "d" },
            external_id: Some(format!("DEMO-LEFT-{n}")),
            protected_address: false,
        };
        let id = org::insert_child(tx, &child, now).await?;
        org::enrol(tx, id, group, left_on - Duration::days(2 * 365)).await?;
        org::mark_left(tx, id, left_on).await?;
        let guardian = GuardianInput {
            name: format!("{} {last}", rng.pick(ADULTS)),
            relation: "Mor".into(),
            phone: String::new(),
            email: String::new(),
            address: String::new(),
            has_custody: true,
        };
        org::insert_guardian(tx, id, &guardian, now).await?;
        if n == 3 {
            crate::retention::place(
                tx,
                id,
                "Klagesag i Ankestyrelsen (demo): intet om barnet slettes, før sagen er afgjort.",
                dpo,
                now,
            )
            .await?;
        }
    }
    Ok(4)
}

/// One generated position: child, round, questionnaire, outcome, when.
type HistoryRow = (
    i64,
    i64,
    std::sync::Arc<crate::questionnaire::Questionnaire>,
    crate::scoring::Outcome,
    DateTime<Utc>,
);

/// Team positions for every child in every round of history, scored by the real engine from
/// generated answers. Each child has a level of concern that drifts from round to round; most
/// children thrive. The generated rows keep domain scores and levels, not item answers.
/// Returns how many positions were written and, per child (in `born`'s order), the round
/// (index into `rounds`) and rank of each of its positions, oldest first.
async fn history(
    tx: &mut crate::db::Tx,
    cat: &crate::questionnaire::Catalogue,
    born: &[(i64, NaiveDate)],
    rounds: &[(i64, NaiveDate)],
    author: i64,
    rng: &mut Rng,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, Vec<Vec<(usize, usize)>>)> {
    let mut ranks: Vec<Vec<(usize, usize)>> = vec![Vec::new(); born.len()];
    const BATCH: usize = 200;
    let mut concern: Vec<f64> = born
        .iter()
        .map(|_| {
            let u = (rng.next() % 10_000) as f64 / 10_000.0;
            u * u * u
        })
        .collect();
    let mut rows: Vec<HistoryRow> = Vec::new();
    let mut written = 0;
    for (ri, &(round_id, closes)) in rounds.iter().enumerate() {
        let at = (closes - Duration::days(7))
            .and_hms_opt(10, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or(now)
            .min(now);
        for (i, &(child, birth)) in born.iter().enumerate() {
            if ri > 0 {
                let drift = ((rng.next() % 2001) as f64 / 10_000.0) - 0.1;
                concern[i] = (concern[i] + drift).clamp(0.0, 1.0);
            }
            if birth > closes {
                continue;
            }
            let Some(q) = cat.for_age(crate::org::age_on(birth, closes)) else {
                continue;
            };
            let answers = crate::scoring::Answers {
                items: q
                    .model
                    .items
                    .iter()
                    .map(|it| {
                        let roll = (rng.next() % 1000) as f64 / 1000.0;
                        let step = if roll < concern[i] * 0.6 {
                            2
                        } else if roll < concern[i] * 1.4 {
                            1
                        } else {
                            0
                        };
                        it.points
                            .iter()
                            .position(|s| s.score() == Some(step * 100))
                            .map(|p| p as u8)
                    })
                    .collect(),
                critical: vec![Some(false); q.model.critical.len()],
            };
            let outcome = crate::scoring::score(&q.model, &answers);
            ranks[i].push((ri, outcome.level));
            rows.push((child, round_id, q.clone(), outcome, at));
            if rows.len() == BATCH {
                written += insert_batch(tx, cat, &rows, author).await?;
                rows.clear();
            }
        }
    }
    if !rows.is_empty() {
        written += insert_batch(tx, cat, &rows, author).await?;
    }
    Ok((written, ranks))
}

/// Raises the alerts the engine's rules (`alerts::evaluate`) give for each child's position
/// in `round` (the newest), routed to the district of the child's institution, anonymous or
/// a notification as `alerts::kind_for` decides without consent. `ranks` as [`history`]
/// returns them; `newest` is the round's index there and its id. Returns how many were
/// raised.
#[allow(clippy::too_many_arguments)]
async fn raise_alerts(
    tx: &mut crate::db::Tx,
    cat: &crate::questionnaire::Catalogue,
    born: &[(i64, NaiveDate)],
    ranks: &[Vec<(usize, usize)>],
    (newest, round): (usize, i64),
    closes: NaiveDate,
    author: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let at = (closes - Duration::days(7))
        .and_hms_opt(10, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(now)
        .min(now);
    // (child, kind, rank, level id, rules, deadline) per alert, written 200 to a statement.
    let mut batch: Vec<GeneratedAlert> = Vec::new();
    let mut raised = 0;
    for (i, &(child, _)) in born.iter().enumerate() {
        let Some((&(ri, rank), earlier)) = ranks[i].split_last() else {
            continue;
        };
        if ri != newest {
            continue; // no position in the newest round
        }
        let previous: Vec<usize> = earlier.iter().rev().map(|&(_, r)| r).collect();
        let rules = crate::alerts::evaluate(&cat.alerting, rank, &previous, false);
        if rules.is_empty() {
            continue;
        }
        let duty = cat.scale.level(rank).handleguide.notify;
        let kind = crate::alerts::kind_for(&[], at.date_naive(), duty);
        let d = &cat.alerting.deadlines;
        let deadline = at
            + if kind == crate::alerts::NOTIFICATION {
                Duration::hours(i64::from(d.notification_hours))
            } else {
                Duration::days(i64::from(d.anonymous_days))
            };
        let level = cat.scale.level(rank).id.clone();
        batch.push((child, kind, rank as i32, level, rules.join(","), deadline));
        if batch.len() == 200 {
            raised += insert_alerts(tx, &batch, round, author, at).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        raised += insert_alerts(tx, &batch, round, author, at).await?;
    }
    Ok(raised)
}

/// The work after the alerts in a bench data set, so the pages that show it are measured
/// with it: every district gets a preventive social worker (a generated account where the
/// demo has none); every second alert has a conversation (a message from each side), every
/// fourth is unread by both sides; every third notification is taken by its district's
/// worker and has a Familieteam course under § 30 whose next review falls between three
/// weeks ago and five weeks ahead. Set-based statements, as for the alerts (one row at a
/// time made the generator's PostgreSQL run twice its SQLite run); no email is queued.
/// Counts accounts and measures into `summary`.
async fn case_work(
    tx: &mut crate::db::Tx,
    hash: &str,
    author: i64,
    closes: NaiveDate,
    now: DateTime<Utc>,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let unstaffed: Vec<(i64, String)> = crate::dispatch!(tx, c => sqlx::query_as(
        "SELECT id, name FROM districts WHERE id NOT IN (SELECT district_id FROM user_districts) ORDER BY id",
    )
    .fetch_all(&mut *c)
    .await)?;
    for (id, name) in &unstaffed {
        let email = format!("raadgiver.{id}@bench.trivsel.dk");
        let name = format!("Rådgiver {name}");
        let user = users::insert(tx, &email, &name, Role::SocialWorker, Some(hash), now).await?;
        users::set_assignments(tx, user, Role::SocialWorker, &[*id]).await?;
        summary.accounts += 1;
    }
    let said = (closes - Duration::days(5))
        .and_hms_opt(9, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(now)
        .min(now);
    // The district's worker (its first), and the first educator of the child's group.
    const WORKER: &str =
        "(SELECT MIN(ud.user_id) FROM user_districts ud WHERE ud.district_id = a.district_id)";
    const EDUCATOR: &str = "(SELECT MIN(ug.user_id) FROM children ch \
         JOIN user_groups ug ON ug.group_id = ch.current_group_id WHERE ch.id = a.child_id)";
    crate::dispatch!(tx, c => sqlx::query(
        "UPDATE alerts SET status = 'in_progress', updated_at = $1, taken_by = \
         (SELECT MIN(ud.user_id) FROM user_districts ud WHERE ud.district_id = alerts.district_id) \
         WHERE kind = 'notification' AND district_id IS NOT NULL AND id % 3 = 0",
    )
    .bind(said)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    // The next reviews spread over eight weeks: one statement per day.
    let today = now.date_naive();
    for day in 0..56i64 {
        let next = today + Duration::days(day - 21);
        let started = next - Duration::weeks(6);
        summary.measures += crate::dispatch!(tx, c => sqlx::query(
            "INSERT INTO measures (alert_id, child_id, kind, section30, started_on, planned_weeks, \
             responsible, review_weeks, next_review_on, status, created_by, created_at) \
             SELECT a.id, a.child_id, 'familieteam', TRUE, $1, 12, 'Familieteamet', 6, $2, 'active', \
             a.taken_by, $3 FROM alerts a \
             WHERE a.status = 'in_progress' AND a.taken_by IS NOT NULL AND a.id % 56 = $4",
        )
        .bind(started)
        .bind(next)
        .bind(said)
        .bind(day)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))? as usize;
    }
    let messages = [
        (
            format!("COALESCE(a.taken_by, {WORKER})"),
            "worker",
            "Tak for henvendelsen. Hvad har I set i den seneste tid?",
        ),
        (
            format!("COALESCE({EDUCATOR}, {author})"),
            "team",
            "Vi har talt med forældrene og aftalt at følge op om en måned.",
        ),
    ];
    for (who, side, body) in &messages {
        let sql = format!(
            "INSERT INTO alert_messages (alert_id, author_id, side, body, created_at) \
             SELECT a.id, {who}, '{side}', $1, $2 FROM alerts a \
             WHERE a.district_id IS NOT NULL AND a.id % 2 = 0"
        );
        crate::dispatch!(tx, c => sqlx::query(&sql)
            .bind(*body)
            .bind(said)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    // Unread by the worker, the group's educators and the institution's leaders.
    let unread = [
        format!("SELECT COALESCE(a.taken_by, {WORKER}), a.id, $1 FROM alerts a WHERE"),
        "SELECT ug.user_id, a.id, $1 FROM alerts a JOIN children ch ON ch.id = a.child_id \
         JOIN user_groups ug ON ug.group_id = ch.current_group_id WHERE"
            .to_string(),
        "SELECT ui.user_id, a.id, $1 FROM alerts a JOIN children ch ON ch.id = a.child_id \
         JOIN groups g ON g.id = ch.current_group_id \
         JOIN user_institutions ui ON ui.institution_id = g.institution_id WHERE"
            .to_string(),
    ];
    for select in &unread {
        let sql = format!(
            "INSERT INTO alert_unread (user_id, alert_id, since) {select} \
             a.district_id IS NOT NULL AND a.id % 4 = 0"
        );
        crate::dispatch!(tx, c => sqlx::query(&sql)
            .bind(said)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// A generated alert: child, kind, rank, level id, rules, deadline.
type GeneratedAlert = (i64, &'static str, i32, String, String, DateTime<Utc>);

/// Writes a batch of generated alerts on the child's position in `round`, routed to the
/// district of the child's institution now.
async fn insert_alerts(
    tx: &mut crate::db::Tx,
    batch: &[GeneratedAlert],
    round: i64,
    author: i64,
    at: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let values = (0..batch.len())
        .map(|i| {
            let b = 4 + i * 6;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                b,
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    // VALUES columns are column1… on both engines. The `CROSS JOIN` keeps SQLite driving
    // from the batch (without statistics mid-load it read every assessment per batch: 360 s
    // at 110,000 children); PostgreSQL plans it as any join.
    let sql = format!(
        "INSERT INTO alerts (child_id, assessment_id, district_id, kind, status, level_rank, level_id, rules, \
         deadline, created_by, created_at, updated_at) \
         SELECT a.child_id, a.id, i.district_id, v.column2, 'new', v.column3, v.column4, v.column5, v.column6, \
         $2, $3, $3 FROM (VALUES {values}) v \
         CROSS JOIN assessments a \
         JOIN enrolments e ON e.child_id = a.child_id AND e.to_date IS NULL \
         JOIN groups g ON g.id = e.group_id JOIN institutions i ON i.id = g.institution_id \
         WHERE a.child_id = v.column1 AND a.round_id = $1 AND a.kind = 'team'"
    );
    crate::dispatch!(tx, c => {
        let mut q = sqlx::query(&sql).bind(round).bind(author).bind(at);
        for (child, kind, rank, level, rules, deadline) in batch {
            q = q
                .bind(*child)
                .bind(*kind)
                .bind(*rank)
                .bind(level.as_str())
                .bind(rules.as_str())
                .bind(*deadline);
        }
        q.execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(batch.len())
}

async fn insert_batch(
    tx: &mut crate::db::Tx,
    cat: &crate::questionnaire::Catalogue,
    rows: &[HistoryRow],
    author: i64,
) -> anyhow::Result<usize> {
    let mut sql = String::from(
        "INSERT INTO assessments (child_id, round_id, kind, status, author_id, questionnaire_id, questionnaire_version, \
         questionnaire_hash, scale_id, answers, domain_scores, reasons, total, suggested_rank, suggested_level, decided_rank, \
         decided_level, submission_key, created_at, updated_at, submitted_at) VALUES ",
    );
    // Per row: child, round, questionnaire id, version, hash, domain scores, reasons, total,
    // rank, level id, key, time — twelve parameters; the constants are literals.
    for i in 0..rows.len() {
        let b = i * 12;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, 'team', 'submitted', ${}, ${}, ${}, ${}, ${}, '{{}}', ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            b + 1, b + 2, rows.len() * 12 + 1, b + 3, b + 4, b + 5, rows.len() * 12 + 2, b + 6, b + 7, b + 8, b + 9, b + 10, b + 9, b + 10, b + 11, b + 12, b + 12, b + 12
        ));
    }
    let scale_id = cat.scale.def.id.clone();
    crate::dispatch!(tx, c => {
        let mut q = sqlx::query(&sql);
        for (child, round, qn, o, at) in rows {
            let level = cat.scale.level(o.level).id.clone();
            q = q
                .bind(*child)
                .bind(*round)
                .bind(qn.def.id.clone())
                .bind(qn.def.version as i32)
                .bind(qn.hash.clone())
                .bind(serde_json::to_string(&o.domains).unwrap_or_default())
                .bind(serde_json::to_string(&o.reasons).unwrap_or_default())
                .bind(o.total)
                .bind(o.level as i32)
                .bind(level)
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(*at);
        }
        q.bind(author).bind(scale_id).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(rows.len())
}

/// Links each demo account's email as its identity at each of `providers` (single sign-on in
/// the demo: README), leaving links that exist.
pub async fn link_identities(
    db: &Db,
    providers: &[&str],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    for provider in providers {
        for &(email, ..) in ACCOUNTS {
            crate::dispatch!(&mut tx, c => sqlx::query(
                "INSERT INTO sso_identities (provider, identity, user_id, created_at) \
                 SELECT $1, email, id, $2 FROM users WHERE email = $3 \
                 ON CONFLICT (provider, identity) DO NOTHING",
            )
            .bind(*provider)
            .bind(now)
            .bind(email)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        }
    }
    tx.commit().await
}
