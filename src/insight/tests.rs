//! Unit tests of the insight rules: one per failure category with the wording CloudFormation
//! really writes, the outcome, preferences in words, per-Region arithmetic, and a run of the
//! emulator's rollout engine that the forecast must agree with.

use super::*;
use crate::model::{OperationAction, OperationResult};

fn category_of(reason: &str) -> Option<&'static str> {
    classify(Some(reason), None).map(|c| c.id.as_str())
}

#[test]
fn the_category_file_parses_and_every_example_lands_in_its_own_category() {
    let all = categories();
    assert!(all.len() >= 9, "{} categories", all.len());
    for c in all {
        assert_eq!(category_of(&c.example), Some(c.id.as_str()), "example of {}", c.id);
        assert!(
            c.name.chars().count() <= 14,
            "name of {} is too long for its column",
            c.id
        );
        assert!(!c.hint.is_empty());
        assert_eq!(all.iter().filter(|o| o.id == c.id).count(), 1, "duplicate id {}", c.id);
    }
}

#[test]
fn a_bad_category_file_is_an_error_not_a_silent_skip() {
    let bad = "[[category]]\nid = \"x\"\nname = \"X\"\npattern = \"(\"\nhint = \"h\"\nexample = \"e\"\n";
    assert!(parse_categories(bad).unwrap_err().contains("category x"));
    assert!(parse_categories("[[category]]\nid = \"x\"\n").is_err());
}

#[test]
fn missing_or_untrusted_execution_role() {
    assert_eq!(
        category_of(
            "Account 123456789012 should have 'AWSCloudFormationStackSetExecutionRole' role with trust \
             relationship to Role 'AWSCloudFormationStackSetAdministrationRole'."
        ),
        Some("execution-role")
    );
}

#[test]
fn sts_not_activated_in_the_region() {
    assert_eq!(
        category_of("STS is not activated in this region for account:123456789012. Your account administrator can activate STS in this region using the IAM Console."),
        Some("sts-region")
    );
}

#[test]
fn explicit_deny_in_a_service_control_policy_wins_over_the_resource_form() {
    let reason = "ResourceLogicalId:BreakGlassRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:User: \
        arn:aws:sts::304455660013:assumed-role/stacksets-exec-5f2a9c0e7d1b4e3f/AWSCloudFormationStackSetExecutionRole \
        is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::304455660013:role/org-break-glass \
        with an explicit deny in a service control policy (Service: Iam, Status Code: 403, Request ID: x).";
    assert_eq!(category_of(reason), Some("scp-deny"));
    let resource = resource_of(reason).unwrap();
    assert_eq!(resource.logical_id, "BreakGlassRole");
    assert_eq!(resource.resource_type, "AWS::IAM::Role");
}

#[test]
fn suspended_account() {
    assert_eq!(
        category_of(
            "This account is suspended. To remove this instance from the stack set, run DeleteStackInstances \
             with the RetainStacks parameter."
        ),
        Some("suspended-account")
    );
}

#[test]
fn resource_already_exists() {
    let reason = "ResourceLogicalId:LoggingBucket, ResourceType:AWS::S3::Bucket, ResourceStatusReason:my-org-logs-303344550007 already exists.";
    assert_eq!(category_of(reason), Some("already-exists"));
    assert_eq!(
        resource_of(reason),
        Some(ResourceRef {
            logical_id: "LoggingBucket".into(),
            resource_type: "AWS::S3::Bucket".into()
        })
    );
    // The Cloud Control form says it with a handler error code.
    assert_eq!(
        category_of("Resource handler returned message: \"x\" (RequestToken: 5f1c, HandlerErrorCode: AlreadyExists)"),
        Some("already-exists")
    );
}

#[test]
fn service_quota_reached() {
    assert_eq!(
        category_of("ResourceLogicalId:AppVpc, ResourceType:AWS::EC2::VPC, ResourceStatusReason:The maximum number of VPCs has been reached. (Service: Ec2, Status Code: 400)."),
        Some("quota")
    );
    assert_eq!(
        category_of("ResourceLogicalId:Trail, ResourceType:AWS::CloudTrail::Trail, ResourceStatusReason:User: 1 already has 5 trails in us-east-1. (Service: CloudTrail, Status Code: 400, Error Code: MaximumNumberOfTrailsExceededException)"),
        Some("quota")
    );
    assert_eq!(
        category_of("LimitExceeded: Cannot exceed quota for PoliciesPerRole: 10"),
        Some("quota")
    );
}

