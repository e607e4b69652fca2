//! End to end: the real aws-sdk-cloudformation client against the emulator on 127.0.0.1, plus
//! raw HTTP for what an SDK never sends (bad methods, bodies, sizes).

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_cloudformation::config::{BehaviorVersion, Region};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    CallAs, DeploymentTargets, ManagedExecution, OperationResultFilter, OperationResultFilterName, PermissionModels,
    RegionConcurrencyType, StackSetOperationPreferences, StackSetOperationResultStatus, StackSetOperationStatus,
};
use aws_sdk_cloudformation::Client;
use sstop::model::{OperationStatus, ResultStatus};
use sstop::sim::{self, SimHandle, SimOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn emulator(scenario: Option<&str>) -> SimHandle {
    sim::start(SimOptions {
        scenario: scenario.map(String::from),
        seed: Some(11),
        ..SimOptions::default()
    })
    .await
    .expect("emulator starts")
}

fn client(handle: &SimHandle) -> Client {
    client_in(handle, "us-east-1")
}

/// A client signing for `region`: the emulator serves that Region's stack sets.
fn client_in(handle: &SimHandle, region: &'static str) -> Client {
    let creds = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
    let conf = aws_sdk_cloudformation::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(creds)
        .endpoint_url(handle.endpoint_url())
        .build();
    Client::from_conf(conf)
}

fn accounts(n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("{:012}", 123_456_000_000 + i)).collect()
}

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

async fn create_self_managed(cf: &Client, name: &str, managed: bool) {
    cf.create_stack_set()
        .stack_set_name(name)
        .template_body("Resources: {}")
        .permission_model(PermissionModels::SelfManaged)
        .managed_execution(ManagedExecution::builder().active(managed).build())
        .send()
        .await
        .expect("create stack set");
}

/// Starts CREATE on 25 accounts × 3 Regions, 2 at a time per Region, PARALLEL.
async fn start_rollout(cf: &Client, name: &str) -> String {
    let mut req = cf.create_stack_instances().stack_set_name(name).operation_preferences(
        StackSetOperationPreferences::builder()
            .region_concurrency_type(RegionConcurrencyType::Parallel)
            .max_concurrent_count(2)
            .failure_tolerance_count(1)
            .build(),
    );
    for a in accounts(25) {
        req = req.accounts(a);
    }
    for r in REGIONS {
        req = req.regions(r);
    }
    req.send()
        .await
        .expect("create stack instances")
        .operation_id
        .expect("an operation id")
}

/// Pages every result (optionally filtered) with `max` per page; returns (account, region, status).
async fn all_results(
    cf: &Client,
    name: &str,
    op: &str,
    max: i32,
    status: Option<&str>,
) -> (Vec<(String, String, String)>, usize) {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = cf
            .list_stack_set_operation_results()
            .stack_set_name(name)
            .operation_id(op)
            .max_results(max)
            .set_next_token(token.clone());
        if let Some(s) = status {
            req = req.filters(
                OperationResultFilter::builder()
                    .name(OperationResultFilterName::OperationResultStatus)
                    .values(s)
                    .build(),
            );
        }
        let page = req.send().await.expect("results page");
        pages += 1;
        for s in page.summaries() {
            out.push((
                s.account().unwrap_or_default().to_string(),
                s.region().unwrap_or_default().to_string(),
                s.status().map(|x| x.as_str().to_string()).unwrap_or_default(),
            ));
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            return (out, pages);
        }
        assert!(pages < 1000, "pagination never ends");
    }
}

