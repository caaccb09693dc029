"""How synthesis time, memory and template sizes grow with the number of models.

    .venv/bin/python -m bench.scale [--sizes 1,10,50,100] [--runs 3] [--out bench/results.md]
                                    [--profile] [--count-jsii]

It measures a copy of the library (``--library``: the working tree by default), so edits made while
it runs cannot mix versions. For every N in ``--sizes`` it writes N copies of ``models/churn-xgb``
(``m001``, ``m002``, ... with their own ``source.path``) into a temporary folder and synthesizes them
with ``build_app`` in a fresh Python process (``bench._synth_driver``), CDK's built-in CloudFormation
validation off (``CDK_VALIDATION=false``). Each round also synthesizes the baseline (an app with one
empty stack, same interpreter, same cdk.json feature flags) and the largest folder with only ``m001``
selected (what ``cdk synth -c models=m001`` does); rounds alternate their order so slow drifts of a
noisy machine hit every job alike. Afterwards, once each: ``--extra-sizes`` models with the built-in
validation on and with cdk-nag on; ``cdk synth --quiet`` of the real example app (validation on); and
with ``--profile`` and ``--count-jsii`` separate (untimed) runs that profile and count jsii traffic.

Results: a Markdown report (``--out``) and the raw measurements (``bench/results/scale-raw.json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from bench._measure import Measurement, base_env, run_measured

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
CDK_CLI = REPO_ROOT / "node_modules" / ".bin" / "cdk"
TEMPLATE_MODEL = Path("models") / "churn-xgb"
#: What a snapshot of the library holds (the benchmark runs against a copy: others edit the tree).
SNAPSHOT_PATHS = ("cdk_mlops", "lambda_src", "models", "app.py", "cdk.json")
DRIVER_FILES = ("bench/__init__.py", "bench/_synth_driver.py")

#: CloudFormation quotas: resources per stack, and template body size when uploaded through S3 (which
#: the CDK CLI does for every template over 50 KiB).
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000
#: The targets of issue 6.
TARGET_SECONDS_AT_100 = 60.0
TARGET_PEAK_BYTES_AT_100 = 2_000_000_000
TARGET_SELECTIVE_RATIO = 2.0
TARGET_LIMIT_SHARE = 0.40

STACK_KINDS = ("Platform", "Pipeline", "Staging", "Production")
MIB = 1024 * 1024


# ---- inputs -----------------------------------------------------------------------------------------


def model_names(count: int) -> list[str]:
    """``m001`` .. ``m<count>`` (wider numbers above 999; always within ``^[a-z][a-z0-9-]{0,19}$``)."""
    width = max(3, len(str(count)))
    return [f"m{index:0{width}d}" for index in range(1, count + 1)]


def generate_models(destination: Path, count: int, template: Path) -> list[str]:
    """Copies ``template`` ``count`` times into ``destination``, each with a unique name and source path."""
    data = yaml.safe_load((template / "model.yaml").read_text(encoding="utf-8"))
    names = model_names(count)
    for name in names:
        folder = destination / name
        shutil.copytree(template, folder, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        copy = json.loads(json.dumps(data))
        copy["name"] = name
        copy["source"]["path"] = f"models/{name}"
        (folder / "model.yaml").write_text(yaml.safe_dump(copy, sort_keys=False), encoding="utf-8")
    return names


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, check=True).stdout


def snapshot_library(mode: str, destination: Path) -> str:
    """Copies the library, the example app and the driver into ``destination`` and returns a short
    fingerprint of the library's files. ``worktree``: the files as they are now; ``index``: the version
    staged in git (read with ``git cat-file``, the repository is not touched). The venv and node_modules
    are linked, so ``cdk synth`` and ``.venv/bin/python app.py`` work inside the copy."""
    destination.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc")
    if mode == "worktree":
        for name in SNAPSHOT_PATHS:
            source = REPO_ROOT / name
            if source.is_dir():
                shutil.copytree(source, destination / name, ignore=ignore)
            elif source.is_file():
                shutil.copy2(source, destination / name)
    else:
        for entry in _git("ls-files", "-s", "-z", "--", *SNAPSHOT_PATHS).split(b"\0"):
            if not entry:
                continue
            meta, relative = entry.decode().split("\t", 1)
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_git("cat-file", "blob", meta.split()[1]))
    for name in DRIVER_FILES:
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, destination / name)
    for name in (".venv", "node_modules"):
        (destination / name).symlink_to(REPO_ROOT / name)
    digest = hashlib.sha256()
    sources = sorted(destination.glob("cdk_mlops/**/*.py")) + sorted(destination.glob("lambda_src/**/*.py"))
    for source_file in sources:
        digest.update(str(source_file.relative_to(destination)).encode() + b"\0" + source_file.read_bytes())
    return digest.hexdigest()[:12]


# ---- measurements ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class StackStat:
    """One synthesized stack."""

    name: str
    kind: str
    resources: int
    template_bytes: int
    parameters: int
    outputs: int


def stack_kind(name: str) -> str:
    for kind in STACK_KINDS:
        if name.endswith(f"-{kind}"):
            return kind
    return "Other"


def stack_stats(assembly: Path) -> list[StackStat]:
    """Every CloudFormation stack of a cloud assembly, read through its manifest."""
    manifest = json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))
    stats = []
    for name, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        path = assembly / artifact["properties"]["templateFile"]
        template = json.loads(path.read_text(encoding="utf-8"))
        stats.append(
            StackStat(
                name=name,
                kind=stack_kind(name),
                resources=len(template.get("Resources", {})),
                template_bytes=path.stat().st_size,
                parameters=len(template.get("Parameters", {})),
                outputs=len(template.get("Outputs", {})),
            )
        )
    return stats


@dataclasses.dataclass
class Job:
    """One kind of synthesis to time: the baseline, N models, or one model out of a big folder."""

    key: str
    label: str
    models: int
    driver_args: list[str]


@dataclasses.dataclass
class RunRecord:
    """One timed run of a job."""

    job: str
    run: int
    wall_seconds: float
    peak_rss_bytes: int
    peak_rss_by_name: dict[str, int]
    phases: dict[str, float]
    stacks: int
    cpu_seconds: float
    load: float
    others_cpu_seconds: float = 0.0


def driver_command(job: Job, outdir: Path, result: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench._synth_driver",
        *job.driver_args,
        "--outdir",
        str(outdir),
        "--result",
        str(result),
        *extra,
    ]


def _check(measurement: Measurement, what: str) -> None:
    if measurement.returncode != 0:
        raise SystemExit(
            f"error: {what} failed (exit {measurement.returncode}):\n{measurement.stderr[-4000:]}"
        )


def phases(measurement: Measurement, marks: dict[str, float]) -> dict[str, float]:
    """Seconds per phase: interpreter start, imports, building constructs, synth, and process exit
    (mostly jsii stopping its node process)."""
    return {
        "startup": marks["start"] - measurement.spawned,
        "imports": marks["imported"] - marks["start"],
        "build": marks["built"] - marks["imported"],
        "synth": marks["synthesized"] - marks["built"],
        "exit": measurement.exited - marks["end"],
    }


def run_job(
    job: Job, root: Path, workdir: Path, run: int, *, validation: bool = False, extra: Sequence[str] = ()
) -> tuple[RunRecord, list[StackStat], dict[str, Any]]:
    """Runs the driver of the library copy in ``root`` once, in a fresh process; returns the record, the
    stacks and the driver's JSON."""
    outdir = workdir / f"out-{job.key}-{run}"
    result = workdir / f"result-{job.key}-{run}.json"
    env = base_env()
    if validation:
        env.pop("CDK_VALIDATION", None)
    else:
        env["CDK_VALIDATION"] = "false"
    measurement = run_measured(driver_command(job, outdir, result, *extra), env=env, cwd=root)
    _check(measurement, f"{job.label} (run {run})")
    driver = json.loads(result.read_text(encoding="utf-8"))
    stacks = stack_stats(outdir)
    shutil.rmtree(outdir, ignore_errors=True)
    record = RunRecord(
        job=job.key,
        run=run,
        wall_seconds=measurement.wall_seconds,
        peak_rss_bytes=measurement.peak_rss_bytes,
        peak_rss_by_name=measurement.peak_rss_by_name,
        phases=phases(measurement, driver["marks"]),
        stacks=driver["stacks"],
        cpu_seconds=measurement.cpu_seconds,
        load=max(measurement.load_before, measurement.load_after),
        others_cpu_seconds=measurement.others_cpu_seconds,
    )
    return record, stacks, driver


