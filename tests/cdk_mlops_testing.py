"""Helpers shared by the construct tests: rendering CloudFormation values and state machine definitions,
finding resources and IAM statements in synthesized templates, and building small test stacks.

Imported by the test modules (``tests/conftest.py`` puts this folder on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Frozen copies of the example models (tests/fixtures/README.md): tests never read the repository's models/.
MODELS_DIR = REPO_ROOT / "tests" / "fixtures" / "models"
REGION = "eu-west-1"
ACCOUNT = "123456789012"

#: Standalone test stacks import the shared resources from these ARNs (as the model stacks do).
BUCKET_ARN = "arn:aws:s3:::mlops-artifacts"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

#: The platform stack's exports, as the example app's model stacks import them. Their names derive
#: from the pinned logical IDs of the key and the bucket (see test_platform.py).
KEY_EXPORT = "Mlops-Platform:ExportsOutputFnGetAttKey961B73FDArn5A860C43"
BUCKET_EXPORT = "Mlops-Platform:ExportsOutputFnGetAttArtifacts82DD59A1Arn3B515032"
#: ``render`` placeholders of the imported key ARN and bucket name.
KEY = f"${{Import({KEY_EXPORT})}}"
BUCKET_NAME = f"${{BucketName(Import({BUCKET_EXPORT}))}}"


# ---- rendering -------------------------------------------------------------------------------------


def token_expression(value: Any) -> str:
    """A readable, quote-free name for a CloudFormation intrinsic: ``AWS::Partition``,
    ``Role1234.Arn``, ``Import(<export>)``, ``BucketName(<arn>)`` (the name taken from a bucket ARN)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    ((function, argument),) = value.items()
    if function == "Ref":
        return str(argument)
    if function == "Fn::GetAtt":
        return ".".join(argument)
    if function == "Fn::ImportValue":
        return f"Import({token_expression(argument)})"
    if function == "Fn::Select":
        index, inner = argument
        # Select(0, Split("/", Select(5, Split(":", <bucket ARN>)))) is how CDK takes a bucket's name.
        if (
            index == 0
            and isinstance(inner, dict)
            and inner.get("Fn::Split", [None])[0] == "/"
            and isinstance(inner["Fn::Split"][1], dict)
            and inner["Fn::Split"][1].get("Fn::Select", [None])[0] == 5
        ):
            arn_split = inner["Fn::Split"][1]["Fn::Select"][1]
            if isinstance(arn_split, dict) and arn_split.get("Fn::Split", [None])[0] == ":":
                return f"BucketName({token_expression(arn_split['Fn::Split'][1])})"
        return f"Select({index},{token_expression(inner)})"
    if function == "Fn::Split":
        return f"Split({argument[0]},{token_expression(argument[1])})"
    if function == "Fn::Join":
        return f"Join({argument[0]},{','.join(token_expression(part) for part in argument[1])})"
    if function == "Fn::Sub":
        return f"Sub({argument if isinstance(argument, str) else argument[0]})"
    raise ValueError(f"no placeholder for {value!r}")


def render(value: Any) -> str:
    """A string-valued CloudFormation expression (a string, an ``Fn::Join`` or one intrinsic) as one
    string, every intrinsic replaced by ``${<token_expression>}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(part if isinstance(part, str) else f"${{{token_expression(part)}}}" for part in parts)
    return f"${{{token_expression(value)}}}"


def render_definition(definition_string: Any) -> dict[str, Any]:
    """A state machine's ``DefinitionString`` parsed as JSON, tokens replaced by placeholders."""
    return json.loads(render(definition_string))


# ---- templates -------------------------------------------------------------------------------------


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The resources of one type, by logical ID."""
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def only_resource(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    """The one resource of ``resource_type`` (fails when there are none or several)."""
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def construct_resource(template: dict[str, Any], resource_type: str, logical_id_prefix: str) -> tuple[str, dict]:
    """The resource whose logical ID is ``logical_id_prefix`` plus CDK's 8-digit hash."""
    pattern = re.compile(rf"^{re.escape(logical_id_prefix)}[0-9A-F]{{8}}$")
    found = {key: value for key, value in resources(template, resource_type).items() if pattern.match(key)}
    assert len(found) == 1, f"expected one {resource_type} {logical_id_prefix}*, found {sorted(found)}"
    return next(iter(found.items()))


def state_machine(template: dict[str, Any], logical_id_prefix: str) -> dict[str, Any]:
    """The properties of the state machine whose logical ID starts with ``logical_id_prefix``."""
    return construct_resource(template, "AWS::StepFunctions::StateMachine", logical_id_prefix)[1]["Properties"]


def definition(template: dict[str, Any], logical_id_prefix: str) -> dict[str, Any]:
    """The rendered definition of a state machine (see ``state_machine``)."""
    return render_definition(state_machine(template, logical_id_prefix)["DefinitionString"])


