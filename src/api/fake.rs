//! An in-memory `StackSetApi` for tests of the poller and the event loop: fixed data, an
//! optional delay per call (on tokio's clock, so paused-clock tests stay exact), and a log of calls.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::{ApiError, ErrorKind, StackSetApi, StopAccepted};
use crate::model::{
    CallAs, Operation, OperationResult, OperationStatus, Page, PermissionModel, ResultStatus, StackSetDetail,
    StackSetStatus, StackSetSummary,
};

/// One call as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub action: &'static str,
    pub stack_set: Option<String>,
    pub status: Option<ResultStatus>,
    pub call_as: CallAs,
    /// tokio time since the fake was made.
    pub at: Duration,
}

#[derive(Debug, Default)]
pub struct FakeData {
    pub stack_sets: Vec<(StackSetSummary, CallAs)>,
    /// Operations per stack set.
    pub operations: HashMap<String, Vec<Operation>>,
    /// Results per operation id.
    pub results: HashMap<String, Vec<OperationResult>>,
    /// Stack instances per stack set.
    pub instances: HashMap<String, Vec<crate::model::StackInstance>>,
    /// The error every call returns while set.
    pub fail_with: Option<ApiError>,
    /// The next this many calls of this action are throttled (then it answers again).
    pub throttle_next: Option<(&'static str, u32)>,
}

pub struct FakeApi {
    pub data: Mutex<FakeData>,
    pub calls: Mutex<Vec<Call>>,
    /// Delay of list_results calls, to stand for a slow, long paging chain.
    pub results_latency: Duration,
    /// Delay of DescribeStackSetOperation calls.
    pub describe_latency: Duration,
    /// Delay of ListStackInstances calls.
    pub instances_latency: Duration,
    pub page_size: usize,
    started: tokio::time::Instant,
}

impl FakeApi {
    pub fn new(data: FakeData) -> Self {
        FakeApi {
            data: Mutex::new(data),
            calls: Mutex::new(Vec::new()),
            results_latency: Duration::ZERO,
            describe_latency: Duration::ZERO,
            instances_latency: Duration::ZERO,
            page_size: 100,
            started: tokio::time::Instant::now(),
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn count(&self, action: &str) -> usize {
        self.calls().iter().filter(|c| c.action == action).count()
    }

    fn record(
        &self,
        action: &'static str,
        stack_set: Option<&str>,
        status: Option<ResultStatus>,
        call_as: CallAs,
    ) -> Result<(), ApiError> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(Call {
                action,
                stack_set: stack_set.map(str::to_string),
                status,
                call_as,
                at: self.started.elapsed(),
            });
        }
        if let Ok(mut data) = self.data.lock() {
            if let Some((throttled, left)) = &mut data.throttle_next {
                if *throttled == action && *left > 0 {
                    *left -= 1;
                    return Err(ApiError::new(ErrorKind::Throttled, "Rate exceeded"));
                }
            }
        }
        match self.data.lock().ok().and_then(|d| d.fail_with.clone()) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn page<T: Clone>(&self, items: &[T], token: Option<String>) -> Page<T> {
        let start: usize = token.and_then(|t| t.parse().ok()).unwrap_or(0);
        let end = (start + self.page_size).min(items.len());
        Page {
            items: items[start.min(end)..end].to_vec(),
            next_token: (end < items.len()).then(|| end.to_string()),
        }
    }

    fn not_found(kind: ErrorKind, what: &str) -> ApiError {
        ApiError::new(kind, format!("{what} not found"))
    }
}

/// A stack set summary for fixtures.
pub fn stack_set(name: &str, model: PermissionModel) -> StackSetSummary {
    StackSetSummary {
        name: name.to_string(),
        id: format!("{name}:0000"),
        status: StackSetStatus::Active,
        permission_model: Some(model),
        description: None,
        listed_as: None,
    }
}

impl StackSetApi for FakeApi {
    async fn list_stack_sets(
        &self,
        call_as: CallAs,
        next_token: Option<String>,
    ) -> Result<Page<StackSetSummary>, ApiError> {
        self.record("ListStackSets", None, None, call_as)?;
        let items: Vec<StackSetSummary> = self
            .data
            .lock()
            .map(|d| {
                d.stack_sets
                    .iter()
                    .filter(|(_, owner)| *owner == call_as)
                    .map(|(s, _)| s.clone())
                    .collect()
            })
            .unwrap_or_default();
        Ok(self.page(&items, next_token))
    }

    async fn describe_stack_set(&self, name: &str, call_as: CallAs) -> Result<StackSetDetail, ApiError> {
        self.record("DescribeStackSet", Some(name), None, call_as)?;
        let data = self
            .data
            .lock()
            .map_err(|_| ApiError::new(ErrorKind::Other, "poisoned"))?;
        let (summary, _) = data
            .stack_sets
            .iter()
            .find(|(s, owner)| s.name == name && *owner == call_as)
            .ok_or_else(|| Self::not_found(ErrorKind::StackSetNotFound, name))?;
        // The Regions its instances are in, as DescribeStackSet reports them.
        let mut regions: Vec<String> = data
            .instances
            .get(name)
            .map(|instances| instances.iter().map(|i| i.region.clone()).collect())
            .unwrap_or_default();
        regions.sort();
        regions.dedup();
        Ok(StackSetDetail {
            summary: summary.clone(),
            regions,
            managed_execution: false,
        })
    }

