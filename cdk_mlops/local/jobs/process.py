"""Runs a job's command: output saved to the job's log and streamed line by line, stderr's tail kept."""

from __future__ import annotations

import collections
import dataclasses
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["ProcessResult", "algorithm_error", "base_environment", "prefixed_lines", "run_logged"]

#: Lines of stderr kept for a failure reason (SageMaker reports the end of the script's error output).
STDERR_TAIL_LINES = 20


@dataclasses.dataclass(frozen=True)
class ProcessResult:
    """Exit code, every output line (stdout and stderr, in arrival order) and stderr's last lines."""

    returncode: int
    lines: list[str]
    stderr_tail: list[str]


def run_logged(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    on_line: Callable[[str], None] | None = None,
    stdin: bytes | None = None,
) -> ProcessResult:
    """Runs ``argv``; each line of its stdout and stderr goes to ``log_path`` and to ``on_line``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    lock = threading.Lock()
    with log_path.open("a", encoding="utf-8") as log:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

        def pump(stream: IO[bytes], is_stderr: bool) -> None:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with lock:
                    lines.append(line)
                    log.write(line + "\n")
                    log.flush()
                    if is_stderr:
                        tail.append(line)
                if on_line is not None:
                    on_line(line)
            stream.close()

        assert process.stdout is not None and process.stderr is not None
        readers = [
            threading.Thread(target=pump, args=(process.stdout, False), daemon=True),
            threading.Thread(target=pump, args=(process.stderr, True), daemon=True),
        ]
        for reader in readers:
            reader.start()
        if stdin is not None and process.stdin is not None:
            process.stdin.write(stdin)
            process.stdin.close()
        returncode = process.wait()
        for reader in readers:
            reader.join()
    return ProcessResult(returncode, lines, list(tail))


#: Variables of this process a job inherits (the rest, e.g. the project's venv or fake AWS keys, stay out).
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TERM", "USER", "LOGNAME", "TZ")
#: SageMaker truncates FailureReason to this many characters (DescribeTrainingJob, API reference).
FAILURE_REASON_MAX = 1024


def prefixed_lines(on_line: Callable[[str], None] | None, prefix: str) -> Callable[[str], None] | None:
    """``on_line`` receiving each line with ``prefix`` (None when ``on_line`` is None)."""
    if on_line is None:
        return None
    callback = on_line
    return lambda line: callback(prefix + line)


def base_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A job process's environment: a few of this process's variables, unbuffered Python output (so
    lines stream as they are printed), then ``extra``."""
    import os

    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def algorithm_error(result: ProcessResult, command: Sequence[str], failure_file: Path | None = None) -> str:
    """A failed job's ``FailureReason`` in SageMaker's form: ``AlgorithmError: `` then the job's own
    ``/opt/ml/output/failure`` text when it wrote one, else the training toolkit's
    ``ExecuteUserScriptError`` (exit code, the end of stderr, the command), then ``, exit code: N``.
    At most 1024 characters, as SageMaker keeps; the last stderr lines (the exception) are kept first."""
    written = ""
    if failure_file is not None and failure_file.is_file():
        written = failure_file.read_text(encoding="utf-8", errors="replace").strip()
    suffix = f", exit code: {result.returncode}"
    if written:
        reason = f"AlgorithmError: {written}"
        return reason[: FAILURE_REASON_MAX - len(suffix)] + suffix
    shown = " ".join(command)
    if len(shown) > 200:
        shown = shown[:197] + "..."
    head = f'AlgorithmError: ExecuteUserScriptError:\nExitCode {result.returncode}\nErrorMessage "'
    tail = f'"\nCommand "{shown}"{suffix}'
    budget = FAILURE_REASON_MAX - len(head) - len(tail)
    kept: list[str] = []
    lines = list(dict.fromkeys(line for line in result.stderr_tail if line.strip()))
    for line in reversed(lines):
        if sum(len(item) + 1 for item in kept) + len(line) > budget:
            break
        kept.insert(0, line)
    if lines and not kept:  # one huge last line: keep its end
        kept = [lines[-1][-budget:]]
    return head + "\n".join(kept) + tail
