"""The subclass API as a unit: every hook's types come from ``cdk_mlops`` alone, every hook's docstring
holds a complete override that synthesizes as written, a hook that returns the wrong thing is named at
synthesis (``HookReturnError``, never a jsii traceback), and the README's subclass snippet synthesizes
as it stands."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import cdk_mlops
from cdk_mlops.constructs.hooks import HookReturnError, hook_contracts
from cdk_mlops.constructs.ml_pipeline import MlPipelineBase
from cdk_mlops_testing import REPO_ROOT, render

#: The names a hook author needs, and the module each one is defined in.
HOOK_TYPES = {
    "MlPipeline": "cdk_mlops.constructs.ml_pipeline",
    "MlPipelineBase": "cdk_mlops.constructs.ml_pipeline",
    "WorkflowContext": "cdk_mlops.constructs.workflow_context",
    "RunPaths": "cdk_mlops.constructs.workflow_context",
    "Step": "cdk_mlops.constructs.workflow_steps",
    "EvaluationStep": "cdk_mlops.constructs.workflow_steps",
    "Notify": "cdk_mlops.constructs.workflow_steps",
    "MetricThreshold": "cdk_mlops.config.model_config",
    "default_preprocessing_step": "cdk_mlops.constructs.workflow_steps",
    "default_training_step": "cdk_mlops.constructs.workflow_steps",
    "default_evaluation_step": "cdk_mlops.constructs.workflow_steps",
    "training_metrics_step": "cdk_mlops.constructs.workflow_steps",
    "evaluation_job_step": "cdk_mlops.constructs.workflow_steps",
    "default_quality_gate": "cdk_mlops.constructs.workflow_steps",
    "default_registration_step": "cdk_mlops.constructs.workflow_steps",
    "SmokeTestWorkflow": "cdk_mlops.constructs.smoke_test_workflow",
    "DriftCheck": "cdk_mlops.constructs.drift_check",
    "BatchTransformWorkflow": "cdk_mlops.constructs.batch_transform_workflow",
    "HookReturnError": "cdk_mlops.constructs.hooks",
}

SOURCE = """\
source:
  provider: codeconnections
  connection_arn: arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000
  repository: example-org/ml-models
  path: models/{name}
"""

ENDPOINT_MODEL = """\
name: {name}
{source}framework:
  name: xgboost
  version: "1.7-1"
training:
  hyperparameters: {{objective: "binary:logistic", eval_metric: auc, num_round: 10}}
evaluation:
  source: {evaluation}
{evaluation_job}quality_gate:
  - metric: validation:auc
    threshold: 0.8
endpoints:
  data_capture:
    enabled: true
drift:
  script: drift.py
notification_email: ml-team@example.com
pipeline_class: pipeline.py:MyPipeline
"""

BATCH_MODEL = """\
name: {name}
{source}framework:
  name: xgboost
  version: "1.7-1"
training:
  hyperparameters: {{objective: "binary:logistic", num_round: 10}}
inference: batch
batch:
  instance_count: 3
notification_email: ml-team@example.com
pipeline_class: pipeline.py:MyPipeline
"""

IRIS_MODEL = """\
name: iris-readme
{source}framework:
  name: sklearn
  version: "1.2-1"
training:
  entry_point: train.py
evaluation:
  source: evaluation_job
  job:
    script: evaluate.py
quality_gate:
  - metric: metrics.accuracy
    threshold: 0.9
notification_email: ml-team@example.com
pipeline_class: pipeline.py:IrisPipeline
"""


def _docstring_example(hook: str) -> str:
    """The code block (``Example ...::``) of ``MlPipelineBase.<hook>``'s docstring, dedented."""
    doc = getattr(MlPipelineBase, hook).__doc__ or ""
    match = re.search(r"Example \(a complete override[^\n]*::\n\n((?:[ \t]+\S[^\n]*\n|\n)+)", doc + "\n")
    assert match, f"MlPipelineBase.{hook} has no 'Example (a complete override ...)::' block"
    return textwrap.dedent(match.group(1)).strip() + "\n"


def _write_model(models_dir: Path, name: str, model_yaml: str, pipeline: str) -> None:
    folder = models_dir / name
    (folder / "src").mkdir(parents=True)
    (folder / "model.yaml").write_text(model_yaml, encoding="utf-8")
    (folder / "pipeline.py").write_text(pipeline, encoding="utf-8")
    for script in ("drift.py", "train.py", "evaluate.py"):
        (folder / "src" / script).write_text("print('placeholder')\n", encoding="utf-8")


