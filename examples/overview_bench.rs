//! Overview speed on a generated municipality (`trivsel demo --children 110000 --rounds 6`):
//! the leader's institution overview and the municipal overview, timed one request at a time
//! (server time on loopback), and the municipal figures computed by one hand-written SQL
//! aggregate in the same run. For p99 under 50 concurrent users use `examples/load.rs`.
//!
//! cargo run --release --example overview_bench -- --database-url sqlite://data/trivsel.db

use std::time::{Duration, Instant};

use trivsel::app;
use trivsel::config::Config;
use trivsel::db::Db;
use trivsel::state::AppState;

mod support;

use support::arg;

async fn login(base: &str, email: &str) -> reqwest::Client {
    support::log_in(base, email, "demo", None).await
}

fn summary(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "p50={:.1}ms p90={:.1}ms max={:.1}ms",
        ms(v[v.len() / 2]),
        ms(v[v.len() * 9 / 10]),
        ms(*v.last().unwrap())
    )
}

async fn time_page(http: &reqwest::Client, url: &str, n: usize) -> Vec<Duration> {
    let mut out = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let res = http.get(url).send().await.unwrap();
        assert!(res.status().is_success(), "{url}: {}", res.status());
        res.bytes().await.unwrap();
        out.push(t.elapsed());
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    trivsel::telemetry::init(trivsel::config::LogFormat::Text);
    let url = arg("--database-url", "sqlite://data/trivsel.db");
    let n: usize = arg("--requests", "30").parse()?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("questionnaires");
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        // Count the municipal figures on every request: the bench measures the count, not
        // the minute-long reuse that the service does by default.
        aggregate_cache_seconds: 0,
        ..Config::default()
    };
    let db = Db::connect(&url, config.max_connections).await?;
    db.migrate().await?;
    let catalogue = trivsel::questionnaire::Catalogue::load(&dir, &config.scale)
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    let state = AppState::new(db.clone(), config.clone(), String::new()).with_catalogue(catalogue);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(app::serve(state, listener, std::future::pending()));

    let leader = login(&base, "leder@demo.trivsel.dk").await;
    let admin = login(&base, "admin@demo.trivsel.dk").await;
    // Warm up.
    time_page(&leader, &format!("{base}/overview"), 2).await;
    time_page(&admin, &format!("{base}/overview/municipality"), 2).await;
    let inst = time_page(&leader, &format!("{base}/overview"), n).await;
    let muni = time_page(&admin, &format!("{base}/overview/municipality"), n).await;

    let (round, closes): (i64, chrono::NaiveDate) = match &db {
        Db::Sqlite { read, .. } => {
            sqlx::query_as(
                "SELECT id, closes_on FROM rounds ORDER BY opens_on DESC, id DESC LIMIT 1",
            )
            .fetch_one(read)
            .await?
        }
        Db::Postgres(p) => {
            sqlx::query_as(
                "SELECT id, closes_on FROM rounds ORDER BY opens_on DESC, id DESC LIMIT 1",
            )
            .fetch_one(p)
            .await?
        }
    };
    let bands: Vec<(String, u32)> = vec![
        ("0–2".into(), 0),
        ("3–5".into(), 3),
        ("6–9".into(), 6),
        ("10–13".into(), 10),
        ("14–17".into(), 14),
        ("18+".into(), 18),
    ];
    // A hand-written aggregate of the same figures, as a DBA would write it: the joins and
    // the grouping all in SQL.
    let (case, cutoffs) = trivsel::overview::band_case("p.birth_date", closes, &bands, 2);
    let sql = format!(
        "SELECT d.id, d.name, p.institution_kind, p.gender, {case} AS band, p.decided_rank, COUNT(*) AS n \
         FROM round_positions p JOIN districts d ON d.id = p.district_id \
         WHERE p.round_id = $1 GROUP BY d.id, d.name, p.institution_kind, p.gender, band, p.decided_rank"
    );
    type Row = (i64, String, String, String, String, i32, i64);
    let mut raw = Vec::new();
    let mut total = 0;
    for _ in 0..n {
        let t = Instant::now();
        let rows: Vec<Row> = match &db {
            Db::Sqlite { read, .. } => {
                let mut q = sqlx::query_as(&sql).bind(round);
                for d in &cutoffs {
                    q = q.bind(*d);
                }
                q.fetch_all(read).await?
            }
            Db::Postgres(p) => {
                let mut q = sqlx::query_as(&sql).bind(round);
                for d in &cutoffs {
                    q = q.bind(*d);
                }
                q.fetch_all(p).await?
            }
        };
        raw.push(t.elapsed());
        total = rows.iter().map(|r| r.6).sum::<i64>();
    }
    // The page's figures and the hand-written ones agree.
    let mut c = db.conn().await?;
    let ours: i64 = trivsel::overview::aggregate_counts(&mut c, round, &bands)
        .await?
        .iter()
        .map(|r| r.n)
        .sum();
    drop(c);
    assert_eq!(
        ours, total,
        "the service's aggregate and the hand-written SQL differ"
    );
    let med = |v: &Vec<Duration>| {
        let mut v = v.clone();
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    println!(
        "backend={:?} institution_overview {}",
        db.backend(),
        summary(inst)
    );
    println!(
        "backend={:?} municipal_overview {} ",
        db.backend(),
        summary(muni.clone())
    );
    println!(
        "backend={:?} hand_written_sql {} ratio_median={:.2}",
        db.backend(),
        summary(raw.clone()),
        med(&muni) / med(&raw)
    );
    Ok(())
}
