"""The Step Functions error names each service integration reports: one table per integration kind.

Every ``Retry`` and ``Catch`` in cdk-mlops' workflows takes its names from here, and the local engine
(:mod:`cdk_mlops.local.moto_patches`) raises exactly these names, so a retry that works locally also
matches on AWS. A name that no integration reports (``S3.ThrottlingException``: S3 throttles with
``SlowDown``) silently never matches, which is why the names are not written by hand anywhere else.

How AWS names errors (Step Functions developer guide):

* **AWS SDK integrations** (``arn:aws:states:::aws-sdk:<service>:<action>``), "AWS SDK service
  integrations" (supported-services-awssdk): the error is ``<ServiceName>.<ErrorName>``, both in
  PascalCase, and the name always ends in ``Exception``, even where the service's API reference omits
  the suffix (S3's ``NoSuchKey`` is ``S3.NoSuchKeyException``). The names are the error shapes of the
  service's API model. An error the model does not declare, such as a throttle (SageMaker's
  ``ThrottlingException``, S3's ``SlowDown``, CloudFormation's ``Throttling``), is reported under the
  service's base exception, ``<ServiceName>.<ServiceName>Exception`` (``S3.S3Exception``), as the
  AWS SDK for Java 2 that runs the integrations names it; moto's vendored copy of LocalStack's
  interpreter (``StateTaskServiceAwsSdk._normalise_exception_name``) implements the same rule.
* **Optimized integrations** (``arn:aws:states:::<service>:<action>[.sync]``), "Handling errors in
  Step Functions workflows" and "Handle Lambda service exceptions" (bp-lambda-serviceexception):
  Lambda reports ``Lambda.ServiceException``, ``Lambda.AWSLambdaException``,
  ``Lambda.SdkClientException``, ``Lambda.ClientExecutionTimeoutException`` (transient, retry them),
  ``Lambda.TooManyRequestsException`` (throttled) and ``Lambda.Unknown``. The optimized SageMaker
  integration reports SageMaker's declared errors by name (``SageMaker.ResourceLimitExceededException``)
  and every other error, a throttle included, as ``SageMaker.AmazonSageMakerException`` with the error
  code in the cause (aws/aws-step-functions-data-science-sdk-python issue 191; that SDK retries
  SageMaker steps on ``SageMaker.AmazonSageMakerException`` for this reason, its pull request 162).

So a throttle can only be retried under the service's generic name, which also matches the service's
other undeclared errors (a validation error is retried too, then caught): that is the price of
retrying throttles at all, and why each retry has a small ``max_attempts``.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "AWS_SDK",
    "OPTIMIZED",
    "OPTIMIZED_SAGEMAKER_GENERIC_ERROR",
    "IntegrationKind",
    "ServiceErrors",
    "aws_sdk",
    "for_resource",
    "optimized_sagemaker_error_name",
    "sdk_error_name",
    "unknown_error_names",
]

AWS_SDK_DOC: Final = "https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html"
ERROR_HANDLING_DOC: Final = "https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html"
LAMBDA_DOC: Final = "https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html"
SAGEMAKER_THROTTLE_EVIDENCE: Final = "https://github.com/aws/aws-step-functions-data-science-sdk-python/issues/191"


class IntegrationKind(enum.Enum):
    """How a Task calls a service: an optimized integration or an AWS SDK integration."""

    OPTIMIZED = "optimized"
    AWS_SDK = "aws-sdk"


@dataclasses.dataclass(frozen=True)
class ServiceErrors:
    """The error names one integration of one service reports.

    ``service`` is the service as the Task's ``Resource`` spells it (``sagemaker``, ``s3``, ``sfn``),
    ``prefix`` as error names spell it (``SageMaker``, ``S3``, ``Sfn``). ``throttling``: the names a
    throttled call fails with; ``transient``: other errors that clear on their own (default none);
    ``capacity``: account limits that clear as other work finishes (default none); ``declared``: other
    names the integration reports, for a ``Catch`` (default none); ``source``: the documentation.
    """

    kind: IntegrationKind
    service: str
    prefix: str
    throttling: tuple[str, ...]
    source: str
    transient: tuple[str, ...] = ()
    capacity: tuple[str, ...] = ()
    declared: tuple[str, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        """Every name this integration reports."""
        return frozenset((*self.throttling, *self.transient, *self.capacity, *self.declared))

    @property
    def retryable(self) -> tuple[str, ...]:
        """Throttling and transient errors, in that order (what a backoff retry lists)."""
        return (*self.throttling, *self.transient)


def sdk_error_name(prefix: str, error_shape: str | None) -> str:
    """The name an AWS SDK integration reports for an error of service ``prefix``: the API model's
    error shape with the ``Exception`` suffix, or the service's base exception for an error the model
    does not declare (``error_shape=None``).

    >>> sdk_error_name("S3", "NoSuchKey")
    'S3.NoSuchKeyException'
    >>> sdk_error_name("S3", None)
    'S3.S3Exception'
    """
    shape = error_shape or prefix
    return f"{prefix}.{shape if shape.endswith('Exception') else shape + 'Exception'}"


def _sdk(service: str, prefix: str, *declared_shapes: str, throttled_shape: str | None = None) -> ServiceErrors:
    return ServiceErrors(
        kind=IntegrationKind.AWS_SDK,
        service=service,
        prefix=prefix,
        throttling=(sdk_error_name(prefix, throttled_shape),),
        declared=tuple(sdk_error_name(prefix, shape) for shape in declared_shapes),
        source=AWS_SDK_DOC,
    )


#: AWS SDK integrations, by the service name of the Task's ``Resource``. ``declared`` lists the API
#: model's error shapes our workflows may meet (botocore's models, checked in tests); a throttle is
#: undeclared everywhere except Lambda (``TooManyRequestsException``) and SNS (``Throttled``).
AWS_SDK: Final[Mapping[str, ServiceErrors]] = {
    errors.service: errors
    for errors in (
        _sdk("sagemaker", "SageMaker", "ConflictException", "ResourceAlreadyExists", "ResourceInUse",
             "ResourceLimitExceeded", "ResourceNotFound"),
        _sdk("s3", "S3", "NoSuchKey", "NoSuchBucket", "AccessDenied", "InvalidObjectState"),
        _sdk("cloudformation", "CloudFormation", "StackNotFoundException", "InsufficientCapabilitiesException",
             "TokenAlreadyExistsException", "LimitExceededException"),
        _sdk("sfn", "Sfn", "ExecutionDoesNotExist", "InvalidArn", "ExecutionAlreadyExists"),
        _sdk("cloudwatch", "CloudWatch", "InvalidParameterValueException", "MissingRequiredParameterException"),
        _sdk("sns", "Sns", "NotFoundException", "KMSThrottlingException", throttled_shape="ThrottledException"),
        _sdk("sts", "Sts", "RegionDisabledException", "ExpiredTokenException"),
        _sdk("lambda", "Lambda", "ResourceNotFoundException", throttled_shape="TooManyRequestsException"),
    )
}  # fmt: skip

#: SageMaker errors the optimized integration reports under their own name (SageMaker's declared
#: error shapes); every other code, a throttle included, is ``SageMaker.AmazonSageMakerException``.
_SAGEMAKER_DECLARED_CODES: Final = frozenset(
    {"ConflictException", "ResourceAlreadyExists", "ResourceInUse", "ResourceLimitExceeded", "ResourceNotFound"}
)
OPTIMIZED_SAGEMAKER_GENERIC_ERROR: Final = "SageMaker.AmazonSageMakerException"


def optimized_sagemaker_error_name(code: str) -> str:
    """The name the optimized SageMaker integration reports for SageMaker error ``code``.

    >>> optimized_sagemaker_error_name("ResourceLimitExceeded")
    'SageMaker.ResourceLimitExceededException'
    >>> optimized_sagemaker_error_name("ThrottlingException")
    'SageMaker.AmazonSageMakerException'
    """
    if code in _SAGEMAKER_DECLARED_CODES:
        return sdk_error_name("SageMaker", code)
    return OPTIMIZED_SAGEMAKER_GENERIC_ERROR


#: Optimized integrations, by the service name of the Task's ``Resource`` (a Lambda function ARN used
#: as ``Resource`` counts as ``lambda``).
OPTIMIZED: Final[Mapping[str, ServiceErrors]] = {
    "sagemaker": ServiceErrors(
        kind=IntegrationKind.OPTIMIZED,
        service="sagemaker",
        prefix="SageMaker",
        throttling=(OPTIMIZED_SAGEMAKER_GENERIC_ERROR,),
        capacity=(optimized_sagemaker_error_name("ResourceLimitExceeded"),),
        declared=tuple(
            optimized_sagemaker_error_name(code)
            for code in sorted(_SAGEMAKER_DECLARED_CODES - {"ResourceLimitExceeded"})
        ),
        source=f"{ERROR_HANDLING_DOC}; {SAGEMAKER_THROTTLE_EVIDENCE}",
    ),
    "lambda": ServiceErrors(
        kind=IntegrationKind.OPTIMIZED,
        service="lambda",
        prefix="Lambda",
        throttling=("Lambda.TooManyRequestsException",),
        transient=(
            "Lambda.ClientExecutionTimeoutException",
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
        ),
        declared=("Lambda.Unknown",),
        source=LAMBDA_DOC,
    ),
}

#: The integration part of a Task's ``Resource`` (the partition may still be a token such as
#: ``<AWS::Partition>`` in an unresolved template).
_RESOURCE: Final = re.compile(r":states:::(?:(?P<sdk>aws-sdk):)?(?P<service>[a-z0-9-]+):")
_FUNCTION: Final = re.compile(r":lambda:[^:]*:[^:]*:function:")


def for_resource(resource: str) -> ServiceErrors | None:
    """The table entry for a Task's ``Resource`` ARN, or None for a service not in the tables.

    >>> for_resource("arn:aws:states:::aws-sdk:s3:getObject").throttling
    ('S3.S3Exception',)
    >>> for_resource("arn:aws:states:::sagemaker:createTrainingJob.sync").throttling
    ('SageMaker.AmazonSageMakerException',)
    """
    match = _RESOURCE.search(resource)
    if match is None:
        return OPTIMIZED["lambda"] if _FUNCTION.search(resource) else None
    table = AWS_SDK if match["sdk"] else OPTIMIZED
    return table.get(match["service"])


def aws_sdk(service: str) -> ServiceErrors:
    """The AWS SDK integration entry of ``service``, by resource name or prefix (``"s3"`` or ``"S3"``);
    raises ``KeyError`` naming the known services for any other."""
    for errors in AWS_SDK.values():
        if service.lower() in {errors.service, errors.prefix.lower()}:
            return errors
    raise KeyError(f"no AWS SDK error names for service {service!r} (known: {', '.join(sorted(AWS_SDK))})")


def unknown_error_names(container: Mapping[str, Any], where: str = "") -> list[str]:
    """Every ``Retry``/``Catch`` name in an ASL definition (or branch) that neither starts with
    ``States.`` nor comes from the table of its Task's integration: such a name never matches.

    A ``Parallel`` or ``Map`` state's rules may name any error its branches report, so they are checked
    against every table. Returns one line per problem, naming the state and the error.
    """
    problems: list[str] = []
    every_name = frozenset(name for table in (AWS_SDK, OPTIMIZED) for errors in table.values() for name in errors.names)
    for state_name, state in container.get("States", {}).items():
        resource = str(state.get("Resource", ""))
        if state.get("Type") == "Task":
            errors = for_resource(resource)
            allowed = errors.names if errors is not None else frozenset()
            kind = (
                f"{errors.kind.value} {errors.service}" if errors is not None else f"unknown integration {resource!r}"
            )
        else:
            allowed, kind = every_name, f"{state.get('Type')} state"
        for field in ("Retry", "Catch"):
            for rule in state.get(field, []):
                for name in rule.get("ErrorEquals", []):
                    if not name.startswith("States.") and name not in allowed:
                        problems.append(
                            f"{where}state {state_name!r} ({kind}): {field} names {name!r}, not in the error table"
                        )
        for index, branch in enumerate(state.get("Branches", [])):
            problems += unknown_error_names(branch, f"{where}{state_name}[branch {index}] ")
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                problems += unknown_error_names(state[key], f"{where}{state_name}[{key}] ")
    return problems
