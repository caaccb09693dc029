"""Batch inference of one model: a workflow that scores new data with a SageMaker transform job instead
of hosting an endpoint (``inference: batch`` in model.yaml)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_mlops.config.model_config import BatchConfig
from cdk_mlops.constructs.compliance import (
    SERVICE_WIDE_REASON,
    Justification,
    allow_key,
    allow_objects,
    allow_publish,
    justify_wildcards,
)
from cdk_mlops.constructs.failure_notice import FailurePath, Headline, Line, catch_failure, message, publish
from cdk_mlops.constructs.promotion import (
    model_package_arns,
    model_package_justification,
    promotion_record,
    resolve_model_package,
    retry_sagemaker,
)
from cdk_mlops.constructs.run_names import run_name
from cdk_mlops.constructs.sagemaker_tasks import JobNetworkConfig, TransformJobTask, pass_role_statement
from cdk_mlops.constructs.workflow_defaults import (
    allow_execution_data,
    logged_state_machine,
    notification,
    retry_throttling,
    service_role,
)

#: Where the state data keeps the package to score with, whichever way the workflow was started.
PACKAGE_ARN = "$.package.ModelPackageArn"
PIPELINE_EXECUTION_ID = "$.package.PipelineExecutionId"
FROM_PIPELINE = "$.TrainingExecutionArn"


class BatchTransformWorkflow(Construct):
    """A Standard state machine that scores the files under ``settings.input_prefix`` with a SageMaker
    batch transform job, for a model that hosts no endpoint.

    Started by the pipeline with ``{"TrainingExecutionArn": "<arn>"}``, it scores with the package that
    training execution registered (``ResolveModelPackage``, DescribeExecution, as the deploy workflows
    do) and, once the job completed, records the release: the package becomes ``Approved`` and is tagged
    ``cdk-mlops:pipeline-execution`` and ``cdk-mlops:deployed-by`` (``ApproveModelPackage``,
    ``TagRelease``). Started with ``{}`` (the schedule), it scores with the newest ``Approved`` package of
    ``model_package_group_name`` (``FindApprovedPackage``: ListModelPackages sorted by creation time);
    with none approved it notifies and fails (``NoApprovedPackage``).

    Path: ``Initialize`` (names from the execution name) → ``TrainedByPipeline?`` → the package →
    ``CreateModel`` (the model ``<model>-<md5 of the execution name>-batch`` from the package, running
    as ``sagemaker_role``) → ``Transform`` (``createTransformJob.sync``, job of the same name, reading
    ``s3://<data bucket>/<input prefix>`` (with ``settings.date_partition``,
    ``<input prefix><YYYY-MM-DD>/`` of the UTC date the execution started), writing ``s3://<artifact
    bucket>/<output prefix><execution name>/`` encrypted with ``encryption_key``) → [promotion record] →
    ``DeleteModel`` → ``NotifySucceeded`` (names the output path) → ``BatchTransformed``. Names are
    valid for any execution name (at most 59 characters, see ``run_names``). Every task retries
    throttling; any error notifies ``notification_topic`` (see ``failure_notice``) and fails the
    execution (``BatchTransformFailed``), after deleting the run's model once it exists.

    ``settings`` are the batch section with its defaults (``ModelConfig.batch_settings``); unset
    prefixes default to ``<model>/batch/input/`` and ``<model>/batch/output/``. ``data_bucket``
    (default: ``artifact_bucket``) holds the input. ``sagemaker_role`` (the training workflow's
    SageMaker role) is granted read on the input prefix and write on the output prefix; it must also
    pull the package's inference image. ``network`` (default none) puts the model in VPC subnets, with
    network isolation if set. ``timeout`` (default 24 hours) bounds an execution.

    Creates: ``state_machine`` and ``log_group`` (KMS-encrypted, ALL events with execution data,
    ``log_retention`` default 1 year), and with ``settings.schedule`` ``schedule`` (EventBridge
    Scheduler, starting the workflow with ``{}``; its role may only ``states:StartExecution`` this
    state machine), else ``schedule`` is None.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        settings: BatchConfig,
        model_package_group_name: str,
        training_state_machine: sfn.IStateMachine,
        sagemaker_role: iam.IRole,
        artifact_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        notification_topic: sns.ITopic,
        data_bucket: s3.IBucket | None = None,
        network: JobNetworkConfig | None = None,
        timeout: Duration | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, id)
        self.model_name = model_name
        self.settings = settings
        data_bucket = data_bucket or artifact_bucket
        input_prefix, output_prefix = settings.prefixes(model_name)
        self.input_uri = f"s3://{data_bucket.bucket_name}/{input_prefix}"
        output_uri = f"s3://{artifact_bucket.bucket_name}/{output_prefix}"
        execution = "$$.Execution.Name"
        packages = model_package_arns(self, model_package_group_name)
        models = Stack.of(self).format_arn(
            service="sagemaker",
            resource="model",
            resource_name=f"{model_name}-*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

        def notify(state_id: str, template: str, paths: list[str]) -> tasks.SnsPublish:
            return notification(
                self,
                state_id,
                topic=notification_topic,
                subject=f"cdk-mlops: {model_name} batch transform",
                template=f"Batch transform of model {model_name} ({{}}) {template}",
                paths=[execution, *paths],
            )

        headline = Headline(model_name, "batch transform")
        failure = FailurePath(
            self,
            headline=headline,
            topic=notification_topic,
            subject=f"cdk-mlops: {model_name} batch transform",
            then=sfn.Fail(self, "BatchTransformFailed", error="BatchTransformFailed", cause_path="$.error.Cause"),
            job_name_fields=["TransformJobName"],
        ).entry

        def delete_model(state_id: str) -> tasks.CallAwsService:
            task = tasks.CallAwsService(
                self,
                state_id,
                service="sagemaker",
                action="deleteModel",
                parameters={"ModelName.$": "$.run.name"},
                iam_resources=[models],
                result_path=sfn.JsonPath.DISCARD,
            )
            retry_sagemaker(task)
            return task

        # Once the run's model exists, a failure deletes it before notifying (keeping the first error).
        clean_up = delete_model("DeleteModelAfterFailure")
        clean_up.add_catch(failure, result_path="$.cleanupError")
        clean_up.next(failure)

        run: dict[str, str] = {
            "name.$": run_name(model_name, "batch"),
            "output_path.$": f"States.Format('{output_uri}{{}}/', {execution})",
        }
        if settings.date_partition:
            # The UTC date the execution started: the part of its ISO-8601 start time before the 'T'.
            run["input_uri.$"] = (
                f"States.Format('{self.input_uri}{{}}/', "
                "States.ArrayGetItem(States.StringSplit($$.Execution.StartTime, 'T'), 0))"
            )
        initialize = sfn.Pass(self, "Initialize", parameters=run, result_path="$.run")
        resolve = resolve_model_package(self, training_state_machine)
        retry_throttling(resolve, "Sfn")
        use_trained = sfn.Pass(
            self,
            "UseTrainedPackage",
            parameters={
                "ModelPackageArn.$": "$.training.output.ModelPackageArn",
                "PipelineExecutionId.$": "$.training.output.PipelineExecutionId",
            },
            result_path="$.package",
        )
        find_approved = tasks.CallAwsService(
            self,
            "FindApprovedPackage",
            service="sagemaker",
            action="listModelPackages",
            parameters={
                "ModelPackageGroupName": model_package_group_name,
                "ModelApprovalStatus": "Approved",
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 1,
            },
            # ListModelPackages has no resource-level permissions.
            iam_resources=["*"],
            iam_action="sagemaker:ListModelPackages",
            result_selector={"packages.$": "$.ModelPackageSummaryList"},
            result_path="$.approved",
        )
        retry_sagemaker(find_approved)
        use_approved = sfn.Pass(
            self,
            "UseApprovedPackage",
            parameters={"ModelPackageArn.$": "$.approved.packages[0].ModelPackageArn"},
            result_path="$.package",
        )
        none_approved = publish(
            self,
            "NotifyNoApprovedPackage",
            topic=notification_topic,
            subject=f"cdk-mlops: {model_name} batch transform",
            text=message(
                headline.line(
                    f"no Approved package in model package group {model_package_group_name}",
                    state="ApprovedPackageFound?",
                ),
                Line("Approve one in the model registry, or release one through the pipeline."),
            ),
        ).next(
            sfn.Fail(
                self,
                "NoApprovedPackage",
                error="NoApprovedPackage",
                cause=f"model package group {model_package_group_name} has no Approved package",
            )
        )
        approved_found = (
            sfn.Choice(self, "ApprovedPackageFound?")
            .when(sfn.Condition.is_present("$.approved.packages[0]"), use_approved)
            .otherwise(none_approved)
        )

        network = network or JobNetworkConfig()
        model_parameters: dict[str, object] = {
            "ModelName.$": "$.run.name",
            "Containers": [{"ModelPackageName.$": PACKAGE_ARN}],
            "ExecutionRoleArn": sagemaker_role.role_arn,
        }
        vpc_config = network.render_vpc_config()
        if vpc_config:
            model_parameters["VpcConfig"] = vpc_config
        if network.network_isolation:
            model_parameters["EnableNetworkIsolation"] = True
        create_model = tasks.CallAwsService(
            self,
            "CreateModel",
            service="sagemaker",
            action="createModel",
            parameters=model_parameters,
            iam_resources=[models],
            result_path=sfn.JsonPath.DISCARD,
        )
        retry_sagemaker(create_model)
        transform = TransformJobTask(
            self,
            "Transform",
            job_name="$.run.name",
            job_name_prefix=f"{model_name}-",
            model_name="$.run.name",
            input_s3_uri="$.run.input_uri" if settings.date_partition else self.input_uri,
            output_s3_uri="$.run.output_path",
            content_type=settings.content_type,
            accept=settings.accept,
            split_type=settings.split_type,
            batch_strategy=settings.batch_strategy,
            assemble_with=settings.assemble_with,
            instance_type=settings.instance_type,
            instance_count=settings.instance_count,
            max_payload_mb=settings.max_payload_mb,
            max_concurrent_transforms=settings.max_concurrent_transforms,
            encryption_key=encryption_key,
            result_path="$.transform",
        )
        catch_failure(transform, clean_up)

        finish = delete_model("DeleteModel")
        succeeded = notify(
            "NotifySucceeded", "wrote its results to {} (model package {})", ["$.run.output_path", PACKAGE_ARN]
        ).next(sfn.Succeed(self, "BatchTransformed"))
        finish.next(succeeded)
        record = promotion_record(
            self,
            package_arns=[packages],
            package_path=PACKAGE_ARN,
            pipeline_execution_path=PIPELINE_EXECUTION_ID,
            approval_description="Scored new data in batch by {}",
            on_error=clean_up,
        ).next(finish)
        release = sfn.Choice(self, "RecordPromotion?").when(sfn.Condition.is_present(FROM_PIPELINE), record)
        release.otherwise(finish)
        score = sfn.Chain.start(create_model).next(transform).next(release)
        for task in (resolve, find_approved, create_model, finish):
            catch_failure(task, failure)
        resolve.next(use_trained).next(score)
        use_approved.next(score)
        find_approved.next(approved_found)
        trained_by_pipeline = (
            sfn.Choice(self, "TrainedByPipeline?")
            .when(sfn.Condition.is_present(FROM_PIPELINE), resolve)
            .otherwise(find_approved)
        )
        self.state_machine, self.log_group = logged_state_machine(
            self,
            definition=initialize.next(trained_by_pipeline),
            encryption_key=encryption_key,
            timeout=timeout or Duration.hours(24),
            comment=f"Scores new data with model {model_name} in a batch transform job",
            log_retention=log_retention,
        )
        for statement in [
            *transform.task_policies,
            pass_role_statement(sagemaker_role),
            # CreateModel reads the package it is given.
            iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[packages]),
        ]:
            self.state_machine.add_to_role_policy(statement)
        allow_execution_data(self.state_machine, encryption_key, training_state_machine)  # ResolveModelPackage
        allow_publish(self.state_machine, notification_topic, encryption_key)

        # The job runs as the model's role: it lists and reads the input and writes the results.
        allow_objects(sagemaker_role, data_bucket, input_prefix, list_prefix=True)
        allow_objects(sagemaker_role, artifact_bucket, output_prefix, write=True)
        allow_key(sagemaker_role, encryption_key)

        self.schedule: scheduler.Schedule | None = None
        if settings.schedule:
            self.schedule = scheduler.Schedule(
                self,
                "Schedule",
                schedule=scheduler.ScheduleExpression.expression(settings.schedule),
                description=f"Batch transform of model {model_name} with its newest Approved package",
                target=scheduler_targets.StepFunctionsStartExecution(
                    self.state_machine,
                    input=scheduler.ScheduleTargetInput.from_object({}),
                    role=service_role(
                        self,
                        "ScheduleRole",
                        service="scheduler.amazonaws.com",
                        description=f"scheduled batch transform of model {model_name}",
                    ),
                ),
            )

        justify_wildcards(
            self,
            [
                Justification(
                    f"Resource::arn:<AWS::Partition>:sagemaker:*:*:transform-job/{model_name}-*",
                    f"Transform jobs of this model are named '{model_name}-<execution>-batch' per run; the name "
                    "prefix is the narrowest scope.",
                ),
                Justification(
                    f"Resource::arn:<AWS::Partition>:sagemaker:*:*:model/{model_name}-*",
                    f"The workflow creates and deletes one model per run, named '{model_name}-<execution>-batch'.",
                ),
                model_package_justification(model_package_group_name),
                Justification(
                    "Resource::arn:<AWS::Partition>:states:*:*:execution:*:*",
                    "Executions of this model's training workflow are named per pipeline run.",
                ),
                Justification(
                    "Resource::*",
                    f"{SERVICE_WIDE_REASON} sagemaker:ListModelPackages has no resource-level permissions.",
                ),
            ],
        )
        if isinstance(sagemaker_role, Construct):
            justify_wildcards(
                sagemaker_role,
                [
                    Justification(
                        f"Resource::{{data}}/{input_prefix}*",
                        f"Batch transform input of {model_name}: files the data owner names under this prefix.",
                    ),
                    Justification(
                        f"Resource::{{bucket}}/{output_prefix}*",
                        f"Batch transform results of {model_name}, written per run under this prefix.",
                    ),
                ],
                values={"bucket": artifact_bucket.bucket_arn, "data": data_bucket.bucket_arn},
            )

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` start this workflow (``{}`` scores with the newest Approved package)."""
        return self.state_machine.grant_start_execution(grantee)

    def metric_failed(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Executions that failed (``ExecutionsFailed``), summed over ``period`` (default 5 minutes)."""
        return self.state_machine.metric_failed(period=period)
