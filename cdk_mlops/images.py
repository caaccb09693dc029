"""Container image lookup for SageMaker framework images, offline and without credentials.

Uses the SageMaker Python SDK's image catalogue (``sagemaker.core.image_uris``, shipped in the
``sagemaker-core`` distribution). Importing it costs about two seconds, so it happens only when a model
uses a framework image, and each answer is cached for the process.
"""

from __future__ import annotations

import functools

from cdk_mlops.config.model_config import FrameworkConfig

_SDK_FRAMEWORK_NAMES = {
    "xgboost": "xgboost",
    "sklearn": "sklearn",
    "pytorch": "pytorch",
    "tensorflow": "tensorflow",
}


class ImageLookupError(ValueError):
    """The SageMaker SDK has no image for this framework, version or region."""


@functools.lru_cache(maxsize=256)
def framework_image_uri(
    framework: str, version: str, region: str, py_version: str, instance_type: str, scope: str = "training"
) -> str:
    """The ECR image URI of a SageMaker framework container for ``scope`` (training or inference)."""
    from sagemaker.core import image_uris  # deferred: a heavy import, only needed for framework images

    kwargs: dict[str, str] = {"region": region, "version": version, "instance_type": instance_type}
    if framework != "xgboost":
        kwargs["py_version"] = py_version
        kwargs["image_scope"] = scope
    try:
        return str(image_uris.retrieve(_SDK_FRAMEWORK_NAMES[framework], **kwargs))
    except (ValueError, KeyError) as error:
        raise ImageLookupError(
            f"no SageMaker image for framework {framework!r} version {version!r} in {region} ({error})"
        ) from None


def resolve_image_uri(framework: FrameworkConfig, region: str, instance_type: str, scope: str = "training") -> str:
    """``framework.image_uri`` when given, else the SDK's ``scope`` image for the framework and version."""
    if framework.image_uri:
        return framework.image_uri
    assert framework.version is not None  # guaranteed by FrameworkConfig's validation
    return framework_image_uri(framework.name, framework.version, region, framework.py_version, instance_type, scope)