#[tokio::test]
async fn create_page_filter_and_stop_through_the_sdk() {
    let handle = emulator(None).await;
    let cf = client(&handle);
    create_self_managed(&cf, "demo", false).await;
    let op = start_rollout(&cf, "demo").await;

    let described = cf
        .describe_stack_set_operation()
        .stack_set_name("demo")
        .operation_id(&op)
        .send()
        .await
        .unwrap();
    let o = described.stack_set_operation().unwrap();
    assert_eq!(o.status(), Some(&StackSetOperationStatus::Running));
    let prefs = o.operation_preferences().unwrap();
    assert_eq!(prefs.max_concurrent_count(), Some(2));
    assert_eq!(prefs.region_concurrency_type(), Some(&RegionConcurrencyType::Parallel));
    assert!(o.creation_timestamp().is_some());

    // Several pages, nothing twice, everything once.
    let (results, pages) = all_results(&cf, "demo", &op, 7, None).await;
    assert_eq!(results.len(), 75);
    assert_eq!(pages, 11);
    let unique: HashSet<(String, String)> = results.iter().map(|(a, r, _)| (a.clone(), r.clone())).collect();
    assert_eq!(unique.len(), 75);

    // Filter by status: 2 running per Region, the rest pending.
    let (running, _) = all_results(&cf, "demo", &op, 4, Some("RUNNING")).await;
    assert_eq!(running.len(), 6);
    assert!(running.iter().all(|(_, _, s)| s == "RUNNING"));
    let (pending, _) = all_results(&cf, "demo", &op, 100, Some("PENDING")).await;
    assert_eq!(pending.len(), 69);

    // The client's view matches the emulator's truth.
    let truth = handle.operation_results("demo", &op).unwrap();
    assert_eq!(truth.len(), 75);
    assert_eq!(truth.iter().filter(|r| r.status == ResultStatus::Running).count(), 6);

    // Stop: STOPPING at once with pending CANCELLED; running ones finish; then STOPPED.
    cf.stop_stack_set_operation()
        .stack_set_name("demo")
        .operation_id(&op)
        .send()
        .await
        .expect("stop");
    assert_eq!(handle.operation_status("demo", &op), Some(OperationStatus::Stopping));
    let (cancelled, _) = all_results(&cf, "demo", &op, 50, Some("CANCELLED")).await;
    assert_eq!(cancelled.len(), 69);
    handle.advance(Duration::from_secs(300));
    let described = cf
        .describe_stack_set_operation()
        .stack_set_name("demo")
        .operation_id(&op)
        .send()
        .await
        .unwrap();
    let o = described.stack_set_operation().unwrap();
    assert_eq!(o.status(), Some(&StackSetOperationStatus::Stopped));
    assert!(o.end_timestamp().is_some());
    let (succeeded, _) = all_results(&cf, "demo", &op, 100, Some("SUCCEEDED")).await;
    assert_eq!(succeeded.len(), 6);

    // The rest of the read calls.
    let ops = cf
        .list_stack_set_operations()
        .stack_set_name("demo")
        .send()
        .await
        .unwrap();
    assert_eq!(ops.summaries().len(), 1);
    assert_eq!(ops.summaries()[0].operation_id(), Some(op.as_str()));
    let ss = cf.describe_stack_set().stack_set_name("demo").send().await.unwrap();
    let ss = ss.stack_set().unwrap();
    assert_eq!(ss.stack_set_name(), Some("demo"));
    assert_eq!(ss.regions().len(), 3);
    assert_eq!(ss.managed_execution().and_then(|m| m.active()), Some(false));
    let listed = cf.list_stack_sets().send().await.unwrap();
    assert_eq!(listed.summaries().len(), 1);
    let instances = cf
        .list_stack_instances()
        .stack_set_name("demo")
        .max_results(40)
        .send()
        .await
        .unwrap();
    assert_eq!(instances.summaries().len(), 40);
    assert!(instances.next_token().is_some());

    let counts = handle.request_counts();
    assert_eq!(counts["ListStackSetOperationResults"], 17);
    assert_eq!(counts["StopStackSetOperation"], 1);
    assert_eq!(handle.total_requests(), counts.values().sum::<u64>());
    handle.shutdown();
}

