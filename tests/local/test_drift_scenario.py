"""The churn-xgb drift workflow, as synthesized, on the local engine: the processing job completes, the
score file is read and the score is published as the ``cdk-mlops`` ``DriftScore`` metric."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cdk_mlops.local.engine import JobOutcome, LocalEngine
from cdk_mlops.local.harness import FAKE_BUCKET, TokenResolver, synthesize_templates

MODELS_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "models"  # frozen copies, not models/
STACK = "Mlops-churn-xgb-Pipeline"


def _drift_definition() -> tuple[str, dict]:
    definitions = TokenResolver(synthesize_templates(MODELS_DIR)).state_machine_definitions(STACK)
    [(logical_id, definition)] = [
        (key, value) for key, value in definitions.items() if key.startswith("MlPipelineDrift") and "Role" not in key
    ]
    return logical_id, definition


def test_drift_check_publishes_the_score(engine: LocalEngine) -> None:
    logical_id, definition = _drift_definition()
    name = "drift-0001"
    engine.sagemaker.script_processing_job(JobOutcome.completed({}), name_contains="-drift")
    engine.s3_put_json(FAKE_BUCKET, f"churn-xgb/drift/{name}/drift.json", {"drift_score": 0.31})

    result = engine.run(json.dumps(definition), input={}, name=name, state_machine_name=logical_id)

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == ["Initialize", "DetectDrift", "ReadDriftScore", "PublishDriftScore", "DriftChecked"]
    [job] = engine.sagemaker_state()["processing_jobs"].values()
    assert job["ProcessingJobName"] == f"churn-xgb-{hashlib.md5(name.encode()).hexdigest()}-drift"  # run_names
    metrics = engine.client("cloudwatch").list_metrics(Namespace="cdk-mlops", MetricName="DriftScore")["Metrics"]
    assert metrics == [
        {"Namespace": "cdk-mlops", "MetricName": "DriftScore", "Dimensions": [{"Name": "Model", "Value": "churn-xgb"}]}
    ]
    assert engine.notifications == []


def test_missing_score_notifies_and_fails(engine: LocalEngine) -> None:
    logical_id, definition = _drift_definition()
    engine.sagemaker.script_processing_job(JobOutcome.completed({}), name_contains="-drift")

    result = engine.run(json.dumps(definition), input={}, name="drift-0002", state_machine_name=logical_id)

    assert result.status == "FAILED"
    assert result.states_entered[-3:] == ["QuoteErrorCause", "NotifyFailure", "DriftCheckFailed"]
    [notification] = engine.notifications
    # no score file (nor bucket) in this engine: the S3 error is quoted after the failed state
    assert notification.message.startswith("churn-xgb drift check failed at ReadDriftScore: S3.NoSuch")
