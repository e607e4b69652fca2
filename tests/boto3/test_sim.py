"""boto3 against the `sstop sim` binary: the emulator must speak awsQuery well enough for botocore.

Run: cargo build && pip install -r tests/boto3/requirements.txt && pytest tests/boto3
The binary is $SSTOP_BIN (default target/debug/sstop).
"""

import os
import re
import subprocess
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

BIN = os.environ.get("SSTOP_BIN", "target/debug/sstop")
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
ACCOUNTS = [f"{123456000000 + i:012d}" for i in range(1, 26)]


def start_sim(*extra):
    proc = subprocess.Popen(
        [BIN, "sim", "--listen", "127.0.0.1:0", "--seed", "5", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"sstop sim did not start: {line!r} {proc.stderr.read()}")
    return proc, match.group(1)


def client(url):
    return boto3.client(
        "cloudformation",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        # Let bad values reach the server: its ValidationError is what is under test.
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def cf():
    proc, url = start_sim("--speed", "1")
    try:
        yield client(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def fast_cf():
    proc, url = start_sim("--speed", "200")
    try:
        yield client(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def create_rollout(cf, name, managed=False):
    cf.create_stack_set(
        StackSetName=name,
        TemplateBody="Resources: {}",
        PermissionModel="SELF_MANAGED",
        ManagedExecution={"Active": managed},
    )
    return cf.create_stack_instances(
        StackSetName=name,
        Accounts=ACCOUNTS,
        Regions=REGIONS,
        OperationPreferences={
            "RegionConcurrencyType": "PARALLEL",
            "MaxConcurrentCount": 2,
            "FailureToleranceCount": 1,
        },
    )["OperationId"]


def all_results(cf, name, op, status=None, page=2):
    kwargs = {"StackSetName": name, "OperationId": op, "MaxResults": page}
    if status:
        kwargs["Filters"] = [{"Name": "OPERATION_RESULT_STATUS", "Values": status}]
    out, pages = [], 0
    while True:
        resp = cf.list_stack_set_operation_results(**kwargs)
        pages += 1
        out.extend(resp["Summaries"])
        if "NextToken" not in resp:
            return out, pages
        kwargs["NextToken"] = resp["NextToken"]


def error_code(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"]


def test_create_describe_and_page(cf):
    op = create_rollout(cf, "paged")
    desc = cf.describe_stack_set_operation(StackSetName="paged", OperationId=op)["StackSetOperation"]
    assert desc["Status"] == "RUNNING"
    assert desc["OperationPreferences"]["MaxConcurrentCount"] == 2
    assert desc["OperationPreferences"]["RegionConcurrencyType"] == "PARALLEL"

    results, pages = all_results(cf, "paged", op)
    assert len(results) == 75
    assert pages == 38
    assert len({(r["Account"], r["Region"]) for r in results}) == 75

    running, _ = all_results(cf, "paged", op, "RUNNING")
    assert len(running) == 6 and all(r["Status"] == "RUNNING" for r in running)
    assert all(r["AccountGateResult"]["Status"] == "SKIPPED" for r in running)
    pending, _ = all_results(cf, "paged", op, "PENDING", page=100)
    assert len(pending) == 69

    ops = cf.list_stack_set_operations(StackSetName="paged")["Summaries"]
    assert [o["OperationId"] for o in ops] == [op]
    ss = cf.describe_stack_set(StackSetName="paged")["StackSet"]
    assert sorted(ss["Regions"]) == sorted(REGIONS)
    names = [s["StackSetName"] for s in cf.list_stack_sets()["Summaries"]]
    assert "paged" in names


def test_stop_reaches_stopped_with_pending_cancelled(fast_cf):
    cf = fast_cf
    cf.create_stack_set(StackSetName="stoppable", TemplateBody="Resources: {}")
    op = cf.create_stack_instances(
        StackSetName="stoppable",
        Accounts=ACCOUNTS,
        Regions=REGIONS,
        OperationPreferences={"MaxConcurrentCount": 1, "FailureToleranceCount": 0},
    )["OperationId"]
    cf.stop_stack_set_operation(StackSetName="stoppable", OperationId=op)
    status = cf.describe_stack_set_operation(StackSetName="stoppable", OperationId=op)[
        "StackSetOperation"
    ]["Status"]
    assert status in ("STOPPING", "STOPPED")
    deadline = time.time() + 20
    while status != "STOPPED":
        assert time.time() < deadline, "never reached STOPPED"
        time.sleep(0.1)
        status = cf.describe_stack_set_operation(StackSetName="stoppable", OperationId=op)[
            "StackSetOperation"
        ]["Status"]
    results, _ = all_results(cf, "stoppable", op, page=100)
    statuses = [r["Status"] for r in results]
    assert "PENDING" not in statuses and "RUNNING" not in statuses
    cancelled, _ = all_results(cf, "stoppable", op, "CANCELLED")
    assert len(cancelled) >= 70
    assert error_code(cf.stop_stack_set_operation, StackSetName="stoppable", OperationId=op) == (
        "InvalidOperationException"
    )


def test_error_codes(cf):
    op = create_rollout(cf, "errors")
    assert error_code(cf.describe_stack_set, StackSetName="nope") == "StackSetNotFoundException"
    assert (
        error_code(cf.describe_stack_set_operation, StackSetName="errors", OperationId="nope")
        == "OperationNotFoundException"
    )
    assert (
        error_code(
            cf.create_stack_instances,
            StackSetName="errors",
            Accounts=["210987654321"],
            Regions=["us-east-1"],
        )
        == "OperationInProgressException"
    )
    base = {"StackSetName": "errors", "OperationId": op}
    for bad in (0, 101):
        assert error_code(cf.list_stack_set_operation_results, MaxResults=bad, **base) == "ValidationError"
    assert (
        error_code(cf.list_stack_set_operation_results, NextToken="Zm9yZ2VkLnRva2Vu", **base)
        == "ValidationError"
    )
    bad_filter = [{"Name": "OPERATION_RESULT_STATUS", "Values": "EXPLODED"}]
    assert error_code(cf.list_stack_set_operation_results, Filters=bad_filter, **base) == "ValidationError"
    assert (
        error_code(cf.describe_stack_set, StackSetName="errors", CallAs="DELEGATED_ADMIN")
        == "ValidationError"
    )

    cf.create_stack_set(
        StackSetName="delegated",
        TemplateBody="Resources: {}",
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        CallAs="DELEGATED_ADMIN",
    )
    assert error_code(cf.describe_stack_set, StackSetName="delegated") == "StackSetNotFoundException"
    seen = cf.describe_stack_set(StackSetName="delegated", CallAs="DELEGATED_ADMIN")["StackSet"]
    assert seen["PermissionModel"] == "SERVICE_MANAGED"
    listed = cf.list_stack_sets(CallAs="DELEGATED_ADMIN")["Summaries"]
    assert [s["StackSetName"] for s in listed] == ["delegated"]
    assert "delegated" not in [s["StackSetName"] for s in cf.list_stack_sets()["Summaries"]]


def test_rate_limit_flag_throttles_a_burst():
    proc, url = start_sim("--rate-limit", "1")
    try:
        cf = client(url)
        codes = []
        for _ in range(12):
            try:
                cf.list_stack_sets()
                codes.append("ok")
            except ClientError as e:
                codes.append(e.response["Error"]["Code"])
                assert e.response["Error"]["Message"] == "Rate exceeded"
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        # One per second: a quick run of 12 is mostly refused (each call takes well under 1 s).
        assert codes[0] == "ok", codes
        assert codes.count("Throttling") >= 6, codes
        # After a pause the bucket has refilled.
        time.sleep(1.2)
        cf.list_stack_sets()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bad = subprocess.run([BIN, "sim", "--rate-limit", "0"], capture_output=True, text=True, timeout=10)
    assert bad.returncode != 0 and "--rate-limit" in bad.stderr
