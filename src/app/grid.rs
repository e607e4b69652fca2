//! The results of one operation arranged as an account x Region grid, kept indexed so that
//! drawing touches only the visible window and a page of results merges in without a rebuild.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::insight::{self, Category, ResourceRef};
use crate::model::{OperationResult, ResultStatus};

/// Row of the grid: one account, with the index into `ResultGrid::results` of each Region's cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridRow {
    pub account: String,
    pub ou: Option<String>,
    /// One entry per column of `ResultGrid::regions`.
    pub cells: Vec<Option<u32>>,
}

/// Position of a status in the one-way life of a result: PENDING -> RUNNING -> final.
fn progress_rank(status: ResultStatus) -> u8 {
    match status {
        ResultStatus::Pending => 0,
        ResultStatus::Running => 1,
        _ => 2,
    }
}

#[derive(Debug, Clone, Default)]
pub struct ResultGrid {
    pub results: Vec<OperationResult>,
    /// Column order: the operation's RegionOrder first, then the rest alphabetically.
    pub regions: Vec<String>,
    /// Rows in arrival order; `order` sorts them.
    pub rows: Vec<GridRow>,
    /// Row indexes sorted by (OU, account).
    pub order: Vec<u32>,
    account_index: HashMap<String, u32>,
    region_index: HashMap<String, u16>,
    counts: [usize; 5],
    /// Per-status counts of each column of `regions`, kept as results merge in.
    region_counts: Vec<[usize; 5]>,
    region_order: Vec<String>,
}

/// Index of a status in count arrays, in `ResultStatus::ALL` order.
pub fn status_slot(status: ResultStatus) -> usize {
    ResultStatus::ALL.iter().position(|s| *s == status).unwrap_or(0)
}

impl ResultGrid {
    pub fn new(region_order: &[String]) -> Self {
        let mut grid = ResultGrid {
            region_order: region_order.to_vec(),
            ..Default::default()
        };
        grid.lay_out_columns(region_order.to_vec());
        grid
    }

    pub fn len(&self) -> usize {
        self.results.len()
    }

    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    pub fn count(&self, status: ResultStatus) -> usize {
        self.counts[status_slot(status)]
    }

    /// Results of one Region (a column of `regions`) per status, in `ResultStatus::ALL` order.
    pub fn region_counts(&self, col: usize) -> [usize; 5] {
        self.region_counts.get(col).copied().unwrap_or_default()
    }

    pub fn cell(&self, row: usize, col: usize) -> Option<&OperationResult> {
        let idx = (*self.rows.get(row)?.cells.get(col)?)?;
        self.results.get(idx as usize)
    }

    pub fn find(&self, account: &str, region: &str) -> Option<&OperationResult> {
        let row = *self.account_index.get(account)? as usize;
        let col = *self.region_index.get(region)? as usize;
        self.cell(row, col)
    }

    fn add_region(&mut self, region: &str) -> u16 {
        if let Some(col) = self.region_index.get(region) {
            return *col;
        }
        let mut regions = self.regions.clone();
        regions.push(region.to_string());
        self.lay_out_columns(regions);
        self.region_index[region]
    }

    /// Adopt the operation's RegionOrder, which may arrive after the first results.
    pub fn set_region_order(&mut self, region_order: &[String]) {
        if self.region_order != region_order {
            self.region_order = region_order.to_vec();
            let regions = self.regions.clone();
            self.lay_out_columns(regions);
        }
    }

    /// Sort the columns (RegionOrder first, then alphabetical) and move every row's cells to match.
    fn lay_out_columns(&mut self, mut regions: Vec<String>) {
        let order = &self.region_order;
        regions.sort_by(|a, b| {
            let pa = order.iter().position(|r| r == a).unwrap_or(usize::MAX);
            let pb = order.iter().position(|r| r == b).unwrap_or(usize::MAX);
            pa.cmp(&pb).then_with(|| a.cmp(b))
        });
        let old_index = std::mem::take(&mut self.region_index);
        for (col, name) in regions.iter().enumerate() {
            self.region_index.insert(name.clone(), col as u16);
        }
        let mut region_counts = vec![[0; 5]; regions.len()];
        for (name, old_col) in &old_index {
            region_counts[self.region_index[name] as usize] = self.region_counts[*old_col as usize];
        }
        self.region_counts = region_counts;
        for row in &mut self.rows {
            let mut cells = vec![None; regions.len()];
            for (name, old_col) in &old_index {
                cells[self.region_index[name] as usize] = row.cells[*old_col as usize];
            }
            row.cells = cells;
        }
        self.regions = regions;
    }

