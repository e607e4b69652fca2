"""boto3 against `sstop sim --scenario fleet`: each Region in the SigV4 credential scope sees its
own stack sets, as at AWS's regional endpoints; unsigned requests see the home Region.
"""

import sys
from pathlib import Path

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).parent))
from test_sim import start_sim  # noqa: E402

QUEUED_OP = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


@pytest.fixture(scope="module")
def fleet_url():
    proc, url = start_sim("--scenario", "fleet")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def regional(url, region, signed=True):
    config = Config(retries={"max_attempts": 1})
    if not signed:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    return boto3.client(
        "cloudformation",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=config,
    )


def names(cf, call_as="SELF", page_size=100):
    paginator = cf.get_paginator("list_stack_sets")
    pages = list(paginator.paginate(CallAs=call_as, PaginationConfig={"PageSize": page_size}))
    return [s["StackSetName"] for p in pages for s in p["Summaries"]], len(pages)


def test_pages_through_the_thousand_in_us_east_1(fleet_url):
    found, pages = names(regional(fleet_url, "us-east-1"))
    assert len(found) == 1000
    assert pages == 10
    assert len(set(found)) == 1000
    assert found[0] == "team-baseline-001" and "team-baseline-994" in found
    assert {"org-guardrails-us", "network-baseline", "logging-pipeline"} <= set(found)
    assert not any(n.startswith(("eu-", "apac-")) for n in found)


def test_each_region_lists_its_own_stack_sets(fleet_url):
    eu = regional(fleet_url, "eu-west-1")
    ap = regional(fleet_url, "ap-southeast-2")
    assert names(eu)[0] == ["eu-audit-roles", "eu-data-residency"]
    assert names(eu, "DELEGATED_ADMIN")[0] == ["eu-security-baseline"]
    assert names(ap)[0] == ["apac-config", "apac-network"]
    assert names(ap, "DELEGATED_ADMIN")[0] == ["apac-guardduty"]
    # The delegated rollout runs in eu-west-1 and cannot be seen from us-east-1.
    ops = eu.list_stack_set_operations(StackSetName="eu-security-baseline", CallAs="DELEGATED_ADMIN")
    assert [o["Status"] for o in ops["Summaries"]] == ["RUNNING"]
    with pytest.raises(ClientError) as err:
        regional(fleet_url, "us-east-1").describe_stack_set(StackSetName="eu-audit-roles")
    assert err.value.response["Error"]["Code"] == "StackSetNotFoundException"


def test_queued_behind_running_on_managed_execution(fleet_url):
    cf = regional(fleet_url, "us-east-1")
    ops = cf.list_stack_set_operations(StackSetName="org-guardrails-us")["Summaries"]
    assert [(o["Action"], o["Status"]) for o in ops] == [("UPDATE", "QUEUED"), ("CREATE", "RUNNING")]
    assert ops[0]["OperationId"] == QUEUED_OP


def test_unsigned_requests_see_the_home_region(fleet_url):
    unsigned = regional(fleet_url, "eu-west-1", signed=False)
    home = unsigned.describe_stack_set(StackSetName="org-guardrails-us")["StackSet"]
    assert home["StackSetName"] == "org-guardrails-us"
    with pytest.raises(ClientError) as err:
        unsigned.describe_stack_set(StackSetName="eu-audit-roles")
    assert err.value.response["Error"]["Code"] == "StackSetNotFoundException"
