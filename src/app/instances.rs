//! A stack set's instances arranged for the instances screen: an account x Region index over
//! the listed instances (the grid), and the filters `tab` cycles through (a Status, a
//! DetailedStatus or a DriftStatus, each offered only when some instance has it).

use std::collections::{BTreeSet, HashMap};

use crate::model::{InstanceStatus, StackInstance};

/// The two ways the screen shows the instances; the grid first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InstancesView {
    #[default]
    Grid,
    /// Worst first, one line per instance with its reason.
    List,
}

/// What `tab` narrows the instances to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceFilter {
    Status(InstanceStatus),
    /// A StackInstanceStatus.DetailedStatus, as the API spells it.
    Detailed(String),
    /// A DriftStatus, as the API spells it.
    Drift(String),
}

impl InstanceFilter {
    pub fn matches(&self, instance: &StackInstance) -> bool {
        match self {
            InstanceFilter::Status(status) => instance.status == *status,
            InstanceFilter::Detailed(text) => instance.detailed_status.as_deref() == Some(text),
            InstanceFilter::Drift(text) => instance.drift_status.as_deref().unwrap_or("NOT_CHECKED") == text,
        }
    }

    /// `INOPERABLE`, `detailed FAILED`, `drift DRIFTED`.
    pub fn label(&self) -> String {
        match self {
            InstanceFilter::Status(status) => status.as_str().to_string(),
            InstanceFilter::Detailed(text) => format!("detailed {text}"),
            InstanceFilter::Drift(text) => format!("drift {text}"),
        }
    }
}

/// Worst first: INOPERABLE needs a person, OUTDATED is not in line with the stack set yet.
pub fn status_rank(status: InstanceStatus) -> u8 {
    match status {
        InstanceStatus::Inoperable => 0,
        InstanceStatus::Outdated => 1,
        InstanceStatus::Current => 2,
    }
}

/// Among instances of one Status, the DetailedStatus that needs a person first.
pub fn detailed_rank(detailed: Option<&str>) -> usize {
    detailed
        .and_then(|d| DETAILED_ORDER.iter().position(|o| *o == d))
        .unwrap_or(DETAILED_ORDER.len())
}

/// DetailedStatus values in the order `tab` offers them: what needs a person first.
const DETAILED_ORDER: [&str; 8] = [
    "FAILED",
    "INOPERABLE",
    "SKIPPED_SUSPENDED_ACCOUNT",
    "FAILED_IMPORT",
    "CANCELLED",
    "RUNNING",
    "PENDING",
    "SUCCEEDED",
];
const DRIFT_ORDER: [&str; 4] = ["DRIFTED", "UNKNOWN", "IN_SYNC", "NOT_CHECKED"];

/// Every filter `tab` offers for these instances, in order: the three Statuses always, then
/// the DetailedStatus and DriftStatus values some instance has (unknown ones after the known).
pub fn filter_choices(rows: &[StackInstance]) -> Vec<InstanceFilter> {
    let mut out: Vec<InstanceFilter> = [
        InstanceStatus::Inoperable,
        InstanceStatus::Outdated,
        InstanceStatus::Current,
    ]
    .into_iter()
    .map(InstanceFilter::Status)
    .collect();
    let detailed: BTreeSet<&str> = rows.iter().filter_map(|i| i.detailed_status.as_deref()).collect();
    let drift: BTreeSet<&str> = rows
        .iter()
        .map(|i| i.drift_status.as_deref().unwrap_or("NOT_CHECKED"))
        .collect();
    let ordered = |present: &BTreeSet<&str>, order: &[&str]| -> Vec<String> {
        let known = order.iter().filter(|v| present.contains(*v)).map(|v| v.to_string());
        let unknown = present.iter().filter(|v| !order.contains(v)).map(|v| v.to_string());
        known.chain(unknown).collect()
    };
    out.extend(
        ordered(&detailed, &DETAILED_ORDER)
            .into_iter()
            .map(InstanceFilter::Detailed),
    );
    out.extend(ordered(&drift, &DRIFT_ORDER).into_iter().map(InstanceFilter::Drift));
    out
}

/// The filter after `current` in `choices`: none after the last, the first after none (or
/// after one no instance has any more).
pub fn next_filter(current: Option<&InstanceFilter>, choices: &[InstanceFilter]) -> Option<InstanceFilter> {
    match current.and_then(|f| choices.iter().position(|c| c == f)) {
        Some(at) => choices.get(at + 1).cloned(),
        None if current.is_some() => None,
        None => choices.first().cloned(),
    }
}

/// The instances as an account x Region grid: rows by (OU, account), columns by Region name.
#[derive(Debug, Clone, Default)]
pub struct InstanceGrid {
    pub regions: Vec<String>,
    pub accounts: Vec<String>,
    /// Each row's OU (from its first instance that names one).
    pub ous: Vec<Option<String>>,
    /// Row-major, `regions.len()` per row: the index of the instance in that cell.
    cells: Vec<Option<u32>>,
}