#[tokio::test]
async fn operations_list_newest_first_and_managed_execution_queues() {
    let handle = emulator(None).await;
    let cf = client(&handle);
    create_self_managed(&cf, "queued", true).await;
    let first = start_rollout(&cf, "queued").await;
    let second = cf
        .update_stack_set()
        .stack_set_name("queued")
        .use_previous_template(true)
        .send()
        .await
        .expect("queued, not refused")
        .operation_id
        .unwrap();
    assert_eq!(
        handle.operation_status("queued", &second),
        Some(OperationStatus::Queued)
    );
    let ops = cf
        .list_stack_set_operations()
        .stack_set_name("queued")
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(ops.summaries()[0].operation_id(), Some(second.as_str()));
    assert_eq!(ops.summaries()[0].status(), Some(&StackSetOperationStatus::Queued));
    let older = cf
        .list_stack_set_operations()
        .stack_set_name("queued")
        .max_results(1)
        .next_token(ops.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(older.summaries()[0].operation_id(), Some(first.as_str()));
    assert!(older.next_token().is_none());
    // 25 accounts, 2 at a time, ~30 s each: well within an hour; then the update runs too.
    handle.advance(Duration::from_secs(3600));
    assert_eq!(
        handle.operation_status("queued", &first),
        Some(OperationStatus::Succeeded)
    );
    assert_ne!(
        handle.operation_status("queued", &second),
        Some(OperationStatus::Queued)
    );
}

async fn code<T, E: ProvideErrorMetadata, R>(r: Result<T, aws_sdk_cloudformation::error::SdkError<E, R>>) -> String {
    match r {
        Ok(_) => "no error".to_string(),
        Err(e) => e.code().unwrap_or("no code").to_string(),
    }
}

#[tokio::test]
async fn every_error_code() {
    let handle = emulator(None).await;
    let cf = client(&handle);
    create_self_managed(&cf, "demo", false).await;
    let op = start_rollout(&cf, "demo").await;

    let nope = cf.describe_stack_set().stack_set_name("nope").send().await;
    assert_eq!(code(nope).await, "StackSetNotFoundException");
    let r = cf
        .describe_stack_set_operation()
        .stack_set_name("demo")
        .operation_id("nope")
        .send()
        .await;
    assert_eq!(code(r).await, "OperationNotFoundException");
    let r = cf
        .create_stack_instances()
        .stack_set_name("demo")
        .accounts("210987654321")
        .regions("us-east-1")
        .send()
        .await;
    assert_eq!(code(r).await, "OperationInProgressException");

    // Stopping an ended operation is invalid.
    handle.advance(Duration::from_secs(6 * 3600));
    assert_eq!(handle.operation_status("demo", &op), Some(OperationStatus::Succeeded));
    let r = cf
        .stop_stack_set_operation()
        .stack_set_name("demo")
        .operation_id(&op)
        .send()
        .await;
    assert_eq!(code(r).await, "InvalidOperationException");

    for bad in [0, 101] {
        let r = cf
            .list_stack_set_operation_results()
            .stack_set_name("demo")
            .operation_id(&op)
            .max_results(bad)
            .send()
            .await;
        assert_eq!(code(r).await, "ValidationError", "MaxResults {bad}");
    }
    let r = cf
        .list_stack_set_operation_results()
        .stack_set_name("demo")
        .operation_id(&op)
        .next_token("MTAuZGVhZGJlZWZkZWFkYmVlZg")
        .send()
        .await;
    assert_eq!(code(r).await, "ValidationError", "forged NextToken");
    // A real token used on another list is refused too.
    let page = cf
        .list_stack_set_operation_results()
        .stack_set_name("demo")
        .operation_id(&op)
        .max_results(5)
        .send()
        .await
        .unwrap();
    let r = cf
        .list_stack_instances()
        .stack_set_name("demo")
        .next_token(page.next_token().unwrap())
        .send()
        .await;
    assert_eq!(code(r).await, "ValidationError", "foreign NextToken");
    let r = cf
        .list_stack_set_operation_results()
        .stack_set_name("demo")
        .operation_id(&op)
        .filters(
            OperationResultFilter::builder()
                .name(OperationResultFilterName::OperationResultStatus)
                .values("EXPLODED")
                .build(),
        )
        .send()
        .await;
    assert_eq!(code(r).await, "ValidationError", "bad filter value");
    let f = OperationResultFilter::builder()
        .name(OperationResultFilterName::OperationResultStatus)
        .values(StackSetOperationResultStatus::Failed.as_str())
        .build();
    let r = cf
        .list_stack_set_operation_results()
        .stack_set_name("demo")
        .operation_id(&op)
        .filters(f.clone())
        .filters(f)
        .send()
        .await;
    assert_eq!(code(r).await, "ValidationError", "two filters");
    let r = cf
        .describe_stack_set()
        .stack_set_name("demo")
        .call_as(CallAs::DelegatedAdmin)
        .send()
        .await;
    assert_eq!(code(r).await, "ValidationError", "DELEGATED_ADMIN on SELF_MANAGED");

    // A delegated administrator's stack set is invisible without CallAs=DELEGATED_ADMIN.
    cf.create_stack_set()
        .stack_set_name("delegated")
        .template_body("Resources: {}")
        .permission_model(PermissionModels::ServiceManaged)
        .call_as(CallAs::DelegatedAdmin)
        .send()
        .await
        .unwrap();
    let r = cf.describe_stack_set().stack_set_name("delegated").send().await;
    assert_eq!(code(r).await, "StackSetNotFoundException");
    let r = cf
        .list_stack_set_operations()
        .stack_set_name("delegated")
        .call_as(CallAs::SelfValue)
        .send()
        .await;
    assert_eq!(code(r).await, "StackSetNotFoundException");
    let seen = cf
        .describe_stack_set()
        .stack_set_name("delegated")
        .call_as(CallAs::DelegatedAdmin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        seen.stack_set().and_then(|s| s.permission_model()),
        Some(&PermissionModels::ServiceManaged)
    );
    let names = |out: aws_sdk_cloudformation::operation::list_stack_sets::ListStackSetsOutput| {
        out.summaries()
            .iter()
            .filter_map(|s| s.stack_set_name().map(String::from))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(cf.list_stack_sets().send().await.unwrap()), vec!["demo"]);
    assert_eq!(
        names(
            cf.list_stack_sets()
                .call_as(CallAs::DelegatedAdmin)
                .send()
                .await
                .unwrap()
        ),
        vec!["delegated"]
    );
    // OUs expand to the default organization's accounts.
    let op = cf
        .create_stack_instances()
        .stack_set_name("delegated")
        .call_as(CallAs::DelegatedAdmin)
        .deployment_targets(
            DeploymentTargets::builder()
                .organizational_unit_ids("ou-r00t-workload")
                .build(),
        )
        .regions("us-east-1")
        .send()
        .await
        .unwrap()
        .operation_id
        .unwrap();
    let results = handle.operation_results("delegated", &op).unwrap();
    assert_eq!(results.len(), 6);
    assert!(results.iter().all(|r| r.ou.as_deref() == Some("ou-r00t-workload")));
}

#[tokio::test]
async fn rollout_scenario_through_the_sdk() {
    let handle = emulator(Some("rollout")).await;
    let cf = client(&handle);
    let da = cf
        .list_stack_sets()
        .call_as(CallAs::DelegatedAdmin)
        .send()
        .await
        .unwrap();
    assert_eq!(da.summaries().len(), 1);
    assert_eq!(da.summaries()[0].stack_set_name(), Some("org-guardrails"));
    let ops = cf
        .list_stack_set_operations()
        .stack_set_name("org-guardrails")
        .call_as(CallAs::DelegatedAdmin)
        .send()
        .await
        .unwrap();
    let statuses: Vec<_> = ops.summaries().iter().filter_map(|s| s.status().cloned()).collect();
    assert_eq!(
        statuses,
        vec![StackSetOperationStatus::Queued, StackSetOperationStatus::Running]
    );
    let running = ops.summaries()[1].operation_id().unwrap().to_string();
    let mut token = None;
    let mut n = 0;
    loop {
        let page = cf
            .list_stack_set_operation_results()
            .stack_set_name("org-guardrails")
            .operation_id(&running)
            .call_as(CallAs::DelegatedAdmin)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        n += page.summaries().len();
        for s in page.summaries() {
            assert!(s.organizational_unit_id().is_some());
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(n, 900);
    let listed = cf.list_stack_sets().send().await.unwrap();
    assert_eq!(listed.summaries().len(), 4, "the self-owned stack sets");
}

/// One HTTP/1.1 exchange over a fresh connection: (status, headers, body).
async fn raw(handle: &SimHandle, head: &str, body: &[u8]) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(handle.addr()).await.unwrap();
    let req = format!(
        "{head}\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let writer = async {
        s.write_all(req.as_bytes()).await?;
        s.write_all(body).await?;
        Ok::<_, std::io::Error>(())
    };
    let _ = writer.await; // the server may answer before it has read everything
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("an answer, not a hang");
    let text = String::from_utf8_lossy(&buf).to_string();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, headers.to_ascii_lowercase(), body.to_string())
}

const FORM: &str = "Content-Type: application/x-www-form-urlencoded";

#[tokio::test]
async fn raw_http_bad_input_gets_xml_errors() {
    let handle = emulator(None).await;
    let post = format!("POST / HTTP/1.1\r\n{FORM}");

    let (status, headers, body) = raw(&handle, &post, b"Action=Explode&Version=2010-05-15").await;
    assert_eq!(status, 400);
    assert!(body.contains("<Code>InvalidAction</Code>"), "{body}");
    assert!(headers.contains("x-amzn-requestid:"), "{headers}");

    let (status, _, body) = raw(&handle, "GET /?Action=ListStackSets HTTP/1.1", b"").await;
    assert_eq!(status, 400);
    assert!(body.contains("<ErrorResponse"), "{body}");

    let (status, _, body) = raw(&handle, &post, b"%%%&&==\xff\xfe&Action").await;
    assert_eq!(status, 400);
    assert!(body.contains("<ErrorResponse"), "{body}");

    let (status, _, body) = raw(&handle, "POST / HTTP/1.1\r\nContent-Type: application/json", b"{}").await;
    assert_eq!(status, 400);
    assert!(body.contains("InvalidAction"), "{body}");

    let (status, _, body) = raw(&handle, &post, b"Action=DescribeStackSet").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("ValidationError") && body.contains("StackSetName"),
        "{body}"
    );

    let huge = vec![b'a'; 2 * 1024 * 1024];
    let (status, _, body) = raw(&handle, &post, &huge).await;
    assert_eq!(status, 413);
    assert!(body.contains("<ErrorResponse"), "{body}");

    // Still serving.
    let (status, _, body) = raw(&handle, &post, b"Action=ListStackSets&Version=2010-05-15").await;
    assert_eq!(status, 200);
    assert!(body.contains("<ListStackSetsResponse"), "{body}");
    assert!(handle.request_counts()["(invalid)"] >= 4);
}