#[test]
fn resource_level_failure_without_a_known_cause() {
    let reason = "ResourceLogicalId:Topic, ResourceType:AWS::SNS::Topic, ResourceStatusReason:Invalid parameter: KmsMasterKeyId.";
    assert_eq!(category_of(reason), Some("resource"));
    assert_eq!(resource_of(reason).unwrap().logical_id, "Topic");
}

#[test]
fn account_gate_failed_by_status_or_by_reason() {
    assert_eq!(
        classify(Some("Account Gate check failed: account is in a change freeze"), None).map(|c| c.id.as_str()),
        Some("account-gate")
    );
    assert_eq!(
        classify(Some("anything at all"), Some(GateStatus::Failed)).map(|c| c.id.as_str()),
        Some("account-gate")
    );
    // A skipped gate is not a failure of the gate.
    assert_eq!(classify(Some("anything at all"), Some(GateStatus::Skipped)), None);
}

#[test]
fn cancelled_because_the_tolerance_was_exceeded() {
    assert_eq!(
        category_of("Cancelled since failure tolerance has exceeded"),
        Some("tolerance-cancelled")
    );
}

#[test]
fn stack_in_a_state_that_cannot_be_updated() {
    assert_eq!(
        category_of("Stack:arn:aws:cloudformation:eu-west-1:123456789012:stack/StackSet-x/1 is in UPDATE_ROLLBACK_FAILED state and can not be updated."),
        Some("stack-state")
    );
}

#[test]
fn unknown_reasons_have_no_category() {
    assert_eq!(category_of("Internal failure."), None);
    assert_eq!(classify(None, None), None);
}

fn operation(status: OperationStatus, failed: Option<u32>) -> Operation {
    Operation {
        id: "op".into(),
        action: OperationAction::Update,
        status,
        created: None,
        ended: None,
        status_reason: None,
        failed_count: failed,
        preferences: OperationPreferences::default(),
    }
}

#[test]
fn succeeded_with_failed_instances_is_its_own_outcome() {
    let plain = operation(OperationStatus::Succeeded, Some(0));
    assert_eq!(Outcome::of(&plain, 0), Outcome::Status(OperationStatus::Succeeded));
    assert_eq!(
        Outcome::of(&plain, 2),
        Outcome::SucceededWithFailures,
        "the grid's FAILED results count too"
    );
    let counted = operation(OperationStatus::Succeeded, Some(3));
    assert_eq!(Outcome::of(&counted, 0), Outcome::SucceededWithFailures);
    assert_eq!(Outcome::SucceededWithFailures.long(), "SUCCEEDED with failures");
    assert!(Outcome::SucceededWithFailures.short().len() <= 9);
    // Failures in a FAILED or running operation change nothing.
    assert_eq!(
        Outcome::of(&operation(OperationStatus::Failed, Some(3)), 3),
        Outcome::Status(OperationStatus::Failed)
    );
}

#[test]
fn preferences_read_as_a_sentence() {
    let prefs = OperationPreferences {
        region_concurrency: Some(RegionConcurrency::Sequential),
        max_concurrent_percentage: Some(25),
        failure_tolerance_percentage: Some(10),
        ..Default::default()
    };
    // 40 accounts: 25% is 10 at once, 10% is 4 failures, so STRICT caps at 5.
    assert_eq!(
        preferences_in_words(&prefs, Some(6), Some(40), false),
        "SEQUENTIAL in 6 Regions, 25% of accounts at once (STRICT: at most 5), 10% failures tolerated per Region (4)"
    );
    assert_eq!(
        preferences_in_words(&prefs, Some(6), Some(40), true),
        "SEQ 6 Regions, 25% at once (STRICT: at most 5), 10% failures tolerated/Region (4)"
    );
    // Percentages round down: 10% of 19 tolerates 1.
    assert!(preferences_in_words(&prefs, Some(1), Some(19), false).ends_with("(1)"));
    let soft = OperationPreferences {
        region_concurrency: Some(RegionConcurrency::Parallel),
        max_concurrent_count: Some(1),
        concurrency_mode: Some(ConcurrencyMode::SoftFailureTolerance),
        ..Default::default()
    };
    assert_eq!(
        preferences_in_words(&soft, Some(1), None, false),
        "PARALLEL in 1 Region, 1 account at once, no failure tolerated, SOFT: failures do not slow it"
    );
    // Without numbers, a percentage stays a percentage and nothing is capped on a guess.
    assert_eq!(
        preferences_in_words(&prefs, None, None, false),
        "SEQUENTIAL, 25% of accounts at once, 10% failures tolerated per Region"
    );
}

