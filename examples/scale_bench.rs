//! The scale bench (`bash bench/scale.sh`): every page a user reaches, measured against a
//! running service holding a municipal-size data set (`trivsel demo --children 110000
//! --rounds 6`). Logs in as the demo accounts of each role, finds the pages they reach by
//! following the links a person would, then measures
//!
//! - each page alone, one request at a time (p50, p95 over `--samples` requests after a
//!   warm-up), against the target p95 ≤ 50 ms;
//! - all pages mixed under an open-loop load of `--rate` requests/s for `--seconds` (requests
//!   start on schedule whether or not earlier ones have finished, and latency counts from the
//!   scheduled start, so a stall is not hidden), against p99 ≤ 150 ms and no errors;
//! - the server's peak resident memory (`--pid`, VmHWM), against 64 MB.
//!
//! Prints one table (markdown) with each figure beside its target. Loopback only.
//!
//! cargo run --release --example scale_bench -- --base http://127.0.0.1:18090 --pid 1234

use std::time::{Duration, Instant};

mod support;

use support::{arg, pct};

/// A session of the demo account `email`.
async fn session(base: &str, email: &str) -> reqwest::Client {
    support::log_in(base, email, "demo", Some(Duration::from_secs(10))).await
}

async fn body(c: &reqwest::Client, url: &str) -> String {
    let res = c.get(url).send().await.unwrap();
    assert!(res.status().is_success(), "{url}: {}", res.status());
    res.text().await.unwrap()
}

/// The first link in `html` whose target starts with `prefix` and continues with digits
/// (and, if given, ends with `suffix`).
fn link(html: &str, prefix: &str, suffix: &str) -> Option<String> {
    let mut rest = html;
    while let Some(i) = rest.find("href=\"") {
        rest = &rest[i + 6..];
        let target = rest.split('"').next().unwrap_or("");
        if let Some(tail) = target.strip_prefix(prefix) {
            let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && &tail[digits.len()..] == suffix {
                return Some(target.to_string());
            }
        }
    }
    None
}

struct Page {
    role: &'static str,
    path: String,
    client: reqwest::Client,
}

