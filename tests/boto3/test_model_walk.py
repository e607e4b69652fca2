"""Walks the emulator against botocore's service model, action by action.

Outputs: every implemented action is called with valid input and its raw XML is walked against
the output shape: no unknown elements, lists as <member> items, scalars of the right type,
enum values, patterns and lengths, required members present.

Inputs: for each constraint the model states on an input member (required, enum, length,
pattern, range, list size) a request breaking just that one is sent; the emulator must answer
400 ValidationError.
"""

import re
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).parent))
import input_model  # noqa: E402
from test_sim import client, start_sim  # noqa: E402

NS = "{http://cloudformation.amazonaws.com/doc/2010-05-15/}"
MODEL = input_model.service_model()
ACTIONS = input_model.implemented_actions()
ACCOUNTS = ["123456000001", "123456000002"]


@pytest.fixture(scope="module")
def sim():
    proc, url = start_sim("--speed", "500")
    try:
        yield client(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Raw:
    """Keeps the raw body of the last response a client received."""

    def __init__(self, cf):
        self.body = None
        cf.meta.events.register("after-call.cloudformation", self.keep)

    def keep(self, http_response, **_):
        self.body = http_response.content


def java_pattern(p):
    """The model's patterns are matched against the whole value."""
    return re.compile(f"(?:{p})\\Z", re.S)


def check_scalar(shape, text, path, problems):
    t = shape.type_name
    meta = shape.metadata
    if t == "string":
        if shape.enum and text not in shape.enum:
            problems.append(f"{path}: {text!r} not in enum {shape.name}")
        if "max" in meta and len(text) > meta["max"]:
            problems.append(f"{path}: longer than {meta['max']}")
        if "min" in meta and len(text) < meta["min"]:
            problems.append(f"{path}: shorter than {meta['min']}")
        if "pattern" in meta and not java_pattern(meta["pattern"]).match(text):
            problems.append(f"{path}: {text!r} does not match {meta['pattern']}")
    elif t in ("integer", "long"):
        if not re.fullmatch(r"-?\d+", text):
            problems.append(f"{path}: {text!r} is not an integer")
        else:
            n = int(text)
            if "min" in meta and n < meta["min"] or "max" in meta and n > meta["max"]:
                problems.append(f"{path}: {n} out of range")
    elif t == "boolean":
        if text not in ("true", "false"):
            problems.append(f"{path}: {text!r} is not a boolean")
    elif t == "timestamp":
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", text):
            problems.append(f"{path}: {text!r} is not an ISO 8601 UTC timestamp")
        else:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        problems.append(f"{path}: unexpected scalar type {t}")


def walk(shape, el, path, problems):
    """Compares one element with its shape, appending what is wrong to `problems`."""
    t = shape.type_name
    if t == "structure":
        if (el.text or "").strip():
            problems.append(f"{path}: text inside a structure")
        seen = set()
        names = {m.serialization.get("name", n): (n, m) for n, m in shape.members.items()}
        for child in el:
            tag = child.tag.removeprefix(NS)
            if tag not in names:
                problems.append(f"{path}.{tag}: not a member of {shape.name}")
                continue
            if tag in seen:
                problems.append(f"{path}.{tag}: repeated")
            seen.add(tag)
            walk(names[tag][1], child, f"{path}.{tag}", problems)
        for req in shape.required_members:
            if req not in seen:
                problems.append(f"{path}: required member {req} missing")
    elif t == "list":
        item = shape.member.serialization.get("name", "member")
        items = list(el)
        for i, child in enumerate(items, 1):
            tag = child.tag.removeprefix(NS)
            if tag != item:
                problems.append(f"{path}: list item <{tag}>, expected <{item}>")
            walk(shape.member, child, f"{path}[{i}]", problems)
        if "max" in shape.metadata and len(items) > shape.metadata["max"]:
            problems.append(f"{path}: more than {shape.metadata['max']} items")
    elif t == "map":
        problems.append(f"{path}: maps are not expected in these outputs")
    else:
        if len(el):
            problems.append(f"{path}: elements inside a scalar")
        check_scalar(shape, el.text or "", path, problems)


def walk_response(action, body):
    op = MODEL.operation_model(action)
    root = ET.fromstring(body)
    problems = []
    if root.tag != f"{NS}{action}Response":
        return [f"root is {root.tag}"]
    children = [c.tag.removeprefix(NS) for c in root]
    wrapper = op.output_shape.serialization.get("resultWrapper") if op.output_shape else None
    expected = ([wrapper] if wrapper else []) + ["ResponseMetadata"]
    if children != expected and not (wrapper and children == ["ResponseMetadata"] and not op.output_shape.members):
        problems.append(f"{action}: envelope children {children}, expected {expected}")
    meta = root.find(f"{NS}ResponseMetadata")
    if meta is None or not (meta.findtext(f"{NS}RequestId") or ""):
        problems.append(f"{action}: no ResponseMetadata/RequestId")
    result = root.find(f"{NS}{wrapper}") if wrapper else None
    if result is not None:
        walk(op.output_shape, result, action, problems)
    return problems


def wait_idle(cf, name, call_as=None):
    extra = {"CallAs": call_as} if call_as else {}
    for _ in range(400):
        ops = cf.list_stack_set_operations(StackSetName=name, **extra)["Summaries"]
        if all(o["Status"] not in ("RUNNING", "QUEUED", "STOPPING") for o in ops):
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} never went idle")