#[test]
fn tolerance_and_concurrency_round_down_and_strict_shrinks() {
    let prefs = OperationPreferences {
        max_concurrent_percentage: Some(25),
        failure_tolerance_percentage: Some(10),
        ..Default::default()
    };
    assert_eq!(max_concurrent(&prefs, 3), 1, "25% of 3 rounds to 0, never below 1");
    assert_eq!(tolerance(&prefs, 39), 3);
    assert_eq!(effective_concurrency(&prefs, 40, 0), 5);
    assert_eq!(effective_concurrency(&prefs, 40, 3), 2);
    assert_eq!(effective_concurrency(&prefs, 40, 4), 1);
    let soft = OperationPreferences {
        concurrency_mode: Some(ConcurrencyMode::SoftFailureTolerance),
        ..prefs
    };
    assert_eq!(effective_concurrency(&soft, 40, 4), 10);
    assert_eq!(thousands(1840), "1,840");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_000_000), "1,000,000");
}

fn result(account: usize, region: &str, status: ResultStatus) -> OperationResult {
    OperationResult {
        account: format!("{account:012}"),
        region: region.into(),
        status,
        status_reason: None,
        gate_status: None,
        gate_reason: None,
        ou: None,
    }
}

/// 10 accounts x 3 Regions, SEQUENTIAL: us-east-1 done, eu-west-1 deploying with `failed`
/// failures, us-west-2 waiting.
fn rollout(failed: usize) -> (Operation, ResultGrid) {
    let mut op = operation(OperationStatus::Running, Some(failed as u32));
    op.preferences = OperationPreferences {
        region_concurrency: Some(RegionConcurrency::Sequential),
        region_order: vec!["us-east-1".into(), "eu-west-1".into(), "us-west-2".into()],
        max_concurrent_count: Some(4),
        failure_tolerance_count: Some(2),
        ..Default::default()
    };
    let mut grid = ResultGrid::new(&op.preferences.region_order);
    let mut results = Vec::new();
    for a in 0..10 {
        results.push(result(a, "us-east-1", ResultStatus::Succeeded));
        let status = match a {
            a if a < failed => ResultStatus::Failed,
            a if a < 5 => ResultStatus::Succeeded,
            5 => ResultStatus::Running,
            _ => ResultStatus::Pending,
        };
        results.push(result(a, "eu-west-1", status));
        results.push(result(a, "us-west-2", ResultStatus::Pending));
    }
    grid.merge(results);
    (op, grid)
}

#[test]
fn regions_report_state_counts_and_concurrency() {
    let (op, grid) = rollout(2);
    let regions = region_progress(&grid, &op.preferences);
    let states: Vec<RegionState> = regions.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        vec![RegionState::Done, RegionState::Running, RegionState::Waiting]
    );
    let eu = &regions[1];
    assert_eq!((eu.finished(), eu.total, eu.failed, eu.running), (5, 10, 2, 1));
    assert_eq!((eu.max_concurrent, eu.tolerance), (4, 2));
    assert_eq!(eu.concurrency, 1, "STRICT: tolerance 2 + 1 - 2 failures");
    assert!(eu.at_limit());
    assert!(!regions[0].at_limit() && !regions[2].at_limit());
}

