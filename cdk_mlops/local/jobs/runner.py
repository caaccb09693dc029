"""The entry point of real local SageMaker jobs: :class:`LocalJobRunner`.

A runner is installed on a :class:`~cdk_mlops.local.engine.LocalEngine`: every training, processing or
transform job the state machine creates (and no scripted rule of the engine's
:class:`~cdk_mlops.local.scenario.SageMakerScript` matches) runs on this machine with the model's
Python environment, from the exact ``Create*Job`` request the state machine sent; every
``InvokeEndpoint`` is answered by a long-lived worker process serving the endpoint's model.

Jobs run synchronously inside the ``Create*Job`` call: when the call returns, ``Describe*Job`` already
reports the real outcome (so a ``.sync`` task sees it at its first poll, and no thread polls while
the job runs).

Example::

    with LocalEngine(execution_timeout_seconds=600) as engine, LocalJobRunner(
        python=Path(".cache/envs/iris/bin/python"), workspace=tmp_path, on_line=print
    ) as runner:
        runner.install(engine)
        runner.resolve_endpoints_with(lambda name: {"Image": ..., "ModelDataUrl": "s3://...", "Environment": {}})
        engine.run(definition, {...})
        print(runner.runs)
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from cdk_mlops.local.scenario import JobKind, JobOutcome, ModelInvocationError

__all__ = ["ContainerResolver", "JobRun", "LineCallback", "LocalJobRunner"]

#: Receives each line of a job's output and the runner's own start/end lines.
LineCallback = Callable[[str], None]
#: ``(endpoint_name) -> container`` (``Image``, ``ModelDataUrl``, ``Environment``), as in ``CreateModel``.
ContainerResolver = Callable[[str], Mapping[str, Any]]


class _Engine(Protocol):
    @property
    def sagemaker(self) -> Any: ...

    def client(self, service: str, account: str | None = None, region: str | None = None) -> Any: ...


@dataclasses.dataclass(frozen=True)
class JobRun:
    """One job the runner ran: its kind, name, final status (``Completed`` or ``Failed``), wall-clock
    seconds, the file holding its output (stdout and stderr, one line each), the final metrics of a
    training job and the ``FailureReason`` of a failed one."""

    kind: JobKind
    name: str
    status: str
    seconds: float
    log_path: Path | None
    metrics: Mapping[str, float]
    failure_reason: str | None


class LocalJobRunner:
    """Runs SageMaker jobs and serves endpoints on this machine with the interpreter ``python``.

    :param python: the model environment's interpreter (it has the framework and the model's
        requirements; the project's venv is not used for the model's code).
    :param workspace: where each job gets its folder ``<workspace>/<job name>/`` (``opt/ml/...`` laid
        out as in a SageMaker container, and ``output.log``). Created if missing; nothing is deleted.
    :param on_line: called with each output line of a job (prefixed ``[<job name>] ``) and a line at
        each job start and end. Default: lines are only written to the job's log file.
    """

    def __init__(self, *, python: Path, workspace: Path, on_line: LineCallback | None = None) -> None:
        self.python = Path(python)
        self.workspace = Path(workspace)
        self.on_line = on_line
        self._lock = threading.Lock()
        self._runs: list[JobRun] = []
        self._engine: _Engine | None = None
        self._containers: dict[str, Mapping[str, Any]] = {}
        self._resolver: ContainerResolver | None = None
        self._servers: dict[str, Any] = {}

    # -- wiring ----------------------------------------------------------------------------------

    def install(self, engine: _Engine) -> None:
        """Registers the runner as ``engine.sagemaker``'s job executor and endpoint invoker; jobs read
        and write the engine's (moto) S3."""
        self._engine = engine
        engine.sagemaker.use_executor(self)
        engine.sagemaker.use_endpoint_invoker(self.invoke)

    def serve(self, endpoint_name: str, container: Mapping[str, Any]) -> None:
        """``InvokeEndpoint`` on ``endpoint_name`` is answered by ``container`` (``Image``,
        ``ModelDataUrl``, ``Environment``: a ``CreateModel`` container or a model package's)."""
        with self._lock:
            self._containers[endpoint_name] = dict(container)

    def resolve_endpoints_with(self, resolver: ContainerResolver | None) -> None:
        """Endpoints not given to :meth:`serve` are resolved by ``resolver(endpoint_name)``; without one
        (the default) the runner looks the endpoint up in moto (endpoint -> config -> model)."""
        with self._lock:
            self._resolver = resolver

    @property
    def runs(self) -> list[JobRun]:
        """Jobs run so far, in order."""
        with self._lock:
            return list(self._runs)

    # -- the executor and invoker ----------------------------------------------------------------

    def run(self, kind: JobKind, name: str, request: Mapping[str, Any]) -> JobOutcome:
        """Runs one job from its ``Create*Job`` request and returns its outcome (never raises for a job
        that fails: the outcome is ``Failed`` with SageMaker's ``FailureReason``)."""
        from cdk_mlops.local.jobs import dispatch

        self._emit(f"{kind.value} job {name}: started")
        started = time.monotonic()
        result = dispatch.run_job(self, kind, name, request)
        seconds = time.monotonic() - started
        outcome = result.outcome
        run = JobRun(
            kind, name, outcome.status, seconds, result.log_path, dict(outcome.final_metrics), outcome.failure_reason
        )
        with self._lock:
            self._runs.append(run)
        ending = outcome.status if outcome.failure_reason is None else f"{outcome.status}: {outcome.failure_reason}"
        self._emit(f"{kind.value} job {name}: {ending} ({seconds:.1f} s)")
        return outcome

    def invoke(
        self, endpoint_name: str, body: bytes, content_type: str | None, accept: str | None
    ) -> tuple[bytes, str]:
        """Answers ``InvokeEndpoint``: the endpoint's model, loaded once per endpoint in a worker process
        of :attr:`python`, handles ``body``. Raises :class:`ModelInvocationError` when the model fails."""
        server = self._server_for(endpoint_name)
        return server.invoke(body, content_type, accept)

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stops every serving worker process."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()

    def __enter__(self) -> LocalJobRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- used by the job modules -----------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client of the engine's moto (``s3``, ``sagemaker``)."""
        if self._engine is None:
            raise RuntimeError("LocalJobRunner.install(engine) was not called")
        return self._engine.client(service)

    def _emit(self, line: str) -> None:
        if self.on_line is not None:
            self.on_line(line)

    def _container_for(self, endpoint_name: str) -> Mapping[str, Any]:
        with self._lock:
            container = self._containers.get(endpoint_name)
            resolver = self._resolver
        if container is not None:
            return container
        if resolver is not None:
            return resolver(endpoint_name)
        from cdk_mlops.local.jobs.serving import container_of_endpoint

        return container_of_endpoint(self.client("sagemaker"), endpoint_name)

    def _server_for(self, endpoint_name: str) -> Any:
        from cdk_mlops.local.jobs.serving import ModelServer

        with self._lock:
            server = self._servers.get(endpoint_name)
        if server is not None:
            return server
        try:
            container = self._container_for(endpoint_name)
            server = ModelServer.start(self, endpoint_name, container)
        except ModelInvocationError:
            raise
        except Exception as error:  # the endpoint cannot serve: InvokeEndpoint fails as on AWS
            raise ModelInvocationError(f"endpoint {endpoint_name!r} could not load its model: {error}") from error
        with self._lock:
            self._servers[endpoint_name] = server
        return server
