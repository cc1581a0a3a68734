//! The access-log bench (`bash bench/log.sh`): a year of the access log at municipal usage,
//! written into the 110,000-child data set in the log's own format, then measured.
//!
//! `--step generate --url DB --days N`: N workdays (200 is a school year) ending today, each
//! with the usage the log was sized for: two educators per group each open the group's page
//! three times (one record naming the group's children) and two of its children's pages; each
//! institution's leader opens the overview once (~95 children) and exports it monthly (~200).
//! Prints the records written, what one-row-per-child would have been, and the log's bytes.
//!
//! `--step seal --url DB`: seals everything, as the minute job would (a purge needs seals).
//!
//! `--step measure --base URL --pid PID`: against a running service on that database: "who
//! has seen this child" and the admin's log pages, each alone (p50/p95 over many children or
//! pages); then an open-loop mixed load while the admin starts a retention run that purges
//! the oldest part of the log, and the same load without it, for the purge's effect.

use std::time::{Duration, Instant};

use trivsel::db::{Backend, Db};

mod support;

use support::{arg, pct};

/// A small deterministic generator (the data set must be the same run to run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One record as written: seconds into the day, user, role, action, child, object, children.
type Record = (
    u32,
    i64,
    &'static str,
    &'static str,
    Option<i64>,
    String,
    Option<String>,
);

async fn bytes(db: &Db) -> i64 {
    match db {
        Db::Sqlite { read, .. } => {
            let (pages, size): (i64, i64) = (
                sqlx::query_scalar("PRAGMA page_count").fetch_one(read).await.unwrap(),
                sqlx::query_scalar("PRAGMA page_size").fetch_one(read).await.unwrap(),
            );
            let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                .fetch_one(read)
                .await
                .unwrap();
            (pages - free) * size
        }
        Db::Postgres(p) => sqlx::query_scalar(
            "SELECT pg_total_relation_size('access_log') + pg_total_relation_size('access_log_seals')",
        )
        .fetch_one(p)
        .await
        .unwrap(),
    }
}