#[test]
fn the_forecast_names_the_region_at_its_limit_and_what_one_more_failure_cancels() {
    let (op, grid) = rollout(2);
    let regions = region_progress(&grid, &op.preferences);
    let forecast = forecast(&op, &regions).unwrap();
    assert!(forecast.at_limit());
    // 4 waiting in eu-west-1 and 10 in us-west-2.
    assert_eq!(
        forecast.text(),
        "eu-west-1: 2 of 2 failures tolerated; one more fails the operation and cancels 14 deployments in 2 Regions"
    );
    assert_eq!(
        forecast.short_text(),
        "eu-west-1: 2/2 failures; 1 more fails it, cancels 14 in 2 Regions"
    );
    let (op, grid) = rollout(1);
    let regions = region_progress(&grid, &op.preferences);
    let text = super::forecast(&op, &regions).unwrap().text();
    assert_eq!(
        text,
        "eu-west-1: 1 of 2 failures tolerated; 2 more fail the operation and cancel 14 deployments in 2 Regions"
    );
    let mut ended = op.clone();
    ended.status = OperationStatus::Succeeded;
    assert_eq!(
        super::forecast(&ended, &regions),
        None,
        "an ended operation cannot fail any more"
    );
}

#[test]
fn a_region_past_its_tolerance_is_failed() {
    let (op, mut grid) = rollout(2);
    grid.merge(vec![result(5, "eu-west-1", ResultStatus::Failed)]);
    let regions = region_progress(&grid, &op.preferences);
    assert_eq!(regions[1].state, RegionState::Failed);
    assert_eq!(exceeded(&regions).map(|r| r.region.as_str()), Some("eu-west-1"));
}

mod against_the_engine {
    //! The emulator's rollout engine applies CloudFormation's rules; the forecast must say
    //! what the engine then does.
    use super::*;
    use crate::model::{CallAs, PermissionModel};
    use crate::sim::engine::{
        Behaviour, Engine, FailureRule, Matcher, NewStackSet, OpRequest, Organization, TargetSpec, Targets, Timing,
    };