#[tokio::main]
async fn main() {
    let base = arg("--base", "http://127.0.0.1:18090");
    assert!(
        base.starts_with("http://127.") || base.starts_with("http://localhost"),
        "load is only ever sent to loopback"
    );
    let samples: usize = arg("--samples", "20").parse().unwrap();
    let rate: f64 = arg("--rate", "100").parse().unwrap();
    let seconds: f64 = arg("--seconds", "60").parse().unwrap();
    let pid = arg("--pid", "");
    let label = arg("--label", "");

    // The pages each role reaches, found by following links.
    let educator = session(&base, "paedagog@demo.trivsel.dk").await;
    let teacher = session(&base, "laerer@demo.trivsel.dk").await;
    let leader = session(&base, "leder@demo.trivsel.dk").await;
    let worker = session(&base, "raadgiver@demo.trivsel.dk").await;
    let admin = session(&base, "admin@demo.trivsel.dk").await;
    let mut pages: Vec<Page> = Vec::new();
    let mut add = |role: &'static str, path: String, client: &reqwest::Client| {
        pages.push(Page {
            role,
            path,
            client: client.clone(),
        })
    };

    let home = body(&educator, &format!("{base}/")).await;
    add("educator", "/".into(), &educator);
    let group = link(&home, "/groups/", "").expect("the educator's group");
    let sheet = body(&educator, &format!("{base}{group}")).await;
    add("educator", group.clone(), &educator);
    let child = link(&sheet, "/children/", "").expect("a child");
    add("educator", child.clone(), &educator);
    add("educator", format!("{child}/assess"), &educator);
    let child_page = body(&educator, &format!("{base}{child}")).await;
    if let Some(a) = link(&child_page, "/assessments/", "") {
        add("educator", a, &educator);
    }

    // The team's alerts with their conversations (and the unread count every page shows).
    add("educator", "/alerts".into(), &educator);

    let thome = body(&teacher, &format!("{base}/")).await;
    add("teacher", "/".into(), &teacher);
    if let Some(class) = link(&thome, "/groups/", "") {
        add("teacher", class, &teacher);
    }

    let lhome = body(&leader, &format!("{base}/")).await;
    add("leader", "/".into(), &leader);
    add("leader", "/overview".into(), &leader);
    add("leader", "/overview/export.csv".into(), &leader);
    if let Some(inst) = link(&lhome, "/institutions/", "") {
        add("leader", inst, &leader);
    }
    add("leader", "/alerts".into(), &leader);

    add("social worker", "/".into(), &worker);
    add("social worker", "/alerts".into(), &worker);
    add("social worker", "/alerts?page=2".into(), &worker);
    let inbox = body(&worker, &format!("{base}/alerts")).await;
    if let Some(alert) = link(&inbox, "/alerts/", "") {
        add("social worker", alert, &worker);
    }
    // The worker's own cases: a conversation, a measure and its reviews on each.
    add("social worker", "/alerts?filter=mine".into(), &worker);
    add("social worker", "/alerts?filter=overdue".into(), &worker);
    let mine = body(&worker, &format!("{base}/alerts?filter=mine")).await;
    if let Some(case) = link(&mine, "/alerts/", "") {
        add("social worker", case, &worker);
    }
    add("social worker", "/overview/municipality".into(), &worker);

    add("admin", "/".into(), &admin);
    add("admin", "/admin/org".into(), &admin);
    add("admin", "/admin/children?q=ander".into(), &admin);
    add("admin", "/admin/children?unenrolled=1".into(), &admin);
    let search = body(&admin, &format!("{base}/admin/children?q=ander")).await;
    if let Some(child) = link(&search, "/admin/children/", "") {
        add("admin", child, &admin);
    }
    let org_page = body(&admin, &format!("{base}/admin/org")).await;
    if let Some(group) = link(&org_page, "/admin/groups/", "") {
        add("admin", group, &admin);
    }
    add("admin", "/admin/users".into(), &admin);
    let users = body(&admin, &format!("{base}/admin/users")).await;
    if let Some(user) = link(&users, "/admin/users/", "") {
        add("admin", user, &admin);
    }
    add("admin", "/admin/rounds".into(), &admin);
    add("admin", "/admin/import".into(), &admin);
    add("admin", "/overview/municipality".into(), &admin);
    add("admin", "/overview/municipality.csv".into(), &admin);

    // Each page alone.
    let mut single = Vec::new();
    for p in &pages {
        let url = format!("{base}{}", p.path);
        for _ in 0..3 {
            body(&p.client, &url).await;
        }
        let mut lat = Vec::new();
        for _ in 0..samples {
            let t = Instant::now();
            body(&p.client, &url).await;
            lat.push(t.elapsed());
        }
        lat.sort();
        single.push((pct(&lat, 0.50), pct(&lat, 0.95)));
    }

    // All pages mixed, open loop.
    let total = (rate * seconds) as usize;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let p = &pages[i % pages.len()];
        let (client, url, which) = (
            p.client.clone(),
            format!("{base}{}", p.path),
            i % pages.len(),
        );
        let at = started + Duration::from_secs_f64(i as f64 / rate);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let ok = match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            };
            (which, at.elapsed(), ok)
        }));
    }
    let mut per_page: Vec<Vec<Duration>> = vec![Vec::new(); pages.len()];
    let mut all = Vec::new();
    let mut errors = vec![0usize; pages.len()];
    for t in tasks {
        let (which, lat, ok) = t.await.unwrap();
        if ok {
            per_page[which].push(lat);
            all.push(lat);
        } else {
            errors[which] += 1;
        }
    }
    let achieved =
        (all.len() + errors.iter().sum::<usize>()) as f64 / started.elapsed().as_secs_f64();
    all.sort();

    let peak = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0);

    let mark = |ok: bool| if ok { "" } else { " ✗" };
    println!("\n### {label}\n");
    println!(
        "| role | page | p50 alone | p95 alone (≤ 50 ms) | p50 mixed | p99 mixed (≤ 150 ms) | errors (0) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (i, p) in pages.iter().enumerate() {
        let mut lat = std::mem::take(&mut per_page[i]);
        lat.sort();
        let (p50, p95) = single[i];
        let p99 = pct(&lat, 0.99);
        println!(
            "| {} | `{}` | {:.1} ms | {:.1} ms{} | {:.1} ms | {:.1} ms{} | {}{} |",
            p.role,
            p.path,
            p50,
            p95,
            mark(p95 <= 50.0),
            pct(&lat, 0.50),
            p99,
            mark(p99 <= 150.0),
            errors[i],
            mark(errors[i] == 0)
        );
    }
    let errs: usize = errors.iter().sum();
    println!(
        "| all | mixed at {rate:.0}/s for {seconds:.0} s ({achieved:.0}/s sent) | | | {:.1} ms | {:.1} ms{} | {errs}{} |",
        pct(&all, 0.50),
        pct(&all, 0.99),
        mark(pct(&all, 0.99) <= 150.0),
        mark(errs == 0)
    );
    match peak {
        Some(mb) => println!(
            "\nPeak resident memory (VmHWM): {mb:.0} MB (≤ 64 MB){}",
            mark(mb <= 64.0)
        ),
        None => println!("\nPeak resident memory: not measured (no --pid)"),
    }
}
