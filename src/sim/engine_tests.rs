//! Rules of the rollout engine, checked on a controlled clock (no sleeps, no sockets).

use crate::model::{
    CallAs, ConcurrencyMode, GateStatus, OperationAction, OperationPreferences, OperationStatus, PermissionModel,
    RegionConcurrency, ResultStatus,
};

use super::engine::*;
use super::scenario::{self, Scenario, BUILT_IN};

const T0: Millis = 1_795_318_320_000;

fn engine() -> Engine {
    let mut e = Engine::new(Organization::default(), 7, T0);
    e.behaviour.timing = Some(Timing {
        deploy_ms: 10_000,
        jitter_ms: 5_000,
        gate_ms: 1_000,
    });
    e
}

fn accounts(n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("{:012}", 500_000_000_000 + i)).collect()
}

fn regions(rs: &[&str]) -> Vec<String> {
    rs.iter().map(|r| r.to_string()).collect()
}

fn stack_set(e: &mut Engine, name: &str, managed: bool, failures: Vec<FailureRule>) {
    e.create_stack_set(
        NewStackSet {
            name: name.into(),
            permission_model: PermissionModel::SelfManaged,
            description: None,
            template_body: "{}".into(),
            parameters: vec![],
            capabilities: vec![],
            managed_execution: managed,
            auto_deployment: None,
            behaviour: Behaviour {
                failures,
                ..Default::default()
            },
        },
        CallAs::SelfAccount,
    )
    .unwrap();
}

fn fail(accounts: &[String], regions: &[&str], rate: f64) -> FailureRule {
    FailureRule {
        matcher: Matcher {
            accounts: accounts.to_vec(),
            regions: regions.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        },
        rate,
        reason: "ResourceLogicalId:LoggingBucket, ResourceType:AWS::S3::Bucket, ResourceStatusReason:logs-{account} already exists.".into(),
    }
}

fn create(
    e: &mut Engine,
    name: &str,
    accts: Vec<String>,
    rs: Vec<String>,
    prefs: OperationPreferences,
) -> Result<String, super::SimError> {
    e.start_operation(
        name,
        CallAs::SelfAccount,
        OpRequest {
            id: None,
            action: OperationAction::Create,
            targets: TargetSpec::Explicit(Targets {
                accounts: accts,
                ..Default::default()
            }),
            regions: rs,
            prefs,
            behaviour: Behaviour::default(),
            retain_stacks: false,
        },
    )
}

fn op<'a>(e: &'a Engine, name: &str, id: &str) -> &'a Operation {
    e.operation(name, CallAs::SelfAccount, id).unwrap().1
}

fn running_by_region(o: &Operation) -> Vec<usize> {
    let mut v = vec![0; o.regions.len()];
    for r in &o.results {
        if r.status == ResultStatus::Running {
            v[usize::from(r.region)] += 1;
        }
    }
    v
}

/// Steps one simulated second at a time until the operation ends, calling `check` each step.
fn run_to_end(e: &mut Engine, name: &str, id: &str, mut check: impl FnMut(&Operation)) {
    for _ in 0..100_000 {
        check(op(e, name, id));
        if !op(e, name, id).status.is_active() {
            return;
        }
        e.step(1_000);
    }
    panic!("operation never ended");
}

#[test]
fn concurrency_never_exceeds_the_limit_in_a_region() {
    for mode in [
        ConcurrencyMode::SoftFailureTolerance,
        ConcurrencyMode::StrictFailureTolerance,
    ] {
        let mut e = engine();
        let accts = accounts(20);
        stack_set(&mut e, "ss", false, vec![fail(&[], &[], 0.3)]);
        let prefs = OperationPreferences {
            region_concurrency: Some(RegionConcurrency::Parallel),
            max_concurrent_count: Some(4),
            failure_tolerance_count: Some(15),
            concurrency_mode: Some(mode),
            ..Default::default()
        };
        let id = create(
            &mut e,
            "ss",
            accts,
            regions(&["us-east-1", "eu-west-1", "us-west-2"]),
            prefs,
        )
        .unwrap();
        let mut peak = 0;
        run_to_end(&mut e, "ss", &id, |o| {
            for (n, tracked) in running_by_region(o).iter().zip(o.running_per_region()) {
                assert!(*n <= 4, "{n} running in a Region with MaxConcurrentCount 4");
                assert_eq!(*n as u32, tracked);
                peak = peak.max(*n);
            }
        });
        assert_eq!(peak, 4, "the limit is reached ({mode})");
        assert_eq!(op(&e, "ss", &id).status, OperationStatus::Succeeded);
    }
}