    const T0: i64 = 1_795_318_320_000;
    const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "us-west-2"];

    fn start(mode: ConcurrencyMode, failing: &[usize]) -> (Engine, String, OperationPreferences) {
        let mut e = Engine::new(Organization::default(), 11, T0);
        e.behaviour.timing = Some(Timing {
            deploy_ms: 10_000,
            jitter_ms: 4_000,
            gate_ms: 1_000,
        });
        let accounts: Vec<String> = (1..=12).map(|i| format!("{:012}", 600_000_000_000u64 + i)).collect();
        e.create_stack_set(
            NewStackSet {
                name: "ss".into(),
                permission_model: PermissionModel::SelfManaged,
                description: None,
                template_body: "{}".into(),
                parameters: vec![],
                capabilities: vec![],
                managed_execution: false,
                auto_deployment: None,
                behaviour: Behaviour {
                    failures: vec![FailureRule {
                        matcher: Matcher {
                            accounts: failing.iter().map(|i| accounts[*i].clone()).collect(),
                            regions: vec!["eu-west-1".into()],
                            ..Default::default()
                        },
                        rate: 1.0,
                        reason: "ResourceLogicalId:Bucket, ResourceType:AWS::S3::Bucket, ResourceStatusReason:b-{account} already exists.".into(),
                    }],
                    ..Default::default()
                },
            },
            CallAs::SelfAccount,
        )
        .unwrap();
        let prefs = OperationPreferences {
            region_concurrency: Some(RegionConcurrency::Sequential),
            region_order: REGIONS.map(String::from).to_vec(),
            max_concurrent_percentage: Some(50),
            failure_tolerance_percentage: Some(20),
            concurrency_mode: Some(mode),
            ..Default::default()
        };
        let id = e
            .start_operation(
                "ss",
                CallAs::SelfAccount,
                OpRequest {
                    id: None,
                    action: OperationAction::Create,
                    targets: TargetSpec::Explicit(Targets {
                        accounts,
                        ..Default::default()
                    }),
                    regions: REGIONS.map(String::from).to_vec(),
                    prefs: prefs.clone(),
                    behaviour: Behaviour::default(),
                    retain_stacks: false,
                },
            )
            .unwrap();
        (e, id, prefs)
    }

    /// What sstop would see: the operation (as described) and its results in a grid.
    fn observe(e: &Engine, id: &str, prefs: &OperationPreferences) -> (Operation, Vec<RegionProgress>) {
        let (_, o) = e.operation("ss", CallAs::SelfAccount, id).unwrap();
        let mut grid = ResultGrid::new(&prefs.region_order);
        grid.merge(o.results.iter().map(|r| o.result_view(r)).collect());
        let mut op = operation(o.status, Some(o.failed_count));
        op.preferences = prefs.clone();
        (op, region_progress(&grid, prefs))
    }

    #[test]
    fn strict_concurrency_and_the_at_limit_forecast_match_what_the_engine_does() {
        // 12 accounts: 50% runs 6 at once, 20% tolerates 2 failures; STRICT caps at 3.
        let (mut e, id, prefs) = start(ConcurrencyMode::StrictFailureTolerance, &[1, 4, 7, 9]);
        let mut last_forecast = None;
        let mut saw_limit = false;
        for _ in 0..10_000 {
            let (op, regions) = observe(&e, &id, &prefs);
            if op.status == OperationStatus::Failed {
                let forecast: Forecast = last_forecast.expect("a forecast before the failure");
                assert!(
                    forecast.at_limit(),
                    "the failing failure was forecast as the last one: {forecast:?}"
                );
                assert_eq!(forecast.region, "eu-west-1");
                let cancelled: usize = regions.iter().map(|r| r.cancelled).sum();
                assert_eq!(
                    cancelled, forecast.cancels,
                    "the forecast counted what the engine cancelled"
                );
                assert_eq!(exceeded(&regions).map(|r| r.region.as_str()), Some("eu-west-1"));
                assert!(saw_limit);
                return;
            }
            let running = e
                .operation("ss", CallAs::SelfAccount, &id)
                .unwrap()
                .1
                .running_per_region();
            for (region, engine_running) in regions.iter().zip(running) {
                if region.state == RegionState::Running && region.pending > 0 {
                    assert_eq!(
                        engine_running as usize, region.concurrency,
                        "{}: the engine runs what sstop computes ({region:?})",
                        region.region
                    );
                }
            }
            if let Some(f) = forecast(&op, &regions) {
                saw_limit |= f.at_limit();
                last_forecast = Some(f);
            }
            e.step(250);
        }
        panic!("the operation never failed");
    }

    #[test]
    fn soft_keeps_max_concurrency_whatever_the_failures() {
        let (mut e, id, prefs) = start(ConcurrencyMode::SoftFailureTolerance, &[0, 1]);
        let mut checked = 0;
        for _ in 0..10_000 {
            let (op, regions) = observe(&e, &id, &prefs);
            if !op.status.is_active() {
                assert_eq!(op.status, OperationStatus::Succeeded, "2 failures are tolerated");
                assert_eq!(Outcome::of(&op, 0), Outcome::SucceededWithFailures);
                assert!(checked > 0);
                return;
            }
            let running = e
                .operation("ss", CallAs::SelfAccount, &id)
                .unwrap()
                .1
                .running_per_region();
            for (region, engine_running) in regions.iter().zip(running) {
                if region.pending > 0 && region.state == RegionState::Running {
                    assert_eq!(region.concurrency, 6);
                    assert_eq!(engine_running as usize, 6);
                    checked += 1;
                }
            }
            e.step(250);
        }
        panic!("the operation never ended");
    }
}

#[test]
fn the_rollout_demo_shows_every_category() {
    use crate::model::CallAs;
    use crate::sim::scenario::{self, Scenario};
    let s = Scenario::load("rollout").unwrap();
    let mut e = scenario::build(Some(&s), 1_795_318_320_000, None).unwrap();
    // Long enough for the running rollout to reach its last Region.
    e.step(40 * 60_000);
    let mut seen = std::collections::BTreeSet::new();
    let mut ended_with_failures = 0;
    for call_as in [CallAs::SelfAccount, CallAs::DelegatedAdmin] {
        for ss in e.list_stack_sets(call_as) {
            for o in &ss.operations {
                for r in &o.results {
                    let view = o.result_view(r);
                    if let Some(c) = classify(view.status_reason.as_deref(), view.gate_status) {
                        seen.insert(c.id.as_str());
                    }
                }
                let mut op = operation(o.status, Some(o.failed_count));
                op.id = o.id.to_string();
                if Outcome::of(&op, 0) == Outcome::SucceededWithFailures {
                    ended_with_failures += 1;
                }
            }
        }
    }
    let all: std::collections::BTreeSet<&str> = categories().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        seen,
        all,
        "categories the demo never shows: {:?}",
        all.difference(&seen)
    );
    assert!(
        ended_with_failures >= 2,
        "{ended_with_failures} operations SUCCEEDED with failures"
    );
}
