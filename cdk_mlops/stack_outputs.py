"""The outputs of a model's pipeline stack (``Mlops-<model>-Pipeline``) that the operator commands
(``cdk-mlops status``, ``approve``, ``rollback``) read to find its resources with the caller's
credentials. Kept apart from the stack so the commands need no CDK."""

from __future__ import annotations

#: The CodePipeline pipeline's name.
PIPELINE_NAME = "PipelineName"
#: The training workflow's state machine ARN.
TRAINING_STATE_MACHINE = "TrainingStateMachineArn"
#: The production deploy workflow's state machine ARN (endpoint models only).
DEPLOY_PRODUCTION_STATE_MACHINE = "DeployProductionStateMachineArn"
#: The model package group's name.
MODEL_PACKAGE_GROUP = "ModelPackageGroupName"
