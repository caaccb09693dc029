"""Rolls a registered model out to an endpoint stack by changing one CloudFormation parameter."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_mlops.config.model_config import ShadowConfig
from cdk_mlops.constructs.compliance import (
    SERVICE_WIDE_REASON,
    Justification,
    allow_publish,
    justify_wildcards,
)
from cdk_mlops.constructs.error_names import aws_sdk
from cdk_mlops.constructs.failure_notice import FailurePath, Headline, Line, catch_failure, message, publish
from cdk_mlops.constructs.promotion import (
    model_package_arns,
    model_package_justification,
    promotion_record,
    resolve_model_package,
    retry_sagemaker,
)
from cdk_mlops.constructs.regional_deploy import RegionalDeployFunction
from cdk_mlops.constructs.run_names import EXECUTION_NAME_HASH
from cdk_mlops.constructs.shadow_test import SHADOW_MODEL_PACKAGE_PARAMETER, ShadowTest
from cdk_mlops.constructs.workflow_defaults import allow_execution_data, logged_state_machine

MODEL_PACKAGE_PARAMETER = "ModelPackageArn"
#: Parameters of an endpoint stack in another region: the model data (and the serving code of a
#: script-mode model) replicated there.
MODEL_DATA_URL_PARAMETER = "ModelDataUrl"
SOURCE_DIR_URL_PARAMETER = "SourceDirUrl"
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


def _cdk_bootstrap_role(
    scope: Construct, id: str, kind: str, account: str | None, region: str | None = None
) -> iam.IRole:
    stack = Stack.of(scope)
    account = account or stack.account
    qualifier = scope.node.try_get_context("@aws-cdk/core:bootstrapQualifier") or DEFAULT_BOOTSTRAP_QUALIFIER
    arn = stack.format_arn(
        service="iam",
        region="",
        account=account,
        resource="role",
        resource_name=f"cdk-{qualifier}-{kind}-role-{account}-{region or stack.region}",
    )
    return iam.Role.from_role_arn(scope, id, arn, mutable=False)


def cdk_cloudformation_execution_role(
    scope: Construct, id: str, account: str | None = None, region: str | None = None
) -> iam.IRole:
    """The CloudFormation execution role ``cdk bootstrap`` creates in ``account`` and ``region``
    (defaults: the stack's)."""
    return _cdk_bootstrap_role(scope, id, "cfn-exec", account, region)


def cdk_deploy_role(scope: Construct, id: str, account: str | None, region: str | None = None) -> iam.IRole:
    """The deploy role ``cdk bootstrap`` creates in ``account`` and ``region`` (defaults: the stack's):
    it may update stacks there and pass the CloudFormation execution role, and trusts its own account
    and the accounts given to ``cdk bootstrap --trust``."""
    return _cdk_bootstrap_role(scope, id, "deploy", account, region)


@dataclasses.dataclass(frozen=True)
class RegionalRollout:
    """How a deploy workflow reaches an endpoint stack in another region (``region``).

    SageMaker serves only a model package and model data of its own region, so the workflow copies the
    package's model data (and, with ``serves_source_dir``, its ``SAGEMAKER_SUBMIT_DIRECTORY`` serving
    code) from ``source_bucket`` (encrypted with ``source_key``) to the bucket of ``replica_stack_name``,
    the pipeline account's ``PlatformStack`` in that region (outputs ``ArtifactBucketName`` and
    ``EncryptionKeyArn``), and passes the copies' URLs to the endpoint stack.
    """

    region: str
    replica_stack_name: str
    source_bucket: s3.IBucket
    source_key: kms.IKey
    serves_source_dir: bool = False


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

    ``regional`` (default none: the endpoint stack is in this stack's region) rolls out to a stack in
    another region (see ``RegionalRollout``), which Step Functions' SDK integrations cannot call:
    ``DescribeModelPackage`` → ``ReplicateModel`` (copies the served objects to that region) →
    UpdateStack and DescribeStacks there, all three through ``regional_function``
    (``RegionalDeployFunction``), which assumes the CDK deploy role of the stack's account in that
    region. The stack's ``ModelDataUrl`` (and ``SourceDirUrl``) parameters get the copies' URLs, and
    in another account ``ModelArtifactsBucket``/``ModelArtifactsKeyArn`` the replica bucket and key.

    ``shadow`` (default none; production with ``promote=True``, in this account and region only) runs a
    shadow test first (``ShadowTest``, ``cdk_mlops.constructs.shadow_test``): the candidate as the stack's
    ``ShadowModelPackageArn``, mirrored traffic for ``shadow.minutes``, a CloudWatch comparison with
    production, then this workflow's update (which also clears the shadow) or removal and rejection.
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
        regional: RegionalRollout | None = None,
        promote: bool = False,
        poll_interval: Duration | None = None,
        after_deploy: sfn.IChainable | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        shadow: ShadowConfig | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.stack_name = stack_name
        cross_account = stack_account is not None and stack_account != stack.account
        if regional is not None and regional.region == stack.region:
            regional = None
        if shadow is not None and (cross_account or regional is not None or not promote):
            raise ValueError(
                f"{model_name} {stage}: a shadow test needs promote=True and an endpoint stack in this stack's "
                "account and region (it reads the shadow's metrics with CloudWatch GetMetricData here)"
            )
        target_region = regional.region if regional else None
        self.cloudformation_role = cloudformation_role or cdk_cloudformation_execution_role(
            self, "CfnExecRole", stack_account, target_region
        )
        self.deploy_role: iam.IRole | None = (
            cdk_deploy_role(self, "DeployRole", stack_account, target_region) if cross_account or regional else None
        )
        endpoint_stack_arn = stack_arn(self, stack_name, stack_account)
        package_arns = [model_package_arns(self, model_package_group_name)]

        headline = Headline(model_name, f"deploy to {stage}")
        subject = f"cdk-mlops: {model_name} {stage}"
        failed = FailurePath(
            self,
            headline=headline,
            topic=notification_topic,
            subject=subject,
            then=sfn.Fail(self, "DeploymentFailed", error="DeploymentFailed", cause_path="$.error.Cause"),
        ).entry

        resolve = resolve_model_package(self, training_state_machine)
        dynamic = {MODEL_PACKAGE_PARAMETER: "$.training.output.ModelPackageArn"}
        self.regional_function: RegionalDeployFunction | None = None
        if regional is not None:
            dynamic[MODEL_DATA_URL_PARAMETER] = "$.replica.ModelDataUrl"
            if regional.serves_source_dir:
                dynamic[SOURCE_DIR_URL_PARAMETER] = "$.replica.SourceDirUrl"
            if cross_account:
                dynamic[MODEL_ARTIFACTS_BUCKET_PARAMETER] = "$.replica.Bucket"
                dynamic[MODEL_ARTIFACTS_KEY_PARAMETER] = "$.replica.KeyArn"
        parameters: list[dict[str, object]] = [
            {"ParameterKey": name, "ParameterValue.$": path} for name, path in dynamic.items()
        ]
        parameters += [
            {"ParameterKey": name, "ParameterValue": value} for name, value in (stack_parameters or {}).items()
        ]
        static_parameters = list(parameters[len(dynamic) :])
        if shadow is not None:  # promotion clears the shadow variant in the same update
            parameters.append({"ParameterKey": SHADOW_MODEL_PACKAGE_PARAMETER, "ParameterValue": ""})
        parameters += [{"ParameterKey": name, "UsePreviousValue": True} for name in kept_parameters]
        start: sfn.IChainable
        update: sfn.CustomState | sfn.TaskStateBase
        describe: sfn.CustomState | sfn.TaskStateBase
        if regional is not None:
            assert self.deploy_role is not None
            self.regional_function = RegionalDeployFunction(
                self,
                "RegionalDeploy",
                model_name=model_name,
                target_region=regional.region,
                replica_stack_name=regional.replica_stack_name,
                source_bucket=regional.source_bucket,
                source_key=regional.source_key,
                deploy_role=self.deploy_role,
                encryption_key=encryption_key,
                log_retention=log_retention,
            )
            replicate = self._replicate_model(regional, package_arns, on_error=failed)
            update, describe = self._regional_stack_calls(regional.region, stack_name, parameters)
            start = resolve.next(replicate).next(update)
        else:
            update, describe = self._stack_calls(stack_name, parameters, endpoint_stack_arn)
            start = resolve if shadow is not None else resolve.next(update)  # the shadow test comes between
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
        rolled_back_notification = publish(
            self,
            "NotifyRolledBack",
            topic=notification_topic,
            subject=subject,
            text=message(
                headline.line(
                    f"stack {stack_name} rolled back ({{}}): {{}}",
                    ["$.stack.status", "$.rollback.reason"],
                    state="StackUpdated?",
                ),
                Line(f"Details: the events of stack {stack_name} in CloudFormation name the resource that failed"),
            ),
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
            catch_failure(reject, failed)
            rolled_back = reject.next(rolled_back_notification)
        rolled_back = self._rollback_reason(rolled_back, regional=regional is not None)
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
        # The regional function's AWS clients retry throttling themselves.
        throttled = [(resolve, "sfn")] + ([(describe, "cloudformation")] if regional is None else [])
        for task, service in throttled:
            task.add_retry(
                errors=list(aws_sdk(service).retryable),
                interval=Duration.seconds(2),
                backoff_rate=2,
                max_attempts=4,
            )
        for task in (resolve, describe):
            catch_failure(task, failed)
        if regional is None:
            update.add_retry(  # also retries "No updates are to be performed" (undeclared, like a throttle)
                errors=list(aws_sdk("cloudformation").retryable),
                interval=Duration.seconds(2),
                backoff_rate=2,
                max_attempts=4,
            )
        catch_failure(update, no_change)

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
        definition = sfn.Chain.start(start)
        if shadow is None:
            definition = definition.next(wait).next(describe).next(poll)
        else:
            sfn.Chain.start(update).next(wait).next(describe).next(poll)
            self.shadow_test = ShadowTest(
                self,
                shadow=shadow,
                stack_name=stack_name,
                stack_arn=endpoint_stack_arn,
                cloudformation_role=self.cloudformation_role,
                kept_parameters=kept_parameters,
                static_parameters=static_parameters,
                package_arns=package_arns,
                headline=Headline(model_name, f"shadow test in {stage}"),
                topic=notification_topic,
                subject=subject,
                poll_interval=poll_interval or Duration.seconds(30),
                promote=update,
                rolled_back=rolled_back,
                failed=failed,
            )
            resolve.next(self.shadow_test.entry)

        self.state_machine, self.log_group = logged_state_machine(
            self,
            definition=definition,
            encryption_key=encryption_key,
            timeout=Duration.hours(6),
            comment=f"Deploys the newest registered {model_name} package to {stage}",
            log_retention=log_retention,
        )
        if self.deploy_role is None:  # an assumed deploy role passes its own account's role
            self.state_machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[self.cloudformation_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
                )
            )
        elif regional is None:  # the stack calls run as the deploy role: assuming it is all this role does
            self.state_machine.add_to_role_policy(
                iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[self.deploy_role.role_arn])
            )
        allow_publish(self.state_machine, notification_topic, encryption_key)
        allow_execution_data(self.state_machine, encryption_key, training_state_machine)  # ResolveModelPackage
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

    def _rollback_reason(self, then: sfn.IChainable, *, regional: bool) -> sfn.IChainable:
        """``RollbackReason?`` → ``ReadRollbackReason`` (the stack's ``StackStatusReason``) or
        ``NoRollbackReason`` (CloudFormation gave none) into ``$.rollback.reason`` → ``then``. The SDK
        call keeps the whole stack at ``$.stack.reason``; the regional function returns the reason or ""."""
        path = "$.stack.reason" if regional else "$.stack.reason.StackStatusReason"
        given = sfn.Pass(self, "ReadRollbackReason", parameters={"reason.$": path}, result_path="$.rollback")
        none = sfn.Pass(
            self,
            "NoRollbackReason",
            parameters={"reason": "CloudFormation gave no reason"},
            result_path="$.rollback",
        )
        given.next(then)
        none.next(then)
        return (
            sfn.Choice(self, "RollbackReason?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present(path),
                    sfn.Condition.is_string(path),
                    sfn.Condition.not_(sfn.Condition.string_equals(path, "")),
                ),
                given,
            )
            .otherwise(none)
        )

    def _stack_calls(
        self, stack_name: str, parameters: list[dict[str, object]], endpoint_stack_arn: str
    ) -> tuple[sfn.CustomState | tasks.CallAwsService, sfn.CustomState | tasks.CallAwsService]:
        """UpdateStack and DescribeStacks through Step Functions' SDK integration (this region); as
        ``deploy_role`` (the task's ``Credentials``) when there is one."""
        update_parameters = {
            "StackName": stack_name,
            "UsePreviousTemplate": True,
            "Parameters": parameters,
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            "RoleARN": self.cloudformation_role.role_arn,
            "ClientRequestToken.$": EXECUTION_NAME_HASH,  # execution names may hold '_' (see run_names)
        }
        describe_parameters = {"StackName": stack_name}
        status = {"status.$": "$.Stacks[0].StackStatus", "reason.$": "$.Stacks[0]"}
        if self.deploy_role is not None:
            # CallAwsService would also grant this workflow's own role the calls on the other account's
            # stack, which only the deploy role makes; written out, the state carries no such grant.
            def as_deploy_role(state_id: str, action: str, fields: dict[str, object]) -> sfn.CustomState:
                assert self.deploy_role is not None
                return sfn.CustomState(
                    self,
                    state_id,
                    state_json={
                        "Type": "Task",
                        "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:cloudformation:{action}",
                        "Credentials": {"RoleArn": self.deploy_role.role_arn},
                        **fields,
                    },
                )

            return (
                as_deploy_role(
                    "UpdateEndpointStack", "updateStack", {"Parameters": update_parameters, "ResultPath": "$.update"}
                ),
                as_deploy_role(
                    "DescribeEndpointStack",
                    "describeStacks",
                    {"Parameters": describe_parameters, "ResultSelector": status, "ResultPath": "$.stack"},
                ),
            )
        update = tasks.CallAwsService(
            self,
            "UpdateEndpointStack",
            service="cloudformation",
            action="updateStack",
            parameters=update_parameters,
            iam_resources=[endpoint_stack_arn],
            result_path="$.update",
        )
        describe = tasks.CallAwsService(
            self,
            "DescribeEndpointStack",
            service="cloudformation",
            action="describeStacks",
            parameters=describe_parameters,
            iam_resources=[endpoint_stack_arn],
            result_selector=status,
            result_path="$.stack",
        )
        return update, describe

    def _replicate_model(
        self, regional: RegionalRollout, package_arns: list[str], *, on_error: sfn.IChainable
    ) -> sfn.IChainable:
        """``DescribeModelPackage`` (the served objects' URLs) → ``ReplicateModel`` (``$.replica``), each
        going to ``on_error`` when it fails."""
        assert self.regional_function is not None
        container = "$.InferenceSpecification.Containers[0]"
        served = {MODEL_DATA_URL_PARAMETER: f"{container}.ModelDataUrl"}
        if regional.serves_source_dir:
            served[SOURCE_DIR_URL_PARAMETER] = f"{container}.Environment.SAGEMAKER_SUBMIT_DIRECTORY"
        describe_package = tasks.CallAwsService(
            self,
            "DescribeModelPackage",
            service="sagemaker",
            action="describeModelPackage",
            parameters={"ModelPackageName.$": "$.training.output.ModelPackageArn"},
            iam_resources=package_arns,
            result_selector={f"{name}.$": path for name, path in served.items()},
            result_path="$.package",
        )
        retry_sagemaker(describe_package)
        replicate = tasks.LambdaInvoke(
            self,
            "ReplicateModel",
            lambda_function=self.regional_function.function,
            payload=sfn.TaskInput.from_object(
                {
                    "Action": "ReplicateModel",
                    "Region": regional.region,
                    "ReplicaStackName": regional.replica_stack_name,
                    "Objects": {name: sfn.JsonPath.string_at(f"$.package.{name}") for name in served},
                }
            ),
            result_selector={
                "Bucket.$": "$.Payload.Bucket",
                "KeyArn.$": "$.Payload.KeyArn",
                **{f"{name}.$": f"$.Payload.{name}" for name in served},
            },
            result_path="$.replica",
        )
        for state in (describe_package, replicate):
            catch_failure(state, on_error)
        return describe_package.next(replicate)

    def _regional_stack_calls(
        self, region: str, stack_name: str, parameters: list[dict[str, object]]
    ) -> tuple[tasks.LambdaInvoke, tasks.LambdaInvoke]:
        """UpdateStack and DescribeStacks in ``region`` through ``regional_function``, as the deploy role."""
        assert self.regional_function is not None and self.deploy_role is not None
        function = self.regional_function.function
        target = {"Region": region, "RoleArn": self.deploy_role.role_arn, "StackName": stack_name}
        update = tasks.LambdaInvoke(
            self,
            "UpdateEndpointStack",
            lambda_function=function,
            payload=sfn.TaskInput.from_object(
                {
                    "Action": "UpdateStack",
                    **target,
                    "Parameters": parameters,  # "ParameterValue.$" keys pass through as JSONPaths
                    "CloudFormationRoleArn": self.cloudformation_role.role_arn,
                    "ClientRequestToken": sfn.JsonPath.hash(sfn.JsonPath.execution_name, "MD5"),
                }
            ),
            result_selector={"StackId.$": "$.Payload.StackId"},
            result_path="$.update",
        )
        describe = tasks.LambdaInvoke(
            self,
            "DescribeEndpointStack",
            lambda_function=function,
            payload=sfn.TaskInput.from_object(
                # The token only names the role session, so CloudTrail ties each call to the execution.
                {
                    "Action": "DescribeStack",
                    **target,
                    "ClientRequestToken": sfn.JsonPath.hash(sfn.JsonPath.execution_name, "MD5"),
                }
            ),
            result_selector={"status.$": "$.Payload.status", "reason.$": "$.Payload.reason"},
            result_path="$.stack",
        )
        return update, describe
