"""Runs a command and measures its wall time and the peak resident memory of its whole process tree.

psutil is not a dependency of the project, so the tree is read from /proc: every ``interval`` seconds
(default 50 ms) the sampler lists the process's descendants (``/proc/<pid>/task/<tid>/children``, or
a scan of ``/proc/*/stat`` where the kernel lacks that file) and sums their ``VmRSS``. The peak is the
largest such sum. Shared pages (the Python and node binaries' libraries) count once per process, so
the sum slightly overstates what the machine actually needs; a process living less than one interval
may be missed.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

PROC = Path("/proc")


@dataclasses.dataclass
class Measurement:
    """One run of a command."""

    command: list[str]
    returncode: int
    spawned: float
    exited: float
    peak_rss_bytes: int
    peak_rss_by_name: dict[str, int]
    samples: int
    cpu_seconds: float
    others_cpu_seconds: float
    load_before: float
    load_after: float
    stdout: str
    stderr: str

    @property
    def wall_seconds(self) -> float:
        return self.exited - self.spawned


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            text = (task / "children").read_text()
        except FileNotFoundError:
            return _children_by_scan(pid)
        except OSError:
            continue
        found.extend(int(child) for child in text.split())
    return found


def _children_by_scan(pid: int) -> list[int]:
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: the ppid is the 2nd field after it.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive right now."""
    tree = [pid]
    index = 0
    while index < len(tree):
        tree.extend(_children(tree[index]))
        index += 1
    return tree


def _rss(pid: int) -> tuple[str, int]:
    """(command name, resident bytes) of ``pid``; ('', 0) once it has exited."""
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return "", 0
    name, rss = "", 0
    for line in text.splitlines():
        if line.startswith("Name:"):
            name = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
        elif line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
            break
    return name, rss


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.interval = interval
        self.stop_event = threading.Event()
        self.peak = 0
        self.peak_by_name: dict[str, int] = {}
        self.samples = 0

    def sample(self) -> None:
        total = 0
        by_name: dict[str, int] = {}
        for pid in process_tree(self.pid):
            name, rss = _rss(pid)
            total += rss
            if name:
                by_name[name] = by_name.get(name, 0) + rss
        self.samples += 1
        if total > self.peak:
            self.peak = total
        for name, rss in by_name.items():
            self.peak_by_name[name] = max(self.peak_by_name.get(name, 0), rss)

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    interval: float = 0.05,
    timeout: float | None = None,
) -> Measurement:
    """Runs ``command`` to completion, sampling its process tree's memory every ``interval`` seconds.

    ``cpu_seconds``: user + system time of the whole tree (from ``RUSAGE_CHILDREN``, so run one command
    at a time); unlike wall time it barely grows when other work competes for the cores.
    ``others_cpu_seconds``: CPU time the rest of the machine used meanwhile (contention).
    ``load_before``/``load_after``: the 1-minute load average around the run."""
    load_before = load_average()
    busy_before = machine_busy_seconds()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned = time.time()
    process = subprocess.Popen(
        list(command),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = _Sampler(process.pid, interval)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    exited = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy_seconds() - busy_before
    sampler.stop_event.set()
    sampler.join()
    return Measurement(
        command=list(command),
        returncode=process.returncode,
        spawned=spawned,
        exited=exited,
        peak_rss_bytes=sampler.peak,
        peak_rss_by_name=sampler.peak_by_name,
        samples=sampler.samples,
        cpu_seconds=(cpu := (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)),
        others_cpu_seconds=max(0.0, busy - cpu),
        load_before=load_before,
        load_after=load_average(),
        stdout=stdout,
        stderr=stderr,
    )


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (user, nice, system, irq, softirq, steal), from
    /proc/stat; the difference over a run minus the run's own CPU time is what other processes (and
    the hypervisor, as steal) took meanwhile."""
    try:
        fields = (PROC / "stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    """The 1-minute load average (runnable processes; above the core count means contention)."""
    try:
        return float((PROC / "loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def base_env(**overrides: str) -> dict[str, str]:
    """The environment of ``scripts/env.sh`` (quiet jsii, no CLI telemetry) plus ``overrides``."""
    env = dict(os.environ)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    env.update(overrides)
    return env
