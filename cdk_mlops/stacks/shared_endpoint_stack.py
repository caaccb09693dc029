"""``Mlops-Endpoint-<name>``: a shared endpoint whose instances host the inference components of several
models (each model's component lives in that model's own endpoint stack)."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_mlops.config.shared_endpoint_config import SharedEndpointConfig
from cdk_mlops.constructs.inference_component import SharedEndpoint


class SharedEndpointStack(Stack):
    """The shared endpoint ``settings`` describes (``endpoint``, a ``SharedEndpoint``), its volumes
    encrypted with the platform key ``encryption_key_arn``, named like the stack (``Mlops-Endpoint-<name>``:
    the models' endpoint stacks name it without a CloudFormation import and depend on this stack, so it
    deploys first). Output ``EndpointName``."""

    def __init__(
        self, scope: Construct, id: str, *, settings: SharedEndpointConfig, encryption_key_arn: str, **kwargs: Any
    ) -> None:
        super().__init__(scope, id, **kwargs)
        key = kms.Key.from_key_arn(self, "PlatformKey", encryption_key_arn)
        self.endpoint = SharedEndpoint(
            self, "Endpoint", settings=settings, encryption_key=key, endpoint_name=self.stack_name
        )
        CfnOutput(
            self,
            "EndpointName",
            value=self.endpoint.endpoint_name,
            description=f"The shared endpoint {settings.name}",
        )
