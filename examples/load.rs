//! A small closed-loop load generator for the bench in `bench/run.sh`: logs in N sessions as
//! one account, then each session requests a page back to back for a fixed time and the
//! latencies are reported (requests/s, p50, p99, max). Loopback only; bounded in time.
//!
//! cargo run --release --example load -- --base http://127.0.0.1:8080 \
//!     --email paedagog@demo.trivsel.dk --password demo --path /groups/6 --sessions 50 --seconds 20
//!
//! `--think-ms N` makes each session wait a random 0–2N ms (mean N) between requests, as a
//! person reading the page does; without it the sessions are a closed loop (the worst case:
//! 50 sessions then measure queueing on two cores more than the page).

use std::time::{Duration, Instant};

mod support;

use support::arg;

#[tokio::main]
async fn main() {
    let base = arg("--base", "http://127.0.0.1:8080");
    assert!(
        base.starts_with("http://127.") || base.starts_with("http://localhost"),
        "load is only ever sent to loopback"
    );
    let email = arg("--email", "paedagog@demo.trivsel.dk");
    let password = arg("--password", "demo");
    let path = arg("--path", "/");
    let sessions: usize = arg("--sessions", "50").parse().unwrap();
    let seconds: u64 = arg("--seconds", "20").parse().unwrap();
    let think_ms: u64 = arg("--think-ms", "0").parse().unwrap();

    let mut clients = Vec::new();
    for _ in 0..sessions {
        clients.push(support::log_in(&base, &email, &password, None).await);
    }
    // Warm-up, not measured.
    for c in &clients {
        c.get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, c) in clients.into_iter().enumerate() {
        let url = format!("{base}{path}");
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            // A small deterministic generator per session for the think times.
            let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (n as u64 + 1);
            while Instant::now() < deadline {
                if think_ms > 0 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    tokio::time::sleep(Duration::from_millis(seed % (2 * think_ms + 1))).await;
                }
                let t = Instant::now();
                match c.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "path={path} sessions={sessions} think_ms={think_ms} requests={} errors={errors} rps={:.0} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        all.last().unwrap().as_secs_f64() * 1000.0
    );
}
