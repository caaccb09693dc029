"""``CreateTrainingJob`` run locally: script mode (framework containers) or the built-in XGBoost stand-in.

The job's folder ``<workspace>/<job>/opt/ml`` is laid out as SageMaker lays out a training container:
each channel's objects (``S3Prefix``: every object under the prefix, at its key relative to the prefix)
in ``input/data/<channel>/``, ``input/config/hyperparameters.json`` (the request's values, as sent),
``inputdataconfig.json`` and ``resourceconfig.json``, and empty ``model/`` and ``output/``.

Script mode (a ``sagemaker_program`` hyperparameter or ``SAGEMAKER_PROGRAM`` variable) extracts
``sourcedir.tar.gz`` (``sagemaker_submit_directory``: an S3 URI, or a path under ``/opt/ml``) into
``/opt/ml/code`` and runs the entry point there with the model environment's Python, the ``SM_*``
variables (:mod:`.contract`) and the user hyperparameters as command-line arguments. Without an entry
point, an XGBoost image runs :mod:`.xgboost_builtin`; any other built-in algorithm is refused.

After the run: ``MetricDefinitions`` over the output give ``FinalMetricDataList`` (:mod:`.metrics`);
``model/`` is packed into ``<S3OutputPath>/<job>/output/model.tar.gz`` (and ``output/data/`` into
``output.tar.gz`` beside it); a non-zero exit fails the job with ``AlgorithmError: ...``.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdk_mlops.local.jobs import contract, s3io
from cdk_mlops.local.jobs.dispatch import JobResult
from cdk_mlops.local.jobs.metrics import final_metrics, parse_metric_definitions
from cdk_mlops.local.jobs.process import algorithm_error, base_environment, prefixed_lines, run_logged
from cdk_mlops.local.jobs.sandbox import NO_OPT_ML_HINT, Presentation, present
from cdk_mlops.local.scenario import JobOutcome

if TYPE_CHECKING:
    from cdk_mlops.local.jobs.runner import LocalJobRunner

__all__ = ["cloudwatch_form", "run", "unsupported_algorithm_reason"]


def cloudwatch_form(line: str) -> str:
    """A log line as CloudWatch Logs shows it (a tab as ``#011``), which is what SageMaker's metric
    regexes are written against (the built-in XGBoost's ``#011validation-auc:...``)."""
    return line.replace("\t", "#011")


def unsupported_algorithm_reason(image: str) -> str:
    """The ``FailureReason`` of a built-in algorithm the local runner cannot stand in for."""
    return (
        f"ClientError: the local runner cannot run built-in algorithm image {image!r}: it stands in only for "
        f"the built-in XGBoost (an image named sagemaker-xgboost); give the model a training entry_point "
        f"(script mode) to run it locally"
    )


def run(runner: LocalJobRunner, name: str, request: Mapping[str, Any]) -> JobResult:
    """Runs training job ``name`` from its ``CreateTrainingJob`` request."""
    job_dir = runner.workspace / name
    log_path = job_dir / "output.log"
    algorithm = request.get("AlgorithmSpecification") or {}
    image = str(algorithm.get("TrainingImage") or "")
    raw_hps: dict[str, str] = {str(k): str(v) for k, v in (request.get("HyperParameters") or {}).items()}
    environment = {str(k): str(v) for k, v in (request.get("Environment") or {}).items()}
    decoded = contract.decode_hyperparameters(raw_hps)
    user_hps, framework_hps = contract.split_framework_parameters(decoded)
    program = framework_hps.get(contract.USER_PROGRAM_PARAM) or environment.get(contract.USER_PROGRAM_ENV)
    if not program and "xgboost" not in image.rsplit("/", 1)[-1]:
        return JobResult(JobOutcome.failed(unsupported_algorithm_reason(image)), None)
    definitions = parse_metric_definitions(request)

    with present(job_dir / "opt" / "ml") as view:
        host = contract.Paths(view.host_root)
        inside = contract.Paths(str(view.root))
        channels = _download_channels(runner, request, host)
        input_data_config = _input_data_config(request)
        resource_config = _resource_config(request)
        _write_config(host, raw_hps, input_data_config, resource_config)
        for folder in (host.model_dir, host.output_data_dir, host.output_intermediate_dir):
            Path(folder).mkdir(parents=True, exist_ok=True)
        if program:
            submit = str(framework_hps.get(contract.SUBMIT_DIR_PARAM) or environment.get(contract.SUBMIT_DIR_ENV) or "")
            _extract_source(runner, submit, view, Path(host.code_dir))
            argv = [str(runner.python), str(program), *contract.to_cmd_args(user_hps)]
            cwd = str(inside.code_dir)
            env_vars = contract.training_environment(
                paths=inside,
                job_name=name,
                channels=channels,
                hyperparameters=user_hps,
                framework_parameters=framework_hps,
                input_data_config=input_data_config,
                resource_config=resource_config,
                entry_point=str(program),
                module_dir=submit,
                num_cpus=os.cpu_count() or 1,
                instance_type=str(resource_config["current_instance_type"]),
            )
            env_vars["PYTHONPATH"] = str(inside.code_dir)
            env_vars[contract.USER_PROGRAM_ENV] = str(program)
        else:
            from cdk_mlops.local.jobs import xgboost_builtin

            argv = [str(runner.python), str(xgboost_builtin.SCRIPT)]
            cwd = str(inside.root)
            env_vars = {"SM_INPUT_DIR": str(inside.input_dir), "SM_MODEL_DIR": str(inside.model_dir)}
            definitions = [*xgboost_builtin.metric_definitions(raw_hps, channels), *definitions]
        command = view.command(argv, cwd)
        prefix = f"[{name}] "
        result = run_logged(
            command,
            env=base_environment({**environment, **env_vars}),
            cwd=view.host_cwd(cwd),
            log_path=log_path,
            on_line=prefixed_lines(runner.on_line, prefix),
        )
        if result.returncode != 0:
            reason = algorithm_error(result, argv, Path(host.failure_file))
            if view.mode == "none" and "/opt/ml" in "\n".join(result.stderr_tail):
                reason = f"{reason} ({NO_OPT_ML_HINT})"[:1024]
            return JobResult(JobOutcome.failed(reason), log_path)
        metrics = final_metrics(definitions, (cloudwatch_form(line) for line in result.lines))
        artifacts = _upload_outputs(runner, name, request, host, job_dir)
    return JobResult(JobOutcome.completed(metrics, model_artifacts=artifacts), log_path)


def _download_channels(runner: LocalJobRunner, request: Mapping[str, Any], paths: contract.Paths) -> list[str]:
    s3 = runner.client("s3")
    channels: list[str] = []
    for channel in request.get("InputDataConfig") or []:
        name = str(channel["ChannelName"])
        source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
        data_type = source.get("S3DataType", "S3Prefix")
        if data_type != "S3Prefix":
            raise ValueError(f"InputDataConfig channel {name!r}: S3DataType {data_type!r} (only S3Prefix runs locally)")
        s3io.download_prefix(s3, str(source["S3Uri"]), Path(paths.channel_dir(name)))
        channels.append(name)
    return channels


def _input_data_config(request: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for channel in request.get("InputDataConfig") or []:
        source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
        entry: dict[str, Any] = {
            "TrainingInputMode": channel.get("InputMode")
            or (request.get("AlgorithmSpecification") or {}).get("TrainingInputMode", "File"),
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if channel.get("ContentType"):
            entry["ContentType"] = channel["ContentType"]
        config[str(channel["ChannelName"])] = entry
    return config


def _resource_config(request: Mapping[str, Any]) -> dict[str, Any]:
    instance_type = str((request.get("ResourceConfig") or {}).get("InstanceType", "ml.m5.large"))
    return {
        "current_host": contract.CURRENT_HOST,
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": list(contract.HOSTS),
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": list(contract.HOSTS)}
        ],
        "network_interface_name": contract.NETWORK_INTERFACE,
    }


def _write_config(
    paths: contract.Paths,
    hyperparameters: Mapping[str, str],
    input_data_config: Mapping[str, Any],
    resource_config: Mapping[str, Any],
) -> None:
    config_dir = Path(paths.input_config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / contract.HYPERPARAMETERS_FILE).write_text(json.dumps(dict(hyperparameters)))
    (config_dir / contract.INPUT_DATA_CONFIG_FILE).write_text(json.dumps(dict(input_data_config)))
    (config_dir / contract.RESOURCE_CONFIG_FILE).write_text(json.dumps(dict(resource_config)))


def _extract_source(runner: LocalJobRunner, submit: str, view: Presentation, code_dir: Path) -> None:
    """``sourcedir.tar.gz`` from S3 (or a path under /opt/ml, e.g. the ``code`` channel) into ``code_dir``."""
    code_dir.mkdir(parents=True, exist_ok=True)
    if not submit:
        raise ValueError("script mode needs sagemaker_submit_directory (hyperparameter) or SAGEMAKER_SUBMIT_DIRECTORY")
    if submit.startswith("s3://"):
        archive = code_dir.parent / contract.SOURCE_ARCHIVE
        archive.write_bytes(s3io.read_object(runner.client("s3"), submit))
    else:
        archive = view.host_path(submit)
    extract_archive(archive, code_dir)


def extract_archive(archive: Path, destination: Path) -> None:
    """Extracts a ``.tar.gz`` (members must stay inside ``destination``)."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(destination, filter="data")


def pack_dir(source: Path, archive: Path) -> None:
    """``source``'s contents as a ``.tar.gz`` (members relative to ``source``, as SageMaker packs
    ``/opt/ml/model``)."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.iterdir()):
            tar.add(path, arcname=path.name)


def _upload_outputs(
    runner: LocalJobRunner, name: str, request: Mapping[str, Any], paths: contract.Paths, job_dir: Path
) -> str:
    output_path = str((request.get("OutputDataConfig") or {})["S3OutputPath"]).rstrip("/")
    s3 = runner.client("s3")
    model_archive = job_dir / contract.MODEL_ARCHIVE
    pack_dir(Path(paths.model_dir), model_archive)
    model_uri = f"{output_path}/{name}/output/{contract.MODEL_ARCHIVE}"
    s3io.upload_file(s3, model_archive, model_uri)
    data_dir = Path(paths.output_data_dir)
    if any(data_dir.iterdir()):
        output_archive = job_dir / "output.tar.gz"
        pack_dir(data_dir, output_archive)
        s3io.upload_file(s3, output_archive, f"{output_path}/{name}/output/output.tar.gz")
    return model_uri
