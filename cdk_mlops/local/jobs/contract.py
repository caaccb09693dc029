"""SageMaker's container contract in one place: paths under ``/opt/ml`` and the ``SM_*`` variables.

The names follow aws/sagemaker-training-toolkit (``ENVIRONMENT_VARIABLES.md``,
``src/sagemaker_training/environment.py``, ``params.py``, ``mapping.py``), which the framework
containers (scikit-learn, XGBoost script mode, PyTorch...) run before the user's entry point.

We implement the documented contract rather than run the real toolkit (``sagemaker-training`` on PyPI).
The toolkit can be pointed at another root (``SAGEMAKER_BASE_DIR``), but it would then report that
root in every ``SM_*`` variable (so scripts with hard-coded ``/opt/ml`` paths still break), it fetches
``sagemaker_submit_directory`` from S3 itself (our S3 is moto, inside this process, out of its
reach), it pip-installs ``requirements.txt`` at every job, and it would have to be installed (with its
C extension and dependencies) into every model's environment. The workspace is instead presented at
``/opt/ml`` (see :mod:`cdk_mlops.local.jobs.sandbox`), and the variables, files and command-line
arguments below are produced the way the toolkit produces them (same names, same JSON formatting).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, Final

__all__ = [
    "CURRENT_HOST",
    "HOSTS",
    "ML_ROOT",
    "SAGEMAKER_PREFIX",
    "SUBMIT_DIR_PARAM",
    "USER_PROGRAM_PARAM",
    "Paths",
    "decode_hyperparameters",
    "to_cmd_args",
    "to_env_value",
    "training_environment",
]

#: Where SageMaker mounts a job's storage in every container.
ML_ROOT: Final = PurePosixPath("/opt/ml")
#: The one host of a single-instance job (SageMaker names hosts ``algo-1``, ``algo-2``...).
CURRENT_HOST: Final = "algo-1"
HOSTS: Final = (CURRENT_HOST,)
NETWORK_INTERFACE: Final = "eth0"

#: Hyperparameters with this prefix are the framework's (``sagemaker_program``...), not the script's.
SAGEMAKER_PREFIX: Final = "sagemaker_"
USER_PROGRAM_PARAM: Final = "sagemaker_program"
USER_PROGRAM_ENV: Final = "SAGEMAKER_PROGRAM"
SUBMIT_DIR_PARAM: Final = "sagemaker_submit_directory"
SUBMIT_DIR_ENV: Final = "SAGEMAKER_SUBMIT_DIRECTORY"
REGION_PARAM: Final = "sagemaker_region"
TRAINING_JOB_ENV: Final = "TRAINING_JOB_NAME"
CURRENT_HOST_ENV: Final = "CURRENT_HOST"

# -- files SageMaker writes or reads -------------------------------------------------------------
HYPERPARAMETERS_FILE: Final = "hyperparameters.json"
INPUT_DATA_CONFIG_FILE: Final = "inputdataconfig.json"
RESOURCE_CONFIG_FILE: Final = "resourceconfig.json"
FAILURE_FILE: Final = "failure"
MODEL_ARCHIVE: Final = "model.tar.gz"
SOURCE_ARCHIVE: Final = "sourcedir.tar.gz"

# -- processing ----------------------------------------------------------------------------------
PROCESSING_ROOT: Final = ML_ROOT / "processing"
PROCESSING_JOB_CONFIG_FILE: Final = ML_ROOT / "config" / "processingjobconfig.json"


class Paths:
    """The ``/opt/ml`` tree of one container, rooted at ``root`` (``/opt/ml`` inside the container, or
    ``<workspace>/opt/ml`` as seen from outside)."""

    def __init__(self, root: os.PathLike[str] | str) -> None:
        self.root = PurePosixPath(root)

    @property
    def input_dir(self) -> PurePosixPath:
        """``/opt/ml/input`` (``SM_INPUT_DIR``)."""
        return self.root / "input"

    @property
    def input_config_dir(self) -> PurePosixPath:
        """``/opt/ml/input/config`` (``SM_INPUT_CONFIG_DIR``): hyperparameters, data and resource config."""
        return self.input_dir / "config"

    @property
    def input_data_dir(self) -> PurePosixPath:
        """``/opt/ml/input/data``: one folder per channel."""
        return self.input_dir / "data"

    def channel_dir(self, channel: str) -> PurePosixPath:
        """``/opt/ml/input/data/<channel>`` (``SM_CHANNEL_<CHANNEL>``)."""
        return self.input_data_dir / channel

    @property
    def model_dir(self) -> PurePosixPath:
        """``/opt/ml/model`` (``SM_MODEL_DIR``): packed into ``model.tar.gz`` after training."""
        return self.root / "model"

    @property
    def code_dir(self) -> PurePosixPath:
        """``/opt/ml/code``: the extracted ``sourcedir.tar.gz``; the entry point runs here."""
        return self.root / "code"

    @property
    def output_dir(self) -> PurePosixPath:
        """``/opt/ml/output`` (``SM_OUTPUT_DIR``)."""
        return self.root / "output"

    @property
    def failure_file(self) -> PurePosixPath:
        """``/opt/ml/output/failure``: a failing job's own reason (SageMaker reports it)."""
        return self.output_dir / FAILURE_FILE

    @property
    def output_data_dir(self) -> PurePosixPath:
        """``/opt/ml/output/data`` (``SM_OUTPUT_DATA_DIR``): packed into ``output.tar.gz``."""
        return self.output_dir / "data"

    @property
    def output_intermediate_dir(self) -> PurePosixPath:
        """``/opt/ml/output/intermediate`` (``SM_OUTPUT_INTERMEDIATE_DIR``)."""
        return self.output_dir / "intermediate"

    @property
    def checkpoint_dir(self) -> PurePosixPath:
        """``/opt/ml/checkpoints``: the default local path of ``CheckpointConfig``."""
        return self.root / "checkpoints"


