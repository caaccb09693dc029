"""``CreateProcessingJob`` run locally: inputs at their ``LocalPath``, the container's command, outputs back.

Each ``ProcessingInputs[].S3Input`` (``S3Prefix``) is copied to its ``LocalPath`` (under
``/opt/ml/processing``), ``/opt/ml/config/processingjobconfig.json`` holds the request, and
``AppSpecification.ContainerEntrypoint`` + ``ContainerArguments`` run with the model environment's
Python in place of ``python3``/``python`` (our workflows run ``python3 /opt/ml/processing/input/code/
<script>``). After a zero exit, every ``ProcessingOutputConfig.Outputs[].S3Output.LocalPath`` is
uploaded to its ``S3Uri`` (``EndOfJob``); a non-zero exit fails the job with ``AlgorithmError: ...``
and the end of stderr (and nothing is uploaded, as on SageMaker).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdk_mlops.local.jobs import contract, s3io
from cdk_mlops.local.jobs.dispatch import JobResult
from cdk_mlops.local.jobs.process import algorithm_error, base_environment, prefixed_lines, run_logged
from cdk_mlops.local.jobs.sandbox import NO_OPT_ML_HINT, present
from cdk_mlops.local.scenario import JobOutcome

if TYPE_CHECKING:
    from cdk_mlops.local.jobs.runner import LocalJobRunner

__all__ = ["PYTHON_COMMANDS", "run"]

#: Entrypoint programs replaced by the model environment's interpreter.
PYTHON_COMMANDS = frozenset({"python", "python3", "/usr/bin/python3", "/usr/local/bin/python3", "/usr/bin/python"})


def run(runner: LocalJobRunner, name: str, request: Mapping[str, Any]) -> JobResult:
    """Runs processing job ``name`` from its ``CreateProcessingJob`` request."""
    job_dir = runner.workspace / name
    log_path = job_dir / "output.log"
    app = request.get("AppSpecification") or {}
    entrypoint = [str(part) for part in app.get("ContainerEntrypoint") or []]
    if not entrypoint:
        image = app.get("ImageUri")
        return JobResult(
            JobOutcome.failed(
                f"ClientError: AppSpecification.ContainerEntrypoint is empty: the local runner cannot run the "
                f"entrypoint built into image {image!r}"
            ),
            None,
        )
    argv = [*entrypoint, *[str(part) for part in app.get("ContainerArguments") or []]]
    if argv[0] in PYTHON_COMMANDS:
        argv[0] = str(runner.python)
    s3 = runner.client("s3")
    with present(job_dir / "opt" / "ml") as view:
        for item in request.get("ProcessingInputs") or []:
            source = item.get("S3Input")
            if source is None:
                raise ValueError(f"ProcessingInputs {item.get('InputName')!r}: only S3Input runs locally")
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise ValueError(f"ProcessingInputs {item.get('InputName')!r}: only S3DataType S3Prefix runs locally")
            s3io.download_prefix(s3, str(source["S3Uri"]), view.host_path(str(source["LocalPath"])))
        outputs = [
            (str(output["S3Output"]["LocalPath"]), str(output["S3Output"]["S3Uri"]))
            for output in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
            if output.get("S3Output")
        ]
        for local_path, _ in outputs:
            view.host_path(local_path).mkdir(parents=True, exist_ok=True)
        view.host_path(str(contract.PROCESSING_ROOT)).mkdir(parents=True, exist_ok=True)
        config = view.host_path(str(contract.PROCESSING_JOB_CONFIG_FILE))
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(json.dumps(dict(request), default=str))
        prefix = f"[{name}] "
        command = view.command(argv, str(contract.PROCESSING_ROOT) if view.mode != "none" else None)
        environment = {str(k): str(v) for k, v in (request.get("Environment") or {}).items()}
        result = run_logged(
            command,
            env=base_environment({**environment, "PROCESSING_JOB_NAME": name}),
            cwd=view.host_cwd(str(contract.PROCESSING_ROOT)) if view.mode != "none" else view.host_root,
            log_path=log_path,
            on_line=prefixed_lines(runner.on_line, prefix),
        )
        if result.returncode != 0:
            reason = algorithm_error(result, argv)
            if view.mode == "none" and "/opt/ml" in "\n".join(result.stderr_tail):
                reason = f"{reason} ({NO_OPT_ML_HINT})"[:1024]
            return JobResult(JobOutcome.failed(reason), log_path)
        for local_path, uri in outputs:
            s3io.upload_dir(s3, Path(view.host_path(local_path)), uri)
    return JobResult(JobOutcome.completed(), log_path)