def run_cli_synth(root: Path, workdir: Path) -> tuple[Measurement, int]:
    """``cdk synth --quiet`` of the example app (``app.py`` and ``models/``) from ``root`` (the repository
    root or its copy), validation on (the CLI's default). The assembly goes to a temporary folder so
    the repository's cdk.out stays as it is."""
    outdir = workdir / "cli-out"
    env = base_env()
    env.pop("CDK_VALIDATION", None)
    env.setdefault("CDK_HOME", str(REPO_ROOT / ".cdk-home"))
    env["PATH"] = os.pathsep.join(
        [str(REPO_ROOT / ".venv" / "bin"), str(CDK_CLI.parent), env.get("PATH", "")]
    )
    command = [str(CDK_CLI), "synth", "--quiet", "--output", str(outdir)]
    measurement = run_measured(command, env=env, cwd=root)
    _check(measurement, "cdk synth")
    stacks = len(stack_stats(outdir))
    shutil.rmtree(outdir, ignore_errors=True)
    return measurement, stacks


# ---- statistics and formatting ----------------------------------------------------------------------


@dataclasses.dataclass
class Summary:
    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        data = list(values)
        return cls(statistics.median(data), min(data), max(data), len(data))

    def text(self, digits: int = 2, scale: float = 1.0) -> str:
        if self.count == 1:
            return f"{self.median / scale:.{digits}f} (1 run)"
        low, high = self.low / scale, self.high / scale
        return f"{self.median / scale:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else ("**PASS**" if passed else "**FAIL**")