#[test]
fn sequential_finishes_region_n_before_n_plus_1_in_region_order() {
    let mut e = engine();
    stack_set(&mut e, "ss", false, vec![]);
    let prefs = OperationPreferences {
        region_concurrency: Some(RegionConcurrency::Sequential),
        region_order: regions(&["eu-west-1", "us-east-1"]),
        max_concurrent_count: Some(3),
        ..Default::default()
    };
    let id = create(
        &mut e,
        "ss",
        accounts(7),
        regions(&["us-east-1", "us-west-2", "eu-west-1"]),
        prefs,
    )
    .unwrap();
    // RegionOrder first, then the other Regions in request order.
    assert_eq!(
        op(&e, "ss", &id).regions,
        regions(&["eu-west-1", "us-east-1", "us-west-2"])
    );
    let mut started_order: Vec<u16> = Vec::new();
    run_to_end(&mut e, "ss", &id, |o| {
        for r in &o.results {
            if r.status != ResultStatus::Pending && !started_order.contains(&r.region) {
                started_order.push(r.region);
            }
            if r.status != ResultStatus::Pending {
                // Every result of an earlier Region is final once this one has started.
                for earlier in o.results.iter().filter(|x| x.region < r.region) {
                    assert!(earlier.status.is_final(), "Region {} started early", r.region);
                }
            }
        }
    });
    assert_eq!(started_order, vec![0, 1, 2]);
}

#[test]
fn tolerance_exceeded_fails_the_operation_and_cancels_the_rest() {
    let mut e = engine();
    let accts = accounts(6);
    stack_set(&mut e, "ss", false, vec![fail(&accts[2..3], &["us-east-1"], 1.0)]);
    let prefs = OperationPreferences {
        region_order: regions(&["us-east-1", "eu-west-1", "us-west-2"]),
        max_concurrent_count: Some(1),
        failure_tolerance_count: Some(0),
        ..Default::default()
    };
    let id = create(
        &mut e,
        "ss",
        accts.clone(),
        regions(&["us-east-1", "eu-west-1", "us-west-2"]),
        prefs,
    )
    .unwrap();
    run_to_end(&mut e, "ss", &id, |_| {});
    let o = op(&e, "ss", &id);
    assert_eq!(o.status, OperationStatus::Failed);
    assert_eq!(o.failed_count, 1);
    let counts = o.counts();
    assert_eq!(counts.get(&ResultStatus::Succeeded), Some(&2));
    assert_eq!(counts.get(&ResultStatus::Failed), Some(&1));
    assert_eq!(counts.get(&ResultStatus::Cancelled), Some(&15));
    for r in o.results.iter().filter(|r| r.region > 0) {
        assert_eq!(r.status, ResultStatus::Cancelled);
        assert_eq!(r.reason.as_deref(), Some(TOLERANCE_CANCEL_REASON));
    }
    assert!(o.ended.is_some());
}

#[test]
fn parallel_tolerance_exceeded_cancels_everywhere_but_running_ones_finish() {
    let mut e = engine();
    let accts = accounts(10);
    stack_set(&mut e, "ss", false, vec![fail(&accts[0..1], &["us-east-1"], 1.0)]);
    let prefs = OperationPreferences {
        region_concurrency: Some(RegionConcurrency::Parallel),
        max_concurrent_count: Some(2),
        concurrency_mode: Some(ConcurrencyMode::SoftFailureTolerance),
        ..Default::default()
    };
    let id = create(&mut e, "ss", accts, regions(&["us-east-1", "eu-west-1"]), prefs).unwrap();
    // Step until the failure lands; the other running deployments must still finish.
    let mut saw_running_after_failure = false;
    run_to_end(&mut e, "ss", &id, |o| {
        if o.failed_count > 0 && o.results.iter().any(|r| r.status == ResultStatus::Running) {
            saw_running_after_failure = true;
            assert!(o.results.iter().all(|r| r.status != ResultStatus::Pending));
            assert_eq!(o.status, OperationStatus::Running);
        }
    });
    let o = op(&e, "ss", &id);
    assert!(saw_running_after_failure);
    assert_eq!(o.status, OperationStatus::Failed);
    assert!(o.results.iter().all(|r| r.status.is_final()));
}

#[test]
fn strict_caps_concurrency_at_tolerance_plus_one_and_shrinks_soft_does_not() {
    let peak_with = |mode: ConcurrencyMode| {
        let mut e = engine();
        let accts = accounts(12);
        // The first two accounts fail quickly.
        stack_set(&mut e, "ss", false, vec![fail(&accts[0..2], &[], 1.0)]);
        let prefs = OperationPreferences {
            max_concurrent_count: Some(6),
            failure_tolerance_count: Some(2),
            concurrency_mode: Some(mode),
            ..Default::default()
        };
        let id = create(&mut e, "ss", accts, regions(&["us-east-1"]), prefs).unwrap();
        let start = running_by_region(op(&e, "ss", &id))[0];
        let mut after_two_failures = 0;
        run_to_end(&mut e, "ss", &id, |o| {
            if o.failed_count == 2 {
                after_two_failures = after_two_failures.max(running_by_region(o)[0]);
            }
        });
        (start, after_two_failures, op(&e, "ss", &id).status)
    };
    let (strict_start, strict_later, strict_end) = peak_with(ConcurrencyMode::StrictFailureTolerance);
    let (soft_start, soft_later, soft_end) = peak_with(ConcurrencyMode::SoftFailureTolerance);
    assert_eq!(strict_start, 3, "STRICT starts at min(MaxConcurrent, tolerance + 1)");
    assert_eq!(soft_start, 6, "SOFT starts at MaxConcurrent");
    assert!(strict_later <= 1, "STRICT shrinks to tolerance + 1 - failures = 1");
    assert!(soft_later > 1, "SOFT keeps its concurrency after failures");
    assert_eq!(strict_end, OperationStatus::Succeeded);
    assert_eq!(soft_end, OperationStatus::Succeeded);
}

