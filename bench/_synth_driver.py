"""Synthesizes one CDK app in this (fresh) process and reports how long each phase took.

``bench.scale`` starts it once per measurement::

    python -m bench._synth_driver --models DIR --outdir OUT [--only m001] [--result FILE]
    python -m bench._synth_driver --empty --outdir OUT [--result FILE]

``--models``: ``build_app(app, DIR)`` (``--only a,b`` goes in as the ``models`` context, exactly like
``cdk synth -c models=a,b``); ``--empty``: an app with one empty stack, the baseline. Both use the
feature flags of the repository's ``cdk.json``, as the CLI would. ``--result`` receives a JSON object
with wall-clock timestamps (``time.time()``) of the phases: ``start`` (first line of this module),
``imported`` (aws_cdk and, for a model app, cdk_mlops imported), ``built``, ``synthesized`` and ``end``.

``--nag`` also calls ``enable_compliance_checks(app)`` (cdk-nag on every synth) as ``app.py`` does,
when the library has it.

``--count-jsii`` counts the Python→node round trips (per request kind and per phase) and the time
spent waiting for them; ``--profile FILE`` writes a cProfile dump of the whole run (imports included).
Both slow the run down, so ``bench.scale`` never uses them in a timed measurement.
"""

from __future__ import annotations

import time

_START = time.time()

import argparse  # noqa: E402  (the timestamp above must come first)
import cProfile  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from types import FrameType  # noqa: E402
from typing import Any  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent

#: The module-level jsii functions generated bindings call (``jsii.invoke(self, "synth", [])``).
JSII_API = ("create", "get", "set", "invoke", "sinvoke", "sget", "sset", "delete", "ainvoke", "sainvoke")