def _version(command: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=120, env=base_env())
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[0] if done.returncode == 0 else "?"


def machine_description() -> dict[str, str]:
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "memory": memory,
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "aws-cdk-lib": metadata.version("aws-cdk-lib"),
        "constructs": metadata.version("constructs"),
        "jsii": metadata.version("jsii"),
        "node": _version(["node", "--version"]),
        "cdk-cli": _version([str(CDK_CLI), "--version"]),
    }


def profile_report(dump: Path, root: Path, top: int = 25) -> str:
    """Top ``top`` entries by cumulative time, then by own time, then the library's own functions (paths
    shortened: site-packages and the library copy's folder are cut off)."""
    prefixes = [sysconfig.get_paths()["purelib"] + os.sep, str(root) + os.sep, str(REPO_ROOT) + os.sep]
    sections = []
    for title, key, restriction in (
        (f"top {top} by cumulative time", "cumulative", top),
        (f"top {top} by own time (tottime)", "tottime", top),
        ("cdk_mlops functions by cumulative time", "cumulative", "cdk_mlops"),
    ):
        stream = io.StringIO()
        stats = pstats.Stats(str(dump), stream=stream)
        stats.sort_stats(key)
        if isinstance(restriction, str):
            stats.print_stats(restriction, top)
        else:
            stats.print_stats(restriction)
        text = stream.getvalue()
        for prefix in prefixes:
            text = text.replace(prefix, "")
        body = text[text.find("   ncalls") :] if "   ncalls" in text else text
        header = next((line.strip() for line in text.splitlines() if "function calls" in line), "")
        sections.append(f"== {title} ({header})\n{body.rstrip()}\n")
    return "\n".join(sections)


# ---- the report --------------------------------------------------------------------------------


@dataclasses.dataclass
class Results:
    """Everything one benchmark run measured (also written as the raw JSON)."""

    machine: dict[str, str]
    library: str
    sizes: list[int]
    runs: int
    runs_largest: int
    records: list[RunRecord]
    stacks: dict[str, list[StackStat]]
    cli: dict[str, Any] | None = None
    extra_runs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    jsii: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    profile: str | None = None
    profile_label: str | None = None

    def of(self, key: str) -> list[RunRecord]:
        return [record for record in self.records if record.job == key]

    def wall(self, key: str) -> Summary:
        return Summary.of(record.wall_seconds for record in self.of(key))

    def cpu(self, key: str) -> Summary:
        return Summary.of(record.cpu_seconds for record in self.of(key))

    def rss(self, key: str) -> Summary:
        return Summary.of(record.peak_rss_bytes for record in self.of(key))

    def phase(self, key: str, name: str) -> float:
        return statistics.median(record.phases[name] for record in self.of(key))

    def rss_by(self, key: str, name: str) -> float:
        return max(record.peak_rss_by_name.get(name, 0) for record in self.of(key))

    def others_share(self, key: str) -> float:
        """Median share of the machine's cores that other processes kept busy during the runs."""
        cores = int(self.machine.get("cores") or 1)
        return 100 * statistics.median(
            record.others_cpu_seconds / (record.wall_seconds * cores) for record in self.of(key)
        )

    def stack_count(self, key: str) -> int:
        return self.of(key)[0].stacks

    def marginal(self, size: int, *, cpu: bool = False) -> float | None:
        """(t(N) - t(smallest N)) / (N - smallest N) on the medians (wall, or CPU seconds)."""
        reference = min(self.sizes)
        if size == reference:
            return None
        measure = self.cpu if cpu else self.wall
        return (measure(f"n{size}").median - measure(f"n{reference}").median) / (size - reference)

    def labels(self) -> dict[str, str]:
        largest = max(self.sizes)
        names = {"empty": "empty app (baseline)", "selective": f"m001 of {largest} (`-c models=m001`)"}
        names.update({f"n{size}": f"{size} model{'s' if size != 1 else ''}" for size in self.sizes})
        return names


