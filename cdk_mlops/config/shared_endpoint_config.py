"""``<models dir>/shared_endpoints/<name>.yaml``: the one place a shared endpoint's instances are set.

Models name the endpoint with ``endpoints.<stage>.shared_endpoint: <name>`` and reserve their compute on it
with ``component``; the instances (type, count, managed instance scaling) live only here, so two models
cannot disagree about them (a model that sets ``instance_type`` or ``instance_count`` beside
``shared_endpoint`` is refused by ``EndpointVariantConfig``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from cdk_mlops.config.loader import ModelConfigError
from cdk_mlops.config.model_config import FieldError, _check_instance_type, _Frozen

#: The folder of shared endpoint files inside the models folder (it holds no model.yaml, so it is no model).
SHARED_ENDPOINTS_DIR = "shared_endpoints"


class ManagedInstanceScalingConfig(_Frozen):
    """SageMaker managed instance scaling of a shared endpoint's variant: it adds instances when the models'
    copies need room and removes idle ones. Defaults: 1 to 4 instances."""

    min_instances: int = Field(default=1, ge=1)
    """Fewest instances (MinInstanceCount). Default: 1."""
    max_instances: int = Field(default=4, ge=1)
    """Most instances (MaxInstanceCount), at least min_instances. Default: 4."""

    @model_validator(mode="after")
    def _range(self) -> ManagedInstanceScalingConfig:
        if self.max_instances < self.min_instances:
            raise FieldError("max_instances", self.max_instances, f"is below min_instances ({self.min_instances})")
        return self


class SharedEndpointConfig(_Frozen):
    """One shared endpoint hosting inference components. Defaults: ``instance_type`` ml.m5.xlarge,
    ``instance_count`` 1, managed instance scaling off, routing of requests to the copy with the fewest
    outstanding requests (``routing``: ``least_outstanding_requests`` or ``random``)."""

    name: str
    """The endpoint's name in models' shared_endpoint: must be the file's name without .yaml."""
    description: str = ""
    """What the endpoint is for (the stack's description). Default: empty."""
    instance_type: str = "ml.m5.xlarge"
    """The instance type the models' copies share. Default: ml.m5.xlarge."""
    instance_count: int = Field(default=1, ge=1, le=100)
    """Initial instances. Default: 1."""
    managed_instance_scaling: ManagedInstanceScalingConfig | None = None
    """Let SageMaker add and remove instances as the copies need (ManagedInstanceScaling). Default: none (fixed)."""
    routing: str = "least_outstanding_requests"
    """How requests reach a copy (RoutingConfig.RoutingStrategy): least_outstanding_requests (default) or random."""

    _instance = field_validator("instance_type")(_check_instance_type)

    @field_validator("routing")
    @classmethod
    def _routing(cls, value: str) -> str:
        if value not in ("least_outstanding_requests", "random"):
            raise ValueError("must be least_outstanding_requests or random")
        return value

    @model_validator(mode="after")
    def _count_in_range(self) -> SharedEndpointConfig:
        scaling = self.managed_instance_scaling
        if scaling is not None and not scaling.min_instances <= self.instance_count <= scaling.max_instances:
            raise FieldError(
                "instance_count",
                self.instance_count,
                f"must be within managed_instance_scaling's {scaling.min_instances} to {scaling.max_instances}",
            )
        return self


def shared_endpoint_path(models_dir: Path | str, name: str) -> Path:
    """Where shared endpoint ``name`` is defined: ``<models_dir>/shared_endpoints/<name>.yaml``."""
    return Path(models_dir) / SHARED_ENDPOINTS_DIR / f"{name}.yaml"


def load_shared_endpoint(models_dir: Path | str, name: str, referrer: Path | str, field: str) -> SharedEndpointConfig:
    """Reads shared endpoint ``name``, named by ``field`` of model file ``referrer``; raises
    ``ModelConfigError`` naming the file, the field and the value when it is missing or invalid."""
    path = shared_endpoint_path(models_dir, name)
    if not path.is_file():
        raise ModelConfigError(
            referrer, [f"{field}: no shared endpoint file {path} (create it with instance_type, ...) (got {name!r})"]
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ModelConfigError(path, [f"not valid YAML: {error}"]) from None
    if not isinstance(data, dict):
        raise ModelConfigError(path, [f"must be a mapping of settings (got {type(data).__name__})"])
    try:
        config = SharedEndpointConfig.model_validate(data)
    except ValidationError as error:
        problems = [_problem(item) for item in error.errors()]
        raise ModelConfigError(path, problems) from None
    if config.name != name:
        raise ModelConfigError(
            path, [f"name: must be the file's name {name!r}, which {referrer} uses in {field} (got {config.name!r})"]
        )
    return config


def _problem(item: Any) -> str:
    """One pydantic error as ``<field>: <reason> (got <value>)``; a ``FieldError`` names its own field."""
    location = [str(part) for part in item["loc"]]
    value = item.get("input")
    reason = str(item["msg"]).removeprefix("Value error, ")
    cause = (item.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        location.append(cause.field)
        value = cause.value
    return f"{'.'.join(location) or '(file)'}: {reason} (got {value!r})"
