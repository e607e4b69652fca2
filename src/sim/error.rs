//! The emulator's error type: one AWS error code, its message and the HTTP status it travels with.

use std::fmt;

/// An error as CloudFormation would report it in an `<ErrorResponse>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
    /// `Sender` (the caller's fault) or `Receiver` (ours).
    pub sender: bool,
}

impl SimError {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        SimError {
            code,
            message: message.into(),
            status,
            sender: status < 500,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationError", 400, message)
    }

    /// A required parameter is absent; the message names it as AWS does.
    pub fn missing(param: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{param}' failed to satisfy constraint: Member must not be null"
        ))
    }

    pub fn invalid_action(message: impl Into<String>) -> Self {
        Self::new("InvalidAction", 400, message)
    }

    pub fn stack_set_not_found(name: &str) -> Self {
        Self::new("StackSetNotFoundException", 404, format!("StackSet {name} not found"))
    }

    pub fn operation_not_found(id: &str) -> Self {
        Self::new("OperationNotFoundException", 404, format!("Operation {id} not found"))
    }

    pub fn operation_in_progress(stack_set: &str, running: &str) -> Self {
        Self::new(
            "OperationInProgressException",
            409,
            format!("Another Operation on StackSet {stack_set} is in progress: {running}"),
        )
    }

    pub fn invalid_operation(message: impl Into<String>) -> Self {
        Self::new("InvalidOperationException", 400, message)
    }

    pub fn name_exists(name: &str) -> Self {
        Self::new(
            "NameAlreadyExistsException",
            409,
            format!("StackSet {name} already exists"),
        )
    }

    pub fn not_empty(name: &str) -> Self {
        Self::new(
            "StackSetNotEmptyException",
            409,
            format!("StackSet {name} is not empty: delete its stack instances first"),
        )
    }

    pub fn instance_not_found(account: &str, region: &str, stack_set: &str) -> Self {
        Self::new(
            "StackInstanceNotFoundException",
            404,
            format!("StackInstance [account={account}, region={region}] not found in StackSet {stack_set}"),
        )
    }

    pub fn operation_id_exists(id: &str) -> Self {
        Self::new(
            "OperationIdAlreadyExistsException",
            409,
            format!("Operation {id} already exists"),
        )
    }

    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new("LimitExceededException", 400, message)
    }

    pub fn throttling() -> Self {
        Self::new("Throttling", 400, "Rate exceeded")
    }

    pub fn internal() -> Self {
        Self::new(
            "InternalFailure",
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            "RequestEntityTooLarge",
            413,
            format!("Request body is larger than {limit} bytes"),
        )
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SimError {}