class JsiiCounter:
    """Counts jsii traffic: calls of the ``jsii.<api>`` functions the bindings use, and every message
    actually sent to the node process (``_NodeProcess.send``: loads, creates, gets, sets, invokes,
    static calls, deletes and the completions of node→Python callbacks), per phase."""

    def __init__(self) -> None:
        self.phase = "import"
        self.api: dict[str, Counter[str]] = defaultdict(Counter)
        self.wire: dict[str, Counter[str]] = defaultdict(Counter)
        self.callbacks: Counter[str] = Counter()
        self.wire_seconds: dict[str, float] = defaultdict(float)
        #: "<api> <jsii type>.<member>" and the innermost cdk_mlops frame ("file.py:line") per call.
        self.calls: Counter[str] = Counter()
        self.sites: Counter[str] = Counter()

    def install(self) -> None:
        import jsii
        from jsii._kernel.providers import process
        from jsii._kernel.types import Callback

        for name in JSII_API:
            original = getattr(jsii, name, None)
            if original is not None:
                setattr(jsii, name, self._count_api(name, original))

        send = process._NodeProcess.send
        counter = self

        def counted_send(node: Any, request: Any, response_type: Any) -> Any:
            kind = type(request).__name__.removesuffix("Request").lstrip("_") or "?"
            began = time.perf_counter()
            response = send(node, request, response_type)
            counter.wire_seconds[counter.phase] += time.perf_counter() - began
            counter.wire[counter.phase][kind] += 1
            if isinstance(response, Callback):
                counter.callbacks[counter.phase] += 1
            return response

        setattr(process._NodeProcess, "send", counted_send)  # noqa: B010  (mypy rejects the assignment)

    def _count_api(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.api[self.phase][name] += 1
            if self.phase != "import" and args:
                self.calls[f"{self.phase} {name} {_describe_call(name, args)}"] += 1
                self.sites[f"{self.phase} {_library_frame()}"] += 1
            return function(*args, **kwargs)

        return counted

    def report(self) -> dict[str, Any]:
        phases = sorted(set(self.wire) | set(self.api))
        return {
            "api": {phase: dict(self.api[phase]) for phase in phases},
            "wire": {phase: dict(self.wire[phase]) for phase in phases},
            "wire_total": {phase: sum(self.wire[phase].values()) for phase in phases},
            "callbacks": dict(self.callbacks),
            "wire_seconds": {phase: round(self.wire_seconds[phase], 3) for phase in phases},
            "calls": dict(self.calls.most_common()),
            "sites": dict(self.sites.most_common()),
        }


def _jsii_name(target: Any) -> str:
    cls = target if isinstance(target, type) else type(target)
    return str(getattr(cls, "__jsii_type__", None) or cls.__name__)


def _describe_call(api: str, args: tuple[Any, ...]) -> str:
    """``aws-cdk-lib.Stack.of`` for ``sinvoke(Stack, "of", ...)``, ``aws-cdk-lib.aws_s3.Bucket`` for a
    create, ``<type>.<member>`` for gets, sets and invokes."""
    if api == "create" or len(args) < 2:
        return _jsii_name(args[0])
    return f"{_jsii_name(args[0])}.{args[1]}"


def _library_frame() -> str:
    """The innermost caller in cdk_mlops (``constructs/deploy_workflow.py:123``), else the outermost
    frame outside jsii and aws_cdk."""
    frame: FrameType | None = sys._getframe(2)
    fallback = "?"
    while frame is not None:
        filename = frame.f_code.co_filename.replace("\\", "/")
        if "/cdk_mlops/" in filename:
            return f"{filename.rsplit('/cdk_mlops/', 1)[1]}:{frame.f_lineno} {frame.f_code.co_name}"
        if fallback == "?" and "/jsii/" not in filename and "/aws_cdk/" not in filename:
            fallback = f"{filename.rsplit('/', 1)[-1]}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return fallback


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` of the repository's cdk.json (feature flags), as ``cdk synth`` would pass it."""
    path = REPO_ROOT / "cdk.json"
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get("context", {}))


def synthesize(args: argparse.Namespace, marks: dict[str, float], counter: JsiiCounter | None) -> int:
    """Imports, builds and synthesizes; returns the number of stacks synthesized."""
    import aws_cdk as cdk

    context = cdk_json_context()
    if args.only:
        context["models"] = args.only
    if args.empty:
        marks["imported"] = time.time()
        if counter:
            counter.phase = "build"
        app = cdk.App(outdir=str(args.outdir), context=context)
        cdk.Stack(app, "Empty")
    else:
        from cdk_mlops import app_builder

        marks["imported"] = time.time()
        if counter:
            counter.phase = "build"
        app = cdk.App(outdir=str(args.outdir), context=context)
        if args.nag:
            enable = getattr(app_builder, "enable_compliance_checks", None)
            if enable is None:
                raise SystemExit("error: --nag: this version of cdk_mlops has no enable_compliance_checks")
            enable(app)
        app_builder.build_app(app, args.models, only=app_builder.selected_models(app))
    marks["built"] = time.time()
    if counter:
        counter.phase = "synth"
    assembly = app.synth()
    marks["synthesized"] = time.time()
    return len(assembly.stacks)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--models", type=Path, help="a folder of <name>/model.yaml files")
    source.add_argument("--empty", action="store_true", help="an app with one empty stack (the baseline)")
    parser.add_argument("--outdir", type=Path, required=True, help="the cloud assembly folder to write")
    parser.add_argument("--only", default="", help="comma-separated model names (the 'models' context)")
    parser.add_argument("--result", type=Path, help="write the phase timestamps (JSON) here")
    parser.add_argument("--nag", action="store_true", help="enable_compliance_checks(app), as app.py does")
    parser.add_argument("--count-jsii", action="store_true", help="count jsii round trips (slower)")
    parser.add_argument("--profile", type=Path, help="write a cProfile dump of the run here (slower)")
    args = parser.parse_args(argv)

    marks: dict[str, float] = {"start": _START}
    counter = JsiiCounter() if args.count_jsii else None
    if counter:
        counter.install()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    stacks = synthesize(args, marks, counter)
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(args.profile))
    marks["end"] = time.time()
    result: dict[str, Any] = {"marks": marks, "stacks": stacks}
    if counter:
        result["jsii"] = counter.report()
    if args.result:
        args.result.write_text(json.dumps(result, indent=1), encoding="utf-8")
    else:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
