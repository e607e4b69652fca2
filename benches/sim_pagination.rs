//! Full pagination (MaxResults 100) of the `large` scenario's 42,500-result operation through the
//! emulator's real HTTP server: once with the AWS SDK (what sstop does), once with raw HTTP on one
//! keep-alive connection (the emulator's own cost).

use std::hint::black_box;
use std::time::Duration;

use aws_sdk_cloudformation::config::{BehaviorVersion, Region};
use aws_sdk_cloudformation::Client;
use criterion::{criterion_group, criterion_main, Criterion};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use sstop::sim::{self, SimHandle, SimOptions};

const STACK_SET: &str = "org-config-rules";
const OPERATION: &str = "5c0f7a2e-4d1b-4e8a-9a42-000000042500";

async fn sdk_pages(cf: &Client) -> usize {
    let mut n = 0;
    let mut token = None;
    loop {
        let page = cf
            .list_stack_set_operation_results()
            .stack_set_name(STACK_SET)
            .operation_id(OPERATION)
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .expect("page");
        n += page.summaries().len();
        token = page.next_token().map(String::from);
        if token.is_none() {
            return n;
        }
    }
}

/// One POST on a kept-alive connection; returns the body.
async fn post(conn: &mut BufReader<TcpStream>, body: &str) -> String {
    // One write per request, and no Nagle delay: otherwise the client, not the server, is timed.
    let request = format!(
        "POST / HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.get_mut().write_all(request.as_bytes()).await.expect("write");
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).await.expect("read");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().expect("length");
        }
    }
    let mut buf = vec![0; len];
    conn.read_exact(&mut buf).await.expect("body");
    String::from_utf8(buf).expect("utf-8")
}

async fn raw_pages(handle: &SimHandle) -> usize {
    let stream = TcpStream::connect(handle.addr()).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut conn = BufReader::new(stream);
    let mut n = 0;
    let mut token: Option<String> = None;
    loop {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", "ListStackSetOperationResults")
            .append_pair("Version", "2010-05-15")
            .append_pair("StackSetName", STACK_SET)
            .append_pair("OperationId", OPERATION)
            .append_pair("MaxResults", "100");
        if let Some(t) = &token {
            form.append_pair("NextToken", t);
        }
        let body = post(&mut conn, &form.finish()).await;
        n += body.matches("<member>").count();
        token = body
            .split_once("<NextToken>")
            .and_then(|(_, rest)| rest.split_once("</NextToken>"))
            .map(|(t, _)| t.to_string());
        if token.is_none() {
            return n;
        }
    }
}

fn pagination(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = rt
        .block_on(sim::start(SimOptions {
            scenario: Some("large".into()),
            ..SimOptions::default()
        }))
        .expect("emulator");
    let creds = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "bench");
    let cf = Client::from_conf(
        aws_sdk_cloudformation::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(handle.endpoint_url())
            .build(),
    );
    assert_eq!(rt.block_on(sdk_pages(&cf)), 42_500);
    assert_eq!(rt.block_on(raw_pages(&handle)), 42_500);

    let mut group = c.benchmark_group("sim_pagination_42500_results");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("sdk_max_results_100", |b| {
        b.iter(|| black_box(rt.block_on(sdk_pages(&cf))))
    });
    group.bench_function("raw_http_max_results_100", |b| {
        b.iter(|| black_box(rt.block_on(raw_pages(&handle))))
    });
    group.finish();
    drop(handle);
}

criterion_group!(benches, pagination);
criterion_main!(benches);