#[test]
fn stop_cancels_pending_lets_running_finish_then_stopped() {
    let mut e = engine();
    stack_set(&mut e, "ss", false, vec![]);
    let prefs = OperationPreferences {
        max_concurrent_count: Some(2),
        failure_tolerance_count: Some(1),
        ..Default::default()
    };
    let id = create(&mut e, "ss", accounts(10), regions(&["us-east-1"]), prefs).unwrap();
    e.step(1_000);
    e.stop_operation("ss", CallAs::SelfAccount, &id).unwrap();
    let o = op(&e, "ss", &id);
    assert_eq!(o.status, OperationStatus::Stopping);
    let c = o.counts();
    assert_eq!(c.get(&ResultStatus::Running), Some(&2));
    assert_eq!(c.get(&ResultStatus::Cancelled), Some(&8));
    assert!(o
        .results
        .iter()
        .filter(|r| r.status == ResultStatus::Cancelled)
        .all(|r| r.reason.as_deref() == Some(STOP_CANCEL_REASON)));
    // A second stop while stopping is harmless.
    e.stop_operation("ss", CallAs::SelfAccount, &id).unwrap();
    e.step(60_000);
    let o = op(&e, "ss", &id);
    assert_eq!(o.status, OperationStatus::Stopped);
    assert_eq!(o.counts().get(&ResultStatus::Succeeded), Some(&2));
    let err = e.stop_operation("ss", CallAs::SelfAccount, &id).unwrap_err();
    assert_eq!(err.code, "InvalidOperationException");
    let err = e.stop_operation("ss", CallAs::SelfAccount, "nope").unwrap_err();
    assert_eq!(err.code, "OperationNotFoundException");
}

#[test]
fn managed_execution_queues_and_starts_after_the_first_ends() {
    let mut e = engine();
    stack_set(&mut e, "managed", true, vec![]);
    stack_set(&mut e, "plain", false, vec![]);
    let first = create(
        &mut e,
        "managed",
        accounts(4),
        regions(&["us-east-1"]),
        Default::default(),
    )
    .unwrap();
    e.step(500);
    let second = create(
        &mut e,
        "managed",
        accounts(4),
        regions(&["eu-west-1"]),
        Default::default(),
    )
    .unwrap();
    assert_eq!(op(&e, "managed", &second).status, OperationStatus::Queued);
    assert!(op(&e, "managed", &second)
        .results
        .iter()
        .all(|r| r.status == ResultStatus::Pending));
    let mut first_end = None;
    for _ in 0..1000 {
        e.step(1_000);
        let a = op(&e, "managed", &first);
        let b = op(&e, "managed", &second);
        if a.status.is_active() {
            assert_eq!(b.status, OperationStatus::Queued);
        } else if first_end.is_none() {
            first_end = a.ended;
            assert_ne!(b.status, OperationStatus::Queued);
        }
        if !b.status.is_active() {
            break;
        }
    }
    assert_eq!(op(&e, "managed", &first).status, OperationStatus::Succeeded);
    assert_eq!(op(&e, "managed", &second).status, OperationStatus::Succeeded);

    // Without managed execution the second is refused.
    create(
        &mut e,
        "plain",
        accounts(2),
        regions(&["us-east-1"]),
        Default::default(),
    )
    .unwrap();
    let err = create(
        &mut e,
        "plain",
        accounts(2),
        regions(&["us-east-1"]),
        Default::default(),
    )
    .unwrap_err();
    assert_eq!(err.code, "OperationInProgressException");
    assert_eq!(err.status, 409);
}

