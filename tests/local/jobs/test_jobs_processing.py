"""Processing jobs run for real: inputs at their LocalPath, scripts with SageMaker's hard-coded
/opt/ml/processing paths unchanged, outputs back to their S3 URIs (CreateProcessingJob,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from jobs_testing import BUCKET, ROLE, SKLEARN_IMAGE, Harness

from cdk_mlops.local.jobs.sandbox import Presentation, sandbox_mode

EVALUATE = """
import json, pathlib
root = pathlib.Path("/opt/ml/processing")
rows = (root / "input/test/test.csv").read_text().split()
out = root / "output/evaluation"
(out / "evaluation.json").write_text(json.dumps({"metrics": {"rows": len(rows)}}))
print("evaluated", len(rows))
"""


def processing_request(name: str, script: str) -> dict[str, Any]:
    """A CreateProcessingJob request shaped like our workflows' (python3 /opt/ml/processing/input/code/...)."""
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"],
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "test",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/data/test/",
                    "LocalPath": "/opt/ml/processing/input/test",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "evaluation",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/run/evaluation/",
                        "LocalPath": "/opt/ml/processing/output/evaluation",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def _process(jobs: Harness, name: str, script: str) -> dict[str, Any]:
    jobs.put("code/evaluate.py", script)
    jobs.put("data/test/test.csv", "1,2\n3,4\n5,6\n")
    jobs.sagemaker.create_processing_job(**processing_request(name, "evaluate.py"))
    described: dict[str, Any] = jobs.sagemaker.describe_processing_job(ProcessingJobName=name)
    return described


def test_processing_script_with_hard_coded_opt_ml_paths_runs_unchanged(stdlib_jobs: Harness) -> None:
    described = _process(stdlib_jobs, "evaluate-job", EVALUATE)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert stdlib_jobs.get("run/evaluation/evaluation.json") == b'{"metrics": {"rows": 3}}'
    assert "[evaluate-job] evaluated 3" in stdlib_jobs.lines


def test_processing_jobs_leave_no_opt_ml_on_the_host(stdlib_jobs: Harness) -> None:
    existed = os.path.lexists("/opt/ml")
    _process(stdlib_jobs, "no-trace-job", EVALUATE)
    assert os.path.lexists("/opt/ml") == existed


def test_failing_processing_script_fails_the_job_with_algorithm_error(stdlib_jobs: Harness) -> None:
    described = _process(stdlib_jobs, "broken-job", 'raise KeyError("evaluation column")\n')
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("AlgorithmError: ")
    assert "KeyError: 'evaluation column'" in described["FailureReason"]
    with pytest.raises(stdlib_jobs.s3.exceptions.NoSuchKey):
        stdlib_jobs.s3.get_object(Bucket=BUCKET, Key="run/evaluation/evaluation.json")


def test_processing_script_that_writes_nothing_uploads_nothing(stdlib_jobs: Harness) -> None:
    described = _process(stdlib_jobs, "silent-job", "print('wrote nothing')\n")
    assert described["ProcessingJobStatus"] == "Completed"
    listed = stdlib_jobs.s3.list_objects_v2(Bucket=BUCKET, Prefix="run/evaluation/")
    assert listed.get("KeyCount", 0) == 0


def test_sandbox_uses_a_namespace_on_this_linux_machine() -> None:
    # CI and these machines run Linux with user namespaces; elsewhere the mode says how paths are given.
    assert sys.platform != "linux" or sandbox_mode() == "namespace"


def test_without_opt_ml_paths_are_rewritten_to_the_workspace(tmp_path: Path) -> None:
    view = Presentation("none", tmp_path / "opt" / "ml")
    command = view.command(["python3", "/opt/ml/processing/input/code/run.py", "--out", "/opt/ml/processing/o"])
    assert command == [
        "python3",
        f"{tmp_path}/opt/ml/processing/input/code/run.py",
        "--out",
        f"{tmp_path}/opt/ml/processing/o",
    ]
    assert view.host_path("/opt/ml/model") == tmp_path / "opt" / "ml" / "model"
    with pytest.raises(ValueError, match="'/tmp/elsewhere' is not under /opt/ml"):
        view.host_path("/tmp/elsewhere")