def decode_hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """Hyperparameters as the toolkit reads them: each value JSON-decoded when it is JSON (the SDK
    JSON-encodes script-mode values), else kept as the string it is."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            decoded[key] = json.loads(value)
        except (TypeError, ValueError):
            decoded[key] = value
    return decoded


def split_framework_parameters(hyperparameters: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(user, framework)``: the ``sagemaker_*`` entries are the framework's."""
    user = {key: value for key, value in hyperparameters.items() if not key.startswith(SAGEMAKER_PREFIX)}
    framework = {key: value for key, value in hyperparameters.items() if key.startswith(SAGEMAKER_PREFIX)}
    return user, framework


def to_env_value(value: Any) -> str:
    """An ``SM_*`` value: strings as they are, anything else compact JSON with sorted keys."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """Hyperparameters as the framework containers pass them: ``--name value`` pairs sorted by name
    (``-n`` for a one-letter name), a dict as ``k=v,k=v``, other values as ``str(value)``."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        args.append(f"--{key}" if len(key) > 1 else f"-{key}")
        if isinstance(value, Mapping):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append("" if value is None else str(value))
    return args


def training_environment(
    *,
    paths: Paths,
    job_name: str,
    channels: Sequence[str],
    hyperparameters: Mapping[str, Any],
    framework_parameters: Mapping[str, Any],
    input_data_config: Mapping[str, Any],
    resource_config: Mapping[str, Any],
    entry_point: str,
    module_dir: str,
    num_cpus: int,
    instance_type: str,
) -> dict[str, str]:
    """Every ``SM_*`` variable the training toolkit sets before running the entry point."""
    module_name = entry_point[:-3] if entry_point.endswith(".py") else entry_point
    channel_dirs = {channel: str(paths.channel_dir(channel)) for channel in sorted(channels)}
    values: dict[str, Any] = {
        "hosts": list(HOSTS),
        "network_interface_name": NETWORK_INTERFACE,
        "hps": dict(hyperparameters),
        "user_entry_point": entry_point,
        "framework_params": {},
        "resource_config": dict(resource_config),
        "input_data_config": dict(input_data_config),
        "output_data_dir": str(paths.output_data_dir),
        "channels": sorted(channels),
        "current_host": CURRENT_HOST,
        "current_instance_type": instance_type,
        "current_instance_group": "homogeneousCluster",
        "current_instance_group_hosts": list(HOSTS),
        "instance_groups": ["homogeneousCluster"],
        "is_hetero": False,
        "module_name": module_name,
        "log_level": 20,
        "framework_module": None,
        "input_dir": str(paths.input_dir),
        "input_config_dir": str(paths.input_config_dir),
        "output_dir": str(paths.output_dir),
        "num_cpus": num_cpus,
        "num_gpus": 0,
        "num_neurons": 0,
        "model_dir": str(paths.model_dir),
        "module_dir": module_dir,
        "user_args": to_cmd_args(hyperparameters),
        "output_intermediate_dir": str(paths.output_intermediate_dir),
    }
    values["training_env"] = {
        **{key: value for key, value in values.items() if key != "user_args"},
        "job_name": job_name,
        "channel_input_dirs": channel_dirs,
        "additional_framework_parameters": dict(framework_parameters),
        "hyperparameters": dict(hyperparameters),
    }
    for channel, path in channel_dirs.items():
        values[f"channel_{channel}"] = path
    for key, value in hyperparameters.items():
        values[f"hp_{key}"] = value
    env = {f"SM_{key.upper()}": to_env_value(value) for key, value in values.items()}
    env[TRAINING_JOB_ENV] = job_name
    env[CURRENT_HOST_ENV] = CURRENT_HOST
    return env