PREFS = {
    "RegionConcurrencyType": "PARALLEL",
    "MaxConcurrentCount": 2,
    "FailureToleranceCount": 1,
    "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
}


def valid_calls(cf):
    """(action, kwargs) for every implemented action, in an order that makes each one valid."""
    ss = "walk"
    calls = [
        (
            "CreateStackSet",
            dict(
                StackSetName=ss,
                TemplateBody="Resources: {}",
                Description="model walk",
                Parameters=[{"ParameterKey": "Env", "ParameterValue": "test"}],
                Capabilities=["CAPABILITY_IAM"],
                Tags=[{"Key": "team", "Value": "sstop"}],
                PermissionModel="SELF_MANAGED",
                ManagedExecution={"Active": True},
            ),
        ),
        ("CreateStackSet", dict(
            StackSetName="walk-org",
            TemplateBody="Resources: {}",
            PermissionModel="SERVICE_MANAGED",
            AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
            CallAs="DELEGATED_ADMIN",
        )),
        ("CreateStackInstances", dict(
            StackSetName=ss, Accounts=ACCOUNTS, Regions=["us-east-1", "eu-west-1"],
            OperationPreferences=PREFS, OperationId="walk-create-1",
        )),
        ("CreateStackInstances", dict(
            StackSetName="walk-org", CallAs="DELEGATED_ADMIN", Regions=["us-east-1"],
            DeploymentTargets={"OrganizationalUnitIds": ["ou-r00t-security"]},
            OperationPreferences={"MaxConcurrentPercentage": 100, "FailureTolerancePercentage": 50},
        )),
        ("wait", ss),
        ("DescribeStackSet", dict(StackSetName=ss)),
        ("DescribeStackSet", dict(StackSetName="walk-org", CallAs="DELEGATED_ADMIN")),
        ("ListStackSets", dict(MaxResults=1)),
        ("ListStackSets", dict(Status="ACTIVE", CallAs="DELEGATED_ADMIN")),
        ("ListStackInstances", dict(StackSetName=ss, MaxResults=1)),
        ("ListStackInstances", dict(
            StackSetName=ss, StackInstanceAccount=ACCOUNTS[0], StackInstanceRegion="us-east-1",
            Filters=[{"Name": "DETAILED_STATUS", "Values": "SUCCEEDED"}],
        )),
        ("ListStackInstances", dict(StackSetName="walk-org", CallAs="DELEGATED_ADMIN")),
        ("DescribeStackInstance", dict(
            StackSetName=ss, StackInstanceAccount=ACCOUNTS[1], StackInstanceRegion="eu-west-1"
        )),
        ("UpdateStackSet", dict(
            StackSetName=ss, UsePreviousTemplate=True, Description="again",
            OperationPreferences={"RegionOrder": ["eu-west-1", "us-east-1"], "MaxConcurrentCount": 1},
            Tags=[{"Key": "team", "Value": "sstop"}, {"Key": "walk", "Value": "2"}],
        )),
        ("UpdateStackInstances", dict(StackSetName=ss, Accounts=[ACCOUNTS[0]], Regions=["us-east-1"])),
        ("ListStackSetOperations", dict(StackSetName=ss, MaxResults=2)),
        ("DescribeStackSetOperation", dict(StackSetName=ss, OperationId="walk-create-1")),
        ("ListStackSetOperationResults", dict(StackSetName=ss, OperationId="walk-create-1", MaxResults=1)),
        ("ListStackSetOperationResults", dict(
            StackSetName=ss, OperationId="walk-create-1",
            Filters=[{"Name": "OPERATION_RESULT_STATUS", "Values": "SUCCEEDED"}],
        )),
        ("StopLatest", ss),
        ("wait", ss),
        ("DeleteStackInstances", dict(
            StackSetName=ss, Accounts=ACCOUNTS, Regions=["us-east-1", "eu-west-1"], RetainStacks=True,
            OperationId="walk-delete-1",
        )),
        ("DescribeStackSetOperation", dict(StackSetName=ss, OperationId="walk-delete-1")),
        ("wait", ss),
        ("DeleteStackSet", dict(StackSetName=ss)),
    ]
    return calls