def _endpoint_model(name: str, *, evaluation_job: bool = False) -> str:
    job = "  job:\n    script: evaluate.py\n" if evaluation_job else ""
    return ENDPOINT_MODEL.format(
        name=name,
        source=SOURCE.format(name=name),
        evaluation="evaluation_job" if evaluation_job else "training_metrics",
        evaluation_job=job,
    )


def _synthesize(models_dir: Path, outdir: Path) -> dict[str, dict[str, Any]]:
    import aws_cdk as cdk

    from cdk_mlops.app_builder import build_app, enable_compliance_checks

    app = cdk.App(outdir=str(outdir), builtin_cloud_formation_validation=False)
    enable_compliance_checks(app)  # cdk-nag on, as in app.py: an example must not add a finding
    build_app(app, models_dir, region="eu-west-1", account="123456789012")
    assembly = app.synth()
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in Path(assembly.directory).glob("*.template.json")
    }


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [resource for resource in template["Resources"].values() if resource["Type"] == kind]


def _definitions(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        json.loads(render(machine["Properties"]["DefinitionString"]))
        for machine in _resources(template, "AWS::StepFunctions::StateMachine")
    ]


def _training(template: dict[str, Any]) -> dict[str, Any]:
    (training,) = [definition for definition in _definitions(template) if "RegisterModel" in definition["States"]]
    return training


def _hook_names() -> list[str]:
    return sorted(hook_contracts())


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each hook's docstring example as the pipeline class of its own model, all in one app: the
    pipeline stack template of each, by hook."""
    root = tmp_path_factory.mktemp("repository")
    models_dir = root / "models"
    names = {}
    for index, hook in enumerate(_hook_names()):
        name = f"hook{index}"
        names[hook] = name
        model = (
            BATCH_MODEL.format(name=name, source=SOURCE.format(name=name))
            if hook == "batch_transform_workflow"
            else _endpoint_model(name, evaluation_job=hook == "evaluation_step")
        )
        _write_model(models_dir, name, model, _docstring_example(hook))
    templates = _synthesize(models_dir, root / "cdk.out")
    return {hook: templates[f"Mlops-{name}-Pipeline"] for hook, name in names.items()}


def test_every_hook_type_is_importable_from_cdk_mlops_as_the_object_its_module_defines() -> None:
    import importlib

    for name, module in HOOK_TYPES.items():
        assert name in cdk_mlops.__all__, name
        assert getattr(cdk_mlops, name) is getattr(importlib.import_module(module), name), name


def test_the_checked_hooks_are_the_ones_the_base_class_documents() -> None:
    paragraph = (MlPipelineBase.__doc__ or "").split("Every step comes from")[1].split(".")[0]
    documented = {name for name in re.findall(r"``(\w+)``", paragraph) if callable(getattr(MlPipelineBase, name, None))}

    assert sorted(documented) == _hook_names()


@pytest.mark.parametrize("hook", _hook_names())
def test_every_hook_docstring_holds_a_complete_override_with_its_imports(hook: str) -> None:
    code = _docstring_example(hook)

    assert re.search(rf"^class \w+\(MlPipeline\):\n    def {hook}\(", code, re.MULTILINE), code
    assert re.search(r"^\s+return ", code, re.MULTILINE), code
    compile(code, f"MlPipelineBase.{hook}", "exec")
    names = {
        name
        for line in code.splitlines()
        if line.startswith("from cdk_mlops import")
        for name in re.findall(r"\w+", line.split("import", 1)[1])
    }
    assert names <= set(cdk_mlops.__all__), names - set(cdk_mlops.__all__)


def test_the_image_examples_train_and_serve_with_the_images_they_name(examples: dict[str, dict[str, Any]]) -> None:
    trained = json.dumps(_training(examples["image_uri"]))
    served = json.dumps(_training(examples["inference_image_uri"]))

    assert "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-trainer:1.4" in trained
    assert "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-server:1.4" in served


def test_the_build_spec_example_lints_before_the_tests(examples: dict[str, dict[str, Any]]) -> None:
    (project,) = _resources(examples["build_spec"], "AWS::CodeBuild::Project")

    assert "pip install ruff && ruff check src tests" in render(project["Properties"]["Source"]["BuildSpec"])


def test_the_step_examples_add_their_states_to_the_training_workflow(examples: dict[str, dict[str, Any]]) -> None:
    assert "RecordStart" in _training(examples["preprocessing_step"])["States"]
    assert "BilledSeconds" in _training(examples["training_step"])["States"]
    assert "RegisteredAt" in _training(examples["registration_step"])["States"]


def test_the_evaluation_example_gates_on_training_metrics_although_the_config_asks_for_a_job(
    examples: dict[str, dict[str, Any]],
) -> None:
    states = _training(examples["evaluation_step"])["States"]

    assert "ExtractTrainingMetrics" in states
    assert "createProcessingJob" not in json.dumps(states)


def test_the_quality_gate_example_adds_a_rule(examples: dict[str, dict[str, Any]]) -> None:
    states = _training(examples["quality_gate"])["States"]

    assert {"QualityGate validation_auc", "QualityGate train_auc"} <= set(states)


def test_the_smoke_test_example_allows_500_ms_once(examples: dict[str, dict[str, Any]]) -> None:
    definitions = [json.dumps(d) for d in _definitions(examples["smoke_test"]) if '"MaxLatencyMs"' in json.dumps(d)]

    assert len(definitions) == 1
    assert '"MaxLatencyMs": 500' in definitions[0]


def test_the_drift_example_keeps_the_drift_check_outside_a_sandbox(examples: dict[str, dict[str, Any]]) -> None:
    assert _resources(examples["drift_check"], "AWS::Scheduler::Schedule")


def test_the_batch_example_doubles_the_instances(examples: dict[str, dict[str, Any]]) -> None:
    batch = json.dumps([d for d in _definitions(examples["batch_transform_workflow"]) if "Transform" in d["States"]])

    assert '"InstanceCount": 6' in batch


FORGETFUL = """\
from collections.abc import Sequence

