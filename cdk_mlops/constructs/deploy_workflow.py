"""Rolls a registered model out to an endpoint stack by changing one CloudFormation parameter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_mlops.constructs.compliance import (
    SERVICE_WIDE_REASON,
    Justification,
    allow_key,
    allow_publish,
    justify_wildcards,
)
from cdk_mlops.constructs.promotion import (
    model_package_arns,
    model_package_justification,
    promotion_record,
    resolve_model_package,
    retry_sagemaker,
)
from cdk_mlops.constructs.workflow_defaults import logged_state_machine, notification

MODEL_PACKAGE_PARAMETER = "ModelPackageArn"
#: Parameters of an endpoint stack in another account: where the pipeline account keeps the model data.
MODEL_ARTIFACTS_BUCKET_PARAMETER = "ModelArtifactsBucket"
MODEL_ARTIFACTS_KEY_PARAMETER = "ModelArtifactsKeyArn"
DEFAULT_BOOTSTRAP_QUALIFIER = "hnb659fds"


def stack_arn(scope: Construct, stack_name: str, account: str | None = None) -> str:
    """The ARN of every incarnation of stack ``stack_name`` (a stack ARN ends in a generated id), in
    ``account`` (default: the scope's)."""
    return Stack.of(scope).format_arn(
        service="cloudformation",
        account=account,
        resource="stack",
        resource_name=f"{stack_name}/*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def stack_arn_justification(stack_name: str) -> Justification:
    """Why ``stack_arn(stack_name)`` ends in a wildcard (for ``justify_wildcards``)."""
    return Justification(
        f"Resource::arn:<AWS::Partition>:cloudformation:*:*:stack/{stack_name}/*",
        "A stack ARN ends in an id CloudFormation generates; the stack name pins the one stack.",
    )


def _cdk_bootstrap_role(scope: Construct, id: str, kind: str, account: str | None) -> iam.IRole:
    stack = Stack.of(scope)
    account = account or stack.account
    qualifier = scope.node.try_get_context("@aws-cdk/core:bootstrapQualifier") or DEFAULT_BOOTSTRAP_QUALIFIER
    arn = stack.format_arn(
        service="iam",
        region="",
        account=account,
        resource="role",
        resource_name=f"cdk-{qualifier}-{kind}-role-{account}-{stack.region}",
    )
    return iam.Role.from_role_arn(scope, id, arn, mutable=False)


def cdk_cloudformation_execution_role(scope: Construct, id: str, account: str | None = None) -> iam.IRole:
    """The CloudFormation execution role ``cdk bootstrap`` creates in ``account`` (default: the stack's)
    and the stack's region."""
    return _cdk_bootstrap_role(scope, id, "cfn-exec", account)


def cdk_deploy_role(scope: Construct, id: str, account: str) -> iam.IRole:
    """The deploy role ``cdk bootstrap`` creates in ``account`` and the stack's region: it may update
    stacks there and pass the CloudFormation execution role, and trusts the accounts given to
    ``cdk bootstrap --trust``."""
    return _cdk_bootstrap_role(scope, id, "deploy", account)


class DeployWorkflow(Construct):
    """A state machine that deploys the model package a training execution registered to one endpoint
    stack: ``ResolveModelPackage`` (DescribeExecution of the training run) → ``UpdateEndpointStack``
    (UpdateStack with ``UsePreviousTemplate`` and the new ``ModelPackageArn``, every other parameter
    kept) → poll ``DescribeStacks`` every ``poll_interval`` (default 30 s) until the update completes.
    A rollback (SageMaker's guardrails or CloudFormation's) fails the execution and notifies.
    ``promote=True`` (production) then sets the package to ``Approved``.

    Start it with ``{"TrainingExecutionArn": "<arn>"}``. CloudFormation runs the update as
    ``cloudformation_role`` (default: the CDK bootstrap execution role), so this workflow's own role
    needs only UpdateStack/DescribeStacks on that one stack and PassRole to CloudFormation.
    ``stack_parameters`` (default none) are set to the given values on every update.

    ``stack_account`` (default: this stack's account) names the account the endpoint stack lives in.
    When it is another account, UpdateStack and DescribeStacks run as that account's CDK deploy role
    (``deploy_role``, assumed through the state's ``Credentials``; this workflow's role may only
    ``sts:AssumeRole`` it), and CloudFormation runs as that account's CDK execution role, which the
    deploy role passes: the account must be bootstrapped with ``--trust <this account>``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        stage: str,
        stack_name: str,
        training_state_machine: sfn.IStateMachine,
        notification_topic: sns.ITopic,
        encryption_key: kms.IKey,
        model_package_group_name: str,
        kept_parameters: Sequence[str] = ("BootstrapVersion",),
        stack_parameters: Mapping[str, str] | None = None,
        cloudformation_role: iam.IRole | None = None,
        stack_account: str | None = None,
        promote: bool = False,
        poll_interval: Duration | None = None,
        after_deploy: sfn.IChainable | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.stack_name = stack_name
        cross_account = stack_account is not None and stack_account != stack.account
        self.cloudformation_role = cloudformation_role or cdk_cloudformation_execution_role(
            self, "CfnExecRole", stack_account
        )
        self.deploy_role: iam.IRole | None = (
            cdk_deploy_role(self, "DeployRole", stack_account) if cross_account and stack_account else None
        )
        credentials = sfn.Credentials(role=sfn.TaskRole.from_role(self.deploy_role)) if self.deploy_role else None
        endpoint_stack_arn = stack_arn(self, stack_name, stack_account)

        def notify(state_id: str, template: str, paths: Sequence[str]) -> tasks.SnsPublish:
            return notification(
                self,
                state_id,
                topic=notification_topic,
                subject=f"cdk-mlops: {model_name} {stage}",
                template=template,
                paths=paths,
            )

        failed = notify(
            "NotifyFailure",
            f"Deploying {model_name} to {stage} ({stack_name}) failed: {{}}: {{}}",
            ["$.error.Error", "$.error.Cause"],
        ).next(sfn.Fail(self, "DeploymentFailed", error="DeploymentFailed", cause_path="$.error.Cause"))

        resolve = resolve_model_package(self, training_state_machine)
        parameters: list[dict[str, object]] = [
            {"ParameterKey": MODEL_PACKAGE_PARAMETER, "ParameterValue.$": "$.training.output.ModelPackageArn"}
        ]
        parameters += [
            {"ParameterKey": name, "ParameterValue": value} for name, value in (stack_parameters or {}).items()
        ]
        parameters += [{"ParameterKey": name, "UsePreviousValue": True} for name in kept_parameters]
        update = tasks.CallAwsService(
            self,
            "UpdateEndpointStack",
            service="cloudformation",
            action="updateStack",
            parameters={
                "StackName": stack_name,
                "UsePreviousTemplate": True,
                "Parameters": parameters,
                "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                "RoleARN": self.cloudformation_role.role_arn,
                "ClientRequestToken.$": "$$.Execution.Name",
            },
            iam_resources=[endpoint_stack_arn],
            result_path="$.update",
            credentials=credentials,
        )
        describe = tasks.CallAwsService(
            self,
            "DescribeEndpointStack",
            service="cloudformation",
            action="describeStacks",
            parameters={"StackName": stack_name},
            iam_resources=[endpoint_stack_arn],
            result_selector={"status.$": "$.Stacks[0].StackStatus", "reason.$": "$.Stacks[0]"},
            result_path="$.stack",
            credentials=credentials,
        )
        wait = sfn.Wait(self, "WaitForStack", time=sfn.WaitTime.duration(poll_interval or Duration.seconds(30)))
        deployed = sfn.Pass(
            self,
            "Deployed",
            parameters={
                "ModelPackageArn.$": "$.training.output.ModelPackageArn",
                "PipelineExecutionId.$": "$.training.output.PipelineExecutionId",
                "StackName": stack_name,
                "Stage": stage,
            },
        )
        package_arns = [model_package_arns(self, model_package_group_name)]
        rolled_back_notification = notify(
            "NotifyRolledBack",
            f"Deploying {model_name} to {stage} ({stack_name}) rolled back: stack status {{}}",
            ["$.stack.status"],
        ).next(
            sfn.Fail(
                self,
                "RolledBack",
                error="DeploymentRolledBack",
                cause=f"the update of {stack_name} did not complete and was rolled back",
            )
        )
        rolled_back: sfn.IChainable = rolled_back_notification
        if promote:
            # A production rollback is a verdict on the package: record it where the registry shows it.
            reject = tasks.CallAwsService(
                self,
                "RejectModelPackage",
                service="sagemaker",
                action="updateModelPackage",
                parameters={
                    "ModelPackageArn.$": "$.training.output.ModelPackageArn",
                    "ModelApprovalStatus": "Rejected",
                    "ApprovalDescription.$": "States.Format('Rolled back in production by {}: stack status {}', "
                    "$$.Execution.Id, $.stack.status)",
                },
                iam_resources=package_arns,
                result_path=sfn.JsonPath.DISCARD,
            )
            retry_sagemaker(reject)
            reject.add_catch(failed, result_path="$.error")
            rolled_back = reject.next(rolled_back_notification)
        after: sfn.IChainable = sfn.Succeed(self, "Done")
        if promote:
            after = promotion_record(
                self,
                package_arns=package_arns,
                package_path="$.ModelPackageArn",
                pipeline_execution_path="$.PipelineExecutionId",
                approval_description="Deployed to production by {}",
                on_error=failed,
            ).next(after)
        if after_deploy is not None:
            after = sfn.Chain.start(after_deploy).next(after)
        deployed.next(after)

        no_change = sfn.Choice(self, "AlreadyDeployed?")
        no_change.when(sfn.Condition.string_matches("$.error.Cause", "*No updates are to be performed*"), deployed)
        no_change.otherwise(failed)
        for task in (resolve, describe):
            task.add_retry(
                errors=["CloudFormation.ThrottlingException", "Sfn.ThrottlingException"],
                interval=Duration.seconds(2),
                backoff_rate=2,
                max_attempts=4,
            )
            task.add_catch(failed, result_path="$.error")
        update.add_retry(
            errors=["CloudFormation.ThrottlingException"],
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=4,
        )
        update.add_catch(no_change, result_path="$.error")

        poll = (
            sfn.Choice(self, "StackUpdated?")
            .when(sfn.Condition.string_equals("$.stack.status", "UPDATE_COMPLETE"), deployed)
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_matches("$.stack.status", "*ROLLBACK*"),
                    sfn.Condition.string_matches("$.stack.status", "*FAILED"),
                ),
                rolled_back,
            )
            .otherwise(wait)
        )
        definition = resolve.next(update).next(wait).next(describe).next(poll)

        self.state_machine, self.log_group = logged_state_machine(
            self,
            definition=definition,
            encryption_key=encryption_key,
            timeout=Duration.hours(6),
            comment=f"Deploys the newest registered {model_name} package to {stage}",
            log_retention=log_retention,
        )
        if not cross_account:  # across accounts, the assumed deploy role passes its own account's role
            self.state_machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[self.cloudformation_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
                )
            )
        allow_publish(self.state_machine, notification_topic, encryption_key)
        allow_key(self.state_machine, encryption_key)
        justify_wildcards(
            self,
            [
                stack_arn_justification(stack_name),
                Justification(
                    "Resource::arn:<AWS::Partition>:states:*:*:execution:*:*",
                    "Executions of this model's training workflow are named per pipeline run.",
                ),
                model_package_justification(model_package_group_name),
                Justification("Resource::*", SERVICE_WIDE_REASON),
            ],
        )