def snake(action):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def test_every_action_answers_in_the_models_output_shape(sim):
    cf = sim
    raw = Raw(cf)
    called, problems = set(), []
    for action, kwargs in valid_calls(cf):
        if action == "wait":
            wait_idle(cf, kwargs)
            continue
        if action == "StopLatest":
            # A fresh UPDATE on a slow rollout, stopped at once.
            op = cf.update_stack_set(
                StackSetName=kwargs, UsePreviousTemplate=True,
                OperationPreferences={"MaxConcurrentCount": 1},
            )["OperationId"]
            action, kwargs = "StopStackSetOperation", dict(StackSetName=kwargs, OperationId=op)
        getattr(cf, snake(action))(**kwargs)
        called.add(action)
        problems += walk_response(action, raw.body)
    assert not problems, "\n".join(problems)
    assert called == set(ACTIONS), f"not exercised: {set(ACTIONS) - called}"


def test_the_walk_catches_what_it_should():
    """The walker itself must be able to fail: feed it wrong answers."""
    good = (
        f'<DescribeStackSetResponse xmlns="{NS[1:-1]}"><DescribeStackSetResult><StackSet>'
        "<StackSetName>a</StackSetName><Status>ACTIVE</Status></StackSet></DescribeStackSetResult>"
        "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStackSetResponse>"
    )
    assert walk_response("DescribeStackSet", good) == []
    for broken in (
        good.replace("<Status>ACTIVE", "<Status>ALIVE"),
        good.replace("<StackSetName>a</StackSetName>", "<StackSetName>a</StackSetName><Colour>x</Colour>"),
        good.replace("<Status>ACTIVE</Status>", "<Regions><item>x</item></Regions>"),
        good.replace("<Status>ACTIVE</Status>", "<ManagedExecution><Active>yes</Active></ManagedExecution>"),
        good.replace("<RequestId>r</RequestId>", ""),
    ):
        assert walk_response("DescribeStackSet", broken), broken
    summary = (
        f'<ListStackSetOperationResultsResponse xmlns="{NS[1:-1]}"><ListStackSetOperationResultsResult>'
        "<Summaries><member><Account>12345</Account></member></Summaries>"
        "</ListStackSetOperationResultsResult><ResponseMetadata><RequestId>r</RequestId>"
        "</ResponseMetadata></ListStackSetOperationResultsResponse>"
    )
    assert any("does not match" in p for p in walk_response("ListStackSetOperationResults", summary))


# ---- inputs --------------------------------------------------------------------------------