    /// Merge results in. A result never moves backwards (PENDING -> RUNNING -> final), so a
    /// late page from another status class or an eventually consistent list cannot regress a cell.
    /// Returns true when rows were added (the sort order and any filter need refreshing).
    pub fn merge(&mut self, incoming: Vec<OperationResult>) -> bool {
        let mut new_rows = false;
        for result in incoming {
            let col = self.add_region(&result.region) as usize;
            let row = match self.account_index.get(&result.account) {
                Some(row) => *row as usize,
                None => {
                    let row = self.rows.len();
                    self.rows.push(GridRow {
                        account: result.account.clone(),
                        ou: result.ou.clone(),
                        cells: vec![None; self.regions.len()],
                    });
                    self.account_index.insert(result.account.clone(), row as u32);
                    new_rows = true;
                    row
                }
            };
            if self.rows[row].ou.is_none() && result.ou.is_some() {
                self.rows[row].ou = result.ou.clone();
                new_rows = true;
            }
            match self.rows[row].cells[col] {
                Some(idx) => {
                    let existing = &mut self.results[idx as usize];
                    if progress_rank(result.status) >= progress_rank(existing.status) {
                        self.counts[status_slot(existing.status)] -= 1;
                        self.counts[status_slot(result.status)] += 1;
                        self.region_counts[col][status_slot(existing.status)] -= 1;
                        self.region_counts[col][status_slot(result.status)] += 1;
                        // A stack instance read carries no account gate: what the result list
                        // said about the gate stands while the status is the same.
                        let mut result = result;
                        if result.gate_status.is_none() && result.status == existing.status {
                            result.gate_status = existing.gate_status.take();
                            result.gate_reason = existing.gate_reason.take();
                        }
                        *existing = result;
                    }
                }
                None => {
                    self.counts[status_slot(result.status)] += 1;
                    self.region_counts[col][status_slot(result.status)] += 1;
                    self.rows[row].cells[col] = Some(self.results.len() as u32);
                    self.results.push(result);
                }
            }
        }
        if new_rows {
            self.resort();
        }
        new_rows
    }

    fn resort(&mut self) {
        let rows = &self.rows;
        let mut order: Vec<u32> = (0..rows.len() as u32).collect();
        order.sort_by(|a, b| {
            let (ra, rb) = (&rows[*a as usize], &rows[*b as usize]);
            ra.ou.cmp(&rb.ou).then_with(|| ra.account.cmp(&rb.account))
        });
        self.order = order;
    }

    /// Row indexes (sorted) that pass a text filter on account or OU and a status filter
    /// (a row passes the status filter when any of its cells has that status).
    pub fn filtered_rows(&self, text: &str, status: Option<ResultStatus>) -> Vec<u32> {
        let needle = text.trim().to_ascii_lowercase();
        self.order
            .iter()
            .copied()
            .filter(|r| {
                let row = &self.rows[*r as usize];
                let text_ok = needle.is_empty()
                    || row.account.contains(&needle)
                    || row
                        .ou
                        .as_deref()
                        .is_some_and(|ou| ou.to_ascii_lowercase().contains(&needle));
                let status_ok = status.is_none_or(|s| {
                    row.cells
                        .iter()
                        .flatten()
                        .any(|idx| self.results[*idx as usize].status == s)
                });
                text_ok && status_ok
            })
            .collect()
    }

