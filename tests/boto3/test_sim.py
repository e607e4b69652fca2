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


# ---- Issue 15: where the emulator differed from AWS --------------------------------------

SUSPENDED_REASON = (
    "This account is suspended. To remove this instance from the stack set, run "
    "DeleteStackInstances with the RetainStacks parameter."
)
# The default organization's suspended accounts (the "Suspended" OU).
SUSPENDED = ["999000000001", "999000000002"]


def wait_done(cf, name, op, timeout=30):
    deadline = time.time() + timeout
    while True:
        st = cf.describe_stack_set_operation(StackSetName=name, OperationId=op)["StackSetOperation"]
        if st["Status"] not in ("QUEUED", "RUNNING", "STOPPING"):
            return st
        assert time.time() < deadline, f"{op} still {st['Status']}"
        time.sleep(0.05)


def instances(cf, name, **kwargs):
    out, token = [], None
    while True:
        extra = {"NextToken": token} if token else {}
        resp = cf.list_stack_instances(StackSetName=name, **kwargs, **extra)
        out.extend(resp["Summaries"])
        token = resp.get("NextToken")
        if not token:
            return out


def deployed(cf, name, accounts, regions=("us-east-1",)):
    """A self-managed stack set with finished, successful instances."""
    cf.create_stack_set(StackSetName=name, TemplateBody="Resources: {}")
    op = cf.create_stack_instances(
        StackSetName=name,
        Accounts=list(accounts),
        Regions=list(regions),
        OperationPreferences={"MaxConcurrentPercentage": 100, "FailureTolerancePercentage": 100},
    )["OperationId"]
    assert wait_done(cf, name, op)["Status"] == "SUCCEEDED"
    return op


