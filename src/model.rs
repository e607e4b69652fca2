//! Domain types of sstop: stack sets, operations, results and their statuses.
//! These are ours; SDK types are converted into them inside `api/` and never leak past it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A wire string that did not name any variant of the enum it was parsed into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// Declares an enum whose variants map one-to-one to the API's wire strings.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(
                #[serde(rename = $wire)]
                $variant,
            )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The string CloudFormation uses for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    other => Err(UnknownValue { kind: $kind, value: other.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Whose authority a call is made with; DELEGATED_ADMIN must ride on every call, not only the stop.
    CallAs, "CallAs" { SelfAccount => "SELF", DelegatedAdmin => "DELEGATED_ADMIN" }
);

wire_enum!(PermissionModel, "PermissionModel" {
    SelfManaged => "SELF_MANAGED",
    ServiceManaged => "SERVICE_MANAGED",
});

wire_enum!(StackSetStatus, "StackSetStatus" { Active => "ACTIVE", Deleted => "DELETED" });

wire_enum!(OperationStatus, "OperationStatus" {
    Queued => "QUEUED",
    Running => "RUNNING",
    Stopping => "STOPPING",
    Stopped => "STOPPED",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
});

wire_enum!(OperationAction, "OperationAction" {
    Create => "CREATE",
    Update => "UPDATE",
    Delete => "DELETE",
    DetectDrift => "DETECT_DRIFT",
});

wire_enum!(
    /// Status of one account x Region of an operation.
    ResultStatus, "ResultStatus" {
        Pending => "PENDING",
        Running => "RUNNING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
    }
);

wire_enum!(GateStatus, "AccountGateStatus" {
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
    Skipped => "SKIPPED",
});

wire_enum!(RegionConcurrency, "RegionConcurrencyType" {
    Sequential => "SEQUENTIAL",
    Parallel => "PARALLEL",
});

wire_enum!(ConcurrencyMode, "ConcurrencyMode" {
    StrictFailureTolerance => "STRICT_FAILURE_TOLERANCE",
    SoftFailureTolerance => "SOFT_FAILURE_TOLERANCE",
});

impl OperationStatus {
    /// Still changing: worth polling, and (for QUEUED/RUNNING) worth stopping.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Running | Self::Stopping)
    }

    /// StopStackSetOperation only makes sense on these.
    pub fn is_stoppable(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

impl ResultStatus {
    /// A result in a final status never changes again within its operation.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl CallAs {
    /// The lower-case spelling used on the command line and in the config.
    pub fn cli_name(self) -> &'static str {
        match self {
            CallAs::SelfAccount => "self",
            CallAs::DelegatedAdmin => "delegated-admin",
        }
    }

    /// A flag's or config value: the lower-case spelling, or the API's own.
    pub fn parse_setting(text: &str) -> Option<CallAs> {
        CallAs::ALL
            .iter()
            .copied()
            .find(|c| c.cli_name() == text || c.as_str() == text)
    }
}

wire_enum!(
    /// A stack instance's Status: is its stack in line with the stack set?
    InstanceStatus, "StackInstanceStatus" {
        Current => "CURRENT",
        Outdated => "OUTDATED",
        Inoperable => "INOPERABLE",
    }
);

/// One stack instance (account x Region) of a stack set, as ListStackInstances reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackInstance {
    pub account: String,
    pub region: String,
    pub ou: Option<String>,
    pub status: InstanceStatus,
    /// PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, INOPERABLE, SKIPPED_SUSPENDED_ACCOUNT,
    /// FAILED_IMPORT: kept as the API's text, so a value added later still shows.
    pub detailed_status: Option<String>,
    pub status_reason: Option<String>,
    pub drift_status: Option<String>,
    pub last_operation_id: Option<String>,
}

impl StackInstance {
    /// The operation result this instance stands for while `LastOperationId` names that
    /// operation: its DetailedStatus uses the result's words, with INOPERABLE and FAILED_IMPORT
    /// as failures and a skipped suspended account as done (the result list says SUCCEEDED
    /// there too). No account-gate details: only the result list has them. None for a
    /// DetailedStatus this build does not know.
    pub fn as_result(&self) -> Option<OperationResult> {
        let status = match self.detailed_status.as_deref()? {
            "PENDING" => ResultStatus::Pending,
            "RUNNING" => ResultStatus::Running,
            "SUCCEEDED" | "SKIPPED_SUSPENDED_ACCOUNT" => ResultStatus::Succeeded,
            "FAILED" | "INOPERABLE" | "FAILED_IMPORT" => ResultStatus::Failed,
            "CANCELLED" => ResultStatus::Cancelled,
            _ => return None,
        };
        Some(OperationResult {
            account: self.account.clone(),
            region: self.region.clone(),
            status,
            status_reason: self.status_reason.clone(),
            gate_status: None,
            gate_reason: None,
            ou: self.ou.clone(),
        })
    }
}