#[test]
fn stopping_a_queued_operation_stops_it_at_once() {
    let mut e = engine();
    stack_set(&mut e, "managed", true, vec![]);
    let first = create(
        &mut e,
        "managed",
        accounts(3),
        regions(&["us-east-1"]),
        Default::default(),
    )
    .unwrap();
    let second = create(
        &mut e,
        "managed",
        accounts(3),
        regions(&["us-east-1"]),
        Default::default(),
    )
    .unwrap();
    e.stop_operation("managed", CallAs::SelfAccount, &second).unwrap();
    let o = op(&e, "managed", &second);
    assert_eq!(o.status, OperationStatus::Stopped);
    assert!(o.results.iter().all(|r| r.status == ResultStatus::Cancelled));
    e.step(600_000);
    assert_eq!(op(&e, "managed", &first).status, OperationStatus::Succeeded);
    assert_eq!(op(&e, "managed", &second).status, OperationStatus::Stopped);
}

#[test]
fn percentages_round_down_but_never_to_zero() {
    assert_eq!(percent_of(150, 20), 30);
    assert_eq!(percent_of(7, 30), 2);
    assert_eq!(percent_of(7, 10), 0);
    let peak = |n: u64, pct: u32| {
        let mut e = engine();
        stack_set(&mut e, "ss", false, vec![]);
        let prefs = OperationPreferences {
            max_concurrent_percentage: Some(pct),
            concurrency_mode: Some(ConcurrencyMode::SoftFailureTolerance),
            ..Default::default()
        };
        let id = create(&mut e, "ss", accounts(n), regions(&["us-east-1"]), prefs).unwrap();
        running_by_region(op(&e, "ss", &id))[0]
    };
    assert_eq!(peak(7, 30), 2);
    assert_eq!(peak(7, 10), 1, "never rounds to zero");
    assert_eq!(peak(10, 100), 10);

    // FailureTolerancePercentage 50 of 5 accounts = 2 failures allowed.
    let outcome = |failing: usize| {
        let mut e = engine();
        let accts = accounts(5);
        stack_set(&mut e, "ss", false, vec![fail(&accts[..failing], &[], 1.0)]);
        let prefs = OperationPreferences {
            failure_tolerance_percentage: Some(50),
            ..Default::default()
        };
        let id = create(&mut e, "ss", accts, regions(&["us-east-1"]), prefs).unwrap();
        run_to_end(&mut e, "ss", &id, |_| {});
        op(&e, "ss", &id).status
    };
    assert_eq!(outcome(2), OperationStatus::Succeeded);
    assert_eq!(outcome(3), OperationStatus::Failed);
}

#[test]
fn account_gates_skip_by_default_and_a_failed_gate_fails_without_deploying() {
    let mut e = engine();
    let accts = accounts(3);
    stack_set(&mut e, "ss", false, vec![]);
    e.behaviour.gates.push(GateRule {
        matcher: Matcher {
            accounts: vec![accts[1].clone()],
            ..Default::default()
        },
        status: GateStatus::Failed,
        reason: Some("change freeze".into()),
    });
    let prefs = OperationPreferences {
        max_concurrent_count: Some(3),
        failure_tolerance_count: Some(1),
        concurrency_mode: Some(ConcurrencyMode::SoftFailureTolerance),
        ..Default::default()
    };
    let id = create(&mut e, "ss", accts, regions(&["us-east-1"]), prefs).unwrap();
    let o = op(&e, "ss", &id);
    assert!(o.results.iter().all(|r| r.gate.is_some()));
    e.step(2_000); // the gate answers within gate_ms
    let o = op(&e, "ss", &id);
    let gated = &o.results[1];
    assert_eq!(gated.status, ResultStatus::Failed);
    assert_eq!(gated.gate, Some(GateStatus::Failed));
    assert!(gated.reason.as_deref().unwrap_or("").contains("change freeze"));
    let skipped = &o.results[0];
    assert_eq!(skipped.gate, Some(GateStatus::Skipped));
    assert!(skipped
        .gate_reason("us-east-1")
        .unwrap()
        .ends_with(":function:AWSCloudFormationStackSetAccountGate"));
}

