"""KMS grants of the workflow roles: scoped to what each state machine's states do, none that never match.

aws-cdk-lib's ``CustomerManagedEncryptionConfiguration`` conditions its grant on the encryption context
``kms:EncryptionContext:aws:states:stateMachineArn = arn:...:stateMachine:<name>``, and a state machine
without a physical name has an empty name there, so the statement never matches (Step Functions
developer guide, "Data at rest encryption", documents the context:
https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html). cdk-mlops grants the key
for the machine's own ARN instead (``workflow_defaults.encrypt_state_machine``), and every other use of the
key through the service that makes it (``kms:ViaService``) or for the execution data it reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest

from cdk_mlops.app_builder import build_app
from cdk_mlops_testing import REPO_ROOT, render, render_definition, resources

CONTEXT = "kms:EncryptionContext:aws:states:stateMachineArn"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def example_templates() -> dict[str, dict[str, Any]]:
    app = cdk.App(builtin_cloud_formation_validation=False)
    build_app(app, REPO_ROOT / "examples", region=REGION)
    return {stack.stack_name: stack.template for stack in app.synth().stacks}


@pytest.fixture(scope="module")
def templates(example_app: Any, example_templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The example app's templates and the examples', by stack name."""
    return {**example_app.json, **example_templates}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(template: dict[str, Any], role_id: str | None = None) -> Iterator[dict[str, Any]]:
    """Every statement of the template's ``AWS::IAM::Policy`` resources (attached to ``role_id`` if set)."""
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles", [])
        if role_id is None or {"Ref": role_id} in roles:
            yield from policy["Properties"]["PolicyDocument"]["Statement"]


def kms_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [st for st in statements(template, role_id) if any(a.startswith("kms:") for a in as_list(st["Action"]))]


def workflows(templates: dict[str, dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], str, str, dict[str, Any]]]:
    """``(stack, template, state machine id, its role id, its definition)`` of every state machine."""
    for stack, template in templates.items():
        for machine_id, machine in resources(template, "AWS::StepFunctions::StateMachine").items():
            role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
            yield stack, template, machine_id, role_id, render_definition(machine["Properties"]["DefinitionString"])


def task_resources(definition: dict[str, Any]) -> list[str]:
    found = []
    for state in definition["States"].values():
        found.append(str(state.get("Resource", "")))
        for branch in state.get("Branches", []):
            found += task_resources(branch)
    return found


def allows(statement: dict[str, Any], *actions: str) -> bool:
    return set(actions) <= set(as_list(statement["Action"]))


def test_no_statement_is_conditioned_on_an_empty_state_machine_name(templates) -> None:
    checked = 0
    for stack, template in templates.items():
        for statement in statements(template):
            for condition in statement.get("Condition", {}).values():
                if CONTEXT in condition:
                    checked += 1
                    for value in as_list(condition[CONTEXT]):
                        assert not render(value).endswith(":stateMachine:"), (stack, statement)
    assert checked >= 10, "every workflow role has a grant conditioned on its state machine's ARN"


def test_every_workflow_role_may_use_the_key_for_its_own_execution_data(templates) -> None:
    machines = list(workflows(templates))
    assert len(machines) >= 10
    for stack, template, machine_id, role_id, _ in machines:
        own = [
            st
            for st in kms_statements(template, role_id)
            if st.get("Condition") == {"StringEquals": {CONTEXT: {"Ref": machine_id}}}
        ]
        assert len(own) == 1, (stack, machine_id)
        assert allows(own[0], "kms:Decrypt", "kms:GenerateDataKey"), (stack, machine_id)


def test_every_workflow_role_may_encrypt_its_log_delivery(templates) -> None:
    for stack, template, machine_id, role_id, _ in workflows(templates):
        logs = [
            st
            for st in kms_statements(template, role_id)
            if "kms:EncryptionContext:SourceArn" in st.get("Condition", {}).get("StringEquals", {})
        ]
        assert len(logs) == 1, (stack, machine_id)
        assert as_list(logs[0]["Action"]) == ["kms:GenerateDataKey"]
        arn = render(logs[0]["Condition"]["StringEquals"]["kms:EncryptionContext:SourceArn"])
        assert arn == f"arn:${{AWS::Partition}}:logs:{REGION}:${{AWS::AccountId}}:*", (stack, machine_id)


def via(template: dict[str, Any], role_id: str, service: str) -> list[dict[str, Any]]:
    condition = {"StringEquals": {"kms:ViaService": f"{service}.{REGION}.amazonaws.com"}}
    return [st for st in kms_statements(template, role_id) if st.get("Condition") == condition]


def test_a_workflow_that_publishes_may_use_the_key_through_sns_only_and_never_encrypt(templates) -> None:
    """Publishing to an SSE-KMS topic needs ``kms:GenerateDataKey`` and ``kms:Decrypt`` (SNS developer
    guide, "Encryption at rest"), not ``kms:Encrypt``."""
    publishers = 0
    for stack, template, machine_id, role_id, definition in workflows(templates):
        if not any(resource.endswith(":sns:publish") for resource in task_resources(definition)):
            continue
        publishers += 1
        [sns] = via(template, role_id, "sns")
        assert sorted(as_list(sns["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"], (stack, machine_id)
    assert publishers >= 10


def test_a_workflow_that_reads_s3_objects_may_decrypt_through_s3(templates) -> None:
    readers = 0
    for stack, template, machine_id, role_id, definition in workflows(templates):
        if not any(resource.endswith(":s3:getObject") for resource in task_resources(definition)):
            continue
        readers += 1
        [s3] = via(template, role_id, "s3")
        assert as_list(s3["Action"]) == ["kms:Decrypt"], (stack, machine_id)
    assert readers >= 2  # an evaluation report and a drift score


def test_a_workflow_that_describes_a_training_execution_may_decrypt_that_machines_data(templates) -> None:
    """``DescribeExecution`` of an execution of a CMK-encrypted state machine needs ``kms:Decrypt`` in that
    machine's encryption context (Step Functions, "Data at rest encryption")."""
    describers = 0
    for stack, template, machine_id, role_id, definition in workflows(templates):
        if not any(resource.endswith(":sfn:describeExecution") for resource in task_resources(definition)):
            continue
        describers += 1
        training = [m for m in resources(template, "AWS::StepFunctions::StateMachine") if "Training" in m]
        reads = [
            st
            for st in kms_statements(template, role_id)
            if st.get("Condition") == {"StringEquals": {CONTEXT: {"Ref": training[0]}}}
        ]
        assert [as_list(st["Action"]) for st in reads] == [["kms:Decrypt"]], (stack, machine_id)
    assert describers >= 4


def test_no_workflow_role_may_use_the_key_unconditioned_or_encrypt_with_it(templates) -> None:
    for stack, template, machine_id, role_id, _ in workflows(templates):
        for statement in kms_statements(template, role_id):
            assert "Condition" in statement, (stack, machine_id, statement)
            assert "kms:Encrypt" not in as_list(statement["Action"]), (stack, machine_id, statement)


def test_the_state_machine_is_encrypted_with_the_customer_managed_key(templates) -> None:
    for stack, template, machine_id, _, _ in workflows(templates):
        configuration = resources(template, "AWS::StepFunctions::StateMachine")[machine_id]["Properties"][
            "EncryptionConfiguration"
        ]
        assert configuration["Type"] == "CUSTOMER_MANAGED_KMS_KEY", (stack, machine_id)
        assert configuration["KmsDataKeyReusePeriodSeconds"] == 300
        assert "KmsKeyId" in configuration