@pytest.fixture(scope="module")
def failing_deletes(tmp_path_factory):
    """Deletes in account 123456000001 fail: the case that leaves an instance INOPERABLE."""
    path = tmp_path_factory.mktemp("scn") / "deletes.toml"
    path.write_text(
        'seed = 3\n[timing]\ndeploy_secs = 2\n\n[[failures]]\naccounts = ["123456000001"]\n'
        'actions = ["DELETE"]\nreason = "ResourceLogicalId:Bucket, ResourceStatusReason:bucket not empty"\n'
    )
    proc, url = start_sim("--speed", "50", "--scenario", str(path))
    try:
        yield client(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_failed_delete_leaves_instance_inoperable(failing_deletes):
    cf = failing_deletes
    deployed(cf, "inop", ACCOUNTS[:2])
    op = cf.delete_stack_instances(
        StackSetName="inop",
        Accounts=ACCOUNTS[:2],
        Regions=["us-east-1"],
        RetainStacks=False,
        OperationPreferences={"FailureToleranceCount": 1, "MaxConcurrentCount": 2},
    )["OperationId"]
    wait_done(cf, "inop", op)
    left = instances(cf, "inop")
    assert [i["Account"] for i in left] == [ACCOUNTS[0]]
    assert left[0]["Status"] == "INOPERABLE"
    assert left[0]["StackInstanceStatus"]["DetailedStatus"] == "INOPERABLE"
    assert left[0]["LastOperationId"] == op
    # The filter finds it by its DetailedStatus too.
    found = instances(cf, "inop", Filters=[{"Name": "DETAILED_STATUS", "Values": "INOPERABLE"}])
    assert len(found) == 1
    # INOPERABLE instances are left out of an UpdateStackSet over every instance.
    cf.create_stack_instances(StackSetName="inop", Accounts=[ACCOUNTS[2]], Regions=["us-east-1"])
    wait_done(cf, "inop", cf.list_stack_set_operations(StackSetName="inop")["Summaries"][0]["OperationId"])
    upd = cf.update_stack_set(StackSetName="inop", UsePreviousTemplate=True)["OperationId"]
    wait_done(cf, "inop", upd)
    touched = cf.list_stack_set_operation_results(StackSetName="inop", OperationId=upd)["Summaries"]
    assert [r["Account"] for r in touched] == [ACCOUNTS[2]]
    # RetainStacks=true removes it from the stack set.
    ret = cf.delete_stack_instances(
        StackSetName="inop", Accounts=[ACCOUNTS[0]], Regions=["us-east-1"], RetainStacks=True
    )["OperationId"]
    wait_done(cf, "inop", ret)
    assert [i["Account"] for i in instances(cf, "inop")] == [ACCOUNTS[2]]


def test_update_marks_unreached_instances_outdated_pending():
    # Its own emulator: fast enough to deploy, slow enough to see the update half way.
    proc, url = start_sim("--speed", "100")
    try:
        c = client(url)
        create_op = deployed(c, "upd", ACCOUNTS[:6])
        before = instances(c, "upd")
        assert all(i["Status"] == "CURRENT" for i in before)
        assert all(i["LastOperationId"] == create_op for i in before)
        upd = c.update_stack_set(
            StackSetName="upd",
            UsePreviousTemplate=True,
            OperationPreferences={"MaxConcurrentCount": 1},
        )["OperationId"]
        now = instances(c, "upd")
        detailed = sorted(i["StackInstanceStatus"]["DetailedStatus"] for i in now)
        assert detailed == ["PENDING"] * 5 + ["RUNNING"], detailed
        assert all(i["Status"] == "OUTDATED" for i in now)
        assert all(i["LastOperationId"] == upd for i in now)
        wait_done(c, "upd", upd)
        after = instances(c, "upd")
        assert all(i["Status"] == "CURRENT" for i in after)
        assert all(i["StackInstanceStatus"]["DetailedStatus"] == "SUCCEEDED" for i in after)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_retain_stacks_is_reported(fast_cf):
    cf = fast_cf
    deployed(cf, "retain", ACCOUNTS[:2])
    for retain, name in ((True, "true"), (False, "false")):
        op = cf.delete_stack_instances(
            StackSetName="retain", Accounts=[ACCOUNTS[0 if retain else 1]], Regions=["us-east-1"],
            RetainStacks=retain,
        )["OperationId"]
        desc = cf.describe_stack_set_operation(StackSetName="retain", OperationId=op)["StackSetOperation"]
        assert desc["RetainStacks"] is retain, name
        wait_done(cf, "retain", op)


def test_describe_stack_instance(fast_cf):
    cf = fast_cf
    op = deployed(cf, "one", ACCOUNTS[:2], regions=("us-east-1", "eu-west-1"))
    got = cf.describe_stack_instance(
        StackSetName="one", StackInstanceAccount=ACCOUNTS[1], StackInstanceRegion="eu-west-1"
    )["StackInstance"]
    assert got["Account"] == ACCOUNTS[1] and got["Region"] == "eu-west-1"
    assert got["Status"] == "CURRENT"
    assert got["StackInstanceStatus"]["DetailedStatus"] == "SUCCEEDED"
    assert got["LastOperationId"] == op
    assert got["StackSetId"].startswith("one:")
    assert got["StackId"].startswith("arn:aws:cloudformation:eu-west-1:" + ACCOUNTS[1])
    assert got["DriftStatus"] == "NOT_CHECKED"
    missing = dict(StackSetName="one", StackInstanceAccount=ACCOUNTS[5], StackInstanceRegion="eu-west-1")
    assert error_code(cf.describe_stack_instance, **missing) == "StackInstanceNotFoundException"
    nope = dict(StackSetName="nope", StackInstanceAccount=ACCOUNTS[1], StackInstanceRegion="eu-west-1")
    assert error_code(cf.describe_stack_instance, **nope) == "StackSetNotFoundException"
    bad = dict(StackSetName="one", StackInstanceAccount="12345", StackInstanceRegion="eu-west-1")
    assert error_code(cf.describe_stack_instance, **bad) == "ValidationError"
    assert error_code(cf.describe_stack_instance, StackSetName="one", StackInstanceAccount=ACCOUNTS[1]) == (
        "ValidationError"
    )


def test_list_stack_instances_filters_follow_the_model(fast_cf):
    cf = fast_cf
    deployed(cf, "filt", ACCOUNTS[:2])
    for status in ("SKIPPED_SUSPENDED_ACCOUNT", "FAILED_IMPORT", "INOPERABLE", "SUCCEEDED"):
        got = cf.list_stack_instances(
            StackSetName="filt", Filters=[{"Name": "DETAILED_STATUS", "Values": status}]
        )["Summaries"]
        assert len(got) == (2 if status == "SUCCEEDED" else 0), status
    four = [{"Name": "DETAILED_STATUS", "Values": "SUCCEEDED"}] * 2 + [
        {"Name": "DRIFT_STATUS", "Values": "NOT_CHECKED"}
    ] * 2
    assert error_code(cf.list_stack_instances, StackSetName="filt", Filters=four) == "ValidationError"
    three = four[1:]
    assert len(cf.list_stack_instances(StackSetName="filt", Filters=three)["Summaries"]) == 2
    for bad in ("a b", "x" * 129, "tab\there"):
        for name in ("DETAILED_STATUS", "LAST_OPERATION_ID", "DRIFT_STATUS"):
            filters = [{"Name": name, "Values": bad}]
            assert error_code(cf.list_stack_instances, StackSetName="filt", Filters=filters) == (
                "ValidationError"
            ), (name, bad)
    filters = [{"Name": "DRIFT_STATUS", "Values": "SIDEWAYS"}]
    assert error_code(cf.list_stack_instances, StackSetName="filt", Filters=filters) == "ValidationError"


def test_malformed_operation_ids_are_validation_errors(fast_cf):
    cf = fast_cf
    cf.create_stack_set(StackSetName="opids", TemplateBody="Resources: {}")
    calls = (
        cf.describe_stack_set_operation,
        cf.list_stack_set_operation_results,
        cf.stop_stack_set_operation,
    )
    for bad in ("-abc", "a b", "a" * 129, "abc_def"):
        for call in calls:
            assert error_code(call, StackSetName="opids", OperationId=bad) == "ValidationError", (call, bad)
    for call in calls:
        assert error_code(call, StackSetName="opids", OperationId="a" * 128) == "OperationNotFoundException"
    bad_create = dict(StackSetName="opids", Accounts=[ACCOUNTS[0]], Regions=["us-east-1"], OperationId="-x")
    assert error_code(cf.create_stack_instances, **bad_create) == "ValidationError"


def test_create_stack_set_keeps_tags(fast_cf):
    cf = fast_cf
    tags = [{"Key": "team", "Value": "platform"}, {"Key": "cost-centre", "Value": "42"}]
    cf.create_stack_set(StackSetName="tagged", TemplateBody="Resources: {}", Tags=tags)
    assert cf.describe_stack_set(StackSetName="tagged")["StackSet"]["Tags"] == tags
    cf.create_stack_set(StackSetName="untagged", TemplateBody="Resources: {}")
    assert "Tags" not in cf.describe_stack_set(StackSetName="untagged")["StackSet"]
    for bad in (
        [{"Key": "k"}],
        [{"Key": "", "Value": "v"}],
        [{"Key": "k" * 129, "Value": "v"}],
        [{"Key": "k", "Value": "v" * 257}],
        [{"Key": f"k{i}", "Value": "v"} for i in range(51)],
    ):
        assert error_code(
            cf.create_stack_set, StackSetName="badtags", TemplateBody="Resources: {}", Tags=bad
        ) == "ValidationError", bad
    assert error_code(cf.describe_stack_set, StackSetName="badtags") == "StackSetNotFoundException"


def test_idle_connections_are_closed():
    import socket

    proc, url = start_sim("--idle-timeout", "1")
    host, port = url.removeprefix("http://").split(":")
    socks = []
    try:
        for i in range(300):
            s = socket.create_connection((host, int(port)))
            if i % 3 == 1:
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            elif i % 3 == 2:
                s.sendall(
                    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    b"Content-Length: 100\r\n\r\nAction=List"  # body never finished
                )
            socks.append(s)
        time.sleep(2.5)
        closed = 0
        for s in socks:
            s.settimeout(3)
            try:
                data = s.recv(65536)
                while data:  # an error reply may come before the close
                    data = s.recv(65536)
                closed += 1
            except (ConnectionResetError, BrokenPipeError):
                closed += 1
            except socket.timeout:
                pass
        assert closed == 300
        # Still serving.
        client(url).list_stack_sets()
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_suspended_accounts_are_skipped(fast_cf):
    cf = fast_cf
    cf.create_stack_set(StackSetName="susp", TemplateBody="Resources: {}")
    targets = [ACCOUNTS[0], *SUSPENDED]
    op = cf.create_stack_instances(
        StackSetName="susp",
        Accounts=targets,
        Regions=["us-east-1", "eu-west-1"],
        OperationPreferences={"MaxConcurrentCount": 3, "FailureToleranceCount": 0},
    )["OperationId"]
    done = wait_done(cf, "susp", op)
    # Skipping a suspended account is not a failure: the operation succeeds.
    assert done["Status"] == "SUCCEEDED"
    assert done["StatusDetails"]["FailedStackInstancesCount"] == 0
    results = cf.list_stack_set_operation_results(StackSetName="susp", OperationId=op)["Summaries"]
    for r in results:
        if r["Account"] in SUSPENDED:
            assert r["StatusReason"] == SUSPENDED_REASON
        else:
            assert r["Status"] == "SUCCEEDED" and "StatusReason" not in r
    by_account = {}
    for i in instances(cf, "susp"):
        by_account.setdefault(i["Account"], set()).add(i["StackInstanceStatus"]["DetailedStatus"])
        if i["Account"] in SUSPENDED:
            assert i["StatusReason"] == SUSPENDED_REASON
            assert i["Status"] == "OUTDATED"
    assert by_account == {
        ACCOUNTS[0]: {"SUCCEEDED"},
        SUSPENDED[0]: {"SKIPPED_SUSPENDED_ACCOUNT"},
        SUSPENDED[1]: {"SKIPPED_SUSPENDED_ACCOUNT"},
    }
    skipped = instances(cf, "susp", Filters=[{"Name": "DETAILED_STATUS", "Values": "SKIPPED_SUSPENDED_ACCOUNT"}])
    assert len(skipped) == 4
    # As the reason says: a delete with RetainStacks removes them.
    rm = cf.delete_stack_instances(
        StackSetName="susp", Accounts=SUSPENDED, Regions=["us-east-1", "eu-west-1"], RetainStacks=True
    )["OperationId"]
    wait_done(cf, "susp", rm)
    assert {i["Account"] for i in instances(cf, "susp")} == {ACCOUNTS[0]}
