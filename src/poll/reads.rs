//! How the poller reads a running operation so that what it reports is true at any scale: the
//! full read pages the unfiltered list (a fixed set in a fixed order, so no cell is missed or
//! seen twice however the rollout moves), and a result that left RUNNING is called SUCCEEDED
//! only when the reads prove it.

use std::collections::{HashMap, HashSet};

use crate::model::{OperationResult, ResultStatus};

/// A cell of the grid: (account, Region).
pub(super) type Key = (String, String);

pub(super) fn key_of(result: &OperationResult) -> Key {
    (result.account.clone(), result.region.clone())
}

/// What a complete unfiltered read leaves for the rounds after it.
#[derive(Debug, Default)]
pub(super) struct FullRead {
    /// Each cell's place in the list's order, for judging what a paged RUNNING read covered.
    pub positions: HashMap<Key, u32>,
    /// Pages the read took: how long the next one will take.
    pub pages: u32,
}

/// A RUNNING class read, page by page.
#[derive(Debug, Default)]
pub(super) struct RunningRead {
    pub pages: Vec<Vec<OperationResult>>,
}

impl RunningRead {
    pub fn results(&self) -> impl Iterator<Item = &OperationResult> {
        self.pages.iter().flatten()
    }

    /// The stretches of the list's order a paged read could have skipped: between the last
    /// cell of one page and the first of the next, results that left RUNNING earlier in the
    /// chain can shift a page's window (when the token is an offset); after the last cell seen,
    /// when an empty page followed it; before the first, when an empty page came first. A cell
    /// that lies in no gap and is absent was really not RUNNING when its page was read. `None`
    /// when the pages do not follow the known order, so nothing can be concluded from an absence.
    pub fn gaps(&self, positions: Option<&HashMap<Key, u32>>) -> Option<Vec<(i64, i64)>> {
        if self.pages.len() <= 1 {
            // One page is one answer: a snapshot of the whole class at one moment.
            return Some(Vec::new());
        }
        let positions = positions?;
        let mut spans: Vec<(i64, i64)> = Vec::with_capacity(self.pages.len());
        for page in self.pages.iter().filter(|p| !p.is_empty()) {
            let mut last: Option<i64> = None;
            for result in page {
                let at = i64::from(*positions.get(&key_of(result))?);
                if last.is_some_and(|l| l >= at) {
                    return None;
                }
                last = Some(at);
            }
            let first = i64::from(*positions.get(&key_of(&page[0]))?);
            spans.push((first, last?));
        }
        let (Some(first), Some(last)) = (spans.first().copied(), spans.last().copied()) else {
            // Several pages and all empty: no order to judge them by.
            return None;
        };
        let mut gaps = Vec::with_capacity(spans.len() + 1);
        if self.pages.first().is_some_and(|p| p.is_empty()) {
            gaps.push((i64::MIN, first.0));
        }
        for pair in spans.windows(2) {
            let ((prev_start, prev_end), (start, end)) = (pair[0], pair[1]);
            if start <= prev_start || end <= prev_end {
                // A page behind the one before it: not the known order.
                return None;
            }
            if start > prev_end {
                gaps.push((prev_end, start));
            }
            // Otherwise the page overlaps the one before (results that started behind the
            // chain shifted it back, and it repeats some): nothing lies between them.
        }
        if self.pages.last().is_some_and(|p| p.is_empty()) {
            gaps.push((last.1, i64::MAX));
        }
        Some(gaps)
    }
}

/// What an incremental round concludes about the results believed RUNNING before it.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Inference {
    /// Proven finished and in no FAILED or CANCELLED read: SUCCEEDED.
    pub succeeded: Vec<OperationResult>,
    /// Believed RUNNING for the next round: seen RUNNING now, or absent where the read may
    /// have skipped them.
    pub running: HashMap<Key, OperationResult>,
}

