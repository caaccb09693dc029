"""Container image lookup for SageMaker framework images, offline and without credentials.

The answers come from the SageMaker Python SDK's image catalogue (``sagemaker.core.image_uris`` and
its JSON files under ``sagemaker/core/image_uri_config/``, shipped in the ``sagemaker-core``
distribution). Importing ``sagemaker.core`` costs about two seconds, so the common case (XGBoost,
scikit-learn, PyTorch or TensorFlow on a CPU instance, training or inference scope, a commercial AWS
region) is answered by reading the JSON file directly, applying the SDK's rules for that case
(``_catalogue_image_uri``); anything else (GPU, Graviton, Inferentia/Trainium, other partitions,
unusual catalogue entries) falls back to ``image_uris.retrieve``. ``tests/test_images.py`` checks the
two agree. Each answer is cached for the process.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

from cdk_mlops.config.model_config import FrameworkConfig

_SDK_FRAMEWORK_NAMES = {
    "xgboost": "xgboost",
    "sklearn": "sklearn",
    "pytorch": "pytorch",
    "tensorflow": "tensorflow",
}

# Regions of the aws partition, whose ECR hostname is ecr.<region>.amazonaws.com (not China, GovCloud, ISO).
_COMMERCIAL_REGION = re.compile(r"^(us|eu|ap|ca|sa|me|af|il|mx)-[a-z]+-\d+$")
# x86 CPU families (m5, c5n, r6i, t3, ...): no GPU (g, p), no Graviton (a "g" after the generation).
_CPU_FAMILY = re.compile(r"^[cmrt]\d+[a-fh-z]*$")
_INSTANCE_FAMILY = re.compile(r"^ml[\._]([a-z\d\-]+)\.?\w*$")  # the SDK's get_instance_type_family


class ImageLookupError(ValueError):
    """The SageMaker SDK has no image for this framework, version or region."""


@functools.lru_cache(maxsize=1)
def _catalogue_dir() -> Path | None:
    """``sagemaker/core/image_uri_config`` of the installed SDK, found without importing it."""
    try:
        spec = importlib.util.find_spec("sagemaker")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        folder = Path(location) / "core" / "image_uri_config"
        if folder.is_dir():
            return folder
    return None


@functools.lru_cache(maxsize=16)
def _catalogue(framework: str) -> dict[str, Any] | None:
    folder = _catalogue_dir()
    if folder is None or not (folder / f"{framework}.json").is_file():
        return None
    data: dict[str, Any] = json.loads((folder / f"{framework}.json").read_text(encoding="utf-8"))
    return data


def _catalogue_image_uri(
    framework: str, version: str, region: str, py_version: str | None, instance_type: str | None, scope: str
) -> str | None:
    """The SDK's answer read from its JSON catalogue, for the common case only; ``None`` when this
    case needs ``image_uris.retrieve``. Raises ``ImageLookupError`` for a version the catalogue lacks.
    ``py_version`` None and ``scope`` as the SDK gets them (xgboost: no py_version, training scope)."""
    config = _catalogue(framework)
    if config is None or scope not in ("training", "inference") or not _COMMERCIAL_REGION.match(region):
        return None
    family = ""
    if instance_type is not None:
        match = _INSTANCE_FAMILY.match(instance_type)
        family = match[1] if match else ""
        if not _CPU_FAMILY.match(family):
            return None
    if "scope" in config:
        if scope not in config["scope"] or len(config["scope"]) == 1:
            return None
        scoped = config
    else:
        by_scope = config.get(scope)
        if not isinstance(by_scope, dict) or "versions" not in by_scope:
            return None
        scoped = by_scope
    versions: dict[str, Any] = scoped["versions"]
    aliases: dict[str, str] = scoped.get("version_aliases", {})
    if len(versions) == 1 and version not in aliases:
        return None  # the SDK answers with the only version whatever was asked
    if version not in versions and version not in aliases:
        supported = ", ".join(list(versions) + list(aliases))
        raise ImageLookupError(
            f"no SageMaker image for framework {framework!r} version {version!r} in {region} "
            f"(unsupported {framework} version: {version}; supported {framework} version(s): {supported})"
        )
    entry = versions.get(aliases.get(version, version))
    if not isinstance(entry, dict) or "repository" not in entry:
        return None  # a catalogue entry keyed by Python version: leave it to the SDK
    py_versions = entry.get("py_versions")
    py: str | None = None
    if py_versions:
        if py_version is None:
            if len(py_versions) != 1:
                return None
            py = py_versions[0]
        elif py_version in py_versions:
            py = py_version
        else:
            return None  # the SDK raises its own error
        if isinstance(entry.get(py), dict):
            return None
    registry = entry.get("registries", {}).get(region)
    repository = entry["repository"]
    if registry is None or repository.endswith(("-graviton", "-arm64")) or "neuron" in repository:
        return None
    processors = scoped.get("processors") or entry.get("processors")
    processor: str | None = None
    if processors:
        if instance_type is None:
            if len(processors) != 1:
                return None
            processor = processors[0]
        elif family in processors or "cpu" not in processors:
            return None
        else:
            processor = "cpu"
    container_version: str | None = None
    if entry.get("container_version"):
        container_version = entry["container_version"].get(processor)
        if container_version is None:
            return None
    tag_prefix = entry.get("tag_prefix", version)
    if not entry.get("processor_in_tag", True):
        processor = None
    tag = "-".join(part for part in (tag_prefix, processor, py, container_version) if part)
    uri = f"{registry}.dkr.ecr.{region}.amazonaws.com/{repository}"
    return f"{uri}:{tag}" if tag else uri


@functools.lru_cache(maxsize=256)
def framework_image_uri(
    framework: str, version: str, region: str, py_version: str, instance_type: str, scope: str = "training"
) -> str:
    """The ECR image URI of a SageMaker framework container for ``scope`` (training or inference)."""
    sdk_name = _SDK_FRAMEWORK_NAMES[framework]
    # What the SDK gets: xgboost without py_version and image scope (it then uses the training images).
    fast = (
        _catalogue_image_uri(sdk_name, version, region, None, instance_type, "training")
        if framework == "xgboost"
        else _catalogue_image_uri(sdk_name, version, region, py_version, instance_type, scope)
    )
    if fast is not None:
        return fast
    return _sdk_image_uri(framework, version, region, py_version, instance_type, scope)


def _sdk_image_uri(
    framework: str, version: str, region: str, py_version: str, instance_type: str, scope: str = "training"
) -> str:
    """``image_uris.retrieve``: every case the catalogue fast path does not answer."""
    from sagemaker.core import image_uris  # deferred: a heavy import (about 2 s)

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