#[test]
fn same_seed_replays_identically() {
    let run = || {
        let mut e = engine();
        stack_set(&mut e, "ss", false, vec![fail(&[], &[], 0.4)]);
        let prefs = OperationPreferences {
            region_concurrency: Some(RegionConcurrency::Parallel),
            max_concurrent_count: Some(3),
            failure_tolerance_percentage: Some(100),
            concurrency_mode: Some(ConcurrencyMode::SoftFailureTolerance),
            ..Default::default()
        };
        let id = create(&mut e, "ss", accounts(15), regions(&["us-east-1", "eu-west-1"]), prefs).unwrap();
        e.step(45_000);
        let o = op(&e, "ss", &id);
        (
            id.clone(),
            o.results
                .iter()
                .map(|r| (r.status, r.reason.clone()))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(run(), run());
}

#[test]
fn call_as_rules() {
    let mut e = engine();
    stack_set(&mut e, "selfie", false, vec![]);
    let spec = NewStackSet {
        name: "delegated".into(),
        permission_model: PermissionModel::ServiceManaged,
        description: None,
        template_body: "{}".into(),
        parameters: vec![],
        capabilities: vec![],
        managed_execution: false,
        auto_deployment: Some((true, false)),
        behaviour: Behaviour::default(),
    };
    e.create_stack_set(spec.clone(), CallAs::DelegatedAdmin).unwrap();
    assert_eq!(
        e.stack_set("delegated", CallAs::SelfAccount).unwrap_err().code,
        "StackSetNotFoundException"
    );
    assert!(e.stack_set("delegated", CallAs::DelegatedAdmin).is_ok());
    assert_eq!(
        e.stack_set("selfie", CallAs::DelegatedAdmin).unwrap_err().code,
        "ValidationError"
    );
    let names = |c| e.list_stack_sets(c).iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(CallAs::SelfAccount), vec!["selfie"]);
    assert_eq!(names(CallAs::DelegatedAdmin), vec!["delegated"]);
}

#[test]
fn ous_expand_to_the_organization_accounts() {
    let mut e = engine();
    e.create_stack_set(
        NewStackSet {
            name: "org".into(),
            permission_model: PermissionModel::ServiceManaged,
            description: None,
            template_body: "{}".into(),
            parameters: vec![],
            capabilities: vec![],
            managed_execution: false,
            auto_deployment: None,
            behaviour: Behaviour::default(),
        },
        CallAs::SelfAccount,
    )
    .unwrap();
    let ou = e.org.ous[1].clone();
    let id = e
        .start_operation(
            "org",
            CallAs::SelfAccount,
            OpRequest {
                id: Some("my-token".into()),
                action: OperationAction::Create,
                targets: TargetSpec::Explicit(Targets {
                    ous: vec![ou.id.clone()],
                    ..Default::default()
                }),
                regions: regions(&["us-east-1", "eu-west-1"]),
                prefs: Default::default(),
                behaviour: Behaviour::default(),
                retain_stacks: false,
            },
        )
        .unwrap();
    assert_eq!(id, "my-token", "a client token becomes the operation id");
    let o = op(&e, "org", &id);
    assert_eq!(o.results.len(), ou.accounts.len() * 2);
    assert!(o.results.iter().all(|r| r.ou.as_deref() == Some(ou.id.as_str())));
}

#[test]
fn built_in_scenarios_load_with_running_operations_partway() {
    for (name, _) in BUILT_IN {
        let s = Scenario::load(name).unwrap();
        let e = scenario::build(Some(&s), T0, None).unwrap();
        let running: Vec<&Operation> = e
            .all_stack_sets()
            .iter()
            .flat_map(|ss| ss.operations.iter())
            .filter(|o| o.status == OperationStatus::Running)
            .collect();
        assert!(!running.is_empty(), "{name} has a running operation");
        for o in running {
            let c = o.counts();
            assert!(
                c.get(&ResultStatus::Pending).copied().unwrap_or(0) > 0,
                "{name}: still work to do"
            );
            let done = c.get(&ResultStatus::Succeeded).copied().unwrap_or(0)
                + c.get(&ResultStatus::Failed).copied().unwrap_or(0);
            assert!(done > 0, "{name}: partway along");
        }
    }
}

#[test]
fn rollout_scenario_has_the_promised_history() {
    let s = Scenario::load("rollout").unwrap();
    let mut e = scenario::build(Some(&s), T0, None).unwrap();
    let statuses = |e: &Engine, n: &str| -> Vec<OperationStatus> {
        e.all_stack_sets()
            .iter()
            .find(|s| s.name == n)
            .unwrap()
            .operations
            .iter()
            .map(|o| o.status)
            .collect()
    };
    assert_eq!(
        statuses(&e, "org-guardrails"),
        vec![OperationStatus::Running, OperationStatus::Queued]
    );
    assert!(e.stack_set("org-guardrails", CallAs::SelfAccount).is_err());
    assert!(statuses(&e, "baseline-iam").contains(&OperationStatus::Failed));
    assert!(statuses(&e, "logging-buckets").contains(&OperationStatus::Stopped));
    let o = e
        .operation(
            "org-guardrails",
            CallAs::DelegatedAdmin,
            "7d3f9a61-2c4b-4e8f-9a1d-5b6c7e8f9012",
        )
        .unwrap()
        .1;
    assert_eq!(o.results.len(), 150 * 6);
    // Still running after five more minutes at speed 1.
    e.step(5 * 60_000);
    assert_eq!(statuses(&e, "org-guardrails")[0], OperationStatus::Running);
}

#[test]
fn runaway_keeps_running_for_minutes_and_large_has_42500_results() {
    let s = Scenario::load("runaway").unwrap();
    let mut e = scenario::build(Some(&s), T0, None).unwrap();
    let id = "e1f2d3c4-b5a6-4978-8d6e-5f4a3b2c1d0e";
    // 10 real minutes at the demo's speed (4x) = 40 simulated minutes.
    e.step(40 * 60_000);
    let o = op(&e, "vpc-flow-logs", id);
    assert_eq!(o.status, OperationStatus::Running);
    assert!(o.failed_count > 50, "failing account after account");

    let s = Scenario::load("large").unwrap();
    let e = scenario::build(Some(&s), T0, None).unwrap();
    let o = op(&e, "org-config-rules", "5c0f7a2e-4d1b-4e8a-9a42-000000042500");
    assert_eq!(o.results.len(), 42_500);
    assert_eq!(o.status, OperationStatus::Running);
}

#[test]
fn bad_scenarios_name_the_file_line_and_problem() {
    let err = Scenario::parse("seed = 1\nbogus = 2\n", "x.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.toml"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("bogus"), "{err}");
    let err = Scenario::load("no-such-scenario").unwrap_err().to_string();
    assert!(err.contains("no-such-scenario"), "{err}");
}

fn instance<'a>(e: &'a Engine, name: &str, account: &str, region: &str) -> Option<&'a Instance> {
    e.stack_set(name, CallAs::SelfAccount)
        .unwrap()
        .instances
        .get(account)
        .and_then(|m| m.get(region))
}

