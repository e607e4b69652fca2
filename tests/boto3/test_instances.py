"""boto3 against `sstop sim --scenario instances`: the stack instances an operation history
leaves behind (CURRENT, OUTDATED, INOPERABLE, skipped for a suspended account), and the drift
the scenario declares, as ListStackInstances and DescribeStackInstance report them.
"""

import datetime

import pytest

from test_sim import client, start_sim

SET = "workload-baseline"


@pytest.fixture(scope="module")
def cf():
    proc, url = start_sim("--scenario", "instances")
    try:
        yield client(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def instances(cf, **filters):
    kwargs = {"StackSetName": SET}
    if filters:
        kwargs["Filters"] = [{"Name": k, "Values": v} for k, v in filters.items()]
    out = []
    while True:
        resp = cf.list_stack_instances(**kwargs)
        out.extend(resp["Summaries"])
        if "NextToken" not in resp:
            return out
        kwargs["NextToken"] = resp["NextToken"]


def test_every_instance_state_is_there(cf):
    summaries = instances(cf)
    assert len(summaries) == 35
    statuses = {s["Status"] for s in summaries}
    assert statuses == {"CURRENT", "OUTDATED", "INOPERABLE"}
    detailed = {s["StackInstanceStatus"]["DetailedStatus"] for s in summaries}
    assert {"SUCCEEDED", "FAILED", "INOPERABLE", "SKIPPED_SUSPENDED_ACCOUNT"} <= detailed
    suspended = [s for s in summaries if s["Account"] == "590000000001"]
    assert suspended and all(s["Status"] == "OUTDATED" for s in suspended)


def test_declared_drift_is_listed_filtered_and_described(cf):
    summaries = instances(cf)
    drifted = sorted((s["Account"], s["Region"]) for s in summaries if s["DriftStatus"] == "DRIFTED")
    assert drifted == [
        ("510000000002", "eu-west-1"),
        ("510000000002", "us-east-1"),
        ("510000000005", "ap-southeast-2"),
    ]
    in_sync = [s for s in summaries if s["DriftStatus"] == "IN_SYNC"]
    assert len(in_sync) == 6
    checked = [s for s in summaries if "LastDriftCheckTimestamp" in s]
    assert len(checked) == 9
    assert all(isinstance(s["LastDriftCheckTimestamp"], datetime.datetime) for s in checked)
    assert all(s["DriftStatus"] == "NOT_CHECKED" for s in summaries if "LastDriftCheckTimestamp" not in s)

    filtered = sorted((s["Account"], s["Region"]) for s in instances(cf, DRIFT_STATUS="DRIFTED"))
    assert filtered == drifted
    assert len(instances(cf, DRIFT_STATUS="IN_SYNC")) == 6
    assert len(instances(cf, DRIFT_STATUS="NOT_CHECKED")) == 35 - 9
    both = instances(cf, DRIFT_STATUS="DRIFTED", DETAILED_STATUS="SUCCEEDED")
    assert {s["DriftStatus"] for s in both} == {"DRIFTED"}

    one = cf.describe_stack_instance(
        StackSetName=SET, StackInstanceAccount="510000000005", StackInstanceRegion="ap-southeast-2"
    )["StackInstance"]
    assert one["DriftStatus"] == "DRIFTED"
    assert isinstance(one["LastDriftCheckTimestamp"], datetime.datetime)
    age = datetime.datetime.now(datetime.timezone.utc) - one["LastDriftCheckTimestamp"]
    assert datetime.timedelta(minutes=25) < age < datetime.timedelta(minutes=40)
    never = cf.describe_stack_instance(
        StackSetName=SET, StackInstanceAccount="510000000004", StackInstanceRegion="ap-southeast-2"
    )["StackInstance"]
    assert never["DriftStatus"] == "NOT_CHECKED"
    assert "LastDriftCheckTimestamp" not in never


def test_drifted_and_every_other_state_walk_the_models_output_shapes(cf):
    """The model walk over what only this scenario answers: DRIFTED, IN_SYNC, INOPERABLE,
    SKIPPED_SUSPENDED_ACCOUNT, and LastDriftCheckTimestamp."""
    from test_model_walk import Raw, walk_response

    raw = Raw(cf)
    problems = []
    cf.list_stack_instances(StackSetName=SET)
    problems += walk_response("ListStackInstances", raw.body)
    assert b"LastDriftCheckTimestamp" in raw.body and b"INOPERABLE" in raw.body
    for account, region in [("510000000002", "us-east-1"), ("510000000010", "eu-west-1"), ("590000000001", "us-east-1")]:
        cf.describe_stack_instance(StackSetName=SET, StackInstanceAccount=account, StackInstanceRegion=region)
        problems += walk_response("DescribeStackInstance", raw.body)
    assert not problems, "\n".join(problems)
