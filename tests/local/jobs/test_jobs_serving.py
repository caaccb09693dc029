"""Serving and batch transform with the framework's serving contract, and the built-in XGBoost
stand-in's training (sagemaker-inference-toolkit, sagemaker-scikit-learn-container and
sagemaker-xgboost-container; InvokeEndpoint's ModelError:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html)."""

from __future__ import annotations

import json
import random

import pytest
from botocore.exceptions import ClientError
from jobs_testing import BUCKET, ROLE, SKLEARN_IMAGE, XGBOOST_IMAGE, Harness, tar_gz, training_request, untar

from cdk_mlops.local.jobs.xgboost_metrics import emitted_metric_names


def _runtime(jobs: Harness):  # type: ignore[no-untyped-def]
    return jobs.engine.client("sagemaker-runtime")


def _csv_rows(count: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        x1, x2 = rng.random(), rng.random()
        rows.append(f"{int(x1 + 0.3 * x2 > 0.6)},{x1:.4f},{x2:.4f}")
    return "\n".join(rows) + "\n"


def test_model_fn_that_raises_fails_the_invocation_with_the_exception_text(stdlib_jobs: Harness) -> None:
    stdlib_jobs.put("model/model.tar.gz", tar_gz({"model.txt": "m"}))
    stdlib_jobs.put(
        "code/sourcedir.tar.gz", tar_gz({"inference.py": 'def model_fn(d):\n    raise OSError("no model.joblib")\n'})
    )
    container = {
        "Image": SKLEARN_IMAGE,
        "ModelDataUrl": f"s3://{BUCKET}/model/model.tar.gz",
        "Environment": {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{BUCKET}/code/sourcedir.tar.gz",
        },
    }
    stdlib_jobs.runner.serve("staging-endpoint", container)
    with pytest.raises(ClientError) as raised:
        _runtime(stdlib_jobs).invoke_endpoint(EndpointName="staging-endpoint", Body=b"1,2", ContentType="text/csv")
    assert raised.value.response["Error"]["Code"] == "ModelError"
    assert "OSError: no model.joblib" in raised.value.response["Error"]["Message"]


def test_script_mode_handlers_answer_invoke_endpoint(stdlib_jobs: Harness) -> None:
    stdlib_jobs.put("model/model.tar.gz", tar_gz({"scale.txt": "3"}))
    handlers = """
import os
def model_fn(model_dir):
    return int(open(os.path.join(model_dir, "scale.txt")).read())
def input_fn(body, content_type):
    return [float(x) for x in body.decode().split(",")]
def predict_fn(data, model):
    return [x * model for x in data]
def output_fn(prediction, accept):
    return ",".join(str(x) for x in prediction), "text/csv"
"""
    stdlib_jobs.put("code/sourcedir.tar.gz", tar_gz({"serve.py": handlers}))
    stdlib_jobs.runner.resolve_endpoints_with(
        lambda name: {
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/model/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "serve.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{BUCKET}/code/sourcedir.tar.gz",
            },
        }
    )
    answer = _runtime(stdlib_jobs).invoke_endpoint(EndpointName="any", Body=b"1,2.5", ContentType="text/csv")
    assert (answer["Body"].read(), answer["ContentType"]) == (b"3.0,7.5", "text/csv")


def test_sklearn_default_handlers_decode_csv_and_encode_json(sklearn_jobs: Harness) -> None:
    train = """
import os, joblib
from sklearn.linear_model import LogisticRegression
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
if __name__ == "__main__":
    model = LogisticRegression().fit([[0, 0], [1, 1], [0, 1], [1, 0]], [0, 1, 0, 1])
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
"""
    sklearn_jobs.put_source({"train.py": train})
    sklearn_jobs.put("data/train/a.csv", "1\n")
    described = sklearn_jobs.train(training_request("sk-job"))
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    sklearn_jobs.runner.serve(
        "sk-endpoint",
        {
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"],
            "Environment": {
                "SAGEMAKER_PROGRAM": "train.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{BUCKET}/code/sourcedir.tar.gz",
            },
        },
    )
    answer = _runtime(sklearn_jobs).invoke_endpoint(
        EndpointName="sk-endpoint", Body=b"1,1\n0,0\n", ContentType="text/csv"
    )
    assert (json.loads(answer["Body"].read()), answer["ContentType"]) == ([1, 0], "application/json")