#[tokio::test]
async fn faults_throttle_fail_and_delay() {
    let handle = emulator(None).await;
    let post = format!("POST / HTTP/1.1\r\n{FORM}");
    let body = b"Action=ListStackSets";
    handle.set_faults(1.0, 0.0, 0);
    let (status, _, text) = raw(&handle, &post, body).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("<Code>Throttling</Code>") && text.contains("Rate exceeded"),
        "{text}"
    );
    assert!(text.contains("<Type>Sender</Type>"));
    handle.set_faults(0.0, 1.0, 0);
    let (status, _, text) = raw(&handle, &post, body).await;
    assert_eq!(status, 500);
    assert!(
        text.contains("<Code>InternalFailure</Code>") && text.contains("<Type>Receiver</Type>"),
        "{text}"
    );
    handle.set_faults(0.0, 0.0, 150);
    let t = std::time::Instant::now();
    let (status, _, _) = raw(&handle, &post, body).await;
    assert_eq!(status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(
        handle.request_counts()["ListStackSets"],
        3,
        "faulted requests count too"
    );
}

#[tokio::test]
async fn bad_scenario_file_names_file_line_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "seed = 3\n[[stack_sets]]\nname = \"x\"\ncolour = \"red\"\n").unwrap();
    let err = sim::start(SimOptions {
        scenario: Some(path.display().to_string()),
        ..SimOptions::default()
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("broken.toml"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("colour"), "{err}");
}

#[tokio::test]
async fn delete_instances_then_the_stack_set() {
    let handle = emulator(None).await;
    let cf = client(&handle);
    create_self_managed(&cf, "shortlived", false).await;
    cf.create_stack_instances()
        .stack_set_name("shortlived")
        .accounts("123456789012")
        .accounts("210987654321")
        .regions("us-east-1")
        .send()
        .await
        .unwrap();
    handle.advance(Duration::from_secs(600));
    let r = cf.delete_stack_set().stack_set_name("shortlived").send().await;
    assert_eq!(code(r).await, "StackSetNotEmptyException");
    let r = cf
        .delete_stack_instances()
        .stack_set_name("shortlived")
        .accounts("999999999999")
        .regions("us-east-1")
        .retain_stacks(false)
        .send()
        .await;
    assert_eq!(code(r).await, "StackInstanceNotFoundException");
    let op = cf
        .delete_stack_instances()
        .stack_set_name("shortlived")
        .accounts("123456789012")
        .accounts("210987654321")
        .regions("us-east-1")
        .retain_stacks(false)
        .send()
        .await
        .unwrap()
        .operation_id
        .unwrap();
    handle.advance(Duration::from_secs(600));
    assert_eq!(
        handle.operation_status("shortlived", &op),
        Some(OperationStatus::Succeeded)
    );
    let left = cf
        .list_stack_instances()
        .stack_set_name("shortlived")
        .send()
        .await
        .unwrap();
    assert!(left.summaries().is_empty());
    cf.delete_stack_set().stack_set_name("shortlived").send().await.unwrap();
    let r = cf.describe_stack_set().stack_set_name("shortlived").send().await;
    assert_eq!(code(r).await, "StackSetNotFoundException");
}

#[tokio::test]
async fn rate_limit_throttles_a_burst_and_counts_it() {
    let handle = emulator(None).await;
    let post = format!("POST / HTTP/1.1\r\n{FORM}");
    let body = b"Action=ListStackSets";
    assert!(handle.set_rate_limit(Some(0.0)).is_err());
    assert!(handle.set_rate_limit(Some(f64::NAN)).is_err());
    // 2 per second with a burst of 2: a quick run of 6 sees the last ones throttled.
    handle.set_rate_limit(Some(2.0)).unwrap();
    assert_eq!(handle.rate_limit(), Some(2.0));
    let mut statuses = Vec::new();
    let mut throttled_text = None;
    for _ in 0..6 {
        let (status, _, text) = raw(&handle, &post, body).await;
        if status != 200 {
            throttled_text = Some(text);
        }
        statuses.push(status);
    }
    assert_eq!(&statuses[..2], &[200, 200], "{statuses:?}");
    let refused = statuses.iter().filter(|s| **s == 400).count();
    assert!(refused >= 3, "{statuses:?}");
    let text = throttled_text.unwrap();
    assert!(
        text.contains("<Code>Throttling</Code>") && text.contains("<Message>Rate exceeded</Message>"),
        "{text}"
    );
    assert_eq!(handle.throttled_count(), refused as u64);
    // Lifting the limit serves everything again.
    handle.set_rate_limit(None).unwrap();
    for _ in 0..5 {
        assert_eq!(raw(&handle, &post, body).await.0, 200);
    }
    assert_eq!(handle.throttled_count(), refused as u64);
}

#[tokio::test]
async fn rate_limit_from_options_and_bad_values_refused() {
    let err = sim::start(SimOptions {
        rate_limit: Some(-1.0),
        ..SimOptions::default()
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("--rate-limit"), "{err}");
    let handle = sim::start(SimOptions {
        rate_limit: Some(1.0),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let post = format!("POST / HTTP/1.1\r\n{FORM}");
    // A burst of one at 1/s: the second of two quick requests is throttled.
    assert_eq!(raw(&handle, &post, b"Action=ListStackSets").await.0, 200);
    let (status, _, text) = raw(&handle, &post, b"Action=ListStackSets").await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("Throttling"), "{text}");
    assert_eq!(handle.throttled_count(), 1);
}

/// Every stack set name `cf` lists with `call_as`, paging 100 at a time.
async fn list_names(cf: &Client, call_as: CallAs) -> Vec<String> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = cf
            .list_stack_sets()
            .call_as(call_as.clone())
            .max_results(100)
            .set_next_token(token.take())
            .send()
            .await
            .expect("list stack sets");
        names.extend(
            page.summaries()
                .iter()
                .filter_map(|s| s.stack_set_name().map(String::from)),
        );
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return names,
        }
    }
}

