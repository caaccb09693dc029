"""A release dry-run of a model on shared endpoints (inference components) in both stages: the same
deploy workflows update its endpoint stacks' ``ModelPackageArn``, and the smoke test reads the staging
stack's ``InferenceComponentName`` output and sends it with ``InvokeEndpoint`` (SageMaker Runtime API
reference: ``InferenceComponentName``, header ``X-Amzn-SageMaker-Inference-Component``). The model is
written to ``tmp_path``."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from moto.sagemakerruntime.models import SageMakerRuntimeBackend

from cdk_mlops.local.release import ReleaseResult, run_release_scenario
from cdk_mlops_testing import write_model

MODEL = "ranker"
COMPONENT_HEADER = "X-Amzn-SageMaker-Inference-Component"


def model_config() -> dict[str, Any]:
    """A small built-in XGBoost model on the shared endpoint ``team`` in staging and production."""
    return {
        "name": MODEL,
        "description": "Test model on a shared endpoint.",
        "source": {"provider": "codecommit", "repository": f"{MODEL}-repo", "create_repository": True},
        "framework": {"name": "xgboost", "version": "1.7-1"},
        "training": {
            "instance_type": "ml.m5.large",
            "hyperparameters": {"objective": "binary:logistic", "num_round": 5},
        },
        "data": {"channels": ["train", "validation"]},
        "evaluation": {"source": "training_metrics"},
        "quality_gate": [{"metric": "validation:auc", "threshold": 0.8}],
        "endpoints": {
            "staging": {"shared_endpoint": "team", "component": {"copies": 1, "cpus": 0.5, "memory_mb": 512}},
            "production": {"shared_endpoint": "team", "component": {"copies": 2}},
        },
        "smoke_test": {"payload": "1,2,3"},
        "notification_email": "ml-team@example.com",
    }


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReleaseResult, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("shared") / "models"
    write_model(root, MODEL, model_config())
    (root / "shared_endpoints").mkdir()
    (root / "shared_endpoints" / "team.yaml").write_text("name: team\ninstance_type: ml.m5.xlarge\n", encoding="utf-8")
    invocations: list[dict[str, Any]] = []
    original = SageMakerRuntimeBackend.invoke_endpoint

    def record(self: Any, endpoint_name: str, unique_repr: bytes) -> Any:
        invocations.append({"endpoint": endpoint_name, **json.loads(base64.b64decode(unique_repr))})
        return original(self, endpoint_name, unique_repr)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SageMakerRuntimeBackend, "invoke_endpoint", record)
        result = run_release_scenario(MODEL, "release", models_dir=str(root))
    return result, invocations


def test_a_shared_endpoint_model_is_released_through_the_same_workflows(released) -> None:
    result, _ = released
    assert {name: execution.status for name, execution in result.executions.items()} == {
        "training": "SUCCEEDED",
        "deploy_staging": "SUCCEEDED",
        "smoke_test": "SUCCEEDED",
        "deploy_production": "SUCCEEDED",
    }
    (package,) = result.model_packages
    assert result.stack_parameters["production"]["ModelPackageArn"] == package


def test_the_smoke_test_addresses_the_staging_component(released) -> None:
    _, invocations = released
    assert invocations
    headers = [{key.lower(): value for key, value in call.items()} for call in invocations]
    assert {call.get(COMPONENT_HEADER.lower()) for call in headers} == {f"Mlops-{MODEL}-Staging-Component"}