    /// FAILED and CANCELLED results grouped by StatusReason, biggest group first. Reasons that
    /// differ only in account ids, Regions or request ids (ARNs carry them) are one cause.
    /// Each group carries its category (`insight::classify`) and failed resource, if any.
    pub fn failure_groups(&self) -> Vec<FailureGroup> {
        let mut groups: HashMap<(ResultStatus, String), Vec<u32>> = HashMap::new();
        for (idx, result) in self.results.iter().enumerate() {
            if matches!(result.status, ResultStatus::Failed | ResultStatus::Cancelled) {
                let reason = result.status_reason.as_deref().unwrap_or("(no reason given)");
                groups
                    .entry((result.status, reason_pattern(reason)))
                    .or_default()
                    .push(idx as u32);
            }
        }
        let mut out: Vec<FailureGroup> = groups
            .into_iter()
            .map(|((status, reason), results)| {
                let mut accounts: Vec<&str> = results
                    .iter()
                    .map(|i| self.results[*i as usize].account.as_str())
                    .collect();
                accounts.sort_unstable();
                accounts.dedup();
                let mut regions: Vec<&str> = results
                    .iter()
                    .map(|i| self.results[*i as usize].region.as_str())
                    .collect();
                regions.sort_unstable();
                regions.dedup();
                let first = &self.results[results[0] as usize];
                let category = insight::classify(first.status_reason.as_deref(), first.gate_status);
                let resource = first.status_reason.as_deref().and_then(insight::resource_of);
                FailureGroup {
                    status,
                    category,
                    resource,
                    reason,
                    count: results.len(),
                    accounts: accounts.into_iter().map(str::to_string).collect(),
                    regions: regions.into_iter().map(str::to_string).collect(),
                }
            })
            .collect();
        // FAILED before CANCELLED: the cause matters more than the consequence.
        out.sort_by(|a, b| {
            (a.status == ResultStatus::Cancelled)
                .cmp(&(b.status == ResultStatus::Cancelled))
                .then(b.count.cmp(&a.count))
                .then_with(|| a.reason.cmp(&b.reason))
        });
        out
    }
}

