"""Serving a ``model.tar.gz`` with its framework's contract, in a long-lived worker process.

A :class:`ModelServer` extracts the container's ``ModelDataUrl`` into ``/opt/ml/model`` (and, in script
mode, ``SAGEMAKER_SUBMIT_DIRECTORY``'s ``sourcedir.tar.gz`` into ``/opt/ml/code``), then starts
``_serving_worker.py`` with the model environment's Python; requests and answers go over the worker's
stdin/stdout (no network port). The worker follows the serving containers:

* script mode (``SAGEMAKER_PROGRAM`` in the container's environment): ``model_fn``, ``input_fn``,
  ``predict_fn``, ``output_fn`` (or ``transform_fn``) from the entry point, with the framework's
  defaults where absent (aws/sagemaker-inference-toolkit's decoders and encoders, as the scikit-learn
  container uses them): JSON, CSV and NPY in (CSV and JSON cast to float32) and out, ``model.predict``;
  no default ``model_fn`` (the scikit-learn container requires one); the default accept is
  ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` or ``application/json``;
* built-in XGBoost (an XGBoost image without ``SAGEMAKER_PROGRAM``; aws/sagemaker-xgboost-container's
  ``algorithm_mode/serve.py``): the first model file (pickle, else ``Booster.load_model``), CSV or
  libsvm in, predictions out as CSV (default), JSON (``{"predictions": [{"score": ...}]}``), or one
  per line in batch transform (``SAGEMAKER_BATCH``).

Any other image without ``SAGEMAKER_PROGRAM`` is refused. A failing model (``model_fn`` raising, an
unparseable request) raises :class:`~cdk_mlops.local.scenario.ModelInvocationError` with the error text.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from cdk_mlops.local.jobs import s3io
from cdk_mlops.local.jobs.process import base_environment
from cdk_mlops.local.jobs.sandbox import Presentation, SandboxMode, sandbox_mode
from cdk_mlops.local.jobs.training import extract_archive
from cdk_mlops.local.scenario import ModelInvocationError

if TYPE_CHECKING:
    from cdk_mlops.local.jobs.runner import LocalJobRunner

__all__ = ["WORKER", "ModelServer", "container_of_endpoint", "container_of_model"]

WORKER: Final = Path(__file__).with_name("_serving_worker.py")


def container_of_model(sagemaker: Any, model_name: str) -> dict[str, Any]:
    """The serving container of SageMaker model ``model_name`` (``PrimaryContainer`` or the first of
    ``Containers``), as moto holds it."""
    model = sagemaker.describe_model(ModelName=model_name)
    container = model.get("PrimaryContainer") or next(iter(model.get("Containers") or []), None)
    if not container:
        raise ValueError(f"model {model_name!r} has no container")
    return dict(container)


def container_of_endpoint(sagemaker: Any, endpoint_name: str) -> dict[str, Any]:
    """The container serving ``endpoint_name`` in moto: endpoint -> config -> first variant's model."""
    endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variants = config.get("ProductionVariants") or []
    if not variants:
        raise ValueError(f"endpoint config {endpoint['EndpointConfigName']!r} has no production variant")
    return container_of_model(sagemaker, str(variants[0]["ModelName"]))


def _flavour(container: Mapping[str, Any]) -> tuple[str, str]:
    environment = container.get("Environment") or {}
    program = str(environment.get("SAGEMAKER_PROGRAM") or "")
    image = str(container.get("Image") or "")
    if program:
        return "script", program
    if "xgboost" in image.rsplit("/", 1)[-1]:
        return "xgboost", ""
    raise ValueError(
        f"image {image!r} without SAGEMAKER_PROGRAM: the local runner serves script-mode models and the "
        f"built-in XGBoost only"
    )


