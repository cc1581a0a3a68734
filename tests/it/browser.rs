//! The core loop in a real headless Chromium, driven over WebDriver (chromedriver) with
//! fantoccini: educator → suggested level → team position → social worker's inbox → leader's
//! overview, one run by keyboard only, an anonymous consultation, both languages, tablet and
//! phone widths. axe-core runs on every page visited, with the WCAG 2.1 A and AA rule sets,
//! and the bar is zero violations.
//!
//! These tests need Chromium, chromedriver and axe-core, which `.ci/run` installs
//! (`apt-get install chromium chromium-driver`, `npm ci --prefix tests/browser`); they are
//! `#[ignore]`d so that plain `cargo test` works on a machine without them, and `.ci/run` runs
//! them with `cargo test --test it browser -- --ignored`. Missing tools fail the run, with a
//! message that says what to install. Screenshots land in `target/browser-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use trivsel::web::i18n::{Lang, text};

use crate::helpers::{TestApp, answers};

const DEMO: &str = trivsel::demo::PASSWORD;

/// The WCAG 2.1 A and AA rule sets of axe-core.
const AXE_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

fn tool(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A chromedriver process with one headless Chromium session, and the server under test.
struct Browser {
    c: Client,
    base: String,
    axe: String,
    shots: PathBuf,
    /// The language each account switches to after logging in (none: leave it as it is).
    lang: Option<Lang>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(base: &str) -> Browser {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let axe_path = manifest.join("tests/browser/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&axe_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; install axe-core with `npm ci --prefix tests/browser`",
                axe_path.display()
            )
        });
        let chromedriver = tool("TRIVSEL_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = tool("TRIVSEL_CHROMIUM", "/usr/bin/chromium");
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{chromedriver}: {e}; install it with `apt-get install chromium-driver`")
            });
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--lang=da-DK",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        let mut client = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        let c = client.unwrap_or_else(|| {
            panic!("no WebDriver session from {chromedriver} with {chromium}: {last:?}")
        });
        // axe-core goes into every new document by the DevTools protocol, once per session:
        // sending its half a megabyte over WebDriver on each page took a third of the time.
        let session = c.session_id().await.unwrap().unwrap();
        let res = reqwest::Client::new()
            .post(format!("{url}/session/{session}/goog/cdp/execute"))
            .json(&json!({
                "cmd": "Page.addScriptToEvaluateOnNewDocument",
                "params": { "source": axe },
            }))
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success(),
            "axe-core not registered: {res:?}"
        );
        let shots = manifest.join("target/browser-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            c,
            base: base.to_string(),
            axe,
            shots,
            lang: None,
            driver,
            _profile: profile,
        }
    }

    async fn close(mut self) {
        let _ = self.c.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    /// Opens `path` and checks the page.
    async fn open(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
        self.check().await;
    }

    /// What every page must pass: no server error, and zero axe violations.
    async fn check(&self) {
        let url = self.c.current_url().await.unwrap();
        let status = self
            .c
            .execute("return document.body.dataset.status || null;", vec![])
            .await
            .unwrap();
        assert_eq!(
            status,
            Value::Null,
            "{url}: error page: {}",
            self.text("main").await
        );
        self.axe(url.path()).await;
    }

    /// Runs axe-core on the current page with the WCAG 2.1 A and AA rules; fails on any
    /// violation.
    async fn axe(&self, page: &str) {
        let violations = self.axe_violations().await;
        assert!(
            violations.is_empty(),
            "axe: {} WCAG 2.1 A/AA violation(s) on {page}:\n{}",
            violations.len(),
            serde_json::to_string_pretty(&violations).unwrap()
        );
    }

    /// axe-core's WCAG 2.1 A/AA violations on the current page: id, impact, help, nodes.
    async fn axe_violations(&self) -> Vec<Value> {
        let loaded = self
            .c
            .execute("return typeof window.axe !== 'undefined';", vec![])
            .await
            .unwrap();
        if loaded != Value::Bool(true) {
            self.c.execute(&self.axe, vec![]).await.unwrap();
        }
        let result = self
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: arguments[0] } })
                    .then(r => done({ passes: r.passes.length, violations: r.violations.map(v => ({
                        id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary)
                    })) }))
                    .catch(e => done({ passes: 0, violations: [{ id: 'axe-error', help: String(e) }] }));",
                vec![json!(AXE_TAGS)],
            )
            .await
            .unwrap();
        assert!(
            result["passes"].as_u64().unwrap_or(0) > 0,
            "axe checked nothing: {result}"
        );
        result["violations"].as_array().cloned().unwrap_or_default()
    }

    async fn text(&self, css: &str) -> String {
        match self.c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn source(&self) -> String {
        self.c.source().await.unwrap()
    }

    async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Answers every item of the assessment form on the page with `value(item)`; the items.
    async fn answer_every_item(&self, value: fn(&str) -> &'static str) -> Vec<String> {
        let items: Vec<String> = self
            .c
            .execute(
                "return [...new Set([...document.querySelectorAll('form.assess fieldset.item input[type=radio]')].map(i => i.name))];",
                vec![],
            )
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        for name in &items {
            self.click(&format!("input[name='{name}'][value='{}']", value(name)))
                .await;
        }
        items
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.c.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Clicks a link or submit button and checks the page it leads to.
    async fn follow(&self, css: &str) {
        self.mark().await;
        self.click(css).await;
        self.settle().await;
        self.check().await;
    }

    /// Presses Enter on the focused link or button and checks the page it leads to.
    async fn enter(&self) {
        self.mark().await;
        self.press(&[Key::Enter.into()]).await;
        self.settle().await;
        self.check().await;
    }

    /// Marks the current document, so `settle` can tell when a new one has replaced it.
    async fn mark(&self) {
        self.c
            .execute("window.__old_page = true;", vec![])
            .await
            .unwrap();
    }

    /// Waits until a new document has replaced the marked one and finished loading.
    async fn settle(&self) {
        for _ in 0..200 {
            let done = self
                .c
                .execute(
                    "return !window.__old_page && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .ok();
            if done == Some(json!(true)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the page did not change");
    }

    async fn login(&self, email: &str) {
        self.open("/login").await;
        self.fill("#email", email).await;
        self.fill("#password", DEMO).await;
        self.follow("form button[type=submit]").await;
        assert!(
            !self
                .c
                .current_url()
                .await
                .unwrap()
                .path()
                .starts_with("/login"),
            "login as {email} failed"
        );
        if let Some(want) = self.lang
            && lang(self).await != want.code()
        {
            self.follow("form[action='/lang'] button").await;
            assert_eq!(lang(self).await, want.code());
        }
    }

    /// Logs in with the keyboard only: Tab to the email, type, Tab, type, Enter.
    async fn login_by_keyboard(&self, email: &str) {
        self.open("/login").await;
        self.tab_to("#email").await;
        self.type_text(email).await;
        self.press(&[Key::Tab.into()]).await;
        self.type_text(DEMO).await;
        self.enter().await;
    }

    async fn logout(&self) {
        self.follow("form[action='/logout'] button").await;
    }

    // ---- keyboard ----

    /// Presses keys (characters or `Key` codes) on whatever has focus, as a person would.
    async fn press(&self, keys: &[char]) {
        let mut seq = KeyActions::new("keyboard".into());
        for &k in keys {
            seq = seq
                .then(KeyAction::Down { value: k })
                .then(KeyAction::Up { value: k });
        }
        self.c.perform_actions(seq).await.unwrap();
    }

    async fn type_text(&self, text: &str) {
        self.press(&text.chars().collect::<Vec<_>>()).await;
    }

    /// Whether the focused element matches `css`.
    async fn focused(&self, css: &str) -> bool {
        self.c
            .execute(
                "return document.activeElement && document.activeElement.matches(arguments[0]);",
                vec![json!(css)],
            )
            .await
            .unwrap()
            == json!(true)
    }

    /// Presses Tab until the element matching `css` has focus; fails if it is not reachable.
    async fn tab_to(&self, css: &str) {
        self.tabs_to(css).await;
    }

    /// [`Self::tab_to`], saying how many presses of Tab it took.
    async fn tabs_to(&self, css: &str) -> usize {
        for n in 0..200 {
            if self.focused(css).await {
                return n;
            }
            self.press(&[Key::Tab.into()]).await;
        }
        panic!("{css} cannot be reached with the Tab key");
    }

    /// Whether the focused element shows a visible focus indicator (outline or box-shadow).
    async fn focus_visible(&self) -> bool {
        self.c
            .execute(
                "const s = getComputedStyle(document.activeElement);
                 return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                     || s.boxShadow !== 'none';",
                vec![],
            )
            .await
            .unwrap()
            == json!(true)
    }

    // ---- layout ----

    async fn set_width(&self, width: u32) {
        self.c.set_window_size(width, 900).await.unwrap();
        // The viewport is what the page sees: resize until it is exactly `width` wide.
        let inner = self
            .c
            .execute("return window.innerWidth;", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap() as u32;
        if inner != width {
            self.c
                .set_window_size(width + (width - inner.min(width)), 900)
                .await
                .unwrap();
        }
    }

    /// Fails when the header wraps: the menu's items on more than one row, or the user's
    /// name, language and logout on more than one line.
    async fn assert_header_on_one_line(&self, what: &str) {
        let rows = self
            .c
            .execute(
                "const tops = new Set([...document.querySelectorAll('.header ul.mainmenu > li')]
                     .map(li => Math.round(li.getBoundingClientRect().top)));
                 const who = document.querySelector('.header .who');
                 const line = who ? [...who.children].map(e => Math.round(e.getBoundingClientRect().top)) : [];
                 return [tops.size, new Set(line).size];",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            rows[0].as_u64().unwrap() <= 1 && rows[1].as_u64().unwrap() <= 1,
            "{what}: the header wraps at 1,280 px (menu rows, user line rows): {rows}"
        );
    }

    /// Fails when the page scrolls sideways at the current width.
    async fn assert_no_horizontal_scroll(&self, what: &str) {
        let (scroll, inner) = {
            let v = self
                .c
                .execute(
                    "return [document.documentElement.scrollWidth, window.innerWidth];",
                    vec![],
                )
                .await
                .unwrap();
            (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
        };
        let wide = self
            .c
            .execute(
                "return [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                    .filter(e => !e.closest('.table-scroll') && e.getBoundingClientRect().width > 1)
                    .slice(0, 8)
                    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                        + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().replaceAll(' ', '.') : '')
                        + ' ' + Math.round(e.getBoundingClientRect().right)
                        + (e.closest('table')?.caption ? ' in ' + e.closest('table').caption.textContent : ''));",
                vec![],
            )
            .await
            .unwrap();
        // DKFDS clips the body sideways, so the document may not grow: what sticks out of
        // the viewport (outside a table's own scroll region) is what a user could not see.
        assert!(
            scroll <= inner && wide.as_array().is_some_and(Vec::is_empty),
            "{what} scrolls sideways at {inner} px (content is {scroll} px wide): {wide}"
        );
    }

    async fn screenshot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }
}

/// A server with the demo municipality, as `serve --demo` runs it (with the demo's logo).
async fn demo_app() -> TestApp {
    demo_app_with(trivsel::config::Config {
        logo: Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-logo.svg")),
        ..Default::default()
    })
    .await
}

/// [`demo_app`] with `config`.
async fn demo_app_with(config: trivsel::config::Config) -> TestApp {
    let mut app = TestApp::spawn_with(config).await;
    trivsel::demo::seed(&app.db, chrono::Utc::now())
        .await
        .unwrap();
    app.restart().await;
    app
}

/// The id of the demo group `name` (e.g. "3.A") in `institution`.
async fn group_id(app: &TestApp, institution: &str, name: &str) -> i64 {
    app.count(&format!(
        "SELECT g.id FROM groups g JOIN institutions i ON i.id = g.institution_id \
         WHERE g.name = '{name}' AND i.name = '{institution}'"
    ))
    .await
}

/// Reads a group's counts per level and how many children are assessed, from the overview.
async fn overview_counts(b: &Browser, group: i64) -> (Vec<u64>, u64) {
    let v = b
        .c
        .execute(
            "const g = document.getElementById(arguments[0]);
             return [[...g.querySelectorAll('table.counts tbody td')].map(td => Number(td.textContent)),
                     Number(g.querySelector('p strong').textContent.split('/')[0])];",
            vec![json!(format!("group-{group}"))],
        )
        .await
        .unwrap();
    let counts = v[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    (counts, v[1].as_u64().unwrap())
}

#[tokio::test]
#[ignore = "needs Chromium, chromedriver and axe-core: run by .ci/run"]
async fn core_loop_in_danish() {
    core_loop(Lang::Da).await;
}

#[tokio::test]
#[ignore = "needs Chromium, chromedriver and axe-core: run by .ci/run"]
async fn core_loop_in_english() {
    core_loop(Lang::En).await;
}

/// From an educator's worry to a closed case and the leader's overview, every page in `lang`.
async fn core_loop(lang: Lang) {
    let t = |key: &str| text(lang, key);
    let app = demo_app().await;
    let class = group_id(&app, "Centrumskolen", "3.A").await;
    let mut b = Browser::start(&app.base).await;
    b.lang = Some(lang);

    // The leader looks at the school's overview first.
    b.login("leder@demo.trivsel.dk").await;
    b.follow("nav a[href='/overview']").await;
    let (before, done_before) = overview_counts(&b, class).await;
    assert_eq!(before.len(), 4, "four levels in the Børnelineal");
    b.logout().await;

    // The teacher opens the class from the start page and assesses the first child.
    b.login("laerer@demo.trivsel.dk").await;
    b.follow(&format!("a[href='/groups/{class}']")).await;
    assert!(
        b.text("#round-progress")
            .await
            .contains(t("group.assessed"))
    );
    b.follow("a[href$='/assess']").await;
    // Every question answered, and a sign of neglect.
    let items = b
        .answer_every_item(|name| match name {
            "neglect" => "yes",
            "violence" | "sexual_abuse" => "no",
            _ => "1",
        })
        .await;
    assert!(items.len() > 10, "{items:?}");
    // The engine's suggestion has followed the answers on the form (assets/live.js): the
    // sign of neglect puts it at the top level before anything is submitted.
    let top = match lang {
        Lang::Da => "Alvorlig bekymring",
        Lang::En => "Serious concern",
    };
    let mut live = String::new();
    for _ in 0..100 {
        live = b.text("#live-suggestion .level").await;
        if live.contains(top) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(live.contains(top), "live suggestion: {live:?}");
    assert!(
        b.text("#live-suggestion")
            .await
            .contains(t("assess.live.title"))
    );
    b.check().await;
    b.c.execute(
        "document.getElementById('live-suggestion').scrollIntoView();",
        vec![],
    )
    .await
    .unwrap();
    b.screenshot(&format!("form-live-suggestion-{}", lang.code()))
        .await;
    b.fill("#observation", "Kommer ofte uden madpakke og virker træt.")
        .await;
    b.follow("button[name=action][value=score]").await;

    // The suggestion, its reasons and the handleguide: the top level, preselected.
    assert_eq!(b.text("h1").await, t("assess.suggestion_title"));
    let main = b.text("main").await;
    assert!(main.contains(t("assess.reasons")), "{main}");
    assert!(main.contains(t("assess.handleguide")), "{main}");
    assert!(main.contains(t("assess.notify_duty")), "{main}");
    assert!(
        b.c.find(Locator::Css("#level-red:checked")).await.is_ok(),
        "the suggestion is preselected"
    );
    b.follow("form[action$='/decide'] button[type=submit]:not([name=then])")
        .await;
    assert_eq!(b.text("h1").await, t("assess.team_position"));
    assert!(
        b.c.find(Locator::Css("a[href^='/alerts/']")).await.is_ok(),
        "the notification is raised and linked"
    );
    // The team records its action plan for the position.
    b.click("#fu-plan").await;
    b.fill(
        "#fu_body",
        "Daglig kontakt med familien; møde med sundhedsplejen.",
    )
    .await;
    b.follow("form[action$='/follow-up'] button[type=submit]")
        .await;
    assert!(
        b.text("#follow-up")
            .await
            .contains(t("follow_up.action_plan")),
        "the plan is shown"
    );
    b.logout().await;

    // The district's social worker sees the notification, takes it and closes it.
    b.login("raadgiver@demo.trivsel.dk").await;
    b.follow("nav a[href='/alerts']").await;
    b.follow("#inbox a[href^='/alerts/']").await;
    assert_eq!(b.text("h1").await, t("alert.kind.notification"));
    b.follow("form[action$='/take'] button").await;
    b.c.find(Locator::Css("#outcome"))
        .await
        .unwrap()
        .select_by_index(1)
        .await
        .unwrap();
    b.fill("#note", "Forældresamtale holdt; familien får støtte.")
        .await;
    b.follow("form[action$='/close'] button").await;
    assert!(b.text("main").await.contains(t("alert.status.closed")));
    b.logout().await;

    // The leader's overview has moved: one more child at red, one more assessed.
    b.login("leder@demo.trivsel.dk").await;
    b.follow("nav a[href='/overview']").await;
    let (after, done_after) = overview_counts(&b, class).await;
    assert_eq!(after[3], before[3] + 1, "{before:?} → {after:?}");
    assert_eq!(done_after, done_before + 1);
    assert!(
        b.text(&format!("#group-{class}"))
            .await
            .contains(t("follow_up.action_plan")),
        "the follow-up state is on the overview"
    );
    b.logout().await;

    // The next child, in one step: the team agrees with the live suggestion (thriving, so
    // the handleguide keeps it within the team) and saves it with "save and next child".
    b.login("laerer@demo.trivsel.dk").await;
    b.follow(&format!("a[href='/groups/{class}']")).await;
    let next: String =
        b.c.execute(
            "return document.querySelectorAll(\"a[href$='/assess']\")[1].getAttribute('href');",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let next_id: i64 = next
        .trim_start_matches("/children/")
        .trim_end_matches("/assess")
        .parse()
        .unwrap();
    b.open(&next).await;
    let progress = b.text("#group-progress").await;
    b.answer_every_item(|name| match name {
        "neglect" | "violence" | "sexual_abuse" => "no",
        n if n.ends_with("_2") => "0",
        _ => "2",
    })
    .await;
    let confirm = "#live-suggestion input[name=confirm]";
    let mut shown = false;
    for _ in 0..100 {
        if b.c.find(Locator::Css(confirm)).await.is_ok() {
            shown = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        shown,
        "a thriving suggestion may be confirmed once every answer is given"
    );
    b.check().await;
    b.follow("button[name=action][value=next]").await;
    let url = b.c.current_url().await.unwrap();
    assert!(
        url.path().ends_with("/assess") && url.path() != next,
        "on to the next child: {url}"
    );
    assert_ne!(b.text("#group-progress").await, progress, "progress moved");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM round_positions rp JOIN assessments a ON a.id = rp.assessment_id \
             WHERE rp.child_id = {next_id} AND rp.decided_rank = 0 AND a.submitted_at >= '{}'",
            chrono::Utc::now().date_naive()
        ))
        .await,
        1,
        "the confirmed level (green) is the child's position"
    );
    b.close().await;
}

#[tokio::test]
#[ignore = "needs Chromium, chromedriver and axe-core: run by .ci/run"]
async fn keyboard_only_yellow_twice_reaches_the_worker_without_a_name() {
    let app = demo_app().await;
    let room = group_id(&app, "Børnehaven Troldehøj", "Mariehønen").await;
    let b = Browser::start(&app.base).await;

    b.login_by_keyboard("paedagog@demo.trivsel.dk").await;

    // The skip link is the first stop and is visible when focused.
    b.press(&[Key::Tab.into()]).await;
    assert!(b.focused("a.skipnav").await, "the skip link comes first");
    assert!(b.focus_visible().await, "focus is visible");

    let link = format!("a[href='/groups/{room}']");
    b.tab_to(&link).await;
    assert!(b.focus_visible().await, "focus is visible on links");
    b.enter().await;

    // The first child of the room, twice at yellow.
    let child: String =
        b.c.find(Locator::Css("a[href$='/assess']"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
    let child_id: i64 = child
        .trim_start_matches("/children/")
        .trim_end_matches("/assess")
        .parse()
        .unwrap();
    let (first, last, born, institution): (String, String, String, String) = {
        let Value::Array(v) =
            b.c.execute(
                "const a = document.querySelector(`a[href='/children/${arguments[0]}']`);
                 const tr = a.closest('tr');
                 const [f, ...l] = a.textContent.trim().split(' ');
                 return [f, l.join(' '), tr.cells[1].textContent.trim(),
                         document.querySelector('.crumbs').textContent.split('›')[1].trim()];",
                vec![json!(child_id)],
            )
            .await
            .unwrap()
        else {
            panic!()
        };
        let s = |i: usize| v[i].as_str().unwrap().to_string();
        (s(0), s(1), s(2), s(3))
    };

    for round in 0..2 {
        if round == 1 {
            // One team position per child and round: the second yellow is in a new round.
            let today = chrono::Utc::now().date_naive();
            app.exec(&format!(
                "INSERT INTO rounds (name, opens_on, closes_on, institution_kinds, created_at) \
                 VALUES ('Ekstra runde', '{today}', '{}', '', '{today}T00:00:00Z')",
                today + chrono::Duration::days(30)
            ))
            .await;
            b.open(&format!("/groups/{room}")).await;
        }
        b.tab_to(&format!("a[href='{child}']")).await;
        b.enter().await;
        // Into each question's radio group with Tab, the first answer with Space.
        b.tab_to("form.assess fieldset.item input[type=radio]")
            .await;
        let radios = b
            .c
            .execute(
                "return new Set([...document.querySelectorAll('form.assess fieldset.item input[type=radio]')].map(i => i.name)).size;",
                vec![],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap();
        for i in 0..radios {
            assert!(
                b.focused("form.assess fieldset.item input[type=radio]")
                    .await,
                "question {i} is reached by Tab"
            );
            b.press(&[Key::Space.into(), Key::Tab.into()]).await;
        }
        assert!(b.focused("#observation").await);
        b.type_text("Virker stille i samlingen.").await;
        b.tab_to("button[name=action][value=score]").await;
        b.enter().await;
        assert!(b.text("main").await.contains("Handleguide"));
        // Choose yellow with the arrow keys, justify, save.
        b.tab_to("input[name=level]").await;
        for _ in 0..4 {
            if b.focused("#level-yellow").await {
                break;
            }
            b.press(&[Key::Down.into()]).await;
        }
        assert!(b.focused("#level-yellow:checked").await, "yellow chosen");
        b.tab_to("#justification").await;
        b.type_text("Vi følger barnet tæt.").await;
        b.tab_to("form[action$='/decide'] button[type=submit]:not([name=then])")
            .await;
        b.enter().await;
        assert!(b.text("main").await.contains("Teamets position"));
    }
    assert!(
        b.text("main").await.contains("Anonym"),
        "the second yellow raises an anonymous consultation"
    );
    b.logout().await;

    // The worker sees the consultation with no identifying detail anywhere on the page.
    b.login("raadgiver@demo.trivsel.dk").await;
    b.open("/alerts").await;
    b.follow("main a[href^='/alerts/']").await;
    assert!(b.c.find(Locator::Css("#anonymous")).await.is_ok());
    let page = b.source().await;
    for secret in [
        &first,
        &last,
        &born,
        &institution,
        &"Mariehønen".to_string(),
    ] {
        assert!(
            !page.contains(secret.as_str()),
            "{secret:?} appears on the worker's page"
        );
    }
    b.close().await;
}

#[tokio::test]
#[ignore = "needs Chromium, chromedriver and axe-core: run by .ci/run"]
async fn english_persists_and_pages_fit_tablet_and_phone() {
    let app = demo_app().await;
    let room = group_id(&app, "Børnehaven Troldehøj", "Mariehønen").await;
    let b = Browser::start(&app.base).await;
    b.login("paedagog@demo.trivsel.dk").await;
    assert_eq!(lang(&b).await, "da");

    // Switch to English; it stays after logging out and in again.
    b.follow("form[action='/lang'] button").await;
    assert_eq!(lang(&b).await, "en");
    b.logout().await;
    b.login("paedagog@demo.trivsel.dk").await;
    assert_eq!(lang(&b).await, "en");
    assert!(b.text("nav").await.contains("Overview"));

    let child = app
        .count(&format!(
            "SELECT MIN(child_id) FROM enrolments WHERE group_id = {room} AND to_date IS NULL"
        ))
        .await;
    let pages = [
        ("group", format!("/groups/{room}")),
        ("child", format!("/children/{child}")),
        ("form", format!("/children/{child}/assess")),
        ("overview", "/overview".to_string()),
    ];
    for (_, path) in &pages {
        b.open(path).await;
        assert_eq!(lang(&b).await, "en", "{path}");
    }
    // An invalid form in English: errors tied to their fields, and still accessible.
    b.open(&format!("/children/{child}/assess")).await;
    b.follow("button[name=action][value=score]").await;
    assert!(
        b.c.find(Locator::Css(
            "fieldset.domain[aria-describedby] .field-error"
        ))
        .await
        .is_ok(),
        "the missing answers are reported at their domain"
    );

    // Both languages at tablet and phone widths: no sideways scrolling, and a screenshot each.
    for (width, device) in [(768, "tablet"), (375, "phone")] {
        b.set_width(width).await;
        for lang_code in ["en", "da"] {
            if lang(&b).await != lang_code {
                b.follow("form[action='/lang'] button").await;
            }
            for (name, path) in &pages {
                b.open(path).await;
                assert_eq!(lang(&b).await, lang_code, "{path}");
                b.assert_no_horizontal_scroll(&format!("{path} ({lang_code})"))
                    .await;
                b.screenshot(&format!("{name}-{device}-{lang_code}")).await;
            }
        }
    }

    // The checker itself catches a violation: an image without a text alternative.
    b.c.execute(
        "const img = document.createElement('img'); img.src = '/assets/app.css';
         document.querySelector('main').appendChild(img);",
        vec![],
    )
    .await
    .unwrap();
    let caught = b.axe_violations().await;
    assert!(
        caught.iter().any(|v| v["id"] == "image-alt"),
        "axe missed an image without alt text: {caught:?}"
    );
    b.close().await;
}

async fn lang(b: &Browser) -> String {
    b.c.execute("return document.documentElement.lang;", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// One child of a screening walk: how its position was recorded and what it took.
struct Walked {
    how: &'static str,
    answers: usize,
    /// Keys that did something: Enter on a button or link, an answer chosen.
    actions: usize,
    /// Presses of Tab to get there.
    tabs: usize,
}

/// A team screens the demo group Mariehønen in one sitting, by keyboard only: every child it
/// may be offered for by quick placement "Trives" (Enter on the row's button), the rest by the
/// questionnaire — Tab between questions, Space or an arrow key to answer, Enter on the last
/// answer to "Gem og næste barn" (the form's default action) — one of them with a sign of
/// neglect, which goes through the suggestion page to a notification and on to the next
/// child. Counts the keys per child against the goals (≤ 2 actions per thriving child,
/// answers + 2 per questionnaire child) and prints the figures docs/browser-tests.md records.
#[tokio::test]
#[ignore = "needs Chromium, chromedriver and axe-core: run by .ci/run"]
async fn a_team_screens_mariehoenen_in_one_sitting_by_keyboard() {
    let config = trivsel::config::Config {
        quick_placement: Some(true),
        ..Default::default()
    };
    let app = demo_app_with(config).await;
    let room = group_id(&app, "Børnehaven Troldehøj", "Mariehønen").await;
    let cat = crate::helpers::shipped_catalogue("boernelineal");
    let see = text(Lang::Da, "screen.see");
    let b = Browser::start(&app.base).await;

    b.login_by_keyboard("paedagog@demo.trivsel.dk").await;
    let started = std::time::Instant::now();
    let tabs = b.tabs_to(&format!("a[href='/groups/{room}']")).await;
    b.enter().await;
    let mut lead = (1, tabs); // to reach the group, counted with the first child
    let children =
        b.c.execute(
            "return document.querySelectorAll('tbody tr').length;",
            vec![],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap() as usize;
    let mut walked: Vec<Walked> = Vec::new();
    // The team is concerned about three children (the last three rows): they get the
    // questionnaire even where quick placement is offered.
    let concern: Vec<String> = serde_json::from_value(
        b.c.execute(
            "return [...document.querySelectorAll('tbody tr')].slice(-3).map(tr => tr.id);",
            vec![],
        )
        .await
        .unwrap(),
    )
    .unwrap();

    // Quick placement for every other child it is offered for.
    loop {
        let row =
            b.c.execute(
                "const f = [...document.querySelectorAll('tbody form[action$=\"/quick\"]')]
                    .find(f => !arguments[0].includes(f.closest('tr').id));
                 return f ? f.closest('tr').id : null;",
                vec![json!(concern)],
            )
            .await
            .unwrap();
        let Some(row) = row.as_str() else { break };
        let tabs = b
            .tabs_to(&format!("tr#{row} form[action$='/quick'] button"))
            .await;
        b.enter().await;
        walked.push(Walked {
            how: "quick",
            answers: 0,
            actions: 1 + std::mem::take(&mut lead.0),
            tabs: tabs + std::mem::take(&mut lead.1),
        });
    }

    // The rest by questionnaire: open the first, then "Gem og næste barn" leads on.
    let open =
        b.c.execute(
            "return [...document.querySelectorAll('tbody tr')]
                .filter(tr => tr.querySelector('a[href$=\"/assess\"]')
                    && !tr.querySelector(`a[aria-label^=\"${arguments[0]}\"]`))
                .map(tr => tr.id);",
            vec![json!(see)],
        )
        .await
        .unwrap();
    let open = open.as_array().unwrap();
    if let Some(row) = open.first().and_then(Value::as_str) {
        let tabs = b.tabs_to(&format!("tr#{row} a[href$='/assess']")).await;
        b.enter().await;
        lead = (lead.0 + 1, lead.1 + tabs);
    }
    let mut notified = false;
    while b.c.find(Locator::Css("form.assess")).await.is_ok() {
        let qid =
            b.c.execute(
                "return document.querySelector('input[name=questionnaire]').value;",
                vec![],
            )
            .await
            .unwrap();
        let q = cat.by_id(qid.as_str().unwrap()).unwrap().clone();
        let names: Vec<String> = serde_json::from_value(
            b.c.execute(
                "return [...new Set([...document.querySelectorAll('form.assess fieldset.item input[type=radio]')].map(i => i.name))];",
                vec![],
            )
            .await
            .unwrap(),
        )
        .unwrap();
        // The first child by questionnaire shows a sign of neglect; the others thrive.
        let neglect = !notified;
        let mut actions = std::mem::take(&mut lead.0);
        let mut tabs = std::mem::take(&mut lead.1)
            + b.tabs_to("form.assess fieldset.item input[type=radio]")
                .await;
        for (i, name) in names.iter().enumerate() {
            assert!(
                b.focused(&format!("input[name='{name}']")).await,
                "{name} is reached by Tab"
            );
            let positive = q.def.items.iter().any(|it| &it.id == name && it.reverse);
            // The first option is focused: Space takes it, Up wraps to the last, Down moves
            // to the second.
            let key = if name == "neglect" && neglect {
                Key::Down
            } else if positive {
                Key::Up
            } else {
                Key::Space
            };
            b.press(&[key.into()]).await;
            actions += 1;
            if i + 1 < names.len() {
                b.press(&[Key::Tab.into()]).await;
                tabs += 1;
            }
        }
        if !neglect {
            // The live suggestion offers to confirm green as the form is saved.
            for _ in 0..200 {
                if b.c.find(Locator::Css("input[name=confirm]")).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        // Enter on the last answer: the form's default action, "Gem og næste barn".
        b.enter().await;
        actions += 1;
        if neglect {
            // The suggestion page: red is preselected; Enter saves it and goes on.
            assert!(b.text("main").await.contains("Handleguide"));
            tabs += b.tabs_to("#level-red:checked").await;
            b.enter().await;
            actions += 1;
            notified = true;
        }
        walked.push(Walked {
            how: if neglect {
                "notification"
            } else {
                "questionnaire"
            },
            answers: names.len(),
            actions,
            tabs,
        });
    }
    let elapsed = started.elapsed();

    // Back on the group: every child has its position.
    let main = b.text("main").await;
    assert!(
        main.contains(text(Lang::Da, "screen.complete")),
        "the round is complete for the group: {main}"
    );
    assert!(
        main.contains(&format!("{children} af {children}")),
        "{main}"
    );
    assert_eq!(walked.len(), children, "every child was reached");
    assert!(
        notified,
        "one child went through the questionnaire to a notification"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM round_positions p JOIN enrolments e ON e.child_id = p.child_id \
             WHERE e.group_id = {room} AND e.to_date IS NULL \
             AND p.round_id = (SELECT MAX(id) FROM rounds)"
        ))
        .await,
        children as i64
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM alerts WHERE kind = 'notification'")
            .await,
        1
    );
    for (i, w) in walked.iter().enumerate() {
        eprintln!(
            "child {:>2}: {:<13} answers {:>2}  actions {:>2}  tabs {:>3}",
            i + 1,
            w.how,
            w.answers,
            w.actions,
            w.tabs
        );
    }
    let summary = |how: &str| {
        let w: Vec<&Walked> = walked.iter().filter(|w| w.how == how).collect();
        let n = w.len().max(1) as f64;
        (
            w.len(),
            w.iter().map(|w| w.actions).sum::<usize>() as f64 / n,
            w.iter().map(|w| w.tabs).sum::<usize>() as f64 / n,
        )
    };
    for how in ["quick", "questionnaire", "notification"] {
        let (n, actions, tabs) = summary(how);
        eprintln!("{how}: {n} children, {actions:.1} actions and {tabs:.1} tabs per child");
    }
    eprintln!(
        "{children} children in {:.1} s (with an axe-core check of every page)",
        elapsed.as_secs_f64()
    );
    // The goals, the first child of each way also carrying the way into the group.
    for w in walked.iter().skip(1) {
        match w.how {
            "quick" => assert!(
                w.actions <= 2,
                "a thriving child took {} actions",
                w.actions
            ),
            "questionnaire" => assert!(
                w.actions <= w.answers + 2,
                "a questionnaire took {} actions for {} answers",
                w.actions,
                w.answers
            ),
            _ => assert!(w.actions <= w.answers + 3),
        }
    }
    b.close().await;
}

/// The admin moves a child from daycare to school as a new admin would: the move form starts at
/// the child's own institution, another institution is chosen and its groups shown, one of
/// them picked, and the child's page then names the new group. Every page passes axe.
#[tokio::test]
#[ignore = "needs Chromium, chromedriver and axe-core: run by .ci/run"]
async fn an_admin_moves_a_child_choosing_the_institution_first() {
    let app = demo_app().await;
    let room = group_id(&app, "Børnehaven Troldehøj", "Mariehønen").await;
    let class = group_id(&app, "Centrumskolen", "3.A").await;
    let school = app
        .count("SELECT id FROM institutions WHERE name = 'Centrumskolen'")
        .await;
    let child = app
        .count(&format!(
            "SELECT MIN(child_id) FROM enrolments WHERE group_id = {room} AND to_date IS NULL"
        ))
        .await;
    let b = Browser::start(&app.base).await;
    b.login("admin@demo.trivsel.dk").await;
    b.open(&format!("/admin/children/{child}")).await;
    let chosen =
        b.c.execute(
            "const s = document.getElementById('enrol_institution_id'); \
             return s.options[s.selectedIndex].text;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(chosen, json!("Børnehaven Troldehøj"));
    assert!(b.source().await.contains("Sommerfuglen"));

    b.c.execute(
        "document.getElementById('enrol_institution_id').value = arguments[0];",
        vec![json!(school.to_string())],
    )
    .await
    .unwrap();
    b.follow("button[name=action][value=choose_institution]")
        .await;
    let source = b.source().await;
    assert!(source.contains("3.A"), "the school's classes are shown");
    assert!(
        !source.contains("Sommerfuglen"),
        "the daycare's rooms are not"
    );

    b.c.execute(
        "document.getElementById('enrol_group_id').value = arguments[0];",
        vec![json!(class.to_string())],
    )
    .await
    .unwrap();
    b.c.execute(
        "document.getElementById('enrol_from_date').value = '2099-08-01';",
        vec![],
    )
    .await
    .unwrap();
    b.follow("form[action$='/enrol'] button:not([name])").await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM enrolments WHERE child_id = {child} AND group_id = {class}"
        ))
        .await,
        1
    );
    // The account forms with the same choice pass axe too.
    let educator = app
        .count("SELECT id FROM users WHERE email = 'paedagog@demo.trivsel.dk'")
        .await;
    b.open(&format!("/admin/users/{educator}")).await;
    assert!(
        b.source().await.contains("checked"),
        "the educator's groups are ticked"
    );
    b.open("/admin/children/new").await;
    b.open("/admin/outbox").await;
    b.open("/admin/access-log?action=read").await;
    b.open("/admin/import").await;
    // The demo's retention page: the dry run counts the three children who left long ago,
    // the fourth is under a hold; a run deletes them and its report passes axe too.
    b.open("/admin/retention?preview=1").await;
    let source = b.source().await;
    assert!(
        source.contains(
            r#"3 år efter at barnet forlod kommunens institutioner</td><td class="num">3</td>"#
        ),
        "{source}"
    );
    assert!(source.contains("Klagesag i Ankestyrelsen (demo)"));
    b.follow("form[action='/admin/retention/run'] button").await;
    let source = b.source().await;
    assert!(
        source.contains("Kørslen er startet") || source.contains("Kørslen er gennemført"),
        "{source}"
    );
    // The child's accesses and access report pass axe as well.
    b.open(&format!("/children/{child}")).await;
    b.open(&format!("/children/{child}/accesses")).await;
    b.open(&format!("/children/{child}/access-report")).await;
    b.close().await;
}

/// A conditional item waits for the earlier answer that calls for it: hidden until then, shown
/// when given, hidden again when the answer changes; the page passes axe either way.
#[tokio::test]
#[ignore = "needs Chromium, chromedriver and axe-core: run by .ci/run"]
async fn a_conditional_item_appears_on_the_earlier_answer() {
    // The school ages: "social_3" asked only when "social_2" is answered 1 or 2.
    let dir = crate::helpers::questionnaires_edited(|name, body| {
        if name == "6-9.toml" || name == "10-13.toml" {
            body.replacen("version = 1", "version = 2", 1).replacen(
                "id = \"social_3\"\n",
                "id = \"social_3\"\nshow_if = { item = \"social_2\", values = [\"1\", \"2\"] }\n",
                1,
            )
        } else {
            body
        }
    });
    let app = demo_app_with(trivsel::config::Config {
        questionnaire_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    let class = group_id(&app, "Centrumskolen", "3.A").await;
    let child = app
        .count(&format!(
            "SELECT MIN(child_id) FROM enrolments WHERE group_id = {class} AND to_date IS NULL"
        ))
        .await;
    let b = Browser::start(&app.base).await;
    b.login("laerer@demo.trivsel.dk").await;
    b.open(&format!("/children/{child}/assess?kind=individual"))
        .await;
    let hidden = async || {
        b.c.execute(
            "return document.querySelector('fieldset[data-show-if]').hidden;",
            vec![],
        )
        .await
        .unwrap()
    };
    assert_eq!(
        hidden().await,
        json!(true),
        "hidden until social_2 is answered"
    );
    b.click("input[name='social_2'][value='1']").await;
    assert_eq!(hidden().await, json!(false), "asked on «Passer delvist»");
    b.axe("the form with the conditional item shown").await;
    b.click("input[name='social_2'][value='0']").await;
    assert_eq!(hidden().await, json!(true), "hidden again on «Passer ikke»");
    b.close().await;
}

/// Every role's pages in DKFDS at desktop, tablet and phone widths, in both languages: axe at
/// zero on each (checked on every page load), no sideways scrolling at any width, a header on
/// one line at 1,280 px, and a screenshot of each (`{role}-{page}-{width}-{lang}.png`).
#[tokio::test]
#[ignore = "needs Chromium, chromedriver and axe-core: run by .ci/run"]
async fn every_roles_pages_fit_desktop_tablet_and_phone_in_both_languages() {
    let app = demo_app().await;
    let room = group_id(&app, "Børnehaven Troldehøj", "Mariehønen").await;
    let child = app
        .count(&format!(
            "SELECT MIN(child_id) FROM enrolments WHERE group_id = {room} AND to_date IS NULL"
        ))
        .await;
    let school = app
        .count("SELECT id FROM institutions WHERE name = 'Centrumskolen'")
        .await;
    let pupil = app
        .count(&format!(
            "SELECT MIN(e.child_id) FROM enrolments e JOIN groups g ON g.id = e.group_id \
             WHERE g.institution_id = {school} AND e.to_date IS NULL"
        ))
        .await;
    let admin_id = app
        .count("SELECT id FROM users WHERE email = 'admin@demo.trivsel.dk'")
        .await;
    // (role, account, [(page, path)]): a visitor first, then each role's own pages.
    type Pages<'a> = Vec<(&'a str, String)>;
    let roles: Vec<(&str, Option<&str>, Pages)> = vec![
        (
            "visitor",
            None,
            vec![
                ("login", "/login".into()),
                ("forgot", "/password/forgot".into()),
            ],
        ),
        (
            "educator",
            Some("paedagog@demo.trivsel.dk"),
            vec![
                ("home", "/".into()),
                ("group", format!("/groups/{room}")),
                ("child", format!("/children/{child}")),
                ("form", format!("/children/{child}/assess")),
                ("print", format!("/children/{child}/print")),
                ("overview", "/overview".into()),
                ("security", "/account/security".into()),
            ],
        ),
        (
            "leader",
            Some("leder@demo.trivsel.dk"),
            vec![
                ("home", "/".into()),
                ("overview", "/overview".into()),
                ("institution", format!("/institutions/{school}")),
                ("accesses", format!("/children/{pupil}/accesses")),
            ],
        ),
        (
            "worker",
            Some("raadgiver@demo.trivsel.dk"),
            vec![
                ("home", "/".into()),
                ("inbox", "/alerts".into()),
                ("municipality", "/overview/municipality".into()),
            ],
        ),
        (
            "admin",
            Some("admin@demo.trivsel.dk"),
            vec![
                ("home", "/".into()),
                ("org", "/admin/org".into()),
                ("institution", format!("/institutions/{school}")),
                ("users", "/admin/users".into()),
                ("user", format!("/admin/users/{admin_id}")),
                ("children", "/admin/children?q=a".into()),
                ("child", format!("/admin/children/{child}")),
                ("import", "/admin/import".into()),
                ("rounds", "/admin/rounds".into()),
                ("access-log", "/admin/access-log".into()),
                ("outbox", "/admin/outbox".into()),
                ("retention", "/admin/retention".into()),
                ("municipality", "/overview/municipality".into()),
            ],
        ),
        (
            "dpo",
            Some("dpo@demo.trivsel.dk"),
            vec![
                ("home", "/".into()),
                ("access-log", "/admin/access-log".into()),
                ("report", format!("/children/{child}/access-report")),
            ],
        ),
    ];
    let b = Browser::start(&app.base).await;
    let mut shots = 0;
    for (role, email, mut pages) in roles {
        if let Some(email) = email {
            b.login(email).await;
        }
        if role == "worker" {
            // The first case in the inbox, as the worker would open it.
            b.open("/alerts").await;
            if let Ok(link) = b.c.find(Locator::Css("#inbox a")).await {
                let href = link.attr("href").await.unwrap().unwrap();
                pages.push(("alert", href));
            }
        }
        for lang_code in ["da", "en"] {
            if email.is_some() && lang(&b).await != lang_code {
                b.open("/").await;
                b.follow("form[action='/lang'] button").await;
            }
            for width in [1280, 768, 375] {
                b.set_width(width).await;
                for (name, path) in &pages {
                    b.open(path).await;
                    if email.is_some() {
                        assert_eq!(lang(&b).await, lang_code, "{path}");
                    }
                    let what = format!("{role} {path} ({lang_code}, {width} px)");
                    b.assert_no_horizontal_scroll(&what).await;
                    if width == 1280 {
                        b.assert_header_on_one_line(&what).await;
                    }
                    let dkfds =
                        b.c.execute("return getComputedStyle(document.body).fontFamily;", vec![])
                            .await
                            .unwrap();
                    assert!(
                        dkfds.as_str().is_some_and(|f| f.contains("IBM Plex Sans")),
                        "{what}: not in DKFDS's typeface: {dkfds}"
                    );
                    b.screenshot(&format!("{role}-{name}-{width}-{lang_code}"))
                        .await;
                    shots += 1;
                }
            }
            if email.is_none() {
                break;
            }
        }
        if role == "admin" {
            // An invalid form: DKFDS's error summary above it, linking to the field (axe runs
            // on the page it comes back on).
            b.set_width(1280).await;
            b.open("/admin/districts/new").await;
            b.c.execute(
                "document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'));",
                vec![],
            )
            .await
            .unwrap();
            b.follow("main form button[type=submit]").await;
            assert!(
                b.c.find(Locator::Css("#error-summary a[href='#name']"))
                    .await
                    .is_ok(),
                "the error summary links to the field"
            );
            b.screenshot("admin-error-summary-1280").await;
        }
        if email.is_some() {
            if lang(&b).await != "da" {
                b.follow("form[action='/lang'] button").await;
            }
            b.logout().await;
        }
    }
    println!("{shots} pages checked and photographed");
    b.close().await;
}

/// After the alert, walked in Danish in the browser (axe on every page): a teacher's anonymous
/// consultation becomes a conversation; the parents' consent names it; the social worker
/// takes the case, records a Familieteam course and reviews it when it is due; then two
/// daycare children move to the school — the one whose parents consented to the handover
/// brings the permitted summary to the new teacher, the other nothing.
#[tokio::test]
#[ignore = "needs Chromium, chromedriver and axe-core: run by .ci/run"]
async fn after_the_alert_conversation_measure_review_and_handover_in_danish() {
    let app = demo_app().await;
    let class = group_id(&app, "Centrumskolen", "3.A").await;
    let room = group_id(&app, "Børnehaven Troldehøj", "Mariehønen").await;
    let first_child = |group: i64, skip: i64| {
        format!(
            "SELECT child_id FROM enrolments WHERE group_id = {group} AND to_date IS NULL \
             ORDER BY child_id LIMIT 1 OFFSET {skip}"
        )
    };
    // A 3.A pupil without consent placed at orange: an anonymous consultation.
    let child = app
        .count(&format!(
            "SELECT MIN(e.child_id) FROM enrolments e WHERE e.group_id = {class} AND e.to_date IS NULL \
             AND NOT EXISTS (SELECT 1 FROM consent_events c WHERE c.child_id = e.child_id)"
        ))
        .await;
    let mut http = app.client();
    http.login("laerer@demo.trivsel.dk", trivsel::demo::PASSWORD)
        .await;
    crate::alerts::position(&mut http, child, &answers("2", None), "orange").await;
    let alert = app
        .count(&format!(
            "SELECT MAX(id) FROM alerts WHERE child_id = {child} AND kind = 'anonymous'"
        ))
        .await;
    assert!(alert > 0, "an anonymous consultation");
    let name = app
        .text(&format!(
            "SELECT first_name || ' ' || last_name FROM children WHERE id = {child}"
        ))
        .await;

    let b = Browser::start(&app.base).await;
    b.login("laerer@demo.trivsel.dk").await;
    b.open("/alerts").await;
    b.follow(&format!("#inbox a[href='/alerts/{alert}']")).await;
    b.fill("#message", "Hvordan kan vi hjælpe barnet i frikvartererne?")
        .await;
    b.follow("#conversation form button[type=submit]").await;
    assert!(b.source().await.contains("Hvordan kan vi hjælpe barnet"));
    b.logout().await;

    // The worker: an unread count, the message signed by the team, no name; an answer.
    b.login("raadgiver@demo.trivsel.dk").await;
    assert!(b.text("#unread-count").await.starts_with('1'));
    b.open(&format!("/alerts/{alert}")).await;
    let page = b.source().await;
    assert!(
        page.contains("Teamet") && !page.contains(&name),
        "anonymous"
    );
    b.fill(
        "#message",
        "Lav faste legeaftaler, og tal med forældrene om samtykke.",
    )
    .await;
    b.follow("#conversation form button[type=submit]").await;
    b.logout().await;

    // The teacher records the parents' consent to share the child's name.
    b.login("laerer@demo.trivsel.dk").await;
    b.open(&format!("/children/{child}")).await;
    let set =
        |css: &str, value: &str| format!("document.querySelector(\"{css}\").value = \"{value}\";");
    let guardian = app
        .count(&format!(
            "SELECT MIN(id) FROM guardians WHERE child_id = {child} AND has_custody"
        ))
        .await;
    b.c.execute(
        &[
            set("#c-purpose", "share_with_social_worker"),
            set("#c-event", "given"),
            set("#c-guardian", &guardian.to_string()),
            set("#c-method", "written"),
        ]
        .concat(),
        vec![],
    )
    .await
    .unwrap();
    b.follow("#consent form button[type=submit]").await;
    b.logout().await;

    // The worker: the case is named now; takes it and records a Familieteam course that
    // started 100 days ago (its review, every 13 weeks, is overdue).
    b.login("raadgiver@demo.trivsel.dk").await;
    b.open(&format!("/alerts/{alert}")).await;
    assert!(b.source().await.contains(&name), "named after consent");
    b.follow(&format!("form[action='/alerts/{alert}/take'] button"))
        .await;
    let started = (app.state.now().date_naive() - chrono::Duration::days(100)).to_string();
    b.c.execute(
        &[
            set("#m_kind", "familieteam"),
            set("#m_started_on", &started),
        ]
        .concat(),
        vec![],
    )
    .await
    .unwrap();
    b.fill("#m_responsible", "Familieteamet").await;
    b.follow("#measure-form button[type=submit]").await;
    let measure = app.count("SELECT MAX(id) FROM measures").await;
    b.open("/").await;
    assert!(
        b.text("#reviews-due").await.contains("Overskredet"),
        "the overdue review is on the front page"
    );
    b.follow(&format!("#reviews-due a[href$='#measure-{measure}']"))
        .await;
    b.click(&format!("#measure-{measure} details summary"))
        .await;
    b.fill(
        &format!("#r{measure}_changed"),
        "Familien kommer til møderne; morgenerne går bedre.",
    )
    .await;
    b.click(&format!("#r{measure}-continue")).await;
    b.follow(&format!("#measure-{measure} form button[type=submit]"))
        .await;
    assert!(b.source().await.contains("morgenerne går bedre"));
    b.screenshot("after-alert-case-1280-da").await;
    b.logout().await;

    // Two daycare children move to 3.A: one with the handover consent, one without.
    let with = app.count(&first_child(room, 0)).await;
    let without = app.count(&first_child(room, 1)).await;
    let mut daycare = app.client();
    daycare
        .login("paedagog@demo.trivsel.dk", trivsel::demo::PASSWORD)
        .await;
    // The daycare's position on the child with the consent: green.
    crate::alerts::position(
        &mut daycare,
        with,
        &crate::helpers::thriving_answers(),
        "green",
    )
    .await;
    crate::helpers::give_consent(&app, &mut daycare, with, "handover_next_institution").await;
    let mut admin = app.client();
    admin
        .login("admin@demo.trivsel.dk", trivsel::demo::PASSWORD)
        .await;
    let tomorrow = (app.state.now().date_naive() + chrono::Duration::days(1)).to_string();
    for c in [with, without] {
        let res = admin
            .post(
                &format!("/admin/children/{c}/enrol"),
                &[("group_id", &class.to_string()), ("from_date", &tomorrow)],
            )
            .await;
        assert_eq!(res.status, reqwest::StatusCode::SEE_OTHER, "{}", res.body);
    }
    app.state.clock.advance(chrono::Duration::days(2));
    b.login("laerer@demo.trivsel.dk").await;
    b.open(&format!("/children/{with}")).await;
    let summary = b.text("#handover").await;
    assert!(
        summary.contains("Seneste position før skiftet") && summary.contains("Trivsel"),
        "the permitted summary: {summary}"
    );
    b.screenshot("after-alert-handover-1280-da").await;
    b.open(&format!("/children/{without}")).await;
    assert!(
        b.text("#handover").await.contains("ikke givet samtykke"),
        "nothing without consent"
    );
    b.close().await;
}
