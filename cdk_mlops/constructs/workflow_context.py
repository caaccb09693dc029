"""What a workflow step needs to build its states: the model, the roles, the bucket and the run's paths.

The training workflow creates one ``WorkflowContext`` and hands it to every step hook. Steps read
run-specific values (job names, S3 prefixes) through the JSONPaths below, which the workflow's
``Initialize`` state computes from the execution name, so a rerun of the same execution reuses the
same names (SageMaker rejects a duplicate job name instead of training twice).
"""

from __future__ import annotations

import dataclasses

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_mlops.config.model_config import ModelConfig
from cdk_mlops.constructs.failure_notice import catch_failure
from cdk_mlops.constructs.sagemaker_tasks import JobNetworkConfig
from cdk_mlops.constructs.workflow_defaults import retry_throttling


def data_prefix_of(model_name: str, prefix: str | None) -> str:
    """The key prefix of a model's training data: ``prefix`` ending in ``/``, by default ``<model>/data/``."""
    if prefix is None:
        return f"{model_name}/data/"
    return prefix if not prefix or prefix.endswith("/") else f"{prefix}/"


class RunPaths:
    """JSONPaths into the ``$.run`` object that the workflow's ``Initialize`` state writes."""

    RUN_ID = "$.run.id"
    SOURCE_DIR = "$.run.source_dir"
    CODE_PREFIX = "$.run.code_prefix"
    PROCESSED_PREFIX = "$.run.processed_prefix"
    MODEL_OUTPUT = "$.run.model_output"
    CHECKPOINTS = "$.run.checkpoints"
    EVALUATION_PREFIX = "$.run.evaluation_prefix"
    EVALUATION_KEY = "$.run.evaluation_key"
    PREPROCESSING_JOB = "$.run.preprocessing_job"
    TRAINING_JOB = "$.run.training_job"
    EVALUATION_JOB = "$.run.evaluation_job"


@dataclasses.dataclass
class WorkflowContext:
    """Everything a step hook may use. ``scope`` is where the hook creates its states."""

    scope: Construct
    model: ModelConfig
    image_uri: str
    sagemaker_role: iam.IRole
    artifact_bucket: s3.IBucket
    encryption_key: kms.IKey
    network: JobNetworkConfig
    data_bucket: s3.IBucket
    data_prefix: str
    failure_handler: sfn.IChainable
    inference_image_uri: str = ""

    @property
    def serving_image_uri(self) -> str:
        """The image the registered model is served with (the training image unless one is given)."""
        return self.inference_image_uri or self.image_uri

    @property
    def job_prefix(self) -> str:
        """Every SageMaker job and model package of this model starts with this (IAM is scoped to it)."""
        return f"{self.model.name}-"

    @property
    def model_prefix(self) -> str:
        """The model's key prefix in the artifact bucket."""
        return f"{self.model.name}/"

    def data_channel_uri(self, channel: str) -> str:
        return f"s3://{self.data_bucket.bucket_name}/{self.data_prefix}{channel}/"

    def protect(self, task: sfn.CustomState | sfn.TaskStateBase) -> None:
        """Sends any error of ``task`` to the workflow's failure notification (after its own retries),
        which names the task's state (see :func:`~cdk_mlops.constructs.failure_notice.catch_failure`)."""
        catch_failure(task, self.failure_handler)

    def retry_throttling(self, task: sfn.CustomState | sfn.TaskStateBase, service: str) -> None:
        """Adds a backoff retry for an AWS SDK task's throttling errors (:mod:`cdk_mlops.constructs.error_names`)."""
        retry_throttling(task, service)