    async fn list_operations(
        &self,
        name: &str,
        call_as: CallAs,
        _max: i32,
        next_token: Option<String>,
    ) -> Result<Page<Operation>, ApiError> {
        self.record("ListStackSetOperations", Some(name), None, call_as)?;
        let items = self
            .data
            .lock()
            .ok()
            .and_then(|d| d.operations.get(name).cloned())
            .unwrap_or_default();
        Ok(self.page(&items, next_token))
    }

    async fn describe_operation(&self, name: &str, id: &str, call_as: CallAs) -> Result<Operation, ApiError> {
        self.record("DescribeStackSetOperation", Some(name), None, call_as)?;
        if !self.describe_latency.is_zero() {
            tokio::time::sleep(self.describe_latency).await;
        }
        self.data
            .lock()
            .ok()
            .and_then(|d| d.operations.get(name)?.iter().find(|o| o.id == id).cloned())
            .ok_or_else(|| Self::not_found(ErrorKind::OperationNotFound, id))
    }

    async fn list_instances(
        &self,
        name: &str,
        call_as: CallAs,
        query: &crate::api::InstanceQuery,
        next_token: Option<String>,
    ) -> Result<Page<crate::model::StackInstance>, ApiError> {
        self.record("ListStackInstances", Some(name), None, call_as)?;
        if !self.instances_latency.is_zero() {
            tokio::time::sleep(self.instances_latency).await;
        }
        let wanted = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == have);
        let items: Vec<crate::model::StackInstance> = self
            .data
            .lock()
            .map(|d| d.instances.get(name).cloned().unwrap_or_default())
            .unwrap_or_default()
            .into_iter()
            .filter(|i| {
                wanted(&query.region, Some(&i.region))
                    && wanted(&query.detailed_status, i.detailed_status.as_deref())
                    && wanted(&query.last_operation, i.last_operation_id.as_deref())
            })
            .collect();
        Ok(self.page(&items, next_token))
    }

    async fn describe_instance(
        &self,
        name: &str,
        account: &str,
        region: &str,
        call_as: CallAs,
    ) -> Result<crate::model::StackInstanceDetail, ApiError> {
        self.record("DescribeStackInstance", Some(name), None, call_as)?;
        let found = self.data.lock().ok().and_then(|d| {
            d.instances
                .get(name)?
                .iter()
                .find(|i| i.account == account && i.region == region)
                .cloned()
        });
        let instance = found.ok_or_else(|| {
            ApiError::new(
                ErrorKind::Other,
                format!("Stack instance {account} in {region} of stack set {name} not found"),
            )
        })?;
        Ok(crate::model::StackInstanceDetail {
            stack_set_id: Some(format!("{name}:0000")),
            account: instance.account,
            region: instance.region,
            stack_id: None,
            parameter_overrides: Vec::new(),
            status: Some(instance.status),
            detailed_status: instance.detailed_status,
            status_reason: instance.status_reason,
            ou: instance.ou,
            drift_status: instance.drift_status,
            last_drift_check: None,
            last_operation_id: instance.last_operation_id,
        })
    }

    async fn list_results(
        &self,
        name: &str,
        id: &str,
        call_as: CallAs,
        status: Option<ResultStatus>,
        next_token: Option<String>,
    ) -> Result<Page<OperationResult>, ApiError> {
        self.record("ListStackSetOperationResults", Some(name), status, call_as)?;
        if !self.results_latency.is_zero() {
            tokio::time::sleep(self.results_latency).await;
        }
        let items: Vec<OperationResult> = self
            .data
            .lock()
            .ok()
            .and_then(|d| d.results.get(id).cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|r| status.is_none_or(|s| r.status == s))
            .collect();
        Ok(self.page(&items, next_token))
    }

    async fn stop_operation(&self, name: &str, id: &str, call_as: CallAs) -> Result<StopAccepted, ApiError> {
        self.record("StopStackSetOperation", Some(name), None, call_as)?;
        let mut data = self
            .data
            .lock()
            .map_err(|_| ApiError::new(ErrorKind::Other, "poisoned"))?;
        let operation = data
            .operations
            .get_mut(name)
            .and_then(|ops| ops.iter_mut().find(|o| o.id == id))
            .ok_or_else(|| Self::not_found(ErrorKind::OperationNotFound, id))?;
        if !operation.status.is_stoppable() {
            return Err(ApiError::new(
                ErrorKind::InvalidOperation,
                "the specified operation isn't valid",
            ));
        }
        operation.status = OperationStatus::Stopping;
        Ok(StopAccepted {
            request_id: Some("fake-request-1".to_string()),
        })
    }
}