fn later_op(e: &mut Engine, name: &str, action: OperationAction, accts: &[String], retain: bool) -> String {
    e.start_operation(
        name,
        CallAs::SelfAccount,
        OpRequest {
            id: None,
            action,
            targets: TargetSpec::Explicit(Targets {
                accounts: accts.to_vec(),
                ..Default::default()
            }),
            regions: regions(&["us-east-1"]),
            prefs: OperationPreferences {
                failure_tolerance_count: Some(10),
                ..Default::default()
            },
            behaviour: Behaviour::default(),
            retain_stacks: retain,
        },
    )
    .unwrap()
}

#[test]
fn an_update_turns_every_target_outdated_pending_as_it_starts() {
    let mut e = engine();
    let accts = accounts(4);
    stack_set(&mut e, "ss", false, vec![]);
    let c = create(&mut e, "ss", accts.clone(), regions(&["us-east-1"]), Default::default()).unwrap();
    run_to_end(&mut e, "ss", &c, |_| {});
    let u = later_op(&mut e, "ss", OperationAction::Update, &accts, false);
    let seen: Vec<(InstanceStatus, &str, bool)> = accts
        .iter()
        .map(|a| {
            let i = instance(&e, "ss", a, "us-east-1").unwrap();
            (i.status, i.detailed.as_str(), *i.last_operation == *u)
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (InstanceStatus::Outdated, "RUNNING", true),
            (InstanceStatus::Outdated, "PENDING", true),
            (InstanceStatus::Outdated, "PENDING", true),
            (InstanceStatus::Outdated, "PENDING", true),
        ]
    );
    run_to_end(&mut e, "ss", &u, |_| {});
    for a in &accts {
        assert_eq!(
            instance(&e, "ss", a, "us-east-1").unwrap().status,
            InstanceStatus::Current
        );
    }
}

#[test]
fn a_failed_delete_leaves_the_instance_inoperable_and_retain_stacks_removes_it() {
    let mut e = engine();
    let accts = accounts(2);
    let mut rule = fail(&accts[..1], &[], 1.0);
    rule.matcher.actions = vec![OperationAction::Delete];
    stack_set(&mut e, "ss", false, vec![rule]);
    let c = create(&mut e, "ss", accts.clone(), regions(&["us-east-1"]), Default::default()).unwrap();
    run_to_end(&mut e, "ss", &c, |_| {});
    let d = later_op(&mut e, "ss", OperationAction::Delete, &accts, false);
    run_to_end(&mut e, "ss", &d, |_| {});
    let i = instance(&e, "ss", &accts[0], "us-east-1").unwrap();
    assert_eq!(i.status, InstanceStatus::Inoperable);
    assert_eq!(i.detailed, DetailedStatus::Inoperable);
    assert!(instance(&e, "ss", &accts[1], "us-east-1").is_none());
    assert_eq!(op(&e, "ss", &d).retain_stacks, Some(false));
    let r = later_op(&mut e, "ss", OperationAction::Delete, &accts[..1], true);
    run_to_end(&mut e, "ss", &r, |_| {});
    assert_eq!(op(&e, "ss", &r).retain_stacks, Some(true));
    assert_eq!(op(&e, "ss", &r).failed_count, 0);
    assert!(instance(&e, "ss", &accts[0], "us-east-1").is_none());
}