def _train_xgboost(jobs: Harness, name: str = "xgb-job") -> dict:
    jobs.put("data/train/train.csv", _csv_rows(300, seed=1))
    jobs.put("data/validation/validation.csv", _csv_rows(100, seed=2))
    hyperparameters = {
        "objective": "binary:logistic",
        "eval_metric": "auc,accuracy",
        "num_round": "20",
        "max_depth": "3",
        "eta": "0.3",
    }
    request = training_request(
        name,
        image=XGBOOST_IMAGE,
        entry_point=None,
        hyperparameters=hyperparameters,
        channels={"train": f"s3://{BUCKET}/data/train/", "validation": f"s3://{BUCKET}/data/validation/"},
        content_type="text/csv",
    )
    return jobs.train(request)


def test_builtin_xgboost_stand_in_reports_the_metrics_the_container_emits(xgboost_jobs: Harness) -> None:
    described = _train_xgboost(xgboost_jobs)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    metrics = {item["MetricName"]: item["Value"] for item in described["FinalMetricDataList"]}
    assert sorted(metrics) == sorted(emitted_metric_names({"eval_metric": "auc,accuracy"}, ["train", "validation"]))
    assert metrics["validation:auc"] > 0.9
    assert 0.5 < metrics["validation:accuracy"] <= 1.0
    log = xgboost_jobs.runner.runs[-1].log_path.read_text()  # type: ignore[union-attr]
    assert "[19]\ttrain-auc:" in log
    assert set(untar(xgboost_jobs.get("models/xgb-job/output/model.tar.gz"))) == {"xgboost-model"}


def test_builtin_xgboost_without_num_round_fails_like_the_container(xgboost_jobs: Harness) -> None:
    xgboost_jobs.put("data/train/train.csv", _csv_rows(10))
    request = training_request("no-rounds", image=XGBOOST_IMAGE, entry_point=None, content_type="text/csv")
    described = xgboost_jobs.train(request)
    assert (
        described["FailureReason"]
        == "AlgorithmError: ClientError: Missing required hyperparameter: num_round, exit code: 2"
    )


def _xgboost_model(jobs: Harness) -> None:
    described = _train_xgboost(jobs)
    jobs.sagemaker.create_model(
        ModelName="fraud-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"]},
    )


def _transform(jobs: Harness, name: str) -> dict:
    jobs.sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName="fraud-model",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/batch/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/batch/out/{name}", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=6,
    )
    described: dict = jobs.sagemaker.describe_transform_job(TransformJobName=name)
    return described


def test_batch_transform_writes_one_prediction_per_line_to_input_file_dot_out(xgboost_jobs: Harness) -> None:
    _xgboost_model(xgboost_jobs)
    xgboost_jobs.put("batch/in/2026-12-01/day.csv", "0.9,0.9\n0.1,0.1\n0.5,0.2\n")
    described = _transform(xgboost_jobs, "score-job")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    scores = [
        float(line) for line in xgboost_jobs.get("batch/out/score-job/2026-12-01/day.csv.out").decode().splitlines()
    ]
    assert len(scores) == 3 and scores[0] > 0.5 > scores[1]


def test_batch_transform_with_a_record_the_model_cannot_parse_fails(xgboost_jobs: Harness) -> None:
    _xgboost_model(xgboost_jobs)
    xgboost_jobs.put("batch/in/bad.csv", "0.9,0.9\nnot,a-number\n")
    described = _transform(xgboost_jobs, "bad-job")
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        "ClientError: batch/in/bad.csv: the model failed on a request (status 415)"
    )
    assert "Loading csv data failed" in described["FailureReason"]


def test_builtin_xgboost_endpoint_answers_csv_with_scores(xgboost_jobs: Harness) -> None:
    described = _train_xgboost(xgboost_jobs)
    xgboost_jobs.runner.serve(
        "churn", {"Image": XGBOOST_IMAGE, "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"]}
    )
    answer = _runtime(xgboost_jobs).invoke_endpoint(EndpointName="churn", Body=b"0.9,0.9", ContentType="text/csv")
    assert answer["ContentType"] == "text/csv"
    assert float(answer["Body"].read()) > 0.5