/// A StatusReason with what varies per account x Region masked: 12-digit account ids,
/// Region names and UUID-shaped request ids.
pub fn reason_pattern(reason: &str) -> String {
    static ACCOUNT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{12}\b").expect("valid pattern"));
    static REGION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast|southeast|southwest|northwest)-\d\b")
            .expect("valid pattern")
    });
    static UUID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
            .expect("valid pattern")
    });
    let masked = UUID.replace_all(reason, "<id>");
    let masked = ACCOUNT.replace_all(&masked, "<account>");
    REGION.replace_all(&masked, "<region>").into_owned()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureGroup {
    pub status: ResultStatus,
    /// What the reason means and what to do about it, when a known pattern matches.
    pub category: Option<&'static Category>,
    /// The failed resource of a `ResourceLogicalId:X, ResourceType:Y, ...` reason.
    pub resource: Option<ResourceRef>,
    pub reason: String,
    pub count: usize,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GateStatus;

    fn result(account: &str, region: &str, status: ResultStatus) -> OperationResult {
        OperationResult {
            account: account.into(),
            region: region.into(),
            status,
            status_reason: None,
            gate_status: None,
            gate_reason: None,
            ou: None,
        }
    }

    #[test]
    fn merge_never_moves_a_result_backwards() {
        let mut grid = ResultGrid::new(&[]);
        grid.merge(vec![result("1", "us-east-1", ResultStatus::Running)]);
        grid.merge(vec![result("1", "us-east-1", ResultStatus::Pending)]);
        assert_eq!(grid.find("1", "us-east-1").unwrap().status, ResultStatus::Running);
        grid.merge(vec![result("1", "us-east-1", ResultStatus::Failed)]);
        assert_eq!(grid.count(ResultStatus::Failed), 1);
        assert_eq!(grid.count(ResultStatus::Running), 0);
        assert_eq!(grid.len(), 1);
    }

    #[test]
    fn a_stack_instance_read_keeps_what_the_result_list_said_about_the_gate() {
        let mut grid = ResultGrid::new(&[]);
        let mut from_results = result("1", "us-east-1", ResultStatus::Failed);
        from_results.gate_status = Some(GateStatus::Failed);
        from_results.gate_reason = Some("gate said no".into());
        grid.merge(vec![from_results]);
        grid.merge(vec![result("1", "us-east-1", ResultStatus::Failed)]);
        let cell = grid.find("1", "us-east-1").unwrap();
        assert_eq!(cell.gate_status, Some(GateStatus::Failed));
        assert_eq!(cell.gate_reason.as_deref(), Some("gate said no"));
        // A later status is newer news: its own (absent) gate stands.
        let mut grid = ResultGrid::new(&[]);
        let mut running = result("2", "us-east-1", ResultStatus::Running);
        running.gate_status = Some(GateStatus::Succeeded);
        grid.merge(vec![running, result("2", "us-east-1", ResultStatus::Succeeded)]);
        assert_eq!(grid.find("2", "us-east-1").unwrap().gate_status, None);
    }

    #[test]
    fn columns_follow_region_order_then_alphabet() {
        let mut grid = ResultGrid::new(&["us-west-2".to_string()]);
        grid.merge(vec![
            result("1", "eu-west-1", ResultStatus::Pending),
            result("1", "ap-south-1", ResultStatus::Pending),
            result("2", "us-west-2", ResultStatus::Succeeded),
        ]);
        assert_eq!(grid.regions, vec!["us-west-2", "ap-south-1", "eu-west-1"]);
        assert_eq!(grid.cell(0, 1).unwrap().region, "ap-south-1");
        assert_eq!(grid.cell(1, 0).unwrap().status, ResultStatus::Succeeded);
    }

    #[test]
    fn failures_group_by_reason() {
        let mut grid = ResultGrid::new(&[]);
        let mut a = result("1", "r1", ResultStatus::Failed);
        a.status_reason = Some("exists".into());
        let mut b = result("2", "r1", ResultStatus::Failed);
        b.status_reason = Some("exists".into());
        let c = result("3", "r2", ResultStatus::Cancelled);
        grid.merge(vec![a, b, c]);
        let groups = grid.failure_groups();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].reason, "exists");
        assert_eq!(groups[0].count, 2);
        assert_eq!(groups[0].accounts, vec!["1", "2"]);
        assert_eq!(groups[1].status, ResultStatus::Cancelled);
    }

    #[test]
    fn reasons_that_differ_only_by_account_region_or_request_id_group_together() {
        let reason = |account: &str, region: &str, id: &str| {
            format!("arn:aws:iam::{account}:role/x in {region} is not authorized (Request ID: {id})")
        };
        let mut grid = ResultGrid::new(&[]);
        let mut a = result("111111111111", "us-east-1", ResultStatus::Failed);
        a.status_reason = Some(reason(
            "111111111111",
            "us-east-1",
            "8b2d4f6a-1c3e-4a5b-9d7f-0e2c4a6b8d1f",
        ));
        let mut b = result("222222222222", "ap-southeast-2", ResultStatus::Failed);
        b.status_reason = Some(reason(
            "222222222222",
            "ap-southeast-2",
            "0b2d4f6a-1c3e-4a5b-9d7f-0e2c4a6b8d10",
        ));
        let mut c = result("333333333333", "eu-west-1", ResultStatus::Failed);
        c.status_reason = Some("bucket already exists".into());
        grid.merge(vec![a, b, c]);
        let groups = grid.failure_groups();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].count, 2);
        assert_eq!(
            groups[0].reason,
            "arn:aws:iam::<account>:role/x in <region> is not authorized (Request ID: <id>)"
        );
        assert_eq!(groups[0].regions, vec!["ap-southeast-2", "us-east-1"]);
    }

    #[test]
    fn region_order_arriving_late_re_lays_the_columns() {
        let mut grid = ResultGrid::new(&[]);
        grid.merge(vec![
            result("1", "eu-west-1", ResultStatus::Failed),
            result("1", "us-east-1", ResultStatus::Pending),
        ]);
        assert_eq!(grid.regions, vec!["eu-west-1", "us-east-1"]);
        grid.set_region_order(&["us-east-1".to_string(), "eu-west-1".to_string()]);
        assert_eq!(grid.regions, vec!["us-east-1", "eu-west-1"]);
        assert_eq!(grid.cell(0, 1).map(|r| r.status), Some(ResultStatus::Failed));
        assert_eq!(
            grid.find("1", "us-east-1").map(|r| r.status),
            Some(ResultStatus::Pending)
        );
    }
}