#[test]
fn suspended_accounts_are_skipped_without_failing() {
    let mut e = engine();
    let suspended = e.org.suspended.clone();
    assert!(!suspended.is_empty());
    let mut accts = accounts(1);
    accts.extend(suspended.iter().cloned());
    stack_set(&mut e, "ss", false, vec![fail(&suspended, &[], 1.0)]);
    let c = create(&mut e, "ss", accts.clone(), regions(&["us-east-1"]), Default::default()).unwrap();
    run_to_end(&mut e, "ss", &c, |_| {});
    let o = op(&e, "ss", &c);
    assert_eq!(o.status, OperationStatus::Succeeded);
    assert_eq!(o.failed_count, 0);
    for r in &o.results {
        let skipped = suspended.contains(&r.account);
        assert_eq!(r.reason.as_deref() == Some(SUSPENDED_REASON), skipped);
        let i = instance(&e, "ss", &r.account, "us-east-1").unwrap();
        let want = if skipped {
            "SKIPPED_SUSPENDED_ACCOUNT"
        } else {
            "SUCCEEDED"
        };
        assert_eq!(i.detailed.as_str(), want);
    }
    // A delete without RetainStacks skips them too (the instances stay) ...
    let d = later_op(&mut e, "ss", OperationAction::Delete, &suspended, false);
    run_to_end(&mut e, "ss", &d, |_| {});
    assert!(instance(&e, "ss", &suspended[0], "us-east-1").is_some());
    // ... and with it they go.
    let r = later_op(&mut e, "ss", OperationAction::Delete, &suspended, true);
    run_to_end(&mut e, "ss", &r, |_| {});
    assert!(instance(&e, "ss", &suspended[0], "us-east-1").is_none());
}

#[test]
fn stack_set_groups_expand_with_padded_names_and_staggered_history() {
    let s = Scenario::parse(
        r#"
[[stack_set_groups]]
count = 12
name_prefix = "team-"
stagger_mins = 10
created_days_ago = 2

[[stack_set_groups.operations]]
action = "CREATE"
started_mins_ago = 100
accounts = ["123456789012"]
regions = ["us-east-1"]
"#,
        "test",
    )
    .unwrap();
    let e = scenario::build(Some(&s), T0, None).unwrap();
    let names: Vec<&str> = e.all_stack_sets().iter().map(|ss| ss.name.as_str()).collect();
    assert_eq!(names.len(), 12);
    assert_eq!((names[0], names[11]), ("team-01", "team-12"));
    let started = |n: &str| e.stack_set_any(n).unwrap().operations[0].created;
    assert_eq!(
        started("team-01") - started("team-03"),
        20 * 60_000,
        "member k starts k x 10 min earlier"
    );
    assert!(e
        .all_stack_sets()
        .iter()
        .all(|ss| ss.operations[0].status == OperationStatus::Succeeded));
}