def happy_path(definition_: dict[str, Any], choices: dict[str, str] | None = None) -> list[str]:
    """The states a successful execution visits: Next links; for a Choice, the state ``choices``
    names for it, else its last rule (the quality gates list the passing comparison after the
    IsPresent guard)."""
    states = definition_["States"]
    choices = choices or {}
    path = [definition_["StartAt"]]
    while True:
        state = states[path[-1]]
        if state["Type"] == "Choice":
            following = choices.get(path[-1], state["Choices"][-1]["Next"])
            assert following in {rule["Next"] for rule in state["Choices"]} | {state.get("Default")}
        elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
            return path
        else:
            following = state["Next"]
        assert following not in path, f"loop at {following}"
        path.append(following)


@dataclasses.dataclass(frozen=True)
class Statement:
    """One IAM statement and the policy it belongs to."""

    policy_id: str
    roles: tuple[str, ...]
    body: dict[str, Any]

    @property
    def actions(self) -> list[str]:
        action = self.body["Action"]
        return [action] if isinstance(action, str) else list(action)

    @property
    def resources(self) -> list[Any]:
        resource = self.body["Resource"]
        return resource if isinstance(resource, list) else [resource]

    def allows(self, action: str) -> bool:
        return self.body["Effect"] == "Allow" and action.lower() in {a.lower() for a in self.actions}


def statements(template: dict[str, Any]) -> Iterator[Statement]:
    """Every statement of every ``AWS::IAM::Policy`` in the template."""
    for policy_id, policy in resources(template, "AWS::IAM::Policy").items():
        roles = tuple(role["Ref"] for role in policy["Properties"].get("Roles", []))
        for body in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield Statement(policy_id, roles, body)


def role_statements(template: dict[str, Any], role_id: str) -> list[Statement]:
    """The statements of the policies attached to role ``role_id``."""
    return [statement for statement in statements(template) if role_id in statement.roles]


def state_machine_role_id(template: dict[str, Any], logical_id_prefix: str) -> str:
    """The logical ID of the role a state machine runs as."""
    role_arn = state_machine(template, logical_id_prefix)["RoleArn"]
    return role_arn["Fn::GetAtt"][0]


# ---- model configurations --------------------------------------------------------------------------


def example_config_data(model: str) -> dict[str, Any]:
    """A fresh copy of the fixture ``<MODELS_DIR>/<model>/model.yaml`` as parsed YAML."""
    data = yaml.safe_load((MODELS_DIR / model / "model.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def write_model(models_dir: Path, folder: str, data: dict[str, Any] | str) -> Path:
    """Writes ``<models_dir>/<folder>/model.yaml`` (a mapping is dumped as YAML) and returns its path."""
    path = models_dir / folder / "model.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def referenced_scripts(data: dict[str, Any]) -> list[str]:
    """The ``src/`` files a parsed model.yaml names (entry point, preprocessing, evaluation, drift)."""
    scripts = [(data.get("training") or {}).get("entry_point"), (data.get("preprocessing") or {}).get("script")]
    scripts.append(((data.get("evaluation") or {}).get("job") or {}).get("script"))
    if "drift" in data:
        scripts.append((data["drift"] or {}).get("script", "drift.py"))
    return [script for script in scripts if script]


def write_model_with_code(models_dir: Path, data: dict[str, Any]) -> Path:
    """A model folder that passes the plan's folder checks: ``<models_dir>/<name>/model.yaml`` with
    ``source.path`` ``models/<name>`` unless it sets one (so put ``models_dir`` in a folder named ``models``),
    and a one-line stub of every ``src/`` file the config names. Returns the model.yaml path."""
    data = copy.deepcopy(data)
    data.setdefault("source", {}).setdefault("path", f"models/{data['name']}")
    path = write_model(models_dir, data["name"], data)
    for script in referenced_scripts(data):
        stub = path.parent / "src" / script
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text('"""A stand-in for the model\'s code."""\n', encoding="utf-8")
    return path


def assert_matches(actual: Any, pattern: Any) -> None:
    """Checks ``actual`` against an ``aws_cdk.assertions`` matcher (``Match.serialized_json(...)``...)."""
    result = pattern.test(actual)
    assert not result.has_failed(), result.render_mismatch()


#: The states a successful production rollout to another region visits.
REGIONAL_ROLLOUT_PATH = [
    "ResolveModelPackage",
    "DescribeModelPackage",
    "ReplicateModel",
    "UpdateEndpointStack",
    "WaitForStack",
    "DescribeEndpointStack",
    "StackUpdated?",
    "Deployed",
    "ApproveModelPackage",
    "TagRelease",
    "Done",
]


# ---- Lambda handlers -------------------------------------------------------------------------------


@contextlib.contextmanager
def offline_aws(monkeypatch: Any, region: str, handler: ModuleType) -> Iterator[None]:
    """Fake credentials and ``region`` (``AWS_REGION``, as Lambda sets it), fresh moto backends, and no
    client ``handler`` cached in another test (its ``reset_clients``), before and after."""
    from moto import mock_aws

    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    handler.reset_clients()
    with mock_aws():
        yield
    handler.reset_clients()
