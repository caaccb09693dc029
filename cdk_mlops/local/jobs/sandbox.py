"""Presents a job's workspace at ``/opt/ml``, so scripts written as SageMaker documents them (hard-coded
``/opt/ml/processing/input/...``, ``/opt/ml/model``) run unchanged.

Three ways, chosen once per process (:func:`sandbox_mode`), overridable with ``CDK_MLOPS_SANDBOX``:

``namespace`` (Linux, the default where it works, root or not)
    The job runs in a new user + mount namespace (``unshare --user --map-root-user --mount``, from
    util-linux). Inside it, ``/opt`` is replaced by a private tmpfs holding bind mounts of the host's
    ``/opt`` entries plus ``/opt/ml`` bound to the workspace. Nothing changes outside the job's
    processes, and jobs can run side by side. Needs unprivileged user namespaces (on by default on
    Debian, Ubuntu and Fedora, and in GitHub's runners; as root it works regardless).
``symlink`` (root without namespaces, e.g. a container without ``CAP_SYS_ADMIN``)
    ``/opt/ml`` is a symlink to the workspace while the job runs (one job at a time), removed after.
    Used only when ``/opt/ml`` does not exist.
``none`` (macOS, or Linux with neither)
    The workspace is not at ``/opt/ml``: the ``SM_*`` variables, processing ``LocalPath``\\ s and the
    command line's ``/opt/ml`` paths are rewritten to the workspace, so scripts that take their paths
    from the ``SM_*`` variables or their arguments work; a script with hard-coded ``/opt/ml`` paths
    fails, and the job's ``FailureReason`` says why. (On macOS, ``sudo ln -s <workspace> /opt/ml``
    cannot be automated safely: ``/opt/ml`` is shared by every job.)
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Final, Literal

from cdk_mlops.local.jobs.contract import ML_ROOT

__all__ = ["NO_OPT_ML_HINT", "Presentation", "SandboxMode", "present", "sandbox_mode"]

SandboxMode = Literal["namespace", "symlink", "none"]
_MODES: Final = ("namespace", "symlink", "none")
SANDBOX_ENV: Final = "CDK_MLOPS_SANDBOX"

NO_OPT_ML_HINT: Final = (
    "this machine cannot present the job's workspace at /opt/ml (no user namespaces, not root): scripts "
    "must take their paths from the SM_* variables or their arguments"
)

# Runs inside the new namespace: $1 is the workspace's opt/ml, $2 an empty folder to keep the host's
# /opt reachable, $3 the working directory (as the job sees it); the rest is the command. The host's
# /opt entries are bound back into a tmpfs /opt.
_NAMESPACE_SCRIPT: Final = r"""
set -e
ml=$1; stash=$2; workdir=$3; shift 3
if [ -d /opt ]; then
  mount --bind /opt "$stash"
  mount -t tmpfs -o mode=755 cdk-mlops-opt /opt
  for entry in "$stash"/* "$stash"/.[!.]*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry##*/}
    [ "$name" = ml ] && continue
    if [ -d "$entry" ]; then mkdir "/opt/$name"; else : > "/opt/$name"; fi
    mount --rbind "$entry" "/opt/$name"
  done
else
  mkdir /opt
  mount -t tmpfs -o mode=755 cdk-mlops-opt /opt
fi
mkdir /opt/ml
mount --bind "$ml" /opt/ml
cd "$workdir"
exec "$@"
"""


@functools.cache
def _namespaces_work() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", "mount -t tmpfs probe /mnt"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def sandbox_mode() -> SandboxMode:
    """How this machine presents workspaces at ``/opt/ml``: ``CDK_MLOPS_SANDBOX`` if set, else
    ``namespace`` where user namespaces work, else ``symlink`` as root with ``/opt/ml`` free, else
    ``none``."""
    chosen = os.environ.get(SANDBOX_ENV)
    if chosen:
        if chosen not in _MODES:
            raise ValueError(f"{SANDBOX_ENV}={chosen!r}: expected one of {', '.join(_MODES)}")
        return chosen  # type: ignore[return-value]
    if _namespaces_work():
        return "namespace"
    if hasattr(os, "geteuid") and os.geteuid() == 0 and not os.path.lexists(ML_ROOT):
        return "symlink"
    return "none"


class Presentation:
    """A workspace's ``opt/ml`` as the job's processes see it: :attr:`root` (``/opt/ml`` when presented
    there, else the workspace path) and :meth:`command` (wraps a command line to run inside)."""

    def __init__(self, mode: SandboxMode, host_root: Path) -> None:
        self.mode = mode
        self.host_root = host_root
        self.root = ML_ROOT if mode != "none" else PurePosixPath(host_root)

    def command(self, argv: Sequence[str], cwd: str | None = None) -> list[str]:
        """``argv`` run so that :attr:`root` is the workspace (in the namespace, when that is the mode),
        in ``cwd`` as the job sees it (default: the workspace's ``/opt/ml``). Pass :meth:`host_cwd` as
        the process's own working directory."""
        if self.mode != "namespace":
            return [self.rewrite(arg) for arg in argv]
        stash = self.host_root.parent / ".host-opt"
        stash.mkdir(exist_ok=True)
        return [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            _NAMESPACE_SCRIPT,
            "cdk-mlops-sandbox",
            str(self.host_root),
            str(stash),
            cwd or str(self.root),
            *argv,
        ]

    def host_cwd(self, cwd: str | None = None) -> Path:
        """The working directory to start the (wrapped) process in, on the host side."""
        return self.host_path(cwd) if cwd else self.host_root

    def rewrite(self, value: str) -> str:
        """A path (or argument) under ``/opt/ml`` as the job sees it (unchanged unless mode is ``none``)."""
        if self.mode == "none" and (value == str(ML_ROOT) or value.startswith(f"{ML_ROOT}/")):
            return str(self.host_root) + value[len(str(ML_ROOT)) :]
        return value

    def host_path(self, container_path: str) -> Path:
        """Where a container path under ``/opt/ml`` lives in the workspace."""
        path = PurePosixPath(container_path)
        if path != ML_ROOT and ML_ROOT not in path.parents:
            raise ValueError(f"{container_path!r} is not under {ML_ROOT} (SageMaker local paths must be)")
        return self.host_root / path.relative_to(ML_ROOT)


_symlink_lock = threading.Lock()


@contextlib.contextmanager
def present(host_root: Path, mode: SandboxMode | None = None) -> Iterator[Presentation]:
    """The workspace ``host_root`` (a job's ``opt/ml`` folder) presented for one job run."""
    mode = mode or sandbox_mode()
    host_root.mkdir(parents=True, exist_ok=True)
    if mode != "symlink":
        yield Presentation(mode, host_root)
        return
    with _symlink_lock:
        if os.path.lexists(ML_ROOT):
            raise RuntimeError(f"{ML_ROOT} exists; the symlink sandbox needs it free (or set {SANDBOX_ENV}=none)")
        os.symlink(host_root, ML_ROOT)
        try:
            yield Presentation(mode, host_root)
        finally:
            os.unlink(ML_ROOT)
