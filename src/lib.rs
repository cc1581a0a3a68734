//! Trivsel: early detection of child wellbeing concerns for Danish municipalities.
//!
//! A tour of the modules:
//! - [`cli`] — the command line (`serve`, `migrate`, `demo`, `user`, `check`).
//! - [`config`] — typed settings from defaults, a TOML file and the environment.
//! - [`app`] — the top: every feature's router, the cross-cutting layers, `serve`.
//! - [`state`] — the shared state features import (database, settings, catalogue, caches).
//! - [`clock`] — the time, from one place.
//! - [`db`] — one code path for SQLite and PostgreSQL; embedded migrations.
//! - [`auth`] — accounts, sessions, CSRF, and [`auth::scope`], which decides what a user sees.
//! - [`org`] — districts, institutions, groups, children, enrolments, guardians, CSV import.
//! - [`questionnaire`] — scale and questionnaire files: loading, validation, hashes.
//! - [`scoring`] — the pure engine: answers → domain scores, total, suggested level.
//! - [`assessment`] — rounds, the assessment form, suggestion and decision, history.
//! - [`consent`] — consent per child and purpose; the one disclosure decision.
//! - [`alerts`] — rules, routing to the district, the social worker's inbox, escalation.
//! - [`notify`] — the email outbox and its SMTP sender.
//! - [`jobs`] — the background jobs, each done once however many instances run.
//! - [`metrics`] — request, job, outbox and pool metrics in the Prometheus text format.
//! - [`overview`] — leader and municipal overviews, small-cell suppression, CSV export.
//! - [`audit`] — the access log of every read and change of a child's data.
//! - [`retention`] — when a child left, and legal holds that keep a child's records.
//! - [`access_report`] — the parents' right of access: a child's whole record, printable and JSON.
//! - [`home`] — the start page for each role.
//! - [`demo`] — the fictional demo municipality.
//! - [`web`] — layout context, translations, form errors, static assets.
//! - [`error`] — the one handler error type.
//! - [`telemetry`] — logging.

#![forbid(unsafe_code)]

pub mod access_report;
pub mod alerts;
pub mod app;
pub mod assessment;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod consent;
pub mod db;
pub mod demo;
pub mod error;
pub mod home;
pub mod jobs;
pub mod metrics;
pub mod notify;
pub mod org;
pub mod overview;
pub mod questionnaire;
pub mod retention;
pub mod scoring;
pub mod state;
pub mod telemetry;
pub mod web;
