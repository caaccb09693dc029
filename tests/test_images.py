"""The image catalogue fast path (``cdk_mlops.images`` reading the SDK's JSON files) against the
SageMaker SDK's own ``image_uris.retrieve``: same URI for the common cases, the SDK for the rest."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from cdk_mlops import images
from cdk_mlops.images import ImageLookupError, framework_image_uri

REGIONS = ["eu-west-1", "us-east-1"]

# (framework, version, py_version, instance_type, scope)
CASES = [
    ("xgboost", "1.7-1", "py3", "ml.m5.xlarge", "training"),
    ("xgboost", "1.7-1", "py3", "ml.m5.large", "inference"),
    ("sklearn", "1.2-1", "py3", "ml.m5.xlarge", "training"),
    ("sklearn", "1.2-1", "py3", "ml.m5.large", "inference"),
    ("pytorch", "2.1", "py310", "ml.m5.xlarge", "training"),
    ("pytorch", "2.1", "py310", "ml.c5.xlarge", "inference"),
    ("tensorflow", "2.13", "py310", "ml.m5.xlarge", "training"),
    ("tensorflow", "2.13", "py310", "ml.m5.large", "inference"),
]


def sdk_retrieve(framework: str, version: str, region: str, py_version: str, instance_type: str, scope: str) -> str:
    """Exactly what the library asked the SDK before the fast path existed."""
    from sagemaker.core import image_uris

    kwargs = {"region": region, "version": version, "instance_type": instance_type}
    if framework != "xgboost":
        kwargs.update(py_version=py_version, image_scope=scope)
    return str(image_uris.retrieve(framework, **kwargs))


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize(("framework", "version", "py_version", "instance_type", "scope"), CASES)
def test_fast_path_returns_what_the_sdk_returns(framework, version, py_version, instance_type, scope, region) -> None:
    expected = sdk_retrieve(framework, version, region, py_version, instance_type, scope)
    sdk_scope = "training" if framework == "xgboost" else scope
    sdk_py = None if framework == "xgboost" else py_version

    fast = images._catalogue_image_uri(framework, version, region, sdk_py, instance_type, sdk_scope)

    assert fast is not None, "the fast path should answer this common case itself"
    assert fast == expected
    assert framework_image_uri(framework, version, region, py_version, instance_type, scope) == expected


@pytest.mark.parametrize(
    ("framework", "version", "py_version", "instance_type", "scope", "region"),
    [
        ("pytorch", "2.1", "py310", "ml.g5.xlarge", "training", "eu-west-1"),  # GPU
        ("xgboost", "1.5-1", "py3", "ml.m6g.large", "inference", "eu-west-1"),  # Graviton
        ("sklearn", "1.2-1", "py3", "ml.m5.large", "training", "cn-north-1"),  # another partition
    ],
)
def test_cases_outside_the_fast_path_go_to_the_sdk(
    framework, version, py_version, instance_type, scope, region
) -> None:
    sdk_scope = "training" if framework == "xgboost" else scope
    sdk_py = None if framework == "xgboost" else py_version
    assert images._catalogue_image_uri(framework, version, region, sdk_py, instance_type, sdk_scope) is None

    assert framework_image_uri(framework, version, region, py_version, instance_type, scope) == sdk_retrieve(
        framework, version, region, py_version, instance_type, scope
    )


@pytest.mark.parametrize("framework", ["xgboost", "sklearn", "pytorch", "tensorflow"])
def test_an_unknown_version_names_the_supported_versions(framework) -> None:
    with pytest.raises(ImageLookupError) as raised:
        framework_image_uri(framework, "0.0-9", "eu-west-1", "py3", "ml.m5.large", "training")

    message = str(raised.value)
    assert "'0.0-9'" in message
    supported = {"xgboost": "1.7-1", "sklearn": "1.2-1", "pytorch": "2.1", "tensorflow": "2.13"}[framework]
    assert f"{supported}," in message or message.endswith(f"{supported})")


def test_the_common_case_does_not_import_the_sdk() -> None:
    code = textwrap.dedent(
        """
        import sys
        from cdk_mlops.images import framework_image_uri
        framework_image_uri("xgboost", "1.7-1", "eu-west-1", "py3", "ml.m5.xlarge", "training")
        framework_image_uri("sklearn", "1.2-1", "eu-west-1", "py3", "ml.m5.large", "inference")
        print("sagemaker.core" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
