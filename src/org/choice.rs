//! Choosing one group among a municipality's thousands: first the institution, then one of
//! its groups.
//!
//! A select of every group (6,215 at Copenhagen scale) made a form weigh a megabyte and take
//! ~100 ms to build, and nobody can find a group in it. The forms that place a child in a group
//! or give an educator groups show the institutions (grouped by district) and the groups of the
//! one institution chosen. Without JavaScript the admin picks the institution and presses
//! "Vis grupper" (`action=choose_institution`): the form comes back with everything typed so far
//! and that institution's groups, and nothing is saved.

use super::db::{self as org, Group, Institution};
use crate::db::Conn;

/// The form action that shows an institution's groups instead of saving.
pub const CHOOSE_INSTITUTION: &str = "choose_institution";

pub struct GroupChoice {
    /// The municipality's institutions, by district.
    pub districts: Vec<(String, Vec<Institution>)>,
    pub institution_id: Option<i64>,
    /// The groups of the chosen institution.
    pub groups: Vec<Group>,
    pub group_id: Option<i64>,
}

impl GroupChoice {
    /// `institution` is the one the form asked for; without it, the institution of `group`
    /// (the group chosen so far, or the child's current group).
    pub async fn load(
        c: &mut impl Conn,
        institution: Option<i64>,
        group: Option<i64>,
    ) -> anyhow::Result<GroupChoice> {
        let institution_id = match (institution, group) {
            (Some(i), _) => Some(i),
            (None, Some(g)) => org::group(c, g).await?.map(|g| g.institution_id),
            (None, None) => None,
        };
        let mut districts: Vec<(String, Vec<Institution>)> = Vec::new();
        for i in org::institutions(c).await? {
            match districts.last_mut() {
                Some((name, list)) if *name == i.district_name => list.push(i),
                _ => districts.push((i.district_name.clone(), vec![i])),
            }
        }
        let institution_id =
            institution_id.filter(|id| districts.iter().flat_map(|(_, l)| l).any(|i| i.id == *id));
        let groups = match institution_id {
            Some(id) => org::groups_of_institution(c, id).await?,
            None => Vec::new(),
        };
        Ok(GroupChoice {
            districts,
            institution_id,
            groups,
            group_id: group,
        })
    }

    pub fn is_institution(&self, id: &i64) -> bool {
        self.institution_id == Some(*id)
    }

    pub fn is_group(&self, id: &i64) -> bool {
        self.group_id == Some(*id)
    }

    /// Whether a group may be saved with the institution the form showed: a group left over
    /// from another institution (the admin changed the institution but did not press "Vis
    /// grupper") is refused rather than guessed at.
    pub fn fits(institution: Option<i64>, group: &Group) -> bool {
        institution.is_none_or(|i| i == group.institution_id)
    }
}
