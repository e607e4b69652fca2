//! The boundary to CloudFormation: the `StackSetApi` trait the poller uses, our error type,
//! and (in `sdk`) the one implementation that talks to AWS. SDK types never leave this module.

pub mod audit;
pub mod credentials;
pub mod fake;
pub mod sdk;

use std::future::Future;

use crate::model::{CallAs, Operation, OperationResult, Page, ResultStatus, StackSetDetail, StackSetSummary};

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
        let login = match profile {
            Some(profile) if profile != "demo" => format!("aws sso login --profile {profile}"),
            _ => "aws sso login".to_string(),
        };
        match self.kind {
            ErrorKind::ExpiredCredentials => {
                format!("credentials expired: run `{login}` or refresh your keys; sstop retries by itself")
            }
            ErrorKind::NoCredentials => {
                format!("no AWS credentials found: run `{login}`, `aws configure`, or set AWS_PROFILE; sstop retries by itself")
            }
            ErrorKind::CredentialSource => format!("{}; sstop retries by itself", self.message),
            ErrorKind::AccessDenied => format!("access denied: {}", self.message),
            ErrorKind::Throttled => "throttled by CloudFormation (Rate exceeded): backing off".to_string(),
            ErrorKind::Network => format!("cannot reach CloudFormation: {}", self.message),
            ErrorKind::Timeout => "CloudFormation did not answer in time: retrying".to_string(),
            ErrorKind::Service => format!("CloudFormation failed ({}): retrying", self.message),
            ErrorKind::StackSetNotFound => format!(
                "{} (a delegated administrator's stack set needs --call-as delegated-admin)",
                self.message
            ),
            _ => self.message.clone(),
        }
    }

    /// Worth trying again later on its own (the poller keeps polling through these).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Throttled | ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Service
        )
    }
}

/// What a successful StopStackSetOperation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopAccepted {
    pub request_id: Option<String>,
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
}