/// Results only move forward (PENDING -> RUNNING -> final). One that was RUNNING before the
/// RUNNING read began, is absent from it where the read could not have skipped it, and is in
/// neither final class read after it, can only have SUCCEEDED.
pub(super) fn infer(
    before: HashMap<Key, OperationResult>,
    running: &RunningRead,
    positions: Option<&HashMap<Key, u32>>,
    ended_elsewhere: &HashSet<Key>,
) -> Inference {
    let mut now: HashMap<Key, OperationResult> = running.results().map(|r| (key_of(r), r.clone())).collect();
    let gaps = running.gaps(positions);
    let mut succeeded = Vec::new();
    for (key, mut result) in before {
        if now.contains_key(&key) || ended_elsewhere.contains(&key) {
            continue;
        }
        let proven = match &gaps {
            Some(gaps) => {
                let at = positions.and_then(|p| p.get(&key)).map(|at| i64::from(*at));
                match at {
                    Some(at) => !gaps.iter().any(|(lo, hi)| *lo < at && at < *hi),
                    None => gaps.is_empty(),
                }
            }
            None => false,
        };
        if proven {
            result.status = ResultStatus::Succeeded;
            result.status_reason = None;
            succeeded.push(result);
        } else {
            now.insert(key, result);
        }
    }
    Inference {
        succeeded,
        running: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(i: u32, status: ResultStatus) -> OperationResult {
        OperationResult {
            account: format!("{i:012}"),
            region: "us-east-1".into(),
            status,
            status_reason: None,
            gate_status: None,
            gate_reason: None,
            ou: None,
        }
    }

    fn positions(n: u32) -> HashMap<Key, u32> {
        (0..n).map(|i| (key_of(&cell(i, ResultStatus::Pending)), i)).collect()
    }

    fn running_pages(pages: &[&[u32]]) -> RunningRead {
        RunningRead {
            pages: pages
                .iter()
                .map(|p| p.iter().map(|i| cell(*i, ResultStatus::Running)).collect())
                .collect(),
        }
    }

    fn before(cells: &[u32]) -> HashMap<Key, OperationResult> {
        cells
            .iter()
            .map(|i| {
                let r = cell(*i, ResultStatus::Running);
                (key_of(&r), r)
            })
            .collect()
    }

    #[test]
    fn a_single_page_proves_every_absence() {
        let read = running_pages(&[&[3, 7]]);
        let out = infer(before(&[1, 3, 9]), &read, None, &HashSet::new());
        let mut done: Vec<String> = out.succeeded.iter().map(|r| r.account.clone()).collect();
        done.sort();
        assert_eq!(done, vec![format!("{:012}", 1), format!("{:012}", 9)]);
        assert!(out.running.contains_key(&key_of(&cell(3, ResultStatus::Running))));
        assert!(out.running.contains_key(&key_of(&cell(7, ResultStatus::Running))));
    }

    #[test]
    fn an_absence_between_pages_proves_nothing() {
        // Pages end at 20 and start again at 40: cell 30 may have been skipped, 10 and 50 not.
        let read = running_pages(&[&[5, 20], &[40, 60]]);
        let out = infer(before(&[10, 30, 50]), &read, Some(&positions(100)), &HashSet::new());
        let done: HashSet<String> = out.succeeded.iter().map(|r| r.account.clone()).collect();
        assert_eq!(done, HashSet::from([format!("{:012}", 10), format!("{:012}", 50)]));
        assert_eq!(
            out.running[&key_of(&cell(30, ResultStatus::Running))].status,
            ResultStatus::Running
        );
    }

    #[test]
    fn an_empty_last_page_after_a_full_one_leaves_everything_after_it_open() {
        // Page 1 held cells up to 20; page 2, asked at offset 100, came back empty: cells that
        // left RUNNING before 20 may have shifted later ones below that offset, unseen.
        let read = running_pages(&[&[5, 20], &[]]);
        let out = infer(before(&[10, 30, 90]), &read, Some(&positions(100)), &HashSet::new());
        let done: HashSet<String> = out.succeeded.iter().map(|r| r.account.clone()).collect();
        assert_eq!(done, HashSet::from([format!("{:012}", 10)]));
        assert_eq!(out.running.len(), 4, "5 and 20 seen, 30 and 90 kept");
        // Several pages, all empty: nothing to judge by.
        assert!(infer(
            before(&[10]),
            &running_pages(&[&[], &[]]),
            Some(&positions(100)),
            &HashSet::new()
        )
        .succeeded
        .is_empty());
    }

    #[test]
    fn a_page_that_overlaps_the_one_before_leaves_no_gap() {
        // Deployments that started behind the chain shifted page 2 back: it repeats 20. Before,
        // the repeat made the whole read prove nothing, and at speed the ended cells sat as
        // RUNNING (411 of 300 on a rollout running 150 a Region).
        let read = running_pages(&[&[5, 20], &[20, 60]]);
        let out = infer(before(&[10, 30, 70]), &read, Some(&positions(100)), &HashSet::new());
        let done: HashSet<String> = out.succeeded.iter().map(|r| r.account.clone()).collect();
        assert_eq!(
            done,
            HashSet::from([format!("{:012}", 10), format!("{:012}", 30), format!("{:012}", 70)])
        );
    }

    #[test]
    fn pages_out_of_the_known_order_prove_nothing() {
        let read = running_pages(&[&[40, 60], &[5, 20]]);
        let out = infer(before(&[10, 50]), &read, Some(&positions(100)), &HashSet::new());
        assert!(out.succeeded.is_empty());
        assert_eq!(out.running.len(), 6);
        // Without the order at all, several pages prove nothing either.
        let read = running_pages(&[&[5, 20], &[40, 60]]);
        assert!(infer(before(&[10]), &read, None, &HashSet::new()).succeeded.is_empty());
    }

    #[test]
    fn a_result_read_failed_or_cancelled_is_not_called_succeeded() {
        let read = running_pages(&[]);
        let ended: HashSet<Key> = HashSet::from([key_of(&cell(2, ResultStatus::Failed))]);
        let out = infer(before(&[1, 2]), &read, None, &ended);
        assert_eq!(out.succeeded.len(), 1);
        assert_eq!(out.succeeded[0].account, format!("{:012}", 1));
        assert!(out.running.is_empty());
    }
}
