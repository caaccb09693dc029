"""Helpers for the real local SageMaker job tests: request builders, archives, and a harness holding a
running engine with a LocalJobRunner installed."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from typing import Any

from cdk_mlops.local.engine import LocalEngine
from cdk_mlops.local.jobs import LocalJobRunner

BUCKET = "jobs-test-bucket"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
SKLEARN_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def tar_gz(files: Mapping[str, str | bytes]) -> bytes:
    """A .tar.gz holding ``files`` (name -> content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def untar(data: bytes) -> dict[str, bytes]:
    """The files of a .tar.gz (name -> content)."""
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def training_request(
    name: str,
    *,
    image: str = SKLEARN_IMAGE,
    entry_point: str | None = "train.py",
    hyperparameters: Mapping[str, str] | None = None,
    channels: Mapping[str, str] | None = None,
    metric_definitions: Mapping[str, str] | None = None,
    content_type: str | None = None,
) -> dict[str, Any]:
    """A CreateTrainingJob request shaped like the one our training workflow sends (script mode:
    JSON-encoded hyperparameters plus sagemaker_program and sagemaker_submit_directory)."""
    hps = dict(hyperparameters or {})
    if entry_point:
        hps["sagemaker_program"] = f'"{entry_point}"'
        hps["sagemaker_submit_directory"] = f'"s3://{BUCKET}/code/sourcedir.tar.gz"'
    algorithm: dict[str, Any] = {"TrainingImage": image, "TrainingInputMode": "File"}
    if metric_definitions:
        algorithm["MetricDefinitions"] = [{"Name": k, "Regex": v} for k, v in metric_definitions.items()]
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "AlgorithmSpecification": algorithm,
        "HyperParameters": hps,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3Uri": uri,
                        "S3DataType": "S3Prefix",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                **({"ContentType": content_type} if content_type else {}),
            }
            for channel, uri in (channels or {"train": f"s3://{BUCKET}/data/train/"}).items()
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


class Harness:
    """An engine with a LocalJobRunner installed, plus helpers to seed S3 and call SageMaker."""

    def __init__(self, engine: LocalEngine, runner: LocalJobRunner, lines: list[str]) -> None:
        self.engine = engine
        self.runner = runner
        self.lines = lines
        self.sagemaker = engine.client("sagemaker")
        self.s3 = engine.client("s3")

    def put(self, key: str, body: str | bytes) -> None:
        """Stores ``body`` at ``s3://BUCKET/key``."""
        self.engine.s3_put_object(BUCKET, key, body)

    def get(self, key: str) -> bytes:
        """The object at ``s3://BUCKET/key``."""
        data: bytes = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return data

    def put_source(self, files: Mapping[str, str]) -> None:
        """Packs ``files`` as the build stage would: ``code/sourcedir.tar.gz``."""
        self.put("code/sourcedir.tar.gz", tar_gz(files))

    def train(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Creates the training job (the runner runs it) and returns DescribeTrainingJob."""
        self.sagemaker.create_training_job(**request)
        described: dict[str, Any] = self.sagemaker.describe_training_job(TrainingJobName=request["TrainingJobName"])
        return described