async fn generate(db: &Db, days: i64) {
    let mut c = db.conn().await.unwrap();
    // Groups with their children now, and institutions with theirs.
    let rows: Vec<(i64, i64, i64)> = trivsel::dispatch!(&mut c, c => sqlx::query_as(
        "SELECT g.id, g.institution_id, e.child_id FROM groups g \
         JOIN enrolments e ON e.group_id = g.id AND e.to_date IS NULL ORDER BY g.id, e.child_id",
    )
    .fetch_all(&mut *c)
    .await)
    .unwrap();
    drop(c);
    let mut groups: std::collections::BTreeMap<i64, (i64, Vec<i64>)> = Default::default();
    let mut institutions: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for (g, i, child) in rows {
        groups.entry(g).or_insert((i, Vec::new())).1.push(child);
        institutions.entry(i).or_default().push(child);
    }
    // The generator's own writer may cache what it inserts into (the service keeps SQLite's
    // default); on PostgreSQL the server's settings apply.
    if db.backend() == Backend::Sqlite {
        let mut w = db.writer().await.unwrap();
        trivsel::dispatch!(&mut w, c => sqlx::query("PRAGMA cache_size = -262144")
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))
        .unwrap();
    }
    let before = bytes(db).await;
    let started = Instant::now();
    let today = chrono::Utc::now().date_naive();
    let mut rng = Rng(0x6c6f_6762_656e_6368);
    let (mut records, mut per_child_rows) = (0u64, 0u64);
    let list = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    // Workdays, oldest first, ending today.
    let mut day = today;
    let mut workdays = Vec::new();
    while (workdays.len() as i64) < days {
        if chrono::Datelike::weekday(&day).num_days_from_monday() < 5 {
            workdays.push(day);
        }
        day -= chrono::Duration::days(1);
    }
    workdays.reverse();
    for (n, day) in workdays.iter().enumerate() {
        let mut recs: Vec<Record> = Vec::new();
        let at = |rng: &mut Rng| 8 * 3600 + rng.below(8 * 3600) as u32;
        for (g, (_, kids)) in &groups {
            for e in 0..2 {
                let user = 100_000 + g * 2 + e;
                for _ in 0..3 {
                    recs.push((
                        at(&mut rng),
                        user,
                        "educator",
                        "read",
                        None,
                        format!("group:{g}"),
                        Some(list(kids)),
                    ));
                    per_child_rows += kids.len() as u64;
                }
                for _ in 0..2 {
                    let child = kids[rng.below(kids.len())];
                    recs.push((
                        at(&mut rng),
                        user,
                        "educator",
                        "read",
                        Some(child),
                        "child".into(),
                        None,
                    ));
                    per_child_rows += 1;
                }
            }
        }
        for (i, kids) in &institutions {
            let user = 50_000 + i;
            let mut shown: Vec<i64> = (0..95.min(kids.len()))
                .map(|_| kids[rng.below(kids.len())])
                .collect();
            shown.sort_unstable();
            shown.dedup();
            per_child_rows += shown.len() as u64;
            recs.push((
                at(&mut rng),
                user,
                "leader",
                "read",
                None,
                "overview".into(),
                Some(list(&shown)),
            ));
            if n % 20 == 0 {
                let exported: Vec<i64> = kids.iter().copied().take(200).collect();
                per_child_rows += exported.len() as u64;
                recs.push((
                    at(&mut rng),
                    user,
                    "leader",
                    "export",
                    None,
                    "overview.csv".into(),
                    Some(list(&exported)),
                ));
            }
        }
        recs.sort_by_key(|r| r.0);
        let midnight = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
        let mut tx = db.begin().await.unwrap();
        let first: i64 = trivsel::dispatch!(&mut tx, c => sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM access_log")
            .fetch_one(&mut *c)
            .await)
        .unwrap();
        for chunk in recs.chunks(400) {
            let mut sql = String::from(
                "INSERT INTO access_log (at, user_id, role, action, child_id, object, detail, children) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 7;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, '', ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7
                ));
            }
            trivsel::dispatch!(&mut tx, c => {
                let mut q = sqlx::query(&sql);
                for r in chunk {
                    q = q
                        .bind(midnight + chrono::Duration::seconds(i64::from(r.0)))
                        .bind(r.1)
                        .bind(r.2)
                        .bind(r.3)
                        .bind(r.4)
                        .bind(r.5.clone())
                        .bind(r.6.clone());
                }
                q.execute(&mut *c).await.map(|r| r.rows_affected())
            })
            .unwrap();
        }
        if db.backend() == Backend::Sqlite {
            trivsel::dispatch!(&mut tx, c => sqlx::query(
                "INSERT INTO access_log_children (rowid, children) \
                 SELECT id, children FROM access_log WHERE id > $1 AND children IS NOT NULL",
            )
            .bind(first)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))
            .unwrap();
        }
        tx.commit().await.unwrap();
        records += recs.len() as u64;
        if n % 20 == 19 {
            eprintln!(
                "{} days, {records} records, {:.0} s",
                n + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    db.refresh_statistics(true).await.unwrap();
    let after = bytes(db).await;
    let per_year = (after - before) as f64 * 200.0 / days as f64;
    println!(
        "| engine | workdays | records | one row per child would be | log bytes | bytes per record | a year (200 workdays) |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {:?} | {days} | {records} | {per_child_rows} | {:.2} GB | {:.0} | {:.2} GB |",
        db.backend(),
        (after - before) as f64 / 1e9,
        (after - before) as f64 / records as f64,
        per_year / 1e9
    );
    eprintln!("generated in {:.0} s", started.elapsed().as_secs_f64());
}

async fn get(c: &reqwest::Client, url: &str) -> (Duration, String) {
    let t = Instant::now();
    let res = c.get(url).send().await.unwrap();
    assert!(res.status().is_success(), "{url}: {}", res.status());
    let body = res.text().await.unwrap();
    (t.elapsed(), body)
}

/// An open-loop load of `urls` at `rate`/s for `seconds`; latencies from scheduled start.
async fn load(
    c: &reqwest::Client,
    urls: &[String],
    rate: f64,
    seconds: f64,
) -> (Vec<Duration>, usize) {
    let total = (rate * seconds) as usize;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..total {
        let (client, url) = (c.clone(), urls[i % urls.len()].clone());
        let at = started + Duration::from_secs_f64(i as f64 / rate);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let ok = match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            };
            (at.elapsed(), ok)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, ok) = t.await.unwrap();
        if ok { lat.push(l) } else { errors += 1 }
    }
    lat.sort();
    (lat, errors)
}

