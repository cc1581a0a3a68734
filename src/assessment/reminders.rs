//! Reminders before a round closes: each educator with children still missing a team
//! position in the round, and each leader with a summary for their institutions, get one
//! email per round — counts and dates only, no child.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::dispatch;
use crate::state::AppState;

/// A staff member not yet reminded in a round: id, email, role, a group, an institution.
type Person = (i64, String, String, Option<i64>, Option<i64>);

/// Queues the reminders that are due on `now`'s date; returns how many were queued.
pub async fn queue_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let today = now.date_naive();
    let days = i64::from(state.config.reminder_days_before_close);
    let mut tx = state.db.begin().await?;
    if !crate::db::try_job_lock(&mut tx, crate::db::Job::Reminders).await? {
        return Ok(0); // another instance is queuing them right now
    }
    let rounds = super::db::rounds(&mut tx).await?;
    let mut queued = 0;
    for round in rounds.iter().filter(|r| {
        r.opens_on <= today && today <= r.closes_on && (r.closes_on - today).num_days() <= days
    }) {
        // Per group: children enrolled now, and those with a team position in the round.
        let groups: Vec<(i64, i64, String, i64, i64)> = dispatch!(&mut tx, c => sqlx::query_as(
            "SELECT g.id, g.institution_id, i.kind, \
             (SELECT COUNT(*) FROM enrolments e WHERE e.group_id = g.id AND e.to_date IS NULL), \
             (SELECT COUNT(DISTINCT a.child_id) FROM assessments a JOIN enrolments e ON e.child_id = a.child_id \
                AND e.to_date IS NULL AND e.group_id = g.id \
                WHERE a.round_id = $1 AND a.kind = 'team' AND a.status = 'submitted') \
             FROM groups g JOIN institutions i ON i.id = g.institution_id",
        )
        .bind(round.id)
        .fetch_all(&mut *c)
        .await)?;
        let missing: HashMap<i64, (i64, i64)> = groups
            .into_iter()
            .filter(|(_, _, kind, total, done)| {
                super::round_covers(round, kind, today) && total > done
            })
            .map(|(g, inst, _, total, done)| (g, (inst, total - done)))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let people: Vec<Person> = dispatch!(&mut tx, c => sqlx::query_as(
            "SELECT u.id, u.email, u.role, ug.group_id, ui.institution_id FROM users u \
             LEFT JOIN user_groups ug ON ug.user_id = u.id LEFT JOIN user_institutions ui ON ui.user_id = u.id \
             WHERE u.active AND u.role IN ('educator', 'leader') \
             AND NOT EXISTS (SELECT 1 FROM round_reminders r WHERE r.round_id = $1 AND r.user_id = u.id)",
        )
        .bind(round.id)
        .fetch_all(&mut *c)
        .await)?;
        let mut per_user: HashMap<i64, (String, String, i64)> = HashMap::new();
        for (uid, email, role, group, inst) in people {
            let n = match role.as_str() {
                "educator" => group.and_then(|g| missing.get(&g)).map_or(0, |(_, n)| *n),
                _ => inst.map_or(0, |i| {
                    missing
                        .values()
                        .filter(|(gi, _)| *gi == i)
                        .map(|(_, n)| n)
                        .sum()
                }),
            };
            per_user.entry(uid).or_insert((email, role, 0)).2 += n;
        }
        let base = state.config.base_url();
        for (uid, (email, role, n)) in per_user.into_iter().filter(|(_, (_, _, n))| *n > 0) {
            let body = if role == "leader" {
                format!(
                    "Runden \"{}\" lukker {}. I dine institutioner mangler {n} børn en fælles position.\n\nSe overblikket: {base}/overview\n\nDenne e-mail indeholder ingen personoplysninger.\n",
                    round.name,
                    round.closes_on.format("%d-%m-%Y")
                )
            } else {
                format!(
                    "Runden \"{}\" lukker {}. I dine grupper mangler {n} børn en fælles position.\n\nGå til Trivsel: {base}/\n\nDenne e-mail indeholder ingen personoplysninger.\n",
                    round.name,
                    round.closes_on.format("%d-%m-%Y")
                )
            };
            crate::notify::enqueue(&mut tx, &email, "Trivsel: runden lukker snart", &body, now)
                .await?;
            dispatch!(&mut tx, c => sqlx::query("INSERT INTO round_reminders (round_id, user_id, created_at) VALUES ($1, $2, $3)")
                .bind(round.id)
                .bind(uid)
                .bind(now)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected()))?;
            queued += 1;
        }
    }
    tx.commit().await?;
    Ok(queued)
}