def render(results: Results) -> str:
    """The Markdown report."""
    machine = results.machine
    base = results.wall("empty")
    load = Summary.of(record.load for record in results.records)
    cores = int(machine.get("cores") or 1)
    others = Summary.of(
        100 * record.others_cpu_seconds / (record.wall_seconds * cores) for record in results.records
    )
    largest = max(results.sizes)
    reference = min(results.sizes)
    labels = results.labels()
    keys = ["empty", *[f"n{size}" for size in results.sizes], "selective"]
    command = (
        f"`.venv/bin/python -m bench.scale --sizes {','.join(map(str, results.sizes))} --runs {results.runs}"
    )
    if results.runs_largest != results.runs:
        command += f" --runs-largest {results.runs_largest}"
    command += " --profile --count-jsii`" if results.profile and results.jsii else "`"
    lines = [
        "# cdk-mlops synthesis benchmark",
        "",
        f"- Date: {machine['date']}; machine: {machine['cores']} cores, {machine['memory']} RAM, "
        f"{machine['platform']} (shared and noisy: compare medians, not single runs)",
        f"- Python {machine['python']}, aws-cdk-lib {machine['aws-cdk-lib']}, "
        f"constructs {machine['constructs']}, "
        f"jsii {machine['jsii']}, node {machine['node']}, CDK CLI {machine['cdk-cli']}",
        f"- Library measured: {results.library}",
        f"- Contention: the 1-minute load average around the timed runs was {load.text(1)} (median, min-max) "
        f"on {machine['cores']} cores, and other processes kept a median {others.median:.0f}% "
        f"({others.low:.0f}-{others.high:.0f}%) of the cores busy while they ran. Wall times include "
        "waiting for a core; CPU s (user + system of the whole process tree) is less sensitive to that, "
        "but not immune (shared caches, hyperthreads).",
        f"- Command: {command}. Every synthesis runs in a fresh process with `CDK_VALIDATION=false` and the "
        "feature flags of cdk.json; the baseline (an app with one empty stack) is timed in the same rounds, "
        "whose order alternates. Times are the median (min-max) of wall seconds from process start to exit"
        + (
            f"; N={largest} ran {results.runs_largest} time(s)."
            if results.runs_largest != results.runs
            else "."
        ),
        "",
        "## Wall time and memory",
        "",
    ]
    rows: list[list[object]] = []
    for key in keys:
        size = int(key[1:]) if key.startswith("n") else None
        marginal = results.marginal(size) if size else None
        marginal_cpu = results.marginal(size, cpu=True) if size else None
        rows.append(
            [
                labels[key],
                results.stack_count(key),
                results.wall(key).text(),
                f"{results.wall(key).median / base.median:.2f}",
                "-" if marginal is None else f"{marginal:.3f}",
                results.cpu(key).text(),
                "-" if marginal_cpu is None else f"{marginal_cpu:.3f}",
                results.rss(key).text(0, MIB),
            ]
        )
    lines += table(
        [
            "app",
            "stacks",
            "wall s",
            "x baseline (wall)",
            f"marginal wall s/model (vs N={reference})",
            "CPU s (tree)",
            "marginal CPU s/model",
            "peak RSS MiB (tree)",
        ],
        rows,
    )
    lines += [
        "",
        f"Marginal s/model = (t(N) - t({reference})) / (N - {reference}) on the medians. "
        "Peak RSS = the largest "
        "sum of VmRSS over the Python process and its node child, sampled every 50 ms.",
        "",
        "### Where the time goes (medians, seconds; peak MiB per process)",
        "",
    ]
    lines += table(
        [
            "app",
            "interpreter start",
            "imports",
            "build constructs",
            "app.synth()",
            "exit (jsii teardown)",
            "python MiB",
            "node MiB",
            "others' CPU %",
        ],
        [
            [labels[key]]
            + [f"{results.phase(key, name):.2f}" for name in ("startup", "imports", "build", "synth", "exit")]
            + [f"{results.rss_by(key, 'python') / MIB:.0f}", f"{results.rss_by(key, 'node') / MIB:.0f}"]
            + [f"{results.others_share(key):.0f}%"]
            for key in keys
        ],
    )
    lines += [
        "",
        "imports: aws_cdk (plus cdk_mlops for model apps); build constructs: `build_app` (loading and "
        "validating every model.yaml, image lookup, every construct); app.synth(): aspects, token "
        "resolution and template "
        "rendering in node, writing the assembly; exit: from the driver's last line to the process's end "
        "(jsii stopping node, about 0.1 s, then Python tearing down its modules and objects). "
        "Others' CPU % = "
        "CPU time the rest of the machine used during the run (from /proc/stat, steal included) as a share "
        "of all cores: the contention the run saw.",
        "",
        "## Largest stack of each kind vs CloudFormation limits",
        "",
        f"Limits: {MAX_RESOURCES} resources per stack; {MAX_TEMPLATE_BYTES:,} bytes of template body "
        "uploaded "
        "through S3 (the CLI uploads every template over 50 KiB that way). Bytes = the template file as "
        "synthesized, which is what the CLI uploads. Headroom = limit - used.",
        "",
    ]
    lines += table(
        [
            "N",
            "kind",
            "stacks of kind",
            "largest stack",
            "resources",
            "% of 500",
            "headroom",
            "template bytes",
            "% of 1 MB",
            "headroom bytes",
        ],
        limit_rows(results),
    )
    lines += [""]
    lines += validation_section(results)
    lines += jsii_section(results)
    lines += ["## Targets", ""]
    lines += table(["target", "measured", "result"], target_rows(results))
    lines += [""]
    if results.profile:
        top = results.profile.split("\n== ")[0].splitlines()
        lines += [
            f"## Profile of one synthesis of {results.profile_label} (cProfile, imports included)",
            "",
            "```",
            *top,
            "```",
            "",
            "Sorted by own time and restricted to cdk_mlops: `bench/results/profile.txt`.",
            "",
        ]
    return "\n".join(lines)


