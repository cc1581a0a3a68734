//! The integration suite: one binary, modules per feature. Every test starts the real server on
//! a free loopback port with a fresh database — a temporary SQLite file, or, when
//! `TRIVSEL_TEST_DATABASE_URL` names a PostgreSQL server, a new database on it — and talks
//! HTTP to it like a browser (cookies, CSRF tokens taken from the forms).

mod access_log;
mod alerts;
mod assessment;
mod auth;
mod browser;
mod cli;
mod consent;
mod demo;
mod helpers;
mod import;
mod jobs;
mod matrix;
mod org;
mod overview;
mod plans;
mod platform;
mod resume;
mod retention;
mod scoring;
mod screening;
mod smtp;
mod sso;
