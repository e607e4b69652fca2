//! Property tests: whatever bytes or form fields arrive, the parser and dispatcher answer with
//! XML (a result or an error envelope) and never panic.

use proptest::prelude::*;

use super::api::ACTIONS;
use super::engine::{Engine, Organization};
use super::region::Estates;
use super::server::{Clock, Faults, Shared};

const FORM: Option<&str> = Some("application/x-www-form-urlencoded; charset=utf-8");

fn shared() -> Shared {
    let now = 1_795_318_320_000;
    let s = Shared::new(
        Estates::single("us-east-1", Engine::new(Organization::default(), 3, now), 3),
        Clock::new(now, 1000.0),
        Faults::new(0.0, 0.0, 0, 3),
        99,
        false,
    );
    // Something to find: a self-managed stack set with a running operation, and a delegated one.
    for body in [
        "Action=CreateStackSet&StackSetName=ss&TemplateBody=x",
        "Action=CreateStackInstances&StackSetName=ss&Regions.member.1=us-east-1&Regions.member.2=eu-west-1&Accounts.member.1=123456789012&Accounts.member.2=210987654321&OperationId=op-1",
        "Action=CreateStackSet&StackSetName=da&TemplateBody=x&PermissionModel=SERVICE_MANAGED&CallAs=DELEGATED_ADMIN",
        "Action=CreateStackInstances&StackSetName=da&CallAs=DELEGATED_ADMIN&Regions.member.1=us-east-1&DeploymentTargets.OrganizationalUnitIds.member.1=ou-r00t-workload&OperationId=op-2",
    ] {
        let (status, _) = s.handle_raw("POST", FORM, body.as_bytes());
        assert_eq!(status, 200, "{body}");
    }
    s
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "StackSetName",
            "OperationId",
            "CallAs",
            "MaxResults",
            "NextToken",
            "Regions.member.1",
            "Regions.member.2",
            "Regions.member.0",
            "Regions.member.x",
            "Accounts.member.1",
            "DeploymentTargets.OrganizationalUnitIds.member.1",
            "DeploymentTargets.Accounts.member.1",
            "DeploymentTargets.AccountFilterType",
            "OperationPreferences.RegionConcurrencyType",
            "OperationPreferences.RegionOrder.member.1",
            "OperationPreferences.MaxConcurrentCount",
            "OperationPreferences.MaxConcurrentPercentage",
            "OperationPreferences.FailureToleranceCount",
            "OperationPreferences.FailureTolerancePercentage",
            "OperationPreferences.ConcurrencyMode",
            "Filters.member.1.Name",
            "Filters.member.1.Values",
            "Filters.member.2.Name",
            "PermissionModel",
            "ManagedExecution.Active",
            "TemplateBody",
            "RetainStacks",
            "Parameters.member.1.ParameterKey",
            "Status",
        ])
        .prop_map(String::from),
        "[A-Za-z.0-9]{0,24}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "ss",
            "da",
            "op-1",
            "op-2",
            "us-east-1",
            "123456789012",
            "ou-r00t-workload",
            "0",
            "1",
            "2",
            "100",
            "101",
            "-1",
            "99999999999999999999",
            "SELF",
            "DELEGATED_ADMIN",
            "PARALLEL",
            "SEQUENTIAL",
            "OPERATION_RESULT_STATUS",
            "FAILED",
            "PENDING",
            "true",
            "false",
            "SERVICE_MANAGED",
            "MjAuMDAwMDAwMDAwMDAwMDAwMA",
            "",
        ])
        .prop_map(String::from),
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..1024),
        method in prop::sample::select(vec!["POST", "GET", "PUT", "post", ""]),
        form in any::<bool>(),
    ) {
        let s = shared();
        let (status, xml) = s.handle_raw(method, if form { FORM } else { Some("text/plain") }, &body);
        prop_assert!((200..600).contains(&status));
        prop_assert!(xml.contains("Response"));
    }

    #[test]
    fn random_forms_never_panic(
        action in prop_oneof![prop::sample::select(ACTIONS.to_vec()).prop_map(String::from), ".{0,12}"],
        fields in prop::collection::vec((key(), value()), 0..14),
    ) {
        let s = shared();
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", &action);
        for (k, v) in &fields {
            form.append_pair(k, v);
        }
        let body = form.finish();
        let (status, xml) = s.handle_raw("POST", FORM, body.as_bytes());
        prop_assert!((200..600).contains(&status));
        if status == 200 {
            let opening = format!("<{action}Response");
            prop_assert!(xml.contains(&opening));
        } else {
            prop_assert!(xml.contains("<ErrorResponse"));
            prop_assert!(status != 500, "no internal failure for input {body}: {xml}");
        }
    }
}