/// One stack instance in full, as DescribeStackInstance returns it: read only when asked for
/// (one call per instance would not scale to a stack set of 100,000).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInstanceDetail {
    pub stack_set_id: Option<String>,
    pub account: String,
    pub region: String,
    pub stack_id: Option<String>,
    pub parameter_overrides: Vec<ParameterOverride>,
    pub status: Option<InstanceStatus>,
    /// As in `StackInstance`: the API's text.
    pub detailed_status: Option<String>,
    pub status_reason: Option<String>,
    pub ou: Option<String>,
    pub drift_status: Option<String>,
    pub last_drift_check: Option<OffsetDateTime>,
    pub last_operation_id: Option<String>,
}

/// A stack instance's own value for one of the stack set's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterOverride {
    pub key: String,
    pub value: Option<String>,
    pub use_previous_value: bool,
    pub resolved_value: Option<String>,
}

/// How an operation rolls out. Every field is optional, as on the wire (and in the emulator's
/// scenario files, which read it directly).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperationPreferences {
    pub region_concurrency: Option<RegionConcurrency>,
    pub region_order: Vec<String>,
    pub max_concurrent_count: Option<u32>,
    pub max_concurrent_percentage: Option<u32>,
    pub failure_tolerance_count: Option<u32>,
    pub failure_tolerance_percentage: Option<u32>,
    pub concurrency_mode: Option<ConcurrencyMode>,
}

impl OperationPreferences {
    /// A one-line summary such as `SEQ us-east-1>eu-west-1 | max 10% | tol 2`.
    pub fn short(&self) -> String {
        let mut parts = Vec::new();
        let order = if self.region_order.is_empty() {
            String::new()
        } else {
            format!(" {}", self.region_order.join(">"))
        };
        match self.region_concurrency {
            Some(RegionConcurrency::Parallel) => parts.push(format!("PAR{order}")),
            _ => parts.push(format!("SEQ{order}")),
        }
        match (self.max_concurrent_count, self.max_concurrent_percentage) {
            (_, Some(p)) => parts.push(format!("max {p}%")),
            (Some(c), None) => parts.push(format!("max {c}")),
            (None, None) => parts.push("max 1".to_string()),
        }
        match (self.failure_tolerance_count, self.failure_tolerance_percentage) {
            (_, Some(p)) => parts.push(format!("tol {p}%")),
            (Some(c), None) => parts.push(format!("tol {c}")),
            (None, None) => parts.push("tol 0".to_string()),
        }
        if self.concurrency_mode == Some(ConcurrencyMode::SoftFailureTolerance) {
            parts.push("soft".to_string());
        }
        parts.join(" | ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetSummary {
    pub name: String,
    pub id: String,
    pub status: StackSetStatus,
    pub permission_model: Option<PermissionModel>,
    pub description: Option<String>,
    /// The CallAs the overview found it under (a delegated administrator lists under both):
    /// the stop dialog starts on it. None when not learned from a listing.
    pub listed_as: Option<CallAs>,
}

/// What DescribeStackSet adds to the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetDetail {
    pub summary: StackSetSummary,
    pub regions: Vec<String>,
    pub managed_execution: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub id: String,
    pub action: OperationAction,
    pub status: OperationStatus,
    pub created: Option<OffsetDateTime>,
    pub ended: Option<OffsetDateTime>,
    pub status_reason: Option<String>,
    pub failed_count: Option<u32>,
    pub preferences: OperationPreferences,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationResult {
    pub account: String,
    pub region: String,
    pub status: ResultStatus,
    pub status_reason: Option<String>,
    pub gate_status: Option<GateStatus>,
    pub gate_reason: Option<String>,
    pub ou: Option<String>,
}

/// One page of a list call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for s in ResultStatus::ALL {
            assert_eq!(s.as_str().parse::<ResultStatus>().unwrap(), *s);
        }
        assert_eq!(CallAs::DelegatedAdmin.as_str(), "DELEGATED_ADMIN");
        assert!("BOGUS".parse::<OperationStatus>().is_err());
    }

    #[test]
    fn preferences_summarise_in_one_line() {
        let p = OperationPreferences {
            region_concurrency: Some(RegionConcurrency::Sequential),
            region_order: vec!["us-east-1".into(), "eu-west-1".into()],
            max_concurrent_percentage: Some(10),
            failure_tolerance_count: Some(2),
            ..Default::default()
        };
        assert_eq!(p.short(), "SEQ us-east-1>eu-west-1 | max 10% | tol 2");
    }
}