async fn measure(base: &str, url: &str, label: &str, children: &[i64]) {
    let admin = support::log_in(
        base,
        "admin@demo.trivsel.dk",
        "demo",
        Some(Duration::from_secs(60)),
    )
    .await;
    let mut rows: Vec<(String, Vec<Duration>)> = Vec::new();
    // "Who has seen this child", many children, each once after a warm-up of a few.
    for &child in children.iter().take(5) {
        get(&admin, &format!("{base}/children/{child}/accesses")).await;
    }
    let mut lat = Vec::new();
    let mut older = Vec::new();
    for &child in children {
        let (l, body) = get(&admin, &format!("{base}/children/{child}/accesses")).await;
        lat.push(l);
        if let Some(i) = body.find("accesses?before=") {
            let cursor: String = body[i + 16..].chars().take_while(|c| *c != '"').collect();
            older.push(format!("{base}/children/{child}/accesses?before={cursor}"));
        }
    }
    rows.push(("who has seen this child (first page)".into(), lat));
    let mut lat = Vec::new();
    for url in &older {
        lat.push(get(&admin, url).await.0);
    }
    rows.push(("who has seen this child (an older page)".into(), lat));
    let mut lat = Vec::new();
    for &child in children.iter().take(100) {
        lat.push(
            get(&admin, &format!("{base}/admin/access-log?child={child}"))
                .await
                .0,
        );
    }
    rows.push(("the admin's log, one child".into(), lat));
    let (_, first) = get(&admin, &format!("{base}/admin/access-log")).await;
    let cursor: String = first
        .find("before=")
        .map(|i| first[i + 7..].chars().take_while(|c| *c != '"').collect())
        .unwrap_or_default();
    let today = chrono::Utc::now().date_naive();
    let week = today - chrono::Duration::days(60);
    for (name, path) in [
        (
            "the admin's log, newest page",
            "/admin/access-log".to_string(),
        ),
        (
            "the admin's log, an older page",
            format!("/admin/access-log?before={cursor}"),
        ),
        (
            "the admin's log, one user",
            "/admin/access-log?user=100042".to_string(),
        ),
        (
            "the admin's log, a user by name",
            "/admin/access-log?user=Anja".to_string(),
        ),
        (
            "the admin's log, a child's name (the matches to choose from)",
            "/admin/access-log?child=Emma".to_string(),
        ),
        (
            "the admin's log, exports",
            "/admin/access-log?action=export".to_string(),
        ),
        (
            "the admin's log, one day two months ago",
            format!("/admin/access-log?from={week}&to={week}"),
        ),
    ] {
        let url = format!("{base}{path}");
        for _ in 0..3 {
            get(&admin, &url).await;
        }
        let mut lat = Vec::new();
        for _ in 0..30 {
            lat.push(get(&admin, &url).await.0);
        }
        rows.push((name.into(), lat));
    }
    // The retention page's dry run, on request (counts every rule's rows).
    let mut lat = Vec::new();
    for _ in 0..3 {
        lat.push(
            get(&admin, &format!("{base}/admin/retention?preview=1"))
                .await
                .0,
        );
    }
    rows.push(("the retention page's dry run (on request)".into(), lat));
    println!("\n### {label}\n");
    println!("| page | requests | p50 | p95 (≤ 50 ms) |");
    println!("|---|---|---|---|");
    for (name, mut lat) in rows {
        lat.sort();
        println!(
            "| {name} | {} | {:.1} ms | {:.1} ms{} |",
            lat.len(),
            pct(&lat, 0.5),
            pct(&lat, 0.95),
            if pct(&lat, 0.95) <= 50.0 { "" } else { " ✗" }
        );
    }

    // The purge's effect: the same mixed load without and with a retention run purging the
    // oldest part of the log.
    let urls: Vec<String> = children
        .iter()
        .take(50)
        .flat_map(|c| {
            [
                format!("{base}/children/{c}/accesses"),
                format!("{base}/admin/children/{c}"),
                format!("{base}/admin/access-log?child={c}"),
            ]
        })
        .chain([format!("{base}/admin/access-log")])
        .collect();
    let rate: f64 = arg("--rate", "50").parse().unwrap();
    let seconds: f64 = arg("--seconds", "30").parse().unwrap();
    let (quiet, quiet_errors) = load(&admin, &urls, rate, seconds).await;
    let page = get(&admin, &format!("{base}/admin/retention")).await.1;
    let token = support::csrf_in(&page).expect("the run form");
    let t = Instant::now();
    let res = admin
        .post(format!("{base}/admin/retention/run"))
        .header("origin", base)
        .form(&[("csrf_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303, "the run");
    // The run goes on in the background: the load runs in windows of 10 s until it is done.
    let db = Db::connect(url, 1).await.unwrap();
    let (mut busy, mut busy_errors) = (Vec::new(), 0);
    loop {
        let (lat, errors) = load(&admin, &urls, rate, 10.0).await;
        busy.extend(lat);
        busy_errors += errors;
        let mut c = db.conn().await.unwrap();
        let open: i64 = trivsel::dispatch!(&mut c, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM retention_runs WHERE finished_at IS NULL \
             AND id = (SELECT MAX(id) FROM retention_runs)",
        )
        .fetch_one(&mut *c)
        .await)
        .unwrap();
        if open == 0 {
            break;
        }
    }
    let took = t.elapsed();
    let mut c = db.conn().await.unwrap();
    let (counts, error): (String, String) = trivsel::dispatch!(&mut c, c => sqlx::query_as(
        "SELECT counts, error FROM retention_runs ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&mut *c)
    .await)
    .unwrap();
    drop(c);
    db.close().await;
    busy.sort();
    let purged = serde_json::from_str::<Vec<serde_json::Value>>(&counts)
        .unwrap_or_default()
        .iter()
        .find(|l| l["records"] == "access_log")
        .and_then(|l| l["rows"].as_i64())
        .unwrap_or(0);
    println!("\n| mixed load at {rate:.0}/s | p50 | p95 | p99 | errors |");
    println!("|---|---|---|---|---|");
    for (name, lat, errors) in [
        ("without a purge (30 s)", &quiet, quiet_errors),
        ("while the purge runs", &busy, busy_errors),
    ] {
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {errors} |",
            pct(lat, 0.5),
            pct(lat, 0.95),
            pct(lat, 0.99)
        );
    }
    println!(
        "\nThe retention run took {:.0} s (the load measured in 10 s windows until it was done); it purged {purged} access-log records{}.",
        took.as_secs_f64(),
        if error.is_empty() {
            String::new()
        } else {
            format!(" and failed: {error}")
        }
    );
}

#[tokio::main]
async fn main() {
    let step = arg("--step", "measure");
    match step.as_str() {
        "generate" | "seal" => {
            let db = Db::connect(&arg("--url", ""), 4).await.unwrap();
            if step == "generate" {
                generate(&db, arg("--days", "200").parse().unwrap()).await;
            } else {
                let t = Instant::now();
                let mut n = 0;
                loop {
                    let sealed = trivsel::audit::seal(&db, chrono::Utc::now()).await.unwrap();
                    n += sealed;
                    if sealed == 0 {
                        break;
                    }
                }
                eprintln!("sealed {n} records in {:.0} s", t.elapsed().as_secs_f64());
            }
            db.close().await;
        }
        _ => {
            let base = arg("--base", "http://127.0.0.1:18091");
            assert!(
                base.starts_with("http://127."),
                "load is only ever sent to loopback"
            );
            let db = Db::connect(&arg("--url", ""), 2).await.unwrap();
            let mut c = db.conn().await.unwrap();
            let all: Vec<i64> = trivsel::dispatch!(&mut c, c => sqlx::query_scalar(
                "SELECT child_id FROM enrolments WHERE to_date IS NULL ORDER BY child_id",
            )
            .fetch_all(&mut *c)
            .await)
            .unwrap();
            drop(c);
            db.close().await;
            let mut rng = Rng(0x7768_6f73_6177_0001);
            let children: Vec<i64> = (0..200).map(|_| all[rng.below(all.len())]).collect();
            measure(&base, &arg("--url", ""), &arg("--label", ""), &children).await;
        }
    }
}