impl InstanceGrid {
    pub fn build(rows: &[StackInstance]) -> Self {
        let regions: Vec<String> = rows
            .iter()
            .map(|i| i.region.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut ou_of: HashMap<&str, Option<&str>> = HashMap::new();
        for i in rows {
            let ou = ou_of.entry(i.account.as_str()).or_insert(None);
            if ou.is_none() {
                *ou = i.ou.as_deref().filter(|o| !o.is_empty());
            }
        }
        let mut accounts: Vec<(Option<&str>, &str)> = ou_of.iter().map(|(a, ou)| (*ou, *a)).collect();
        accounts.sort();
        let row_of: HashMap<&str, usize> = accounts.iter().enumerate().map(|(n, (_, a))| (*a, n)).collect();
        let col_of: HashMap<&str, usize> = regions.iter().enumerate().map(|(n, r)| (r.as_str(), n)).collect();
        let mut cells = vec![None; accounts.len() * regions.len()];
        for (index, i) in rows.iter().enumerate() {
            let at = row_of[i.account.as_str()] * regions.len() + col_of[i.region.as_str()];
            cells[at] = Some(index as u32);
        }
        InstanceGrid {
            ous: accounts.iter().map(|(ou, _)| ou.map(str::to_string)).collect(),
            accounts: accounts.iter().map(|(_, a)| a.to_string()).collect(),
            regions,
            cells,
        }
    }

    /// The index (into the listed instances) of the instance at a row and column, if any.
    pub fn cell(&self, row: usize, col: usize) -> Option<usize> {
        if col >= self.regions.len() {
            return None;
        }
        self.cells
            .get(row * self.regions.len() + col)
            .copied()
            .flatten()
            .map(|i| i as usize)
    }

    /// Every instance of a row, with its column.
    pub fn row_cells(&self, row: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.regions.len()).filter_map(move |col| self.cell(row, col).map(|i| (col, i)))
    }

    /// The row and column of an instance, by account and Region.
    pub fn position(&self, account: &str, region: &str) -> Option<(usize, usize)> {
        let row = self.accounts.iter().position(|a| a == account)?;
        let col = self.regions.iter().position(|r| r == region)?;
        Some((row, col))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(account: &str, region: &str, status: InstanceStatus, detailed: &str, drift: &str) -> StackInstance {
        StackInstance {
            account: account.into(),
            region: region.into(),
            ou: None,
            status,
            detailed_status: Some(detailed.into()),
            status_reason: None,
            drift_status: Some(drift.into()),
            last_operation_id: None,
        }
    }

    #[test]
    fn the_grid_puts_each_instance_in_its_account_and_region() {
        let rows = vec![
            instance("2", "us-east-1", InstanceStatus::Current, "SUCCEEDED", "IN_SYNC"),
            instance("1", "eu-west-1", InstanceStatus::Outdated, "FAILED", "NOT_CHECKED"),
            instance("1", "us-east-1", InstanceStatus::Current, "SUCCEEDED", "DRIFTED"),
        ];
        let grid = InstanceGrid::build(&rows);
        assert_eq!(grid.regions, vec!["eu-west-1", "us-east-1"]);
        assert_eq!(grid.accounts, vec!["1", "2"]);
        assert_eq!(grid.cell(0, 0), Some(1));
        assert_eq!(grid.cell(0, 1), Some(2));
        assert_eq!(grid.cell(1, 0), None, "account 2 has no eu-west-1 instance");
        assert_eq!(grid.cell(1, 1), Some(0));
        assert_eq!(grid.cell(0, 9), None);
        assert_eq!(grid.position("2", "us-east-1"), Some((1, 1)));
        assert_eq!(grid.row_cells(0).collect::<Vec<_>>(), vec![(0, 1), (1, 2)]);
    }

    #[test]
    fn tab_offers_the_statuses_then_what_the_instances_have() {
        let rows = vec![
            instance(
                "1",
                "r",
                InstanceStatus::Outdated,
                "SKIPPED_SUSPENDED_ACCOUNT",
                "NOT_CHECKED",
            ),
            instance("2", "r", InstanceStatus::Outdated, "FAILED", "DRIFTED"),
            instance("3", "r", InstanceStatus::Current, "SUCCEEDED", "IN_SYNC"),
        ];
        let labels: Vec<String> = filter_choices(&rows).iter().map(InstanceFilter::label).collect();
        assert_eq!(
            labels,
            vec![
                "INOPERABLE",
                "OUTDATED",
                "CURRENT",
                "detailed FAILED",
                "detailed SKIPPED_SUSPENDED_ACCOUNT",
                "detailed SUCCEEDED",
                "drift DRIFTED",
                "drift IN_SYNC",
                "drift NOT_CHECKED",
            ]
        );
        let choices = filter_choices(&rows);
        assert_eq!(next_filter(None, &choices), Some(choices[0].clone()));
        assert_eq!(next_filter(choices.last(), &choices), None);
        let gone = InstanceFilter::Drift("UNKNOWN".into());
        assert_eq!(next_filter(Some(&gone), &choices), None);
        assert!(InstanceFilter::Drift("NOT_CHECKED".into()).matches(&StackInstance {
            drift_status: None,
            ..rows[0].clone()
        }));
    }
}