def bad_string(shape):
    """A value breaking the string shape's pattern (within its length limits), if one is found."""
    meta = shape.metadata
    pat = meta.get("pattern")
    if not pat:
        return None
    try:
        rx = java_pattern(pat)
    except re.error:
        return None
    lo, hi = meta.get("min", 1), meta.get("max", 10_000)
    for cand in ("-abc", "a b", "!!!!!!", "_", "x y z q", "ABC", "0", "@", "us_east_1", "ou-x"):
        if lo <= len(cand) <= hi and not rx.match(cand):
            return cand
    return None


def violations(shape, depth=0):
    """(member path, value or MISSING) pairs, each breaking one constraint of `shape`'s members."""
    out = []
    if depth > 3:
        return out
    for name, m in shape.members.items():
        if name in shape.required_members:
            out.append(((name,), MISSING))
        meta = m.metadata
        if m.type_name == "string":
            if m.enum:
                out.append(((name,), "NOT_IN_THE_ENUM"))
            elif "max" in meta and meta["max"] < 60_000:
                out.append(((name,), "x" * (meta["max"] + 1)))
            if "min" in meta and meta["min"] > 1:
                out.append(((name,), "x" * (meta["min"] - 1)))
            bad = bad_string(m)
            if bad is not None and not m.enum:
                out.append(((name,), bad))
        elif m.type_name in ("integer", "long"):
            if "min" in meta:
                out.append(((name,), meta["min"] - 1))
            if "max" in meta:
                out.append(((name,), meta["max"] + 1))
        # Booleans are left out: botocore serializes any value as true/false, so a bad one
        # cannot be sent through it (the emulator's own unit tests cover them).
        elif m.type_name == "structure":
            for path, v in violations(m, depth + 1):
                out.append(((name, *path), v))
        elif m.type_name == "list":
            if "max" in meta and meta["max"] <= 100:
                out.append(((name,), TOO_MANY))
            item = m.member
            if item.type_name == "string":
                bad = "NOT_IN_THE_ENUM" if item.enum else bad_string(item)
                if bad is not None:
                    out.append(((name,), [bad]))
    return out


MISSING = object()
TOO_MANY = object()


def valid_inputs():
    """A valid request per action (against the `vi` stack set) to break one member at a time."""
    ss = "vi"
    op = "walk-op-1"
    prefs = {"MaxConcurrentCount": 1, "FailureToleranceCount": 0}
    return {
        "CreateStackSet": dict(StackSetName="vi-new", TemplateBody="Resources: {}",
                               Tags=[{"Key": "k", "Value": "v"}],
                               Parameters=[{"ParameterKey": "k", "ParameterValue": "v"}],
                               AutoDeployment={"Enabled": False, "RetainStacksOnAccountRemoval": False},
                               ManagedExecution={"Active": False}, PermissionModel="SELF_MANAGED"),
        "DescribeStackSet": dict(StackSetName=ss),
        "ListStackSets": dict(MaxResults=5, Status="ACTIVE"),
        "DeleteStackSet": dict(StackSetName=ss),
        "UpdateStackSet": dict(StackSetName=ss, UsePreviousTemplate=True, OperationPreferences=prefs,
                               Tags=[{"Key": "k", "Value": "v"}],
                               Parameters=[{"ParameterKey": "k", "ParameterValue": "v"}]),
        "CreateStackInstances": dict(StackSetName=ss, Accounts=[ACCOUNTS[0]], Regions=["us-east-1"],
                                     OperationPreferences=prefs),
        "UpdateStackInstances": dict(StackSetName=ss, Accounts=[ACCOUNTS[0]], Regions=["us-east-1"],
                                     OperationPreferences=prefs),
        "DeleteStackInstances": dict(StackSetName=ss, Accounts=[ACCOUNTS[0]], Regions=["us-east-1"],
                                     RetainStacks=False, OperationPreferences=prefs),
        "ListStackInstances": dict(StackSetName=ss, MaxResults=5,
                                   Filters=[{"Name": "DETAILED_STATUS", "Values": "SUCCEEDED"}],
                                   StackInstanceAccount=ACCOUNTS[0], StackInstanceRegion="us-east-1"),
        "DescribeStackInstance": dict(StackSetName=ss, StackInstanceAccount=ACCOUNTS[0],
                                      StackInstanceRegion="us-east-1"),
        "ListStackSetOperations": dict(StackSetName=ss, MaxResults=5),
        "DescribeStackSetOperation": dict(StackSetName=ss, OperationId=op),
        "ListStackSetOperationResults": dict(
            StackSetName=ss, OperationId=op, MaxResults=5,
            Filters=[{"Name": "OPERATION_RESULT_STATUS", "Values": "SUCCEEDED"}]),
        "StopStackSetOperation": dict(StackSetName=ss, OperationId=op),
    }