def limit_rows(results: Results) -> list[list[object]]:
    rows: list[list[object]] = []
    for size in results.sizes:
        stacks = results.stacks[f"n{size}"]
        for kind in STACK_KINDS:
            of_kind = [stack for stack in stacks if stack.kind == kind]
            if not of_kind:
                continue
            most = max(of_kind, key=lambda stack: (stack.resources, stack.template_bytes))
            heaviest = max(of_kind, key=lambda stack: stack.template_bytes)
            rows.append(
                [
                    size,
                    kind,
                    len(of_kind),
                    most.name,
                    most.resources,
                    f"{100 * most.resources / MAX_RESOURCES:.1f}%",
                    MAX_RESOURCES - most.resources,
                    f"{heaviest.template_bytes:,}",
                    f"{100 * heaviest.template_bytes / MAX_TEMPLATE_BYTES:.1f}%",
                    f"{MAX_TEMPLATE_BYTES - heaviest.template_bytes:,}",
                ]
            )
    return rows


def validation_section(results: Results) -> list[str]:
    """The one-off runs: the CLI, and N models with the built-in validation or cdk-nag switched on."""
    if not results.cli and not results.extra_runs:
        return []
    rows: list[list[object]] = []
    if results.cli:
        cli = results.cli
        rows.append(
            [
                f"`cdk synth --quiet` of the example app ({cli['models']} models, {cli['stacks']} stacks; "
                "validation on, plus what app.py enables)",
                f"{cli['wall_seconds']:.2f}",
                f"{cli['cpu_seconds']:.2f}",
                f"{cli['peak_rss_bytes'] / MIB:.0f}",
                "",
                "",
            ]
        )
    extra_cpu: dict[str, dict[int, float]] = {}
    for extra in results.extra_runs.values():
        models, name = extra["models"], extra["name"]
        key = f"n{models}"
        per_wall = per_cpu = ""
        if models in results.sizes:
            per_wall = f"{extra['wall_seconds'] - results.wall(key).median:+.2f}"
            cpu = extra["cpu_seconds"] - results.cpu(key).median
            per_cpu = f"{cpu:+.2f}"
            extra_cpu.setdefault(name, {})[models] = cpu
        rows.append(
            [
                f"driver, {models} model{'s' if models != 1 else ''}, {name}",
                f"{extra['wall_seconds']:.2f}",
                f"{extra['cpu_seconds']:.2f}",
                f"{extra['peak_rss_bytes'] / MIB:.0f}",
                per_wall,
                per_cpu,
            ]
        )
    lines = ["## Validation and checks switched on (1 run each)", ""]
    lines += table(
        ["run", "wall s", "CPU s", "peak RSS MiB", "extra wall s vs off", "extra CPU s vs off"], rows
    )
    lines += [""]
    for name, by_size in extra_cpu.items():
        if len(by_size) >= 2:
            low, high = min(by_size), max(by_size)
            per_model = (by_size[high] - by_size[low]) / (high - low)
            fixed = by_size[low] - low * per_model
            lines.append(
                f"- {name}: about {fixed:.1f} CPU s once per synth plus {per_model:.2f} CPU s per model "
                f"(from N={low} and N={high})."
            )
    lines += [
        "",
        "Extra = this run minus the median of the same N with everything off (the timed runs above), so a "
        "single noisy run can even come out negative. The built-in validation is aws-cdk-lib's "
        "CloudFormation "
        "validation (a WASM engine validating every template; `CDK_VALIDATION=false` or "
        "`cdk synth --no-validation` turns it off); cdk-nag runs when the app calls "
        "`enable_compliance_checks(app)` (app.py does; `-c nag=false` turns it off).",
        "",
    ]
    return lines


