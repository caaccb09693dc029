"""Run names (cdk_mlops.constructs.run_names): the intrinsics every workflow names its SageMaker jobs,
models and idempotency tokens with, checked against botocore's service model. ``States.Hash`` returns
the digest as lowercase hex, per the Step Functions documentation on intrinsic functions
(https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html#asl-intrsc-func-uuid-generate)."""

from __future__ import annotations

import hashlib
import json

import botocore.session
import pytest

from cdk_mlops.constructs.run_names import (
    EXECUTION_NAME_HASH,
    SAGEMAKER_NAME_MAX,
    SAGEMAKER_NAME_PATTERN,
    client_token,
    run_name,
)
from cdk_mlops.local.engine import LocalEngine


def test_the_limits_are_sagemakers_own() -> None:
    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("TrainingJobName")

    assert shape.metadata["max"] == SAGEMAKER_NAME_MAX
    assert SAGEMAKER_NAME_PATTERN.pattern == f"^{shape.metadata['pattern']}$"


def test_a_run_name_is_the_prefix_the_hash_of_the_execution_name_and_the_suffix() -> None:
    assert run_name("churn-xgb", "train") == f"States.Format('churn-xgb-{{}}-train', {EXECUTION_NAME_HASH})"
    assert EXECUTION_NAME_HASH == "States.Hash($$.Execution.Name, 'MD5')"


def test_the_longest_model_name_fits_with_every_suffix() -> None:
    for suffix in ("prep", "train", "eval", "drift", "batch"):
        run_name("a" * 20, suffix)  # 20 + 1 + 32 + 1 + 5 = 59 characters at most


@pytest.mark.parametrize(("prefix", "suffix"), [("a" * 26, "train"), ("bad_model", "train"), ("model", "train-")])
def test_a_name_that_could_break_sagemakers_rules_is_refused_naming_it(prefix: str, suffix: str) -> None:
    with pytest.raises(ValueError, match=repr(prefix)):
        run_name(prefix, suffix)


def test_a_client_token_scope_may_not_break_the_intrinsic() -> None:
    assert client_token("churn-xgb") == "States.Hash(States.Format('churn-xgb/{}', $$.Execution.Name), 'MD5')"
    with pytest.raises(ValueError, match="it's"):
        client_token("it's")


@pytest.mark.parametrize("execution_name", ["a", "x" * 80, "run_with_underscores-and.dots"])
def test_the_local_engine_computes_the_names_as_hashlib_does(execution_name: str) -> None:
    definition = {
        "StartAt": "Names",
        "States": {
            "Names": {
                "Type": "Pass",
                "Parameters": {"job.$": run_name("churn-xgb", "train"), "token.$": client_token("churn-xgb")},
                "End": True,
            }
        },
    }
    with LocalEngine() as engine:
        result = engine.run(json.dumps(definition), name=execution_name)

    digest = hashlib.md5(execution_name.encode()).hexdigest()
    assert result.output == {
        "job": f"churn-xgb-{digest}-train",
        "token": hashlib.md5(f"churn-xgb/{execution_name}".encode()).hexdigest(),
    }
    assert SAGEMAKER_NAME_PATTERN.match(result.output["job"])