class ModelServer:
    """One model loaded in a worker process of the model environment; :meth:`invoke` is thread-safe."""

    def __init__(self, process: Any, name: str, log: IO[str]) -> None:
        self._process = process
        self._lock = threading.Lock()
        self.name = name
        self._log = log

    @classmethod
    def start(
        cls,
        runner: LocalJobRunner,
        name: str,
        container: Mapping[str, Any],
        *,
        extra_environment: Mapping[str, str] | None = None,
    ) -> ModelServer:
        """Downloads and extracts the model (and code), starts the worker and waits until the model is
        loaded; raises ModelInvocationError when it cannot load (e.g. ``model_fn`` raised)."""
        import subprocess

        flavour, program = _flavour(container)
        folder = runner.workspace / f"{name}-serving"
        ml = folder / "opt" / "ml"
        model_dir, code_dir = ml / "model", ml / "code"
        s3 = runner.client("s3")
        archive = folder / "model.tar.gz"
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(s3io.read_object(s3, str(container["ModelDataUrl"])))
        extract_archive(archive, model_dir)
        environment = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
        code_dir.mkdir(parents=True, exist_ok=True)
        source = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        if flavour == "script" and source.startswith("s3://"):
            sources = folder / "sourcedir.tar.gz"
            sources.write_bytes(s3io.read_object(s3, source))
            extract_archive(sources, code_dir)
        mode: SandboxMode = "namespace" if sandbox_mode() == "namespace" else "none"
        view = Presentation(mode, ml)
        inside = str(view.root)
        argv = [str(runner.python), str(WORKER), f"{inside}/model", f"{inside}/code", program, flavour]
        log_path = folder / "output.log"
        log = log_path.open("a", encoding="utf-8")
        process = subprocess.Popen(
            view.command(argv, f"{inside}/code"),
            env=base_environment({**environment, **dict(extra_environment or {}), "PYTHONPATH": f"{inside}/code"}),
            cwd=code_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        server = cls(process, name, log)
        threading.Thread(target=server._pump_stderr, args=(runner,), daemon=True).start()
        header, _ = server._read()
        if not header.get("ok"):
            server.close()
            raise ModelInvocationError(f"the model could not be loaded: {header.get('error')}")
        return server

    def _pump_stderr(self, runner: LocalJobRunner) -> None:
        stream = self._process.stderr
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            try:
                self._log.write(line + "\n")
                self._log.flush()
            except ValueError:  # closed
                pass
            if runner.on_line is not None:
                runner.on_line(f"[{self.name}] {line}")

    def _read(self) -> tuple[dict[str, Any], bytes]:
        line = self._process.stdout.readline()
        if not line:
            code = self._process.wait()
            raise ModelInvocationError(f"the model's worker process exited (code {code}); see {self._log.name}")
        header: dict[str, Any] = json.loads(line)
        body: bytes = self._process.stdout.read(int(header.get("body_length", 0)))
        return header, body

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        """The model's answer to one request: ``(body, content type)``; ModelInvocationError if it fails."""
        header = json.dumps({"content_type": content_type, "accept": accept, "body_length": len(body)})
        with self._lock:
            try:
                self._process.stdin.write(header.encode("utf-8") + b"\n" + body)
                self._process.stdin.flush()
            except (BrokenPipeError, OSError) as error:
                raise ModelInvocationError(f"the model's worker process is gone: {error}") from error
            answer, data = self._read()
        if not answer.get("ok"):
            raise ModelInvocationError(str(answer.get("error")), status_code=int(answer.get("status", 500)))
        return data, str(answer.get("content_type") or accept or "application/json")

    @property
    def log_path(self) -> Path:
        """The worker's log (everything the model's code printed)."""
        return Path(self._log.name)

    def close(self) -> None:
        """Stops the worker (closing its stdin ends it)."""
        try:
            if self._process.stdin:
                self._process.stdin.close()
            self._process.wait(timeout=10)
        except Exception:  # a worker that does not stop is killed
            self._process.kill()
        self._log.close()
