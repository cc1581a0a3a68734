//! A small SMTP server on loopback for the tests: it speaks enough of RFC 5321 for a real
//! client (lettre) to deliver to it, and keeps every message it receives.
//!
//! It also misbehaves on request, as real relays do: a recipient whose address starts with
//! `hang` is answered at DATA with silence (the connection stays open), `reject` with a
//! permanent refusal (550) and `busy` with a temporary one (451); a server started with
//! [`SmtpServer::silent`] accepts connections and never greets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub struct SmtpServer {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

/// A free loopback port with nothing listening on it (for "the SMTP server is down").
pub async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> SmtpServer {
        Self::start_as(port, true).await
    }

    /// A server that accepts connections and then says nothing at all.
    pub async fn silent() -> SmtpServer {
        Self::start_as(0, false).await
    }

    async fn start_as(port: u16, greets: bool) -> SmtpServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read);
                    if !greets {
                        // Holds the connection open until the client gives up.
                        let mut sink = String::new();
                        let _ = lines.read_line(&mut sink).await;
                        std::future::pending::<()>().await;
                    }
                    let _ = write
                        .write_all(b"220 localhost ESMTP trivsel-test\r\n")
                        .await;
                    let mut hang = false;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let cmd = line.trim_end().to_ascii_uppercase();
                        let to = cmd
                            .strip_prefix("RCPT TO:")
                            .map(|t| t.trim_start_matches('<'));
                        let reply: &[u8] = if cmd.starts_with("EHLO") {
                            b"250-localhost\r\n250 8BITMIME\r\n"
                        } else if to.is_some_and(|t| t.starts_with("REJECT")) {
                            b"550 5.1.1 no such user\r\n"
                        } else if to.is_some_and(|t| t.starts_with("BUSY")) {
                            b"451 4.3.0 try again later\r\n"
                        } else if to.is_some_and(|t| t.starts_with("HANG")) {
                            hang = true;
                            b"250 OK\r\n"
                        } else if cmd.starts_with("DATA") && hang {
                            std::future::pending::<()>().await;
                            return;
                        } else if cmd.starts_with("DATA") {
                            let _ = write.write_all(b"354 end with .\r\n").await;
                            let mut data = String::new();
                            loop {
                                let mut l = String::new();
                                if lines.read_line(&mut l).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                if l == ".\r\n" || l == ".\n" {
                                    break;
                                }
                                data.push_str(&l);
                            }
                            store.lock().unwrap().push(data);
                            b"250 OK queued\r\n"
                        } else if cmd.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 OK\r\n"
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SmtpServer {
            port,
            messages,
            task,
        }
    }

    /// The messages received, with quoted-printable decoded (so a scan sees the text).
    pub fn messages(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| decode_qp(m))
            .collect()
    }

    /// Waits (bounded) until at least `n` messages have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            if self.messages().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.messages()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every email must be free of personal data: no child's name, birth date or institution.
pub async fn assert_no_personal_data(app: &crate::helpers::TestApp, messages: &[String]) {
    let sql = "SELECT c.first_name, c.last_name, c.birth_date FROM children c";
    let children: Vec<(String, String, chrono::NaiveDate)> = match &app.db {
        trivsel::db::Db::Sqlite { read, .. } => sqlx::query_as(sql).fetch_all(read).await.unwrap(),
        trivsel::db::Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    };
    let places: Vec<String> = match &app.db {
        trivsel::db::Db::Sqlite { read, .. } => {
            sqlx::query_scalar("SELECT name FROM institutions UNION SELECT name FROM groups")
                .fetch_all(read)
                .await
                .unwrap()
        }
        trivsel::db::Db::Postgres(p) => {
            sqlx::query_scalar("SELECT name FROM institutions UNION SELECT name FROM groups")
                .fetch_all(p)
                .await
                .unwrap()
        }
    };
    for m in messages {
        for (first, last, birth) in &children {
            for needle in [
                first.clone(),
                last.clone(),
                birth.format("%d-%m-%Y").to_string(),
                birth.to_string(),
            ] {
                assert!(
                    !m.contains(&needle),
                    "an email contains personal data ({needle:?}):\n{m}"
                );
            }
        }
        for p in &places {
            assert!(
                !m.contains(p.as_str()),
                "an email names a place ({p:?}):\n{m}"
            );
        }
    }
}

fn decode_qp(m: &str) -> String {
    let joined = m.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