def _merge(per_phase: dict[str, dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for counts in per_phase.values():
        for kind, count in counts.items():
            merged[kind] = merged.get(kind, 0) + count
    return merged


def jsii_section(results: Results) -> list[str]:
    if not results.jsii:
        return []
    labels = results.labels()
    rows: list[list[object]] = []
    for key, report in results.jsii.items():
        totals = report["wire_total"]
        kinds = sorted(_merge(report["wire"]).items(), key=lambda item: -item[1])
        rows.append(
            [
                labels.get(key, f"{key[1:]} models"),
                totals.get("import", 0),
                totals.get("build", 0),
                totals.get("synth", 0),
                sum(totals.values()),
                sum(report["callbacks"].values()),
                f"{sum(report['wire_seconds'].values()):.2f}",
                ", ".join(f"{kind} {count}" for kind, count in kinds),
            ]
        )
    counted = sorted(int(key[1:]) for key in results.jsii if key.startswith("n"))
    if len(counted) >= 2:
        low, high = counted[0], counted[-1]
        first, last = results.jsii[f"n{low}"], results.jsii[f"n{high}"]

        def per_model(pick: Callable[[dict[str, Any]], float], digits: int = 0) -> str:
            return f"{(pick(last) - pick(first)) / (high - low):.{digits}f}"

        merged_first, merged_last = _merge(first["wire"]), _merge(last["wire"])
        grown = sorted(merged_last, key=lambda kind: -merged_last[kind])
        rows.append(
            [
                f"**per model** ((N={high} - N={low}) / {high - low})",
                per_model(lambda report: report["wire_total"].get("import", 0)),
                per_model(lambda report: report["wire_total"].get("build", 0)),
                per_model(lambda report: report["wire_total"].get("synth", 0)),
                per_model(lambda report: sum(report["wire_total"].values())),
                per_model(lambda report: sum(report["callbacks"].values())),
                per_model(lambda report: sum(report["wire_seconds"].values()), 3),
                ", ".join(
                    f"{kind} {(merged_last[kind] - merged_first.get(kind, 0)) / (high - low):.0f}"
                    for kind in grown
                ),
            ]
        )
    lines = ["## jsii round trips (separate, untimed runs with `--count-jsii`)", ""]
    lines += table(
        [
            "app",
            "import",
            "build",
            "synth",
            "total",
            "node->python callbacks",
            "s waiting on node",
            "messages by kind",
        ],
        rows,
    )
    lines += [
        "",
        "One round trip = one message from Python to the jsii node process and its answer: load, create, "
        "get, "
        "set, invoke, static get/invoke, delete, and Complete (the answer to a node->Python callback such as "
        "a Python aspect's `visit`). `s waiting on node` includes JSON (de)serialization on both sides and "
        "node's own work; the counting itself slows these runs down, so they are not timed above.",
        "",
    ]
    if len(counted) >= 2:
        lines += hot_spots(
            results.jsii[f"n{counted[0]}"], results.jsii[f"n{counted[-1]}"], counted[-1] - counted[0]
        )
    return lines


def hot_spots(first: dict[str, Any], last: dict[str, Any], models: int, top: int = 15) -> list[str]:
    """The jsii calls each extra model adds, by kind and by the cdk_mlops line that makes them."""
    lines: list[str] = []
    for key, title, what in (
        ("calls", "Most frequent jsii calls per model", "phase, API and jsii member"),
        (
            "sites",
            "Library lines making the most jsii calls per model",
            "phase and innermost cdk_mlops frame",
        ),
    ):
        before, after = first.get(key, {}), last.get(key, {})
        grown = {name: (count - before.get(name, 0)) / models for name, count in after.items()}
        ranked = sorted(grown.items(), key=lambda item: -item[1])[:top]
        if not ranked:
            continue
        lines += [f"### {title}", ""]
        lines += table([what, "calls per model"], [[f"`{name}`", f"{count:.0f}"] for name, count in ranked])
        lines += [""]
    if lines:
        lines += [
            "Calls through the generated bindings (create, get, set, invoke, static get/invoke); each is at "
            "least one round trip. Synth-phase entries run inside node->Python callbacks (aspects, "
            "validations).",
            "",
        ]
    return lines


def target_rows(results: Results) -> list[list[str]]:
    base = results.wall("empty").median
    largest = max(results.sizes)
    rows = []
    if 100 in results.sizes:
        wall = results.wall("n100")
        rss = results.rss("n100")
        rows.append(
            [
                f"100 models synthesize in < {TARGET_SECONDS_AT_100:.0f} s",
                f"median {wall.median:.1f} s wall (min {wall.low:.1f}, max {wall.high:.1f}, {wall.count} "
                f"run(s)); CPU {results.cpu('n100').median:.1f} s",
                verdict(wall.median < TARGET_SECONDS_AT_100),
            ]
        )
        rows.append(
            [
                "100 models: peak RSS < 2 GB (process tree)",
                f"max {rss.high / 1e9:.2f} GB",
                verdict(rss.high < TARGET_PEAK_BYTES_AT_100),
            ]
        )
    else:
        rows.append(["100 models < 60 s and < 2 GB", "N=100 not measured", verdict(None)])
    marginal = results.marginal(largest)
    rows.append(
        [
            "marginal s/model < baseline s",
            "n/a"
            if marginal is None
            else f"{marginal:.3f} s/model at N={largest} vs baseline {base:.2f} s (CPU: "
            f"{results.marginal(largest, cpu=True) or 0:.3f} vs {results.cpu('empty').median:.2f} s)",
            verdict(None if marginal is None else marginal < base),
        ]
    )
    selective = results.wall("selective").median
    rows.append(
        [
            f"selective (m001 of {largest}) < {TARGET_SELECTIVE_RATIO:.0f}x baseline",
            f"{selective:.2f} s = {selective / base:.2f}x {base:.2f} s",
            verdict(selective < TARGET_SELECTIVE_RATIO * base),
        ]
    )
    all_stacks = [stack for stacks in results.stacks.values() for stack in stacks]
    most = max(all_stacks, key=lambda stack: stack.resources)
    heaviest = max(all_stacks, key=lambda stack: stack.template_bytes)
    passed = (
        most.resources < TARGET_LIMIT_SHARE * MAX_RESOURCES
        and heaviest.template_bytes < TARGET_LIMIT_SHARE * MAX_TEMPLATE_BYTES
    )
    rows.append(
        [
            "every stack < 40% of 500 resources and of 1 MB",
            f"max {most.resources} resources ({100 * most.resources / MAX_RESOURCES:.1f}%, {most.name}); "
            f"max {heaviest.template_bytes:,} bytes "
            f"({100 * heaviest.template_bytes / MAX_TEMPLATE_BYTES:.1f}%, "
            f"{heaviest.name})",
            verdict(passed),
        ]
    )
    return rows


# ---- main --------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        sizes = []
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes are positive integers, e.g. 1,10,50,100")
    return sizes


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=parse_sizes, default=[1, 10, 50, 100], help="model counts")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of every job (3)")
    parser.add_argument("--runs-largest", type=int, help="timed runs at the largest N (default: --runs)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results.md", help="the report")
    parser.add_argument("--raw", type=Path, default=RESULTS_DIR / "scale-raw.json", help="raw results (JSON)")
    parser.add_argument(
        "--profile", action="store_true", help="profile one synthesis of --profile-size models"
    )
    parser.add_argument("--profile-size", type=int, default=10, help="models in the profiled synthesis (10)")
    parser.add_argument(
        "--count-jsii",
        action="store_true",
        help="count jsii round trips: empty app, smallest N and --profile-size models",
    )
    parser.add_argument(
        "--extra-sizes",
        type=lambda text: [] if text in ("", "0") else parse_sizes(text),
        default=[1, 10],
        help="model counts synthesized once with the built-in validation on, and once with cdk-nag on "
        "(default 1,10; 0 skips)",
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the `cdk synth` of the example app")
    parser.add_argument(
        "--library",
        choices=("worktree", "index", "live"),
        default="worktree",
        help="measure a copy of the working tree (default), of the git index, or the live tree",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sizes: list[int] = args.sizes
    runs_largest: int = args.runs_largest or args.runs
    if args.runs < 1 or runs_largest < 1:
        parser.error("--runs and --runs-largest must be at least 1")

    workdir = Path(tempfile.mkdtemp(prefix="cdk-mlops-bench-"))
    log(f"work folder: {workdir}")
    try:
        if args.library == "live":
            root, library = REPO_ROOT, "the live working tree (no copy)"
        else:
            root = workdir / "library"
            fingerprint = snapshot_library(args.library, root)
            taken = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M UTC")
            library = (
                f"a copy of the {'working tree' if args.library == 'worktree' else 'git index'} "
                f"taken at {taken} "
                f"(sha256 of cdk_mlops/ and lambda_src/ *.py: {fingerprint})"
            )
        log(f"library: {library}")
        template = root / TEMPLATE_MODEL
        folders: dict[int, Path] = {}
        for size in sorted({*sizes, args.profile_size, *args.extra_sizes} - {0}):
            folders[size] = workdir / f"models-{size}"
            folders[size].mkdir()
            generate_models(folders[size], size, template)
        largest = max(sizes)

        def models_job(size: int) -> Job:
            return Job(f"n{size}", f"{size} models", size, ["--models", str(folders[size])])

        jobs = [Job("empty", "empty app", 0, ["--empty"]), *[models_job(size) for size in sizes]]
        jobs.append(
            Job("selective", f"m001 of {largest}", 1, ["--models", str(folders[largest]), "--only", "m001"])
        )

        records: list[RunRecord] = []
        stacks: dict[str, list[StackStat]] = {}
        for run in range(args.runs):
            for job in jobs if run % 2 == 0 else list(reversed(jobs)):
                if job.key == f"n{largest}" and run >= runs_largest:
                    continue
                record, job_stacks, _ = run_job(job, root, workdir, run)
                records.append(record)
                stacks.setdefault(job.key, job_stacks)
                log(
                    f"run {run + 1}/{args.runs} {job.label:>16}: {record.wall_seconds:7.2f} s "
                    f"({record.cpu_seconds:6.2f} s CPU, others {record.others_cpu_seconds:6.2f} s CPU), "
                    f"peak {record.peak_rss_bytes / MIB:6.0f} MiB, {record.stacks} stacks"
                )

        results = Results(
            machine=machine_description(),
            library=library,
            sizes=sizes,
            runs=args.runs,
            runs_largest=runs_largest,
            records=records,
            stacks=stacks,
        )
        for name, validation, flags in (("validation on", True, []), ("cdk-nag on", False, ["--nag"])):
            for size in args.extra_sizes:
                record, _, _ = run_job(
                    models_job(size), root, workdir, 90 + size, validation=validation, extra=flags
                )
                results.extra_runs[f"{name}, {size}"] = {
                    "name": name,
                    "models": size,
                    "wall_seconds": record.wall_seconds,
                    "cpu_seconds": record.cpu_seconds,
                    "peak_rss_bytes": record.peak_rss_bytes,
                    "phases": record.phases,
                    "load": record.load,
                }
                log(f"{name}, {size} models: {record.wall_seconds:.2f} s ({record.cpu_seconds:.2f} s CPU)")
        if not args.no_cli:
            measurement, count = run_cli_synth(root, workdir)
            results.cli = {
                "wall_seconds": measurement.wall_seconds,
                "cpu_seconds": measurement.cpu_seconds,
                "peak_rss_bytes": measurement.peak_rss_bytes,
                "stacks": count,
                "models": len(list((root / "models").glob("*/model.yaml"))),
            }
            log(f"cdk synth (validation on): {measurement.wall_seconds:.2f} s")
        if args.count_jsii:
            for job in [jobs[0], *[models_job(size) for size in sorted({min(sizes), args.profile_size})]]:
                _, _, driver = run_job(job, root, workdir, 91, extra=["--count-jsii"])
                results.jsii[job.key] = driver["jsii"]
                log(f"jsii round trips, {job.label}: {sum(driver['jsii']['wire_total'].values())}")
        if args.profile:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            dump = RESULTS_DIR / "profile.prof"
            run_job(models_job(args.profile_size), root, workdir, 92, extra=["--profile", str(dump)])
            results.profile = profile_report(dump, root)
            results.profile_label = f"{args.profile_size} models"
            (RESULTS_DIR / "profile.txt").write_text(results.profile, encoding="utf-8")
            log(f"profile: {RESULTS_DIR / 'profile.txt'} (raw: {dump})")

        report = render(results)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n", encoding="utf-8")
        args.raw.parent.mkdir(parents=True, exist_ok=True)
        args.raw.write_text(json.dumps(dataclasses.asdict(results), indent=1), encoding="utf-8")
        print(report)
        log(f"wrote {args.out} and {args.raw}")
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
