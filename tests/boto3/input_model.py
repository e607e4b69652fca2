"""The input constraints of the actions `sstop sim` implements, cut from botocore's service model.

`python tests/boto3/input_model.py > src/sim/input_model.json` regenerates the emulator's copy;
test_model_walk.py fails when that copy and the installed botocore disagree.
"""

import json
import re
from pathlib import Path

import botocore.session

ROOT = Path(__file__).resolve().parents[2]
KEEP = ("min", "max", "pattern")


def implemented_actions():
    """The emulator's ACTIONS list, read from its source so a new action cannot be missed."""
    text = (ROOT / "src/sim/api.rs").read_text()
    block = text.split("pub const ACTIONS")[1].split("];")[0]
    return re.findall(r'"(\w+)"', block)


def service_model():
    return botocore.session.get_session().get_service_model("cloudformation")


def input_model():
    model = service_model()
    shapes = {}

    def add(shape):
        if shape.name in shapes:
            return
        entry = {"type": shape.type_name}
        shapes[shape.name] = entry
        for k in KEEP:
            if k in shape.metadata:
                entry[k] = shape.metadata[k]
        if shape.metadata.get("enum"):
            entry["enum"] = list(shape.metadata["enum"])
        if shape.type_name == "structure":
            entry["members"] = {n: m.name for n, m in shape.members.items()}
            if shape.required_members:
                entry["required"] = list(shape.required_members)
            for m in shape.members.values():
                add(m)
        elif shape.type_name == "list":
            entry["member"] = shape.member.name
            add(shape.member)

    actions = {}
    for action in implemented_actions():
        shape = model.operation_model(action).input_shape
        actions[action] = shape.name
        add(shape)
    return {"actions": actions, "shapes": dict(sorted(shapes.items()))}


def render():
    return json.dumps(input_model(), indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
