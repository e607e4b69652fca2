//! The boundary to CloudFormation: the `StackSetApi` trait the poller uses, our error type,
//! and (in `sdk`) the one implementation that talks to AWS. SDK types never leave this module.

pub mod audit;
pub mod credentials;
#[cfg(test)]
pub mod fake;
pub mod reqlog;
pub mod sdk;

use std::future::Future;

use crate::model::{
    CallAs, Operation, OperationResult, Page, ResultStatus, StackInstance, StackInstanceDetail, StackSetDetail,
    StackSetSummary,
};

/// What kind of failure a call met; the UI words its message and the poller its retry from this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// "Rate exceeded": back off.
    Throttled,
    /// Credentials expired (ExpiredToken, RequestExpired...): the user must log in again.
    ExpiredCredentials,
    /// No credentials anywhere in the provider chain.
    NoCredentials,
    /// A credentials source failed in its own way (a `credential_process` that hangs, fails or
    /// prints bad JSON): the message names it and what to check.
    CredentialSource,
    AccessDenied,
    StackSetNotFound,
    OperationNotFound,
    /// InvalidOperationException: for a stop, the operation has already ended.
    InvalidOperation,
    OperationInProgress,
    Validation,
    /// Could not reach the endpoint, or the connection broke.
    Network,
    /// The attempt or operation timeout cut the call.
    Timeout,
    /// A 5xx from the service.
    Service,
    /// Refused here without sending: read-only is set (by flag or config).
    ReadOnly,
    Other,
}

/// A failed call, already converted from the SDK's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    /// The service's error code when it sent one, e.g. `StackSetNotFoundException`.
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            code: None,
            message: message.into(),
            request_id: None,
        }
    }

    /// The failure in plain words with what to do about it, for the header and messages.
    pub fn advice(&self, profile: Option<&str>) -> String {
        crate::messages::advice(self, profile)
    }

    /// Worth trying again later on its own (the poller keeps polling through these).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Throttled | ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Service
        )
    }
}

/// Every item of a paged listing, in order: `page(token)` fetches one page. A token that comes
/// back unchanged ends the read with an error rather than an endless loop.
pub async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, ApiError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, ApiError>>,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let next = page(token.clone()).await?;
        items.extend(next.items);
        match next.next_token {
            None => return Ok(items),
            Some(next) if Some(&next) == token.as_ref() => {
                return Err(ApiError::new(
                    ErrorKind::Other,
                    "CloudFormation sent the same page token twice: the listing was cut there",
                ))
            }
            Some(next) => token = Some(next),
        }
    }
}

/// What a successful StopStackSetOperation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopAccepted {
    pub request_id: Option<String>,
}

/// What a ListStackInstances read asks for: the API's DETAILED_STATUS and LAST_OPERATION_ID
/// filters and its StackInstanceRegion parameter (None: no narrowing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceQuery {
    pub detailed_status: Option<String>,
    pub last_operation: Option<String>,
    pub region: Option<String>,
}

/// The calls sstop makes. Every call carries CallAs, because DELEGATED_ADMIN must ride on all of them.
pub trait StackSetApi: Send + Sync + 'static {
    fn list_stack_sets(
        &self,
        call_as: CallAs,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<Page<StackSetSummary>, ApiError>> + Send;

    fn describe_stack_set(
        &self,
        stack_set: &str,
        call_as: CallAs,
    ) -> impl Future<Output = Result<StackSetDetail, ApiError>> + Send;

    fn list_operations(
        &self,
        stack_set: &str,
        call_as: CallAs,
        max_results: i32,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<Page<Operation>, ApiError>> + Send;

    fn describe_operation(
        &self,
        stack_set: &str,
        operation_id: &str,
        call_as: CallAs,
    ) -> impl Future<Output = Result<Operation, ApiError>> + Send;

    fn list_results(
        &self,
        stack_set: &str,
        operation_id: &str,
        call_as: CallAs,
        status: Option<ResultStatus>,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<Page<OperationResult>, ApiError>> + Send;

    fn stop_operation(
        &self,
        stack_set: &str,
        operation_id: &str,
        call_as: CallAs,
    ) -> impl Future<Output = Result<StopAccepted, ApiError>> + Send;

    /// ListStackInstances, one page, narrowed by `query`.
    /// Implemented by the SDK client; other implementations answer that they cannot.
    fn list_instances(
        &self,
        stack_set: &str,
        call_as: CallAs,
        query: &InstanceQuery,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<Page<StackInstance>, ApiError>> + Send {
        let _ = (stack_set, call_as, query, next_token);
        async {
            Err(ApiError::new(
                ErrorKind::Other,
                "ListStackInstances is not available here",
            ))
        }
    }

    /// DescribeStackInstance: one instance in full, asked for on demand (never per instance
    /// in a polling round). Implemented by the SDK client and the fake; others answer that
    /// they cannot.
    fn describe_instance(
        &self,
        stack_set: &str,
        account: &str,
        region: &str,
        call_as: CallAs,
    ) -> impl Future<Output = Result<StackInstanceDetail, ApiError>> + Send {
        let _ = (stack_set, account, region, call_as);
        async {
            Err(ApiError::new(
                ErrorKind::Other,
                "DescribeStackInstance is not available here",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Page;

    /// Pages of `per` numbers from 0 to `total`, and the tokens asked for.
    async fn numbers(
        total: usize,
        per: usize,
        asked: &std::sync::Mutex<Vec<Option<String>>>,
    ) -> Result<Vec<usize>, ApiError> {
        all_pages(|token: Option<String>| {
            asked.lock().unwrap().push(token.clone());
            let start: usize = token.map_or(0, |t| t.parse().unwrap());
            let end = (start + per).min(total);
            async move {
                Ok(Page {
                    items: (start..end).collect(),
                    next_token: (end < total).then(|| end.to_string()),
                })
            }
        })
        .await
    }

    #[tokio::test]
    async fn all_pages_reads_every_page_in_order() {
        let asked = std::sync::Mutex::new(Vec::new());
        let items = numbers(250, 100, &asked).await.unwrap();
        assert_eq!(items, (0..250).collect::<Vec<_>>());
        assert_eq!(
            *asked.lock().unwrap(),
            vec![None, Some("100".to_string()), Some("200".to_string())]
        );
    }

    #[tokio::test]
    async fn all_pages_stops_at_a_token_that_repeats_and_at_an_error() {
        let err = all_pages(|_token| async {
            Ok(Page {
                items: vec![1],
                next_token: Some("same".to_string()),
            })
        })
        .await
        .unwrap_err();
        assert!(err.message.contains("same page token twice"), "{err:?}");
        let mut calls = 0;
        let err = all_pages(|token| {
            calls += 1;
            async move {
                match token {
                    None => Ok(Page {
                        items: vec![1],
                        next_token: Some("a".to_string()),
                    }),
                    Some(_) => Err::<Page<i32>, _>(ApiError::new(ErrorKind::Throttled, "Rate exceeded")),
                }
            }
        })
        .await
        .unwrap_err();
        assert_eq!((err.kind, calls), (ErrorKind::Throttled, 2));
    }
}