from aws_cdk import aws_stepfunctions as sfn

from cdk_mlops import EvaluationStep, MetricThreshold, MlPipeline, Notify, WorkflowContext, default_quality_gate


class MyPipeline(MlPipeline):
    def quality_gate(
        self,
        ctx: WorkflowContext,
        rules: Sequence[MetricThreshold],
        evaluation: EvaluationStep,
        *,
        on_pass: sfn.IChainable,
        notify: Notify,
    ) -> sfn.IChainable:
        default_quality_gate(ctx, rules, evaluation.metric_path, on_pass=on_pass, notify=notify)
"""

WRONG_KIND = """\
from aws_cdk import aws_stepfunctions as sfn

from cdk_mlops import MlPipeline, Step, WorkflowContext, default_training_step


class MyPipeline(MlPipeline):
    def training_step(self, ctx: WorkflowContext) -> Step:
        return default_training_step(ctx).chain
"""


def test_a_hook_that_forgets_to_return_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    _write_model(models_dir, "forgetful", _endpoint_model("forgetful"), FORGETFUL)

    with pytest.raises(HookReturnError) as raised:
        _synthesize(models_dir, tmp_path / "cdk.out")

    message = str(raised.value)
    assert message.startswith(
        "MyPipeline.quality_gate returned None; expected an sfn.IChainable (a state or chain: the gate's first state) ("
    )
    assert message.endswith(f"{models_dir / 'forgetful' / 'pipeline.py'}:9; did it forget to return?)")


def test_a_hook_that_returns_the_wrong_kind_of_value_says_what_it_returned(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    _write_model(models_dir, "wrongkind", _endpoint_model("wrongkind"), WRONG_KIND)

    with pytest.raises(
        HookReturnError, match=r"^MyPipeline\.training_step returned a Chain \(.*\); expected a Step \("
    ):
        _synthesize(models_dir, tmp_path / "cdk.out")


def test_the_readme_subclass_snippet_synthesizes_as_it_stands(tmp_path: Path) -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Subclass the pipeline\n", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    models_dir = tmp_path / "models"
    _write_model(models_dir, "iris-readme", IRIS_MODEL.format(source=SOURCE.format(name="iris-readme")), snippet)

    templates = _synthesize(models_dir, tmp_path / "cdk.out")

    states = _training(templates["Mlops-iris-readme-Pipeline"])["States"]
    assert {"QualityGate metrics_accuracy", "QualityGate metrics_min_class_recall"} <= set(states)


def test_cdk_synth_of_the_app_reports_a_forgotten_return_in_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    models_dir = tmp_path / "models"
    _write_model(models_dir, "forgetful", _endpoint_model("forgetful"), FORGETFUL)
    context = json.dumps({"models_dir": str(models_dir), "nag": "false"})
    env = {**os.environ, "CDK_CONTEXT_JSON": context, "CDK_OUTDIR": str(tmp_path / "cdk.out")}

    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")], env=env, capture_output=True, text=True, timeout=300, check=False
    )

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: MyPipeline.quality_gate returned None; expected an sfn.IChainable")