def set_path(kwargs, path, value, shape):
    """A copy of kwargs with the member at `path` replaced (or removed, or over-filled)."""
    out = dict(kwargs)
    cur, s = out, shape
    for p in path[:-1]:
        cur[p] = dict(cur.get(p) or {})
        cur, s = cur[p], s.members[p]
    last = path[-1]
    m = s.members[last]
    if value is MISSING:
        cur.pop(last, None)
    elif value is TOO_MANY:
        n = m.metadata["max"] + 1
        item = m.member
        if item.type_name == "structure":
            proto = dict(cur.get(last, [{}])[0]) if cur.get(last) else {}
            cur[last] = [dict(proto) for _ in range(n)]
            for i, it in enumerate(cur[last]):
                for k in item.members:
                    if item.members[k].type_name == "string" and not item.members[k].enum and k in it:
                        it[k] = f"{it[k][:100]}{i}"
        else:
            cur[last] = [f"{123456000000 + i:012d}" if "ccount" in last else f"us-east-{i}" for i in range(n)]
    else:
        cur[last] = value
    return out


def test_inputs_breaking_the_model_get_validation_error(sim):
    cf = sim
    cf.create_stack_set(StackSetName="vi", TemplateBody="Resources: {}")
    cf.create_stack_instances(StackSetName="vi", Accounts=[ACCOUNTS[0]], Regions=["us-east-1"],
                              OperationId="walk-op-1")
    wait_idle(cf, "vi")
    wrong, tried = [], 0
    inputs = valid_inputs()
    assert set(inputs) == set(ACTIONS)
    for action in ACTIONS:
        shape = MODEL.operation_model(action).input_shape
        base = inputs[action]
        for path, value in violations(shape):
            # Lists of structures are broken through their first item.
            if any(shape_at(shape, path[:i]).type_name == "list" for i in range(1, len(path))):
                continue
            if value is MISSING and len(path) > 1 and path[0] not in base:
                continue  # a member of an optional structure the base request leaves out
            kwargs = set_path(base, path, value, shape)
            tried += 1
            try:
                getattr(cf, snake(action))(**kwargs)
                got = "accepted"
            except ClientError as e:
                got = e.response["Error"]["Code"]
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                if got == "ValidationError" and status != 400:
                    got = f"ValidationError with HTTP {status}"
            if got != "ValidationError":
                shown = "MISSING" if value is MISSING else "TOO_MANY" if value is TOO_MANY else repr(value)[:40]
                wrong.append(f"{action} {'.'.join(path)}={shown}: {got}")
    assert tried > 100, tried
    assert not wrong, "\n".join(wrong)
    # Whatever was tried, the valid requests still work (nothing was changed by a bad one).
    assert cf.describe_stack_set(StackSetName="vi")["StackSet"]["StackSetName"] == "vi"


def shape_at(shape, path):
    for p in path:
        shape = shape.members[p]
    return shape


def test_the_embedded_input_model_matches_botocore():
    embedded = (input_model.ROOT / "src/sim/input_model.json").read_text()
    assert embedded == input_model.render(), (
        "src/sim/input_model.json is stale: run python tests/boto3/input_model.py > src/sim/input_model.json"
    )


def test_unknown_action_is_refused(sim):
    raw = Raw(sim)
    with pytest.raises(ClientError):
        sim._make_api_call("DescribeStacks", {})  # not a StackSet action: not emulated
    assert b"InvalidAction" in raw.body