#[test]
fn stack_set_groups_refuse_bad_keys() {
    for (bad, why) in [
        ("count = 0\nname_prefix = \"a\"", "count"),
        ("name_prefix = \"a\"", "count"),
        ("count = 2", "name_prefix"),
        ("count = 2\nname_prefix = \"a\"\nname = \"b\"", "name"),
        ("count = 2\nname_prefix = \"a\"\nstagger_mins = -1", "stagger_mins"),
        ("count = 2\nname_prefix = \"a\"\ncolour = \"red\"", "colour"),
    ] {
        let text = format!("[[stack_set_groups]]\n{bad}\n");
        let err = Scenario::parse(&text, "test").unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn stack_sets_in_other_regions_get_their_own_estate() {
    let s = Scenario::parse(
        r#"
[[stack_sets]]
name = "home"

[[stack_sets]]
name = "away"
admin_region = "eu-west-1"
"#,
        "test",
    )
    .unwrap();
    let mut estates = scenario::build_estates(Some(&s), T0, None).unwrap();
    assert!(estates.is_regional());
    assert_eq!(estates.regions(), vec!["eu-west-1", "us-east-1"]);
    let names = |e: &Engine| e.all_stack_sets().iter().map(|ss| ss.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(estates.engine_for(None, T0).unwrap()), vec!["home"]);
    assert_eq!(names(estates.engine_for(Some("eu-west-1"), T0).unwrap()), vec!["away"]);
    assert!(names(estates.engine_for(Some("us-west-2"), T0).unwrap()).is_empty());

    let bad = Scenario::parse("[[stack_sets]]\nname = \"x\"\nadmin_region = \"Europe\"\n", "test").unwrap();
    let err = scenario::build_estates(Some(&bad), T0, None).err().unwrap().to_string();
    assert!(err.contains("admin_region"), "{err}");
}

#[test]
fn single_region_scenarios_keep_one_estate_for_every_region() {
    for name in ["rollout", "runaway", "large"] {
        let s = Scenario::load(name).unwrap();
        let estates = scenario::build_estates(Some(&s), T0, None).unwrap();
        assert!(!estates.is_regional(), "{name}");
        assert_eq!(estates.key(Some("eu-west-1")), "us-east-1", "{name}");
    }
}

#[test]
fn fleet_scenario_spreads_over_three_regions() {
    let s = Scenario::load("fleet").unwrap();
    let started = std::time::Instant::now();
    let mut estates = scenario::build_estates(Some(&s), T0, None).unwrap();
    eprintln!("fleet built in {:?}", started.elapsed());
    assert_eq!(estates.regions(), vec!["ap-southeast-2", "eu-west-1", "us-east-1"]);
    let statuses = |e: &Engine| -> Vec<OperationStatus> {
        e.all_stack_sets()
            .iter()
            .flat_map(|ss| ss.operations.iter().map(|o| o.status))
            .collect()
    };
    let home = estates.engine_for(None, T0).unwrap();
    assert_eq!(home.all_stack_sets().len(), 1000);
    assert_eq!(home.list_stack_sets(CallAs::SelfAccount).len(), 1000);
    let guard = home.stack_set_any("org-guardrails-us").unwrap();
    assert_eq!(
        guard.operations.iter().map(|o| o.status).collect::<Vec<_>>(),
        vec![OperationStatus::Running, OperationStatus::Queued]
    );
    let home_statuses = statuses(home);
    assert!(home_statuses.iter().filter(|s| **s == OperationStatus::Running).count() >= 3);
    assert!(
        home_statuses
            .iter()
            .filter(|s| **s == OperationStatus::Succeeded)
            .count()
            > 1900
    );
    // The failing rollout ends FAILED once its pair of failures lands.
    home.step(10 * 60_000);
    let failing = home.stack_set_any("logging-pipeline").unwrap();
    assert_eq!(failing.operations[0].status, OperationStatus::Failed);
    for region in ["eu-west-1", "ap-southeast-2"] {
        let e = estates.engine_for(Some(region), T0).unwrap();
        assert_eq!(e.all_stack_sets().len(), 3, "{region}");
        assert_eq!(e.list_stack_sets(CallAs::DelegatedAdmin).len(), 1, "{region}");
        assert!(statuses(e).contains(&OperationStatus::Running), "{region}");
    }
}

#[test]
fn instances_scenario_leaves_every_instance_state_and_drift() {
    let s = Scenario::load("instances").unwrap();
    let e = scenario::build(Some(&s), T0, None).unwrap();
    let ss = e.stack_set("workload-baseline", CallAs::SelfAccount).unwrap();
    let all: Vec<(&str, &str, &Instance)> = ss
        .instances
        .iter()
        .flat_map(|(a, m)| m.iter().map(move |(r, i)| (a.as_str(), r.as_str(), i)))
        .collect();
    // 12 accounts x 3 Regions, less the one instance the DELETE removed.
    assert_eq!(all.len(), 35);
    let find = |account: &str, region: &str| instance(&e, "workload-baseline", account, region).unwrap();
    assert!(instance(&e, "workload-baseline", "510000000009", "eu-west-1").is_none());
    let gone = find("510000000010", "eu-west-1");
    assert_eq!(
        (gone.status, gone.detailed),
        (InstanceStatus::Inoperable, DetailedStatus::Inoperable)
    );
    let suspended = find("590000000001", "us-east-1");
    assert_eq!(suspended.status, InstanceStatus::Outdated);
    assert_eq!(suspended.detailed, DetailedStatus::SkippedSuspendedAccount);
    let failed = find("510000000006", "us-east-1");
    assert_eq!(failed.status, InstanceStatus::Outdated);
    assert_eq!(failed.detailed, DetailedStatus::Result(ResultStatus::Failed));
    assert!(failed.reason.as_deref().unwrap().contains("UPDATE_ROLLBACK_FAILED"));
    let current = find("510000000001", "eu-west-1");
    assert_eq!(current.status, InstanceStatus::Current);
    assert_eq!(current.drift_status(), "IN_SYNC");
    assert_eq!(find("510000000002", "us-east-1").drift_status(), "DRIFTED");
    assert_eq!(find("510000000002", "ap-southeast-2").drift_status(), "NOT_CHECKED");
    let (_, checked) = find("510000000005", "ap-southeast-2").drift.unwrap();
    assert_eq!(checked, T0 - 30 * 60_000);
    let update = ss.operations.last().unwrap();
    assert_eq!(update.status, OperationStatus::Failed);
}

#[test]
fn a_drift_entry_that_marks_no_instance_is_an_error() {
    let text = r#"
[organization]
regions = ["us-east-1"]
[[organization.ous]]
id = "ou-a1b2-workload"
name = "W"
account_count = 2
first_account = 510000000001
[[stack_sets]]
name = "s"
[[stack_sets.operations]]
action = "CREATE"
started_mins_ago = 100
accounts = ["510000000001"]
[[stack_sets.drift]]
accounts = ["510000000002"]
status = "DRIFTED"
"#;
    let s = Scenario::parse(text, "test").unwrap();
    let Err(err) = scenario::build(Some(&s), T0, None) else {
        panic!("a drift entry on no instance was accepted");
    };
    assert!(format!("{err:#}").contains("no stack instance"), "{err:#}");
}