#[tokio::test]
async fn clients_signed_for_different_regions_see_different_stack_sets() {
    let sim = emulator(Some("fleet")).await;
    let us = client_in(&sim, "us-east-1");
    let eu = client_in(&sim, "eu-west-1");
    let ap = client_in(&sim, "ap-southeast-2");

    let us_names = list_names(&us, CallAs::SelfValue).await;
    assert_eq!(us_names.len(), 1000);
    assert_eq!(
        us_names.iter().collect::<HashSet<_>>().len(),
        1000,
        "no stack set twice"
    );
    assert!(us_names.contains(&"team-baseline-994".to_string()));
    assert_eq!(
        list_names(&eu, CallAs::SelfValue).await,
        ["eu-audit-roles", "eu-data-residency"]
    );
    assert_eq!(list_names(&eu, CallAs::DelegatedAdmin).await, ["eu-security-baseline"]);
    assert_eq!(
        list_names(&ap, CallAs::SelfValue).await,
        ["apac-config", "apac-network"]
    );
    assert_eq!(list_names(&ap, CallAs::DelegatedAdmin).await, ["apac-guardduty"]);

    // Another Region's stack set is not found, as at another endpoint.
    let err = us
        .describe_stack_set()
        .stack_set_name("eu-data-residency")
        .send()
        .await
        .expect_err("eu-west-1's stack set is not in us-east-1");
    assert_eq!(err.code(), Some("StackSetNotFoundException"));

    // A NextToken from one Region's list is refused by another's.
    let page = us.list_stack_sets().max_results(2).send().await.unwrap();
    let token = page.next_token().expect("more pages").to_string();
    let err = eu
        .list_stack_sets()
        .max_results(2)
        .next_token(&token)
        .send()
        .await
        .expect_err("foreign token");
    assert_eq!(err.code(), Some("ValidationError"));

    // A Region the scenario does not name starts empty and keeps what is created there.
    let west = client_in(&sim, "us-west-2");
    assert!(list_names(&west, CallAs::SelfValue).await.is_empty());
    create_self_managed(&west, "west-only", false).await;
    assert_eq!(list_names(&west, CallAs::SelfValue).await, ["west-only"]);
    assert!(!list_names(&us, CallAs::SelfValue)
        .await
        .contains(&"west-only".to_string()));
    assert_eq!(sim.stack_set_names_in("us-west-2"), ["west-only"]);

    // The handle's helpers: plain ones read the home Region, `_in` ones any Region.
    let queued = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    assert_eq!(
        sim.operation_status("org-guardrails-us", queued),
        Some(OperationStatus::Queued)
    );
    assert_eq!(sim.operation_status_in("eu-west-1", "org-guardrails-us", queued), None);
    let ids = sim.operation_ids_in("eu-west-1", "eu-security-baseline");
    assert_eq!(ids.len(), 1);
    assert_eq!(
        sim.operation_status_in("eu-west-1", "eu-security-baseline", &ids[0]),
        Some(OperationStatus::Running)
    );
    let (regions, regional) = sim.regions();
    assert!(regional);
    assert_eq!(regions, ["ap-southeast-2", "eu-west-1", "us-east-1", "us-west-2"]);
}

#[tokio::test]
async fn without_regional_stack_sets_every_region_shares_one_estate() {
    let sim = emulator(Some("rollout")).await;
    let home = list_names(&client(&sim), CallAs::SelfValue).await;
    let eu = client_in(&sim, "eu-west-1");
    assert_eq!(list_names(&eu, CallAs::SelfValue).await, home);
    create_self_managed(&eu, "made-in-eu", false).await;
    let home_after = list_names(&client_in(&sim, "ap-southeast-2"), CallAs::SelfValue).await;
    assert!(home_after.contains(&"made-in-eu".to_string()));
    assert_eq!(sim.regions(), (vec!["us-east-1".to_string()], false));
}
